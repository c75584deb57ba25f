//! The registry: one writer owns what every source contributed and publishes
//! immutable [`Snapshot`]s that the DNS layer reads without locks.
//!
//! Sources send [`Change`]s over a channel. The writer, on a thread of its
//! own, applies a burst of them, re-encodes only the names they touched,
//! bumps the serial of each zone that changed, and swaps the new snapshot in.
//!
//! - [`record`]: what sources hand in (records, entities, changes).
//! - `book`: what each source contributed, entity by entity.
//! - `tree`: one zone's nodes, empty non-terminals and delegation points.
//! - `writer`: the rules that place the book's records in the zone trees,
//!   and publishing.
//! - [`snapshot`]: what readers see, every RRset pre-encoded; [`name`]: the
//!   lower-cased wire names every map is keyed by.

mod book;
pub mod journal;
pub mod name;
pub mod nodes;
pub mod record;
pub mod snapshot;
mod tree;
mod writer;

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};

pub use record::{Change, Entity, Record, SourceId};
pub use snapshot::{Node, RRset, Shadowed, Snapshot, Zone, ZoneKind};
pub use writer::{NameServer, Writer, ZoneSettings};

/// Maps keyed by names from zone files and containers, never by what a
/// client sends: hashed with foldhash rather than SipHash, which was a
/// tenth of a large zone's load. The seed is random per process.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Read side: the current snapshot, loadable from any thread without locks.
pub type SnapshotCell = Arc<ArcSwap<Snapshot>>;

/// Records in one burst past which the memory freed meanwhile (the records
/// a zone file came as, the version it replaced) is handed back to the
/// system: the allocator keeps it otherwise, and a large zone's reload
/// frees hundreds of megabytes. Below it, not worth a pass over the heap.
const RELEASE_AFTER: usize = 10_000;

/// Asks glibc's allocator to return the free pages of every arena to the
/// system (malloc_trim(3)); elsewhere, nothing.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's
    // own free lists, under its locks; it is safe to call at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the writer's channel carries.
enum Message {
    Change(Change),
    /// Answered once everything sent before it is published.
    Flush(oneshot::Sender<()>),
}

/// Write side, cloned into each source.
#[derive(Clone)]
pub struct RegistryHandle {
    changes: mpsc::Sender<Message>,
    /// Ticks after every publish, for those who act on changes (NOTIFY).
    published: watch::Receiver<()>,
    /// Gets a copy of every change sent through this handle: how the etcd
    /// source learns what the Docker source serves, to publish it.
    tap: Option<mpsc::UnboundedSender<Change>>,
}

impl RegistryHandle {
    /// This handle, also copying every change it sends to `tap`.
    pub fn tapped(&self, tap: mpsc::UnboundedSender<Change>) -> RegistryHandle {
        RegistryHandle {
            tap: Some(tap),
            ..self.clone()
        }
    }

    fn copy_to_tap(&self, change: &Change) {
        if let Some(tap) = &self.tap {
            // A tap whose reader is gone no longer wants copies.
            let _ = tap.send(change.clone());
        }
    }

    /// Queues a change. Fails only when the registry has shut down.
    pub async fn send(&self, change: Change) -> Result<(), RegistryClosed> {
        self.copy_to_tap(&change);
        self.changes
            .send(Message::Change(change))
            .await
            .map_err(|_| RegistryClosed)
    }

    /// [`RegistryHandle::send`] for sources on threads of their own.
    pub fn blocking_send(&self, change: Change) -> Result<(), RegistryClosed> {
        self.copy_to_tap(&change);
        self.changes
            .blocking_send(Message::Change(change))
            .map_err(|_| RegistryClosed)
    }

    /// Waits until every change sent before is published.
    pub async fn flush(&self) -> Result<(), RegistryClosed> {
        let (done, published) = oneshot::channel();
        self.changes
            .send(Message::Flush(done))
            .await
            .map_err(|_| RegistryClosed)?;
        published.await.map_err(|_| RegistryClosed)
    }

    /// [`RegistryHandle::flush`] for sources on threads of their own.
    pub fn blocking_flush(&self) -> Result<(), RegistryClosed> {
        let (done, published) = oneshot::channel();
        self.changes
            .blocking_send(Message::Flush(done))
            .map_err(|_| RegistryClosed)?;
        published.blocking_recv().map_err(|_| RegistryClosed)
    }

    /// A receiver that sees a change after each publish.
    pub fn published(&self) -> watch::Receiver<()> {
        self.published.clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the registry has shut down")]
pub struct RegistryClosed;

/// Starts the writer on a thread of its own: applying a large zone file
/// takes seconds of CPU, which must not hold up the runtime serving TCP and
/// HTTP. Returns the handle sources write through and the cell readers load
/// snapshots from; the first snapshot is already in it. The thread ends
/// when every handle is dropped.
pub fn spawn(settings: ZoneSettings) -> std::io::Result<(RegistryHandle, SnapshotCell)> {
    spawn_resuming(settings, std::collections::HashMap::new())
}

/// [`spawn`], with each zone's first serial above the one a previous run
/// last published (by apex key): see [`Writer::resuming`].
pub fn spawn_resuming(
    settings: ZoneSettings,
    serials_before: std::collections::HashMap<Box<[u8]>, u32>,
) -> std::io::Result<(RegistryHandle, SnapshotCell)> {
    let mut writer = Writer::resuming(settings, serials_before);
    let cell: SnapshotCell = Arc::new(ArcSwap::new(writer.publish()));
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    let published = cell.clone();
    let (tick, published_rx) = watch::channel(());
    std::thread::Builder::new()
        .name("registry".into())
        .spawn(move || {
            let mut flushes = Vec::new();
            while let Some(message) = rx.blocking_recv() {
                let mut records = 0;
                // Fold a burst (a resync, containers started together) into
                // one publish.
                let mut next = Some(message);
                while let Some(message) = next {
                    match message {
                        Message::Change(change) => {
                            records += change.records();
                            writer.apply(change);
                        }
                        Message::Flush(done) => flushes.push(done),
                    }
                    next = rx.try_recv().ok();
                }
                published.store(writer.publish());
                tick.send_replace(());
                if records >= RELEASE_AFTER {
                    release_free_memory();
                }
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        })?;
    let handle = RegistryHandle {
        changes: tx,
        published: published_rx,
        tap: None,
    };
    Ok((handle, cell))
}
