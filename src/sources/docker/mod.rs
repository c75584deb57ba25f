//! The Docker source: keeps this source's registry records equal to the
//! running containers, through lost connections and daemon restarts.
//!
//! - [`session`] is one connection: list, replace, follow events.
//! - [`container`] reads `docker inspect` into berth's terms.
//! - [`mapping`] applies the naming rules to one container (pure).
//! - [`naming`] sanitises labels so that no name can leave its zone.
//! - [`Settings`] is what the source is told; `config.rs` builds it.
//!
//! bollard never reconnects by itself. A session ending — the daemon
//! restarting, the socket going away — is normal: the loop here backs off
//! and starts a new one, whose listing replaces whatever went stale.
//! Meanwhile the last known records keep being served.

mod container;
mod mapping;
mod naming;
mod report;
mod session;
mod settings;
mod since;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use session::SessionError;
pub use settings::{Addresses, Settings};

use crate::registry::{Entity, RegistryHandle};
use crate::status::{Docker, Status};

/// First wait after a failed session.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between attempts: how stale berth can stay after the daemon
/// comes back.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A session that followed events this long was healthy: the next attempt
/// starts again from [`BACKOFF_MIN`]. Shorter ones keep backing off, so a
/// daemon that drops every stream at once is not listed in a tight loop.
const HEALTHY_SESSION: Duration = Duration::from_secs(5);

pub struct DockerSource {
    settings: Settings,
    status: Arc<Status>,
}

impl DockerSource {
    pub fn new(settings: Settings, status: Arc<Status>) -> Self {
        DockerSource { settings, status }
    }

    /// Notes that the daemon cannot be reached, keeping the time it first
    /// could not be, and when berth last listed its containers.
    fn unreachable(&self, reason: String) {
        self.status.update(|state| {
            let (since, last_sync) = match &state.docker {
                Docker::Unreachable {
                    since, last_sync, ..
                } => (*since, *last_sync),
                other => (SystemTime::now(), other.last_sync()),
            };
            state.docker = Docker::Unreachable {
                endpoint: self.settings.endpoint.clone(),
                since,
                reason,
                last_sync,
            };
        });
    }

    /// Follows the daemon until `shutdown` is cancelled or the registry
    /// closes.
    pub async fn run(self, registry: RegistryHandle, shutdown: CancellationToken) {
        let mut delay = BACKOFF_MIN;
        // The last failure logged, so that a daemon that stays away is
        // reported once, not on every retry.
        let mut reported: Option<String> = None;
        // What each container is served under, kept across sessions so a
        // resync logs only what changed while berth was away.
        let mut served: HashMap<String, Entity> = HashMap::new();
        self.status.update(|state| {
            state.docker = Docker::Connecting {
                endpoint: self.settings.endpoint.clone(),
            }
        });
        loop {
            let ended = tokio::select! {
                () = shutdown.cancelled() => return,
                ended = session::run(&self, &registry, &mut served) => ended,
            };
            if let SessionError::Registry(_) = ended.error {
                return;
            }
            if ended.live_for.is_some_and(|d| d >= HEALTHY_SESSION) {
                delay = BACKOFF_MIN;
            }
            let reason = ended.error.to_string();
            self.unreachable(reason.clone());
            if ended.live_for.is_some() {
                tracing::warn!(%reason, "docker: lost the daemon; keeping the last records and reconnecting");
                reported = None;
            } else if reported.as_deref() != Some(reason.as_str()) {
                tracing::warn!(%reason, "docker: daemon unavailable; serving the other records and retrying");
                reported = Some(reason);
            } else {
                tracing::debug!(%reason, retry_in = ?delay, "docker: still unavailable");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(BACKOFF_MAX);
        }
    }
}
