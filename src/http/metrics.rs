//! `/metrics`: Prometheus text (0.0.4), encoded by prometheus-client. The
//! query counters come from the per-thread shards
//! ([`metrics::QueryCounters`]), the counts kept off the query path from
//! [`metrics::live`], and everything else is read at the scrape from what
//! the status page reads: the snapshot, the sources' status and the
//! forwarder.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use super::{Window, kind_name};
use crate::dns::forward::{CacheStats, UpstreamReport};
use crate::metrics::{self, Labels, encode_counters, encode_gauges};
use crate::registry::name::to_text;
use crate::registry::{Snapshot, ZoneKind};
use crate::status::{Docker, State};

/// Everything read for one scrape, so that the encoder holds no lock.
struct Scrape {
    snapshot: Arc<Snapshot>,
    state: State,
    upstreams: Vec<UpstreamReport>,
    cache: Option<CacheStats>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").finish_non_exhaustive()
    }
}

pub fn render(window: &Window) -> String {
    let forwarder = window.forwarder.as_ref();
    let scrape = Scrape {
        snapshot: window.snapshot.load_full(),
        state: window.status.state(),
        upstreams: forwarder.map(|f| f.upstreams()).unwrap_or_default(),
        cache: forwarder.and_then(|f| f.cache_stats()),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics::QueryCounters));
    metrics::live().register(&mut registry);
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
        tracing::warn!(%error, "encoding /metrics failed");
    }
    out
}

fn label(key: &'static str, value: impl ToString) -> Labels {
    vec![(key, value.to_string())]
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.zones(&mut encoder)?;
        self.docker(&mut encoder)?;
        self.etcd(&mut encoder)?;
        self.forwarding(&mut encoder)
    }
}

impl Scrape {
    fn zones(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let zones = &self.snapshot.zones;
        encode_gauges(
            encoder,
            "berth_zone_names",
            "Names (including empty non-terminals) in each zone.",
            zones.iter().map(|zone| {
                let labels = vec![
                    ("zone", to_text(&zone.apex)),
                    ("kind", kind_name(zone.kind).to_string()),
                ];
                (labels, zone.nodes.len() as i64)
            }),
        )?;
        encode_gauges(
            encoder,
            "berth_zone_serial",
            "SOA serial each authoritative zone is served with.",
            zones
                .iter()
                .filter(|zone| zone.kind != ZoneKind::Reverse)
                .filter_map(|zone| {
                    let serial = zone.soa_serial()?;
                    Some((label("zone", to_text(&zone.apex)), i64::from(serial)))
                }),
        )?;
        let files = &self.state.zone_files;
        let rejected = files.values().filter(|f| f.rejected.is_some()).count();
        encode_gauges(
            encoder,
            "berth_zone_files",
            "Zone files by their last reading: loaded, or rejected (last good records kept).",
            [
                (label("state", "loaded"), (files.len() - rejected) as i64),
                (label("state", "rejected"), rejected as i64),
            ],
        )
    }

    fn docker(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let docker = &self.state.docker;
        encode_gauges(
            encoder,
            "berth_docker_connected",
            "1 while berth follows the Docker daemon's events, else 0.",
            [(
                vec![],
                i64::from(matches!(docker, Docker::Following { .. })),
            )],
        )?;
        encode_gauges(
            encoder,
            "berth_docker_state",
            "1 for the Docker source's state: following, connecting, stale (unreachable, the last records served with TTL 1), unreachable (no Docker records served) or off.",
            Docker::STATE_NAMES.iter().map(|name| {
                let now = i64::from(*name == docker.state_name());
                (label("state", name), now)
            }),
        )?;
        encode_gauges(
            encoder,
            "berth_docker_last_sync_timestamp_seconds",
            "When a listing of the running containers last succeeded (Unix time): at each connection and each reconciliation.",
            docker.last_sync().map(|at| (vec![], unix_seconds(at))),
        )?;
        let (mut served, mut unhealthy, mut hidden) = (0, 0, 0);
        for seen in self.state.containers.values() {
            match seen.hidden.as_deref() {
                None => served += 1,
                Some("unhealthy") => unhealthy += 1,
                Some(_) => hidden += 1,
            }
        }
        encode_gauges(
            encoder,
            "berth_docker_containers",
            "Containers seen, by whether berth serves them: served, unhealthy, or hidden for another reason (stopped, paused, berth.enable=false, …).",
            [
                (label("state", "served"), served),
                (label("state", "unhealthy"), unhealthy),
                (label("state", "hidden"), hidden),
            ],
        )
    }

    /// Nothing with `--etcd off`.
    fn etcd(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(etcd) = &self.state.etcd else {
            return Ok(());
        };
        encode_gauges(
            encoder,
            "berth_etcd_connected",
            "1 while berth follows the etcd prefix, else 0 (the last view is served).",
            [(vec![], i64::from(etcd.connected))],
        )?;
        encode_gauges(
            encoder,
            "berth_etcd_revision",
            "The etcd revision berth's view of the prefix is at.",
            [(vec![], etcd.revision)],
        )?;
        encode_gauges(
            encoder,
            "berth_etcd_last_sync_timestamp_seconds",
            "When the prefix was last read whole (Unix time).",
            etcd.last_sync.map(|at| (vec![], unix_seconds(at))),
        )?;
        encode_gauges(
            encoder,
            "berth_etcd_published_keys",
            "Keys this berth has written under its lease.",
            [(label("instance", &etcd.instance), etcd.published as i64)],
        )?;
        encode_gauges(
            encoder,
            "berth_etcd_keys",
            "Keys served from etcd, by the instance (host) that wrote them.",
            etcd.by_instance()
                .into_iter()
                .map(|(instance, count)| (label("instance", instance), count as i64)),
        )
    }

    fn forwarding(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let upstreams = &self.upstreams;
        let each = |count: fn(&UpstreamReport) -> u64| {
            upstreams
                .iter()
                .map(move |u| (label("upstream", u.address), count(u)))
        };
        encode_counters(
            encoder,
            "berth_upstream_queries",
            "Queries sent to each upstream.",
            each(|u| u.queries),
        )?;
        encode_counters(
            encoder,
            "berth_upstream_failures",
            "Queries to each upstream that got no usable answer (timeouts included).",
            each(|u| u.failures),
        )?;
        encode_counters(
            encoder,
            "berth_upstream_timeouts",
            "Queries to each upstream that timed out.",
            each(|u| u.timeouts),
        )?;
        encode_gauges(
            encoder,
            "berth_upstream_failing",
            "1 while an upstream's last exchange failed.",
            upstreams
                .iter()
                .map(|u| (label("upstream", u.address), i64::from(u.failing))),
        )?;
        let cache = self.cache.unwrap_or_default();
        encode_gauges(
            encoder,
            "berth_forward_cache_entries",
            "Answers in the forwarding cache.",
            [(vec![], cache.entries as i64)],
        )?;
        encode_counters(
            encoder,
            "berth_forward_cache_evictions",
            "Answers evicted from the forwarding cache to make room.",
            [(vec![], cache.evictions)],
        )
    }
}
