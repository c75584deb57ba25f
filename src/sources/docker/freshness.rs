//! What berth serves for Docker while it cannot follow the daemon.
//!
//! The last records stay: a daemon restart should not blank every name for
//! its duration. But nobody is vouching for them any more, so they are
//! re-published with TTL 1 — a resolver asks again each second and picks
//! up the repair as soon as berth has one — and withdrawn altogether after
//! `--stale-limit`, because by then an address may belong to another
//! container. The first listing of a new session restores them (and their
//! TTLs) whole.
//!
//! All of this is the Docker source re-publishing its own entities; the
//! registry knows nothing of staleness.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::registry::{Change, Entity, RegistryClosed, RegistryHandle, SourceId};
use crate::status::Kept;

/// The TTL of records nobody vouches for.
const STALE_TTL: u32 = 1;

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// A session is following the daemon.
    Fresh,
    /// The last records are served with TTL 1 since `since`.
    Stale {
        since: Instant,
        until: Option<SystemTime>,
    },
    /// No Docker records are served: none were ever listed, or they were
    /// withdrawn at the time given.
    Nothing { withdrawn: Option<SystemTime> },
}

/// Shared by the source's loop and its session, which run in one task: the
/// lock is never contended, and only there because the task may move
/// between threads.
pub struct Freshness {
    limit: Option<Duration>,
    phase: Mutex<Phase>,
}

impl Freshness {
    /// `limit`: `--stale-limit`, `None` for no limit.
    pub fn new(limit: Option<Duration>) -> Freshness {
        Freshness {
            limit,
            phase: Mutex::new(Phase::Nothing { withdrawn: None }),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the phase; returns the one before.
    fn set(&self, phase: Phase) -> Phase {
        std::mem::replace(
            &mut self.phase.lock().unwrap_or_else(|e| e.into_inner()),
            phase,
        )
    }

    /// What the status says about the records.
    pub fn kept(&self) -> Kept {
        match self.phase() {
            Phase::Fresh | Phase::Nothing { withdrawn: None } => Kept::Nothing,
            Phase::Stale { until, .. } => Kept::Stale { until },
            Phase::Nothing {
                withdrawn: Some(at),
            } => Kept::Withdrawn { at },
        }
    }

    /// The session that followed the daemon ended: re-publishes `served`
    /// with TTL 1. Once per outage; later failed attempts change nothing.
    pub async fn went_stale(
        &self,
        served: &HashMap<String, Entity>,
        registry: &RegistryHandle,
    ) -> Result<Kept, RegistryClosed> {
        if let Phase::Fresh = self.phase() {
            if served.is_empty() {
                self.set(Phase::Nothing { withdrawn: None });
            } else {
                let until = self.limit.map(|limit| SystemTime::now() + limit);
                self.set(Phase::Stale {
                    since: Instant::now(),
                    until,
                });
                let entities = served.values().map(lowered).collect();
                registry
                    .send(Change::Replace {
                        source: SourceId::Docker,
                        entities,
                    })
                    .await?;
            }
        }
        Ok(self.kept())
    }

    /// Completes when stale records have been served for `--stale-limit`;
    /// never while fresh, with nothing served, or with no limit.
    pub async fn until_withdrawal(&self) {
        let (Phase::Stale { since, .. }, Some(limit)) = (self.phase(), self.limit) else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until((since + limit).into()).await;
        // A session may have restored the records meanwhile.
        if !matches!(self.phase(), Phase::Stale { .. }) {
            std::future::pending::<()>().await;
        }
    }

    /// Withdraws every Docker record; `served` is emptied. Returns how many
    /// containers' records went.
    pub async fn withdraw(
        &self,
        served: &mut HashMap<String, Entity>,
        registry: &RegistryHandle,
    ) -> Result<usize, RegistryClosed> {
        self.set(Phase::Nothing {
            withdrawn: Some(SystemTime::now()),
        });
        let count = served.len();
        served.clear();
        registry
            .send(Change::Replace {
                source: SourceId::Docker,
                entities: Vec::new(),
            })
            .await?;
        Ok(count)
    }

    /// A session listed the containers and published them at their own
    /// TTLs: one line if that ends an outage.
    pub fn restored(&self) {
        match self.set(Phase::Fresh) {
            Phase::Stale { since, .. } => tracing::info!(
                "docker: records current again after {} stale; TTLs restored",
                humantime::format_duration(Duration::from_secs(since.elapsed().as_secs()))
            ),
            Phase::Nothing { withdrawn: Some(_) } => {
                tracing::info!("docker: records served again after their withdrawal")
            }
            Phase::Fresh | Phase::Nothing { withdrawn: None } => {}
        }
    }
}

/// `entity` with every TTL lowered to [`STALE_TTL`].
fn lowered(entity: &Entity) -> Entity {
    let mut entity = entity.clone();
    for record in &mut entity.records {
        record.ttl = record.ttl.min(STALE_TTL);
    }
    entity
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Record;
    use hickory_proto::rr::Name;

    #[test]
    fn lowered_keeps_every_record_but_its_ttl() {
        let name = Name::from_ascii("web.apps.local.").unwrap();
        let entity = Entity::new(
            "id",
            vec![Record::address(name, 30, "172.18.0.2".parse().unwrap())],
        );
        let stale = lowered(&entity);
        assert_eq!(stale.records[0].ttl, 1);
        assert_eq!(stale.records[0].data, entity.records[0].data);
        assert_eq!(stale.id, entity.id);
    }

    #[test]
    fn kept_follows_the_phase() {
        let freshness = Freshness::new(Some(Duration::from_secs(60)));
        assert_eq!(freshness.kept(), Kept::Nothing);
        freshness.set(Phase::Stale {
            since: Instant::now(),
            until: None,
        });
        assert_eq!(freshness.kept(), Kept::Stale { until: None });
        freshness.restored();
        assert_eq!(freshness.kept(), Kept::Nothing);
    }
}
