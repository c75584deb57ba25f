//! One session with the Docker daemon, from connecting to the end of its
//! event stream.
//!
//! 1. Connect and negotiate the API version.
//! 2. Note the daemon's clock: `since`.
//! 3. Open the event stream from `since` and drain it into a local queue at
//!    once. The daemon drops events for a subscriber that does not keep up
//!    and replays only its last 256, so the stream must be read while the
//!    listing below runs, not after it.
//! 4. List the running containers, inspect each, and replace this source's
//!    records with exactly what exists.
//! 5. Inspect every container the queued and live events name; upsert or
//!    remove its entity. Events from before the listing are replayed
//!    harmlessly: inspecting is idempotent.
//! 6. Meanwhile, every `--docker-reconcile` seconds, list again and repair
//!    what the stream missed ([`Reconciler`]); a repair ends the session,
//!    so the next one starts on a fresh stream.
//!
//! Every call is bounded by [`Settings::call_timeout`]; one that times out
//! ends the session, and with it the client and every connection it held,
//! so a wedged connection cannot wedge the next session too.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use bollard::errors::Error as ApiError;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::{API_DEFAULT_VERSION, Docker};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;

use super::access::{self, Denied};
use super::container::{Container, is_container_id};
use super::filter::Filters;
use super::freshness::Freshness;
use super::mapping;
use super::reconcile::{self, Reconciler};
use super::settings::Settings;
use super::{DockerSource, report, since};
use crate::registry::{Change, Entity, RegistryClosed, RegistryHandle, SourceId};
use crate::status::{Docker as DockerState, Status};

/// Inspections in flight at once: enough to hide the daemon's latency in a
/// burst without queueing behind its per-container locks.
pub(super) const INSPECT_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot reach the docker daemon at {endpoint}: {source}")]
    Connect { endpoint: String, source: ApiError },
    #[error(transparent)]
    PermissionDenied(Box<Denied>),
    #[error("docker {during} got no answer within {after:?}; dropping the connection")]
    Timeout {
        during: &'static str,
        after: Duration,
    },
    #[error("the docker event stream missed {count} change(s) a listing found")]
    MissedEvents { count: usize },
    #[error("docker {during} failed: {source}")]
    Api {
        during: &'static str,
        source: ApiError,
    },
    #[error("the docker event stream ended")]
    StreamEnded,
    #[error(transparent)]
    Registry(#[from] RegistryClosed),
}

impl SessionError {
    fn api(during: &'static str) -> impl FnOnce(ApiError) -> SessionError {
        move |source| SessionError::Api { during, source }
    }
}

/// `call`, given at most `limit` to finish (its whole body, not only the
/// headers bollard's own timeout covers). A call that runs out is dropped,
/// and with it the request and the connection it was on.
pub(super) async fn timed<T>(
    limit: Duration,
    during: &'static str,
    call: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, SessionError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Err(ApiError::RequestTimeoutError)) | Err(_) => Err(SessionError::Timeout {
            during,
            after: limit,
        }),
        Ok(result) => result.map_err(SessionError::api(during)),
    }
}

/// How a session ended, for the caller's backoff and logging.
#[derive(Debug)]
pub struct Ended {
    /// How long the session followed events; `None` if it never got there.
    pub live_for: Option<Duration>,
    pub error: SessionError,
}

/// What one event asks for.
#[derive(Debug, PartialEq, Eq)]
enum Todo {
    /// Its state may have changed: inspect it.
    Inspect(String),
    /// It joined or left a network: inspect it if it passes `--filter`.
    Attached(String),
    /// It no longer exists.
    Forget(String),
}

/// What an inspection found.
pub(super) enum Found {
    Nothing,
    Container(Box<Container>),
    Gone(String),
}

/// One session of `source`. `served` is what each container ID is served
/// under, as the registry has it; the session keeps it so.
pub async fn run(
    source: &DockerSource,
    registry: &RegistryHandle,
    served: &mut HashMap<String, Entity>,
    freshness: &Freshness,
) -> Ended {
    let mut live_since = None;
    let Err(error) = follow(source, registry, served, freshness, &mut live_since).await;
    Ended {
        live_for: live_since.map(|at: Instant| at.elapsed()),
        error,
    }
}

