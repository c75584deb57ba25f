//! The Docker source: keeps this source's registry records equal to the
//! running containers, through lost connections and daemon restarts.
//!
//! - [`session`] is one connection: list, replace, follow events.
//! - [`reconcile`] lists again every so often and repairs what the event
//!   stream missed.
//! - [`freshness`] serves the last records with TTL 1 while the daemon
//!   cannot be followed, and withdraws them after `--stale-limit`.
//! - [`access`] says why the socket refused berth, and what to do.
//! - [`container`] reads `docker inspect` into berth's terms.
//! - [`mapping`] applies the naming rules to one container (pure).
//! - [`filter`] is `--filter`: which containers berth looks at at all.
//! - [`naming`] sanitises labels so that no name can leave its zone.
//! - [`Settings`] is what the source is told; `config.rs` builds it.
//!
//! bollard never reconnects by itself. A session ending — the daemon
//! restarting, the socket going away — is normal: the loop here backs off
//! and starts a new one, whose listing replaces whatever went stale.
//! Meanwhile the last known records keep being served, with TTL 1.

mod access;
pub(crate) mod container;
mod filter;
mod freshness;
pub(crate) mod mapping;
mod naming;
mod reconcile;
mod report;
mod session;
mod settings;
mod since;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

pub use filter::{FilterError, Filters};
use freshness::Freshness;
use session::SessionError;
pub use settings::{Addresses, Expose, Settings};

use super::reconnect::Backoff;
use crate::registry::{Entity, RegistryHandle};
use crate::status::{Docker, Kept, Status};

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
    fn unreachable(&self, reason: String, kept: Kept) {
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
                kept,
            };
        });
    }

    /// Withdraws the stale records at `--stale-limit`: one line.
    async fn withdraw(
        &self,
        freshness: &Freshness,
        served: &mut HashMap<String, Entity>,
        registry: &RegistryHandle,
    ) -> Result<(), crate::registry::RegistryClosed> {
        let count = freshness.withdraw(served, registry).await?;
        let kept = freshness.kept();
        self.status.update(|state| {
            state.containers.clear();
            if let Docker::Unreachable { kept: now, .. } = &mut state.docker {
                *now = kept;
            }
        });
        let limit = self
            .settings
            .stale_limit
            .map(humantime::format_duration)
            .map(|limit| limit.to_string())
            .unwrap_or_default();
        tracing::warn!(
            "docker: withdrew the records of {count} containers: the daemon could not be followed for {limit} (--stale-limit)"
        );
        Ok(())
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
        let freshness = Freshness::new(self.settings.stale_limit);
        self.status.update(|state| {
            state.docker = Docker::Connecting {
                endpoint: self.settings.endpoint.clone(),
            }
        });
        loop {
            let ended = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                // Only before a session has listed: then it restores them.
                () = freshness.until_withdrawal() => {
                    if self.withdraw(&freshness, &mut served, &registry).await.is_err() {
                        return;
                    }
                    continue;
                }
                ended = session::run(&self, &registry, &mut served, &freshness) => ended,
            };
            backoff.session_ended(ended.live_for);
            let reason = ended.error.to_string();
            match ended.error {
                SessionError::Registry(_) => return,
                // The listing just repaired the records: they are current,
                // only the stream is not. A new session gets a new one.
                SessionError::MissedEvents { .. } => {
                    tracing::warn!(%reason, "docker: reconnecting for a new event stream");
                    reported = None;
                }
                _ => {
                    let Ok(kept) = freshness.went_stale(&served, &registry).await else {
                        return;
                    };
                    self.unreachable(reason.clone(), kept);
                    if ended.live_for.is_some() {
                        let limit = match self.settings.stale_limit {
                            Some(limit) => {
                                format!("for up to {}", humantime::format_duration(limit))
                            }
                            None => "until it is back (--stale-limit 0)".to_string(),
                        };
                        tracing::warn!(%reason, "docker: lost the daemon; serving the last records with TTL 1 {limit} and reconnecting");
                        reported = None;
                    } else if reported.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(%reason, "docker: daemon unavailable; serving the other records and retrying");
                        reported = Some(reason);
                    } else {
                        tracing::debug!(%reason, retry_in = ?backoff.delay(), "docker: still unavailable");
                    }
                }
            }
            tokio::select! {
                biased;
                () = freshness.until_withdrawal() => {
                    if self.withdraw(&freshness, &mut served, &registry).await.is_err() {
                        return;
                    }
                }
                waited = backoff.wait(&shutdown) => if !waited {
                    return;
                },
            }
        }
    }
}
