//! The operator's window: `/` (a status page), `/healthz` (the process is
//! up), `/readyz` (everything berth was asked to serve is in),
//! `/metrics` (Prometheus text) and `/v1/records` (every record berth
//! serves, as JSON). Reads snapshots and the status only; nothing here can
//! change what berth answers.

mod metrics;
mod page;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hickory_proto::rr::Record as WireRecord;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::budget::AcceptErrors;
use crate::dns::forward::Forwarder;
use crate::registry::name::to_text;
use crate::registry::{Snapshot, SnapshotCell, ZoneKind};
use crate::status::{Places, State, Status};

/// What the endpoints show.
pub struct Window {
    pub snapshot: SnapshotCell,
    pub status: Arc<Status>,
    /// `None` with forwarding off.
    pub forwarder: Option<Arc<Forwarder>>,
}

/// `--http-connections` and `--http-timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; more are closed at once.
    pub connections: usize,
    /// How long a connection may take to send a request's head, counted
    /// from when it opened or its last response: the idle limit too.
    pub timeout: Duration,
}

/// Plenty for Prometheus, a browser and a few scripts; each connection
/// holds a handle and, while it writes, a whole response.
pub const DEFAULT_CONNECTIONS: usize = 64;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: DEFAULT_CONNECTIONS,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Serves HTTP on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    window: Arc<Window>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.connections));
    let mut errors = AcceptErrors::new("http");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    errors.failed(&error).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => return,
        };
        errors.succeeded();
        // Over the limit the connection is closed at once rather than queued.
        let Ok(permit) = open.clone().try_acquire_owned() else {
            continue;
        };
        let window = window.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let window = window.clone();
                async move { Ok::<_, Infallible>(route(&request, &window)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

fn route(request: &Request<Incoming>, window: &Window) -> Response<Full<Bytes>> {
    let snapshot = &window.snapshot.load();
    if request.method() != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match request.uri().path() {
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::render(snapshot, &window.status.state(), upstreams(window)),
        ),
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => match window.status.readiness() {
            Ok(()) => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            Err(reason) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("{reason}\n"),
            ),
        },
        "/metrics" => reply(
            StatusCode::OK,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            metrics::render(window),
        ),
        "/v1/records" => {
            match serde_json::to_string_pretty(&records(snapshot, &window.status.state())) {
                Ok(json) => reply(StatusCode::OK, "application/json", json),
                Err(error) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("{error}\n"),
                ),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn upstreams(window: &Window) -> Vec<crate::dns::forward::UpstreamReport> {
    window
        .forwarder
        .as_ref()
        .map(|f| f.upstreams())
        .unwrap_or_default()
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn kind_name(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::Configured => "configured",
        ZoneKind::Static => "static",
        ZoneKind::Reverse => "reverse",
    }
}

#[derive(Serialize)]
struct ZoneJson {
    zone: String,
    kind: &'static str,
    serial: u32,
    records: Vec<RecordJson>,
    /// Names containers claimed that a zone file owns: not served.
    shadowed: Vec<ShadowedJson>,
    /// Containers seen and not served, with why; in each zone they would
    /// have been named in.
    #[serde(skip_serializing_if = "Option::is_none")]
    hidden: Option<Vec<HiddenJson>>,
}

#[derive(Serialize)]
struct ShadowedJson {
    name: String,
    claimed_by: String,
    owner: String,
}

#[derive(Serialize)]
struct HiddenJson {
    container: String,
    id: String,
    reason: String,
}

/// Containers the Docker source saw and does not serve.
fn hidden(state: &State) -> Vec<HiddenJson> {
    state
        .containers
        .iter()
        .filter_map(|(id, seen)| {
            let reason = seen.hidden.clone()?;
            Some(HiddenJson {
                container: seen.name.clone(),
                id: id.clone(),
                reason,
            })
        })
        .collect()
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct RecordJson {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    data: String,
    /// Where the records at this name come from: containers, zone files,
    /// and the etcd instances (other hosts) that published them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    from: Vec<String>,
}

/// Where the records at each owner name come from.
struct Origins<'s> {
    /// Owner name (lower case, no final dot) → containers, and etcd
    /// instances, that give it records.
    containers: HashMap<String, Vec<String>>,
    etcd: HashMap<String, Vec<String>>,
    /// Looked up by name, not gathered in a map: a zone file may give
    /// millions.
    zone_files: Vec<&'s Places>,
}

impl<'s> Origins<'s> {
    fn of(state: &'s State) -> Self {
        let key = |name: &str| name.trim_end_matches('.').to_ascii_lowercase();
        let mut containers: HashMap<String, Vec<String>> = HashMap::new();
        for (id, seen) in &state.containers {
            let short = id.get(..12).unwrap_or(id);
            for name in &seen.names {
                containers
                    .entry(key(name))
                    .or_default()
                    .push(format!("container {} ({short})", seen.name));
            }
        }
        let mut etcd: HashMap<String, Vec<String>> = HashMap::new();
        for (etcd_key, served) in state.etcd.iter().flat_map(|etcd| &etcd.keys) {
            for name in &served.names {
                etcd.entry(key(name))
                    .or_default()
                    .push(format!("etcd {} ({etcd_key})", served.instance));
            }
        }
        let zone_files = state.zone_files.values().map(|f| &*f.names).collect();
        Origins {
            containers,
            etcd,
            zone_files,
        }
    }

    /// Containers first, then zone files, then etcd.
    fn at(&self, owner: &str) -> Vec<String> {
        let mut from = self.containers.get(owner).cloned().unwrap_or_default();
        from.extend(
            self.zone_files
                .iter()
                .filter_map(|places| places.get(owner))
                .map(|place| format!("zone file {place}")),
        );
        from.extend(self.etcd.get(owner).into_iter().flatten().cloned());
        from
    }
}

/// Every record in the snapshot, decoded back from its wire form, so the
/// JSON shows exactly what berth sends, with where its name's records
/// come from.
fn records(snapshot: &Snapshot, state: &State) -> Vec<ZoneJson> {
    let origins = Origins::of(state);
    snapshot
        .zones
        .iter()
        .map(|zone| {
            let mut records = Vec::new();
            for node in zone.nodes.values() {
                for set in &node.rrsets {
                    for tail in set.records() {
                        let mut wire = node.owner.to_vec();
                        wire.extend_from_slice(tail);
                        let mut decoder = BinDecoder::new(&wire);
                        if let Ok(record) = WireRecord::read(&mut decoder) {
                            let name = record.name.to_ascii();
                            let owner = name.trim_end_matches('.').to_ascii_lowercase();
                            // A claim the name's owner shadowed is no source of it.
                            let mut from = origins.at(&owner);
                            from.retain(|source| {
                                !zone.shadowed.iter().any(|s| {
                                    s.claimed_by == *source
                                        && s.name.trim_end_matches('.').eq_ignore_ascii_case(&owner)
                                })
                            });
                            records.push(RecordJson {
                                from,
                                name,
                                rtype: record.record_type().to_string(),
                                ttl: record.ttl,
                                data: record.data.to_string(),
                            });
                        }
                    }
                }
            }
            records.sort();
            ZoneJson {
                zone: to_text(&zone.apex),
                kind: kind_name(zone.kind),
                serial: zone.soa_serial().unwrap_or(zone.serial),
                records,
                shadowed: zone
                    .shadowed
                    .iter()
                    .map(|s| ShadowedJson {
                        name: s.name.clone(),
                        claimed_by: s.claimed_by.clone(),
                        owner: s.owner.clone(),
                    })
                    .collect(),
                hidden: (zone.kind == ZoneKind::Configured).then(|| hidden(state)),
            }
        })
        .collect()
}