/// Runs the session; it only ever ends with the reason it ended.
async fn follow(
    source: &DockerSource,
    registry: &RegistryHandle,
    served: &mut HashMap<String, Entity>,
    freshness: &Freshness,
    live_since: &mut Option<Instant>,
) -> Result<std::convert::Infallible, SessionError> {
    let DockerSource { settings, status } = source;
    let endpoint = settings.endpoint.as_str();
    let limit = settings.call_timeout();
    let docker = client(endpoint, limit).map_err(|source| SessionError::Connect {
        endpoint: endpoint.to_string(),
        source,
    })?;
    let docker = match timed(limit, "version", docker.negotiate_version()).await {
        Ok(docker) => docker,
        Err(SessionError::Api { source, .. }) => {
            // "client error (Connect)" says nothing; find out why.
            if let Some(denied) = access::denied(endpoint).await {
                return Err(SessionError::PermissionDenied(Box::new(denied)));
            }
            return Err(SessionError::Connect {
                endpoint: endpoint.to_string(),
                source,
            });
        }
        Err(other) => return Err(other),
    };
    let since = timed(limit, "info", docker.info())
        .await?
        .system_time
        .as_deref()
        .and_then(since::unix_from_rfc3339)
        .unwrap_or_else(local_unix_time);

    let (queue, mut events) = mpsc::unbounded_channel();
    let readers: Vec<AbortOnDrop> = settings
        .filters
        .event_streams()
        .into_iter()
        .map(|stream| {
            let admit = settings.filters.clone();
            let read = read_events(docker.clone(), since.clone(), stream, admit, queue.clone());
            AbortOnDrop(tokio::spawn(read))
        })
        .collect();
    // The queue closes when the last reader ends.
    drop(queue);

    let listed = resync(&docker, settings, registry, served, status).await?;
    let mut reconciler = Reconciler::new(settings, listed);
    freshness.restored();
    *live_since = Some(Instant::now());
    let now = SystemTime::now();
    status.update(|state| {
        state.docker = DockerState::Following {
            endpoint: endpoint.to_string(),
            since: now,
            last_sync: now,
        }
    });
    tracing::info!(
        api = %docker.client_version(),
        containers = served.len(),
        "docker: following container events"
    );

    let todos = stream::poll_fn(|cx| events.poll_recv(cx));
    let filters = &settings.filters;
    let mut found = todos
        .map(|todo| {
            let docker = docker.clone();
            async move {
                match todo? {
                    Some(Todo::Inspect(id)) => inspect(&docker, limit, id, filters).await,
                    Some(Todo::Attached(id)) => attached(&docker, limit, id, filters).await,
                    Some(Todo::Forget(id)) => Ok(Found::Gone(id)),
                    None => Ok(Found::Nothing),
                }
            }
        })
        .buffered(INSPECT_CONCURRENCY);
    loop {
        let result = tokio::select! {
            result = found.next() => result,
            () = reconciler.due() => {
                reconciler.act(&docker, settings, registry, served, status).await?;
                continue;
            }
        };
        let Some(result) = result else { break };
        match result? {
            Found::Nothing => {}
            Found::Container(container) => {
                reconciler.touched(&container.id);
                update(served, &container, settings, registry, status).await?;
            }
            Found::Gone(id) => {
                reconciler.touched(&id);
                let seen = status.update(|state| state.containers.remove(&id));
                if let Some(before) = served.remove(&id) {
                    let name = seen.map_or_else(|| id.clone(), |seen| seen.name);
                    report::log_changes(&name, Some(&before), None);
                    registry
                        .send(Change::Remove {
                            source: SourceId::Docker,
                            id,
                        })
                        .await?;
                }
            }
        }
    }
    drop(readers);
    Err(SessionError::StreamEnded)
}

/// A client of its own for each session: dropping it closes every
/// connection the session opened.
fn client(endpoint: &str, limit: Duration) -> Result<Docker, ApiError> {
    // bollard's own timeout (whole seconds, response headers only) is a
    // backstop, and what bounds the event stream's response headers;
    // [`timed`] is what bounds each call, a second before it.
    let seconds = limit.as_secs() + 1;
    if endpoint.starts_with("unix://") {
        Docker::connect_with_unix(endpoint, seconds, API_DEFAULT_VERSION)
    } else {
        Docker::connect_with_http(endpoint, seconds, API_DEFAULT_VERSION)
    }
}

/// The listing both the first sync and each reconciliation ask for: the
/// running containers that pass `--filter`.
pub(super) fn running_containers(filters: &Filters) -> ListContainersOptions {
    ListContainersOptions {
        all: false,
        limit: None,
        size: false,
        filters: filters.list(),
    }
}

/// Our clock, in the unix-seconds form `since` accepts: only used when the
/// daemon does not say what time it is.
fn local_unix_time() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(1).to_string())
        .unwrap_or_else(|_| "0".to_string())
}

