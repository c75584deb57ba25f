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
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use session::SessionError;
pub use settings::{Addresses, Expose, Settings};

use super::reconnect::Backoff;
use crate::registry::{Entity, RegistryHandle};
use crate::status::{Docker, Status};

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
        let mut backoff = Backoff::new();
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
            backoff.session_ended(ended.live_for);
            let reason = ended.error.to_string();
            self.unreachable(reason.clone());
            if ended.live_for.is_some() {
                tracing::warn!(%reason, "docker: lost the daemon; keeping the last records and reconnecting");
                reported = None;
            } else if reported.as_deref() != Some(reason.as_str()) {
                tracing::warn!(%reason, "docker: daemon unavailable; serving the other records and retrying");
                reported = Some(reason);
            } else {
                tracing::debug!(%reason, retry_in = ?backoff.delay(), "docker: still unavailable");
            }
            if !backoff.wait(&shutdown).await {
                return;
            }
        }
    }
}
