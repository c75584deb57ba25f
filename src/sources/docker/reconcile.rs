//! The periodic reconciliation: every `--docker-reconcile` seconds, list the
//! running containers and repair what the event stream did not deliver — a
//! dropped event, or a stream that stalled with its connection still open
//! (Docker sends nothing when idle, so silence proves nothing; only a
//! listing can).
//!
//! Cheap when nothing changed: one listing, compared container by container
//! with the last one through a fingerprint of what the listing shows (names,
//! state, health, networks, ports, labels). Only containers whose
//! fingerprint moved, and served ones no longer listed, are inspected.
//!
//! A difference is not yet a miss: its event may be on its way. The
//! reconciler waits [`GRACE`] and counts as missed only the containers no
//! event touched meanwhile. Those it repairs, logs at WARN, counts in
//! `berth_docker_reconcile_repairs_total`, and then ends the session, so
//! the next one starts on a new event stream.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant, SystemTime};

use bollard::Docker;
use bollard::models::ContainerSummary;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::container::{Container, is_container_id};
use super::mapping;
use super::report;
use super::session::{
    Found, INSPECT_CONCURRENCY, SessionError, inspect, report_skipped, running_containers, timed,
};
use super::settings::Settings;
use crate::registry::{Change, Entity, RegistryHandle, SourceId};
use crate::status::{Docker as DockerState, Status};

/// How long a difference may wait for the event that explains it. Events
/// arrive within milliseconds; a listing that raced one is forgiven.
const GRACE: Duration = Duration::from_secs(1);

/// What each listed container looked like: a hash, compared only with
/// another from the same process.
pub fn fingerprints(listed: &[ContainerSummary]) -> HashMap<String, u64> {
    listed
        .iter()
        .filter_map(|summary| {
            let id = summary.id.as_deref().filter(|id| is_container_id(id))?;
            Some((id.to_string(), fingerprint(summary)))
        })
        .collect()
}