/// Drains one event stream (`filters` as the daemon takes them) into
/// `queue` as fast as the daemon sends, so the daemon never drops events
/// for berth; events for containers `admit` leaves out are not queued.
/// Ends with the stream; an error is passed on as the last item.
async fn read_events(
    docker: Docker,
    since: String,
    filters: HashMap<String, Vec<String>>,
    admit: Filters,
    queue: mpsc::UnboundedSender<Result<Option<Todo>, SessionError>>,
) {
    let options = EventsOptions {
        since: Some(since),
        until: None,
        filters: Some(filters),
    };
    let mut events = docker.events(Some(options));
    while let Some(event) = events.next().await {
        if event.as_ref().is_ok_and(|e| !admit.admits_event(e)) {
            continue;
        }
        let item = event
            .map(|e| todo(&e).inspect(|_| count(&e)))
            .map_err(|error| match error {
                // The stream's response headers did not come in time.
                ApiError::RequestTimeoutError => SessionError::Timeout {
                    during: "event stream",
                    after: Duration::from_secs(docker.timeout().as_secs()),
                },
                source => SessionError::Api {
                    during: "event stream",
                    source,
                },
            });
        let failed = item.is_err();
        if queue.send(item).is_err() || failed {
            return;
        }
    }
}

/// `health_status: healthy`, `exec_start: sh -c …`: the verb is the prefix.
fn verb(event: &EventMessage) -> Option<&str> {
    let action = event.action.as_deref()?;
    Some(action.split(':').next().unwrap_or(action).trim())
}

/// Counts an event berth acted on, by its verb (a handful of values).
fn count(event: &EventMessage) {
    if let Some(verb) = verb(event) {
        let action = crate::metrics::Action {
            action: verb.to_string(),
        };
        crate::metrics::live()
            .docker_events
            .get_or_create(&action)
            .inc();
    }
}

/// The containers an event concerns. Exec, attach and other chatter (a
/// healthcheck runs an exec every interval) asks for nothing.
fn todo(event: &EventMessage) -> Option<Todo> {
    let actor = event.actor.as_ref()?;
    let verb = verb(event)?;
    let id = match event.typ? {
        EventMessageTypeEnum::CONTAINER => actor.id.as_deref()?,
        EventMessageTypeEnum::NETWORK if matches!(verb, "connect" | "disconnect") => {
            actor.attributes.as_ref()?.get("container")?.as_str()
        }
        _ => return None,
    };
    if !is_container_id(id) {
        return None;
    }
    match verb {
        "destroy" => Some(Todo::Forget(id.to_string())),
        "connect" | "disconnect" => Some(Todo::Attached(id.to_string())),
        "start" | "restart" | "unpause" | "pause" | "die" | "stop" | "kill" | "oom" | "rename"
        | "health_status" | "update" => Some(Todo::Inspect(id.to_string())),
        _ => None,
    }
}

/// Inspects a container; one that does not pass `--filter` (any more) is
/// as good as gone.
pub(super) async fn inspect(
    docker: &Docker,
    limit: Duration,
    id: String,
    filters: &Filters,
) -> Result<Found, SessionError> {
    let call = tokio::time::timeout(limit, docker.inspect_container(&id, None));
    let result = match call.await {
        Ok(Err(ApiError::RequestTimeoutError)) | Err(_) => {
            return Err(SessionError::Timeout {
                during: "inspect",
                after: limit,
            });
        }
        Ok(result) => result,
    };
    match result {
        Ok(inspect) => match Container::from_inspect(inspect) {
            Ok(container) if filters.admits(&container) => {
                Ok(Found::Container(Box::new(container)))
            }
            Ok(_) => Ok(Found::Gone(id)),
            Err(error) => {
                tracing::warn!(%id, %error, "docker: ignoring an inspect result");
                Ok(Found::Nothing)
            }
        },
        // Removed between the event and the inspection.
        Err(ApiError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(Found::Gone(id)),
        Err(source) => Err(SessionError::Api {
            during: "inspect",
            source,
        }),
    }
}

/// A network event names a container. With label filters the network
/// events come unfiltered, every container's, so the daemon is asked first
/// whether this one passes: berth does not inspect what it will not serve.
async fn attached(
    docker: &Docker,
    limit: Duration,
    id: String,
    filters: &Filters,
) -> Result<Found, SessionError> {
    if filters.by_label() {
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters.list_one(&id)),
            ..running_containers(filters)
        };
        let listed = timed(limit, "list", docker.list_containers(Some(options))).await?;
        if !listed.iter().any(|c| c.id.as_deref() == Some(id.as_str())) {
            return Ok(Found::Gone(id));
        }
    }
    inspect(docker, limit, id, filters).await
}

