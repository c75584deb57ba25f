//! The etcd source: berth across many hosts. Every berth publishes its own
//! Docker records to etcd in the SkyDNS schema, under one lease it keeps
//! alive, and serves what every host (and anyone else writing the schema:
//! registrator, `etcdctl put`) has put under the prefix.
//!
//! - [`schema`] turns keys and values into records and back (pure).
//! - `session` is one connection: lease, read the prefix whole at one
//!   revision, publish, then follow a watch from the next revision.
//! - `local` keeps the keys this berth should have written, from the
//!   changes the Docker source sends the registry.
//!
//! The DNS path never waits on etcd: what etcd said last stays in the
//! registry while etcd is away, and a new session's reading replaces it
//! whole (a compaction or a reconnect reads again). Any failure ends the
//! session; the loop here backs off and starts another.

mod local;
pub mod schema;
mod session;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use hickory_proto::rr::Name;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use local::spawn as spawn_local;
use session::SessionError;

use super::reconnect::Backoff;
use crate::registry::RegistryHandle;
use crate::status::{Etcd, Status};

/// Everything the etcd source runs with; `config.rs` builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `http://127.0.0.1:2379`, … : members of one cluster.
    pub endpoints: Vec<String>,
    /// The key every name is stored under, without a trailing `/`.
    pub prefix: String,
    /// Seconds this berth's keys outlive it.
    pub lease_ttl: i64,
    /// The last key segment of every record this berth publishes; stable
    /// per host, so that a restart writes the same keys again.
    pub instance: String,
    /// Only names in these zones are served.
    pub zones: Vec<Name>,
    /// TTL of records whose value has none.
    pub ttl: u32,
    pub tls: Option<Tls>,
    pub user: Option<User>,
}

/// Files, read at each connection, so that rotated certificates are used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// The CA that signed the members' certificates; else the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key, for members that ask for one.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// etcd's user authentication; the password is read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password_file: PathBuf,
}

/// The keys this berth should have under its lease, and their values.
pub type Published = watch::Receiver<Arc<BTreeMap<String, String>>>;

pub struct EtcdSource {
    settings: Settings,
    status: Arc<Status>,
}

impl EtcdSource {
    pub fn new(settings: Settings, status: Arc<Status>) -> Self {
        status.update(|state| {
            state.etcd = Some(Etcd {
                endpoints: settings.endpoints.clone(),
                instance: settings.instance.clone(),
                ..Etcd::default()
            })
        });
        EtcdSource { settings, status }
    }

    fn report(&self, change: impl FnOnce(&mut Etcd)) {
        self.status.update(|state| {
            if let Some(etcd) = state.etcd.as_mut() {
                change(etcd);
            }
        });
    }

    /// Follows etcd until `shutdown` is cancelled or the registry closes,
    /// publishing what `published` holds.
    pub async fn run(
        self,
        registry: RegistryHandle,
        mut published: Published,
        shutdown: CancellationToken,
    ) {
        let mut backoff = Backoff::new();
        // Logged once until a session succeeds again.
        let mut reported: Option<String> = None;
        // Kept across sessions: a short outage keeps the lease, and with
        // it every key this berth wrote.
        let mut lease: Option<i64> = None;
        // The member to try first: the one that answered last.
        let mut endpoint = 0;
        loop {
            let mut live_since = None;
            let ended = tokio::select! {
                () = shutdown.cancelled() => return,
                ended = session::run(&self, &registry, &mut published, &mut lease, &mut endpoint, &mut live_since) => ended,
            };
            let Err(error) = ended;
            if let SessionError::Registry(_) = error {
                return;
            }
            let live_for = live_since.map(|at: std::time::Instant| at.elapsed());
            backoff.session_ended(live_for);
            let reason = error.to_string();
            self.report(|etcd| {
                etcd.connected = false;
                let since = etcd
                    .unreachable
                    .as_ref()
                    .map_or_else(SystemTime::now, |u| u.0);
                etcd.unreachable = Some((since, reason.clone()));
            });
            if error.is_routine() {
                tracing::info!(%reason, "etcd: reading the prefix again");
                backoff.reset();
            } else if live_for.is_some() {
                tracing::warn!(%reason, "etcd: lost the cluster; serving the last known records and reconnecting");
                reported = Some(reason);
            } else if reported.is_none() {
                tracing::warn!(%reason, "etcd: unavailable; serving the last known records and retrying");
                reported = Some(reason);
            } else {
                tracing::debug!(%reason, retry_in = ?backoff.delay(), "etcd: still unavailable");
            }
            if !backoff.wait(&shutdown).await {
                return;
            }
        }
    }
}