/// Everything in a listing entry that can change what a container is
/// served under. `Status` ("Up 5 minutes (healthy)") changes every second,
/// so only its health, in parentheses, is kept.
fn fingerprint(summary: &ContainerSummary) -> u64 {
    let mut hasher = DefaultHasher::new();
    summary.names.hash(&mut hasher);
    summary
        .state
        .map(|state| state.to_string())
        .hash(&mut hasher);
    summary
        .status
        .as_deref()
        .and_then(|status| status.split_once('('))
        .map(|(_, health)| health)
        .hash(&mut hasher);
    summary
        .health
        .as_ref()
        .and_then(|health| health.status)
        .map(|status| status.to_string())
        .hash(&mut hasher);
    summary
        .labels
        .as_ref()
        .map(|labels| labels.iter().collect::<BTreeMap<_, _>>())
        .hash(&mut hasher);
    // serde_json orders map keys, so equal networks serialise equally.
    serde_json::to_string(&summary.network_settings)
        .unwrap_or_default()
        .hash(&mut hasher);
    serde_json::to_string(&summary.ports)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// A difference between the listing and what is served.
enum Repair {
    /// Serve the container as inspected (or stop serving it, if it maps to
    /// nothing now).
    Serve(Box<Container>),
    /// It no longer runs.
    Forget(String),
}

impl Repair {
    fn id(&self) -> &str {
        match self {
            Repair::Serve(container) => &container.id,
            Repair::Forget(id) => id,
        }
    }
}

pub struct Reconciler {
    /// `None`: `--docker-reconcile 0`.
    every: Option<Duration>,
    /// When the next listing is due.
    next: Instant,
    /// Each running container's fingerprint at the last listing.
    listed: HashMap<String, u64>,
    /// Differences the last listing found, and when their grace ends.
    pending: Option<(Instant, Vec<Repair>)>,
    /// Containers an event was processed for since `pending` was set.
    touched: HashSet<String>,
}

impl Reconciler {
    /// Starts from the session's first listing.
    pub fn new(settings: &Settings, listed: HashMap<String, u64>) -> Reconciler {
        let every = settings.reconcile;
        Reconciler {
            every,
            next: Instant::now() + every.unwrap_or_default(),
            listed,
            pending: None,
            touched: HashSet::new(),
        }
    }

    /// An event was processed for `id`: the stream is delivering its
    /// changes.
    pub fn touched(&mut self, id: &str) {
        if self.pending.is_some() {
            self.touched.insert(id.to_string());
        }
    }

    /// Completes when [`Reconciler::act`] has something to do; never with
    /// reconciliation off.
    pub async fn due(&self) {
        let at = match (&self.pending, self.every) {
            (Some((at, _)), _) => *at,
            (None, Some(_)) => self.next,
            (None, None) => return std::future::pending().await,
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// Lists and compares, or, once a difference's grace is over, repairs
    /// what no event explained. Ends the session (`MissedEvents`) after a
    /// repair.
    pub async fn act(
        &mut self,
        docker: &Docker,
        settings: &Settings,
        registry: &RegistryHandle,
        served: &mut HashMap<String, Entity>,
        status: &Status,
    ) -> Result<(), SessionError> {
        match self.pending.take() {
            Some((_, found)) => {
                let touched = std::mem::take(&mut self.touched);
                let mut count = 0;
                for repair in missed(found, &touched) {
                    if apply(repair, settings, registry, served, status).await? {
                        count += 1;
                    }
                }
                crate::metrics::live().docker_repairs.inc_by(count as u64);
                if count > 0 {
                    return Err(SessionError::MissedEvents { count });
                }
                Ok(())
            }
            None => {
                let found = self.compare(docker, settings, served, status).await?;
                if !found.is_empty() {
                    self.pending = Some((Instant::now() + GRACE, found));
                }
                self.next = Instant::now() + self.every.unwrap_or_default();
                Ok(())
            }
        }
    }

    /// Lists, and inspects what the listing says may differ from `served`.
    async fn compare(
        &mut self,
        docker: &Docker,
        settings: &Settings,
        served: &HashMap<String, Entity>,
        status: &Status,
    ) -> Result<Vec<Repair>, SessionError> {
        let limit = settings.call_timeout();
        let summaries = timed(
            limit,
            "list",
            docker.list_containers(Some(running_containers(&settings.filters))),
        )
        .await?;
        let now = SystemTime::now();
        status.update(|state| {
            if let DockerState::Following { last_sync, .. } = &mut state.docker {
                *last_sync = now;
            }
        });
        crate::metrics::live().docker_reconciliations.inc();
        let listed = fingerprints(&summaries);
        let moved: Vec<String> = listed
            .iter()
            .filter(|(id, print)| self.listed.get(*id) != Some(*print))
            .map(|(id, _)| id.clone())
            .collect();
        let mut found: Vec<Repair> = served
            .keys()
            .filter(|id| !listed.contains_key(*id))
            .map(|id| Repair::Forget(id.clone()))
            .collect();
        self.listed = listed;
        let inspected: Vec<Found> = stream::iter(moved)
            .map(|id| inspect(docker, limit, id, &settings.filters))
            .buffer_unordered(INSPECT_CONCURRENCY)
            .try_collect()
            .await?;
        for result in inspected {
            match result {
                Found::Nothing => {}
                Found::Gone(id) => {
                    if served.contains_key(&id) {
                        found.push(Repair::Forget(id));
                    }
                }
                Found::Container(container) => {
                    let mapped = mapping::map(&container, settings);
                    if served.get(&container.id) != mapped.entity.as_ref() {
                        found.push(Repair::Serve(container));
                    }
                }
            }
        }
        Ok(found)
    }
}

/// The differences no event explained during their grace: those for
/// containers the stream said nothing about.
fn missed(found: Vec<Repair>, touched: &HashSet<String>) -> impl Iterator<Item = Repair> {
    found.into_iter().filter(move |r| !touched.contains(r.id()))
}

/// Applies one repair; false if there was nothing left to repair.
async fn apply(
    repair: Repair,
    settings: &Settings,
    registry: &RegistryHandle,
    served: &mut HashMap<String, Entity>,
    status: &Status,
) -> Result<bool, SessionError> {
    let (id, name, after) = match repair {
        Repair::Serve(container) => {
            let mapped = mapping::map(&container, settings);
            report_skipped(&container, &mapped.skipped);
            let seen = report::seen(&container, &mapped);
            status.update(|state| state.containers.insert(container.id.clone(), seen));
            (container.id, container.name, mapped.entity)
        }
        Repair::Forget(id) => {
            let seen = status.update(|state| state.containers.remove(&id));
            let name = seen.map_or_else(|| id.clone(), |seen| seen.name);
            (id, name, None)
        }
    };
    let differences = report::differences(served.get(&id), after.as_ref());
    if differences.is_empty() {
        return Ok(false);
    }
    tracing::warn!(
        container = %name,
        "docker: reconciliation repaired {name}: {}; the event stream had not delivered this",
        differences.join("; ")
    );
    let change = match after {
        Some(entity) => {
            served.insert(id, entity.clone());
            Change::Upsert {
                source: SourceId::Docker,
                entity,
            }
        }
        None => {
            served.remove(&id);
            Change::Remove {
                source: SourceId::Docker,
                id,
            }
        }
    };
    registry.send(change).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerSummaryStateEnum, EndpointSettings};

    const ID: &str = "1d25491e1907ee3912d181ab18b2d155e6400716d0e4345cef28a8ba32c0b109";

    fn summary(status: &str, ip: &str) -> ContainerSummary {
        let network = EndpointSettings {
            ip_address: Some(ip.into()),
            ..Default::default()
        };
        ContainerSummary {
            id: Some(ID.into()),
            names: Some(vec!["/web".into()]),
            state: Some(ContainerSummaryStateEnum::RUNNING),
            status: Some(status.into()),
            network_settings: Some(bollard::models::ContainerSummaryNetworkSettings {
                networks: Some(HashMap::from([("bridge".to_string(), network)])),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn uptime_does_not_move_the_fingerprint_but_health_and_addresses_do() {
        let base = fingerprint(&summary("Up 5 seconds (healthy)", "172.17.0.2"));
        assert_eq!(
            base,
            fingerprint(&summary("Up 3 minutes (healthy)", "172.17.0.2"))
        );
        assert_ne!(
            base,
            fingerprint(&summary("Up 3 minutes (unhealthy)", "172.17.0.2"))
        );
        assert_ne!(
            base,
            fingerprint(&summary("Up 5 seconds (healthy)", "172.17.0.3"))
        );
        let mut renamed = summary("Up 5 seconds (healthy)", "172.17.0.2");
        renamed.names = Some(vec!["/shop".into()]);
        assert_ne!(base, fingerprint(&renamed));
    }

    #[test]
    fn a_difference_an_event_explained_is_not_a_miss() {
        let found = vec![Repair::Forget("a".into()), Repair::Forget("b".into())];
        let touched = HashSet::from(["a".to_string()]);
        let missed: Vec<String> = missed(found, &touched)
            .map(|r| r.id().to_string())
            .collect();
        assert_eq!(missed, ["b"]);
    }

    #[test]
    fn entries_without_a_valid_id_are_not_tracked() {
        let mut bad = summary("Up", "172.17.0.2");
        bad.id = Some("../x".into());
        assert!(fingerprints(&[bad]).is_empty());
        assert_eq!(fingerprints(&[summary("Up", "172.17.0.2")]).len(), 1);
    }
}