/// Lists and inspects every running container and replaces this source's
/// records with what they map to; `served` becomes what is now served.
/// Returns each listed container's fingerprint, for the reconciler.
async fn resync(
    docker: &Docker,
    settings: &Settings,
    registry: &RegistryHandle,
    served: &mut HashMap<String, Entity>,
    status: &Status,
) -> Result<HashMap<String, u64>, SessionError> {
    let limit = settings.call_timeout();
    let listed = timed(
        limit,
        "list",
        docker.list_containers(Some(running_containers(&settings.filters))),
    )
    .await?;
    let fingerprints = reconcile::fingerprints(&listed);
    let ids = listed
        .into_iter()
        .filter_map(|c| c.id)
        .filter(|id| is_container_id(id));
    let found: Vec<Found> = stream::iter(ids)
        .map(|id| inspect(docker, limit, id, &settings.filters))
        .buffer_unordered(INSPECT_CONCURRENCY)
        .try_collect()
        .await?;
    let mut now_served = HashMap::new();
    let mut seen = std::collections::BTreeMap::new();
    for found in found {
        let Found::Container(container) = found else {
            continue;
        };
        let mapped = mapping::map(&container, settings);
        report_skipped(&container, &mapped.skipped);
        report::log_changes(
            &container.name,
            served.get(&container.id),
            mapped.entity.as_ref(),
        );
        seen.insert(container.id.clone(), report::seen(&container, &mapped));
        if let Some(entity) = mapped.entity {
            now_served.insert(container.id.clone(), entity);
        }
    }
    let listed: std::collections::HashSet<String> = seen.keys().cloned().collect();
    let before = status.update(|state| std::mem::replace(&mut state.containers, seen));
    // Those listed were logged above, served or not.
    for (id, entity) in served
        .iter()
        .filter(|(id, _)| !now_served.contains_key(*id) && !listed.contains(*id))
    {
        let name = before
            .get(id)
            .map_or(id.as_str(), |seen| seen.name.as_str());
        report::log_changes(name, Some(entity), None);
    }
    *served = now_served;
    registry
        .send(Change::Replace {
            source: SourceId::Docker,
            entities: served.values().cloned().collect(),
        })
        .await?;
    Ok(fingerprints)
}

/// Sends the container's new records, or its removal, when they differ from
/// what is served: a health event that changes nothing costs no new
/// snapshot and no serial bump.
pub(super) async fn update(
    served: &mut HashMap<String, Entity>,
    container: &Container,
    settings: &Settings,
    registry: &RegistryHandle,
    status: &Status,
) -> Result<(), RegistryClosed> {
    let mapped = mapping::map(container, settings);
    let seen = report::seen(container, &mapped);
    status.update(|state| state.containers.insert(container.id.clone(), seen));
    let before = served.get(&container.id);
    if before == mapped.entity.as_ref() {
        return Ok(());
    }
    report::log_changes(&container.name, before, mapped.entity.as_ref());
    let change = match mapped.entity {
        Some(entity) => {
            report_skipped(container, &mapped.skipped);
            served.insert(container.id.clone(), entity.clone());
            Change::Upsert {
                source: SourceId::Docker,
                entity,
            }
        }
        None => {
            served.remove(&container.id);
            Change::Remove {
                source: SourceId::Docker,
                id: container.id.clone(),
            }
        }
    };
    registry.send(change).await
}

pub(super) fn report_skipped(container: &Container, skipped: &[mapping::Skipped]) {
    for skipped in skipped {
        tracing::warn!(
            container = %container.name,
            what = %skipped.what,
            why = %skipped.why,
            "docker: name skipped"
        );
    }
}

/// Stops the event reader when the session ends, whichever way it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::EventActor;

    const ID: &str = "1d25491e1907ee3912d181ab18b2d155e6400716d0e4345cef28a8ba32c0b109";

    fn event(
        typ: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attrs: &[(&str, &str)],
    ) -> EventMessage {
        EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some(id.into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn container_events_that_matter() {
        use EventMessageTypeEnum::CONTAINER;
        let inspect = Some(Todo::Inspect(ID.into()));
        assert_eq!(todo(&event(CONTAINER, "start", ID, &[])), inspect);
        assert_eq!(
            todo(&event(CONTAINER, "health_status: healthy", ID, &[])),
            inspect
        );
        assert_eq!(todo(&event(CONTAINER, "rename", ID, &[])), inspect);
        assert_eq!(
            todo(&event(CONTAINER, "destroy", ID, &[])),
            Some(Todo::Forget(ID.into()))
        );
        assert_eq!(
            todo(&event(CONTAINER, "exec_start: sh -c true", ID, &[])),
            None
        );
        assert_eq!(todo(&event(CONTAINER, "create", ID, &[])), None);
        assert_eq!(todo(&event(CONTAINER, "start", "../../v1/x", &[])), None);
    }

    #[test]
    fn network_events_name_their_container() {
        use EventMessageTypeEnum::NETWORK;
        let net = "7b80ec56722ab98b6ba131e0825ed44cb360088efd5aa064a160ab9ae33ee74b";
        let connect = event(NETWORK, "connect", net, &[("container", ID)]);
        assert_eq!(todo(&connect), Some(Todo::Attached(ID.into())));
        assert_eq!(todo(&event(NETWORK, "disconnect", net, &[])), None);
        assert_eq!(
            todo(&event(NETWORK, "create", net, &[("container", ID)])),
            None
        );
    }
}
