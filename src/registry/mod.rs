//! The registry: one writer owns what every source contributed and publishes
//! immutable [`Snapshot`]s that the DNS layer reads without locks.
//!
//! Sources send [`Change`]s over a channel. The writer applies a burst of
//! them, re-encodes only the names they touched, bumps the serial of each
//! zone that changed, and swaps the new snapshot in.
//!
//! - [`record`]: what sources hand in (records, entities, changes).
//! - `book`: what each source contributed, entity by entity.
//! - `tree`: one zone's nodes, empty non-terminals and delegation points.
//! - `writer`: the rules that place the book's records in the zone trees,
//!   and publishing.
//! - [`snapshot`]: what readers see, every RRset pre-encoded; [`name`]: the
//!   lower-cased wire names every map is keyed by.

mod book;
pub mod name;
pub mod record;
pub mod snapshot;
mod tree;
mod writer;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

pub use record::{Change, Entity, Record, SourceId};
pub use snapshot::{Node, RRset, Snapshot, Zone, ZoneKind};
pub use writer::{Writer, ZoneSettings};

/// Read side: the current snapshot, loadable from any thread without locks.
pub type SnapshotCell = Arc<ArcSwap<Snapshot>>;

/// Write side, cloned into each source.
#[derive(Clone)]
pub struct RegistryHandle {
    changes: mpsc::Sender<Change>,
}

impl RegistryHandle {
    /// Queues a change. Fails only when the registry has shut down.
    pub async fn send(&self, change: Change) -> Result<(), RegistryClosed> {
        self.changes.send(change).await.map_err(|_| RegistryClosed)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the registry has shut down")]
pub struct RegistryClosed;

/// Starts the writer task. Returns the handle sources write through and the
/// cell readers load snapshots from; the first snapshot is already in it.
pub fn spawn(
    settings: ZoneSettings,
    initial: Vec<Change>,
) -> (RegistryHandle, SnapshotCell, tokio::task::JoinHandle<()>) {
    let mut writer = Writer::new(settings);
    for change in initial {
        writer.apply(change);
    }
    let cell: SnapshotCell = Arc::new(ArcSwap::new(writer.publish()));
    let (tx, mut rx) = mpsc::channel::<Change>(1024);
    let published = cell.clone();
    let task = tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            writer.apply(change);
            // Fold a burst (a resync, containers started together) into
            // one publish.
            while let Ok(more) = rx.try_recv() {
                writer.apply(more);
            }
            published.store(writer.publish());
        }
    });
    (RegistryHandle { changes: tx }, cell, task)
}
