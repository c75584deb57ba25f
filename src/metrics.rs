//! Counters for `/metrics`. The hot path counts into a shard owned by its
//! own thread, so two UDP workers never fight over one cache line; a scrape
//! adds the shards up ([`QueryCounters`], a prometheus-client collector).
//! What happens off the hot path (a Docker event, a TCP connection) is
//! counted in prometheus-client's own metrics, in [`live`].

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::iana::Rcode;

/// What is counted. Each event names the Prometheus series it counts into
/// ([`Event::series`]), so the counter and what `/metrics` calls it cannot
/// drift apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    UdpQuery,
    TcpQuery,
    /// Answered from berth's own data, by RCODE (its header bits, 0..=15).
    Answered(Rcode),
    Forwarded,
    /// No upstream answered: the client got SERVFAIL.
    ForwardFailed,
    /// Names outside the zones from a client not allowed to recurse, or with
    /// forwarding off.
    Refused,
    /// Too short or a response: no reply at all.
    Dropped,
    /// A query to be forwarded found its answer in the cache.
    CacheHit,
    /// A query to be forwarded did not (with the cache on).
    CacheMiss,
    /// Over the response rate limit: no reply.
    RrlDropped,
    /// Over the response rate limit: an empty reply with TC set.
    RrlSlipped,
}

const RCODES: usize = 16;
const FIXED: usize = 10;
const SLOTS: usize = FIXED + RCODES;

/// The counters, in the order `/metrics` shows them, with their help text.
/// prometheus-client adds `_total` to a counter's name.
const METRICS: [(&str, &str); 10] = [
    ("berth_queries", "DNS queries received, by transport."),
    (
        "berth_answers",
        "Queries answered from berth's own data, by RCODE.",
    ),
    (
        "berth_forwarded",
        "Queries for names outside the zones, to be forwarded.",
    ),
    (
        "berth_forward_failures",
        "Forwarded queries no upstream answered (the client got SERVFAIL).",
    ),
    (
        "berth_forward_cache_hits",
        "Forwarded queries answered from the cache.",
    ),
    (
        "berth_forward_cache_misses",
        "Forwarded queries the cache had no answer for.",
    ),
    (
        "berth_refused",
        "Queries for other names that were refused.",
    ),
    ("berth_dropped", "Packets dropped without a reply."),
    (
        "berth_rrl_dropped",
        "UDP responses not sent: over the response rate limit.",
    ),
    (
        "berth_rrl_slipped",
        "UDP responses sent empty with TC: over the response rate limit.",
    ),
];

impl Event {
    /// Every event, one per counter slot, in slot order.
    fn all() -> impl Iterator<Item = Event> {
        let fixed = [
            Event::UdpQuery,
            Event::TcpQuery,
            Event::Forwarded,
            Event::ForwardFailed,
            Event::Refused,
            Event::Dropped,
            Event::CacheHit,
            Event::CacheMiss,
            Event::RrlDropped,
            Event::RrlSlipped,
        ];
        let answered = (0..RCODES as u16).map(|code| Event::Answered(Rcode(code)));
        fixed.into_iter().chain(answered)
    }

    fn slot(self) -> usize {
        match self {
            Event::UdpQuery => 0,
            Event::TcpQuery => 1,
            Event::Forwarded => 2,
            Event::ForwardFailed => 3,
            Event::Refused => 4,
            Event::Dropped => 5,
            Event::CacheHit => 6,
            Event::CacheMiss => 7,
            Event::RrlDropped => 8,
            Event::RrlSlipped => 9,
            Event::Answered(rcode) => FIXED + usize::from(rcode.header_bits()),
        }
    }

    /// The metric this event counts into and its label, if it has one.
    /// RCODEs without a mnemonic share the label `OTHER`.
    pub fn series(self) -> (&'static str, Option<(&'static str, &'static str)>) {
        match self {
            Event::UdpQuery => ("berth_queries", Some(("transport", "udp"))),
            Event::TcpQuery => ("berth_queries", Some(("transport", "tcp"))),
            Event::Answered(rcode) => {
                let name = Rcode(rcode.header_bits().into()).mnemonic();
                ("berth_answers", Some(("rcode", name.unwrap_or("OTHER"))))
            }
            Event::Forwarded => ("berth_forwarded", None),
            Event::ForwardFailed => ("berth_forward_failures", None),
            Event::CacheHit => ("berth_forward_cache_hits", None),
            Event::CacheMiss => ("berth_forward_cache_misses", None),
            Event::Refused => ("berth_refused", None),
            Event::Dropped => ("berth_dropped", None),
            Event::RrlDropped => ("berth_rrl_dropped", None),
            Event::RrlSlipped => ("berth_rrl_slipped", None),
        }
    }
}

/// One thread's counters, on cache lines of their own.
#[repr(align(128))]
struct Shard {
    slots: [AtomicU64; SLOTS],
}

fn shards() -> &'static Mutex<Vec<Arc<Shard>>> {
    static SHARDS: OnceLock<Mutex<Vec<Arc<Shard>>>> = OnceLock::new();
    SHARDS.get_or_init(|| Mutex::new(Vec::new()))
}

thread_local! {
    static LOCAL: OnceCell<Arc<Shard>> = const { OnceCell::new() };
}

/// Counts one event on the calling thread's shard.
pub fn count(event: Event) {
    LOCAL.with(|local| {
        let shard = local.get_or_init(|| {
            let shard = Arc::new(Shard {
                slots: std::array::from_fn(|_| AtomicU64::new(0)),
            });
            if let Ok(mut all) = shards().lock() {
                all.push(shard.clone());
            }
            shard
        });
        // Only this thread writes its shard: a plain load and store is
        // enough, and cheaper than a locked add.
        let slot = &shard.slots[event.slot()];
        slot.store(
            slot.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    });
}

/// The sum over every thread of the slot for `event`.
pub fn total(event: Event) -> u64 {
    let Ok(all) = shards().lock() else {
        return 0;
    };
    all.iter()
        .map(|shard| shard.slots[event.slot()].load(Ordering::Relaxed))
        .sum()
}

/// The shards' counters, summed at each scrape, for a prometheus-client
/// registry: each metric's series in the order their events are counted,
/// events with the same series summed.
#[derive(Debug)]
pub struct QueryCounters;

impl Collector for QueryCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for (metric, help) in METRICS {
            let mut series: Vec<(Option<(&str, &str)>, u64)> = Vec::new();
            for event in Event::all() {
                let (name, label) = event.series();
                if name != metric {
                    continue;
                }
                let n = total(event);
                match series.iter_mut().find(|(seen, _)| *seen == label) {
                    Some((_, sum)) => *sum += n,
                    None => series.push((label, n)),
                }
            }
            let series = series.into_iter().map(|(label, n)| {
                let labels: Labels = label.map(|(k, v)| (k, v.to_string())).into_iter().collect();
                (labels, n)
            });
            encode_counters(&mut encoder, metric, help, series)?;
        }
        Ok(())
    }
}

/// A metric's labels: `[("upstream", "192.0.2.1:53")]`.
pub type Labels = Vec<(&'static str, String)>;

/// One counter metric with a series per label set (an empty set: one
/// series without labels). `name` without `_total`, which the encoder adds.
pub fn encode_counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, n) in series {
        ConstCounter::new(n).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// [`encode_counters`] for gauges.
pub fn encode_gauges(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, i64)>,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, n) in series {
        metric.encode_family(&labels)?.encode_gauge(&n)?;
    }
    Ok(())
}

/// The Docker event verb a series counts (`start`, `health_status`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Action {
    pub action: String,
}

/// What is counted off the query path, where a shared atomic costs nothing
/// that matters: prometheus-client's own metrics, registered at each scrape.
#[derive(Debug, Default)]
pub struct Live {
    /// Docker events that made berth look at a container, by verb.
    pub docker_events: Family<Action, Counter>,
    /// Containers whose records a reconciliation corrected: changes the
    /// event stream should have delivered and did not.
    pub docker_repairs: Counter,
    /// Listings by the periodic reconciliation that completed.
    pub docker_reconciliations: Counter,
    /// TCP connections being served now.
    pub tcp_open: Gauge,
    /// TCP connections closed on accept: too many were open, or too many
    /// from that client.
    pub tcp_refused: Counter,
    /// Idle TCP connections closed to make room for a new one.
    pub tcp_evicted: Counter,
    /// TCP connections closed because a write made no progress (a client
    /// that does not read) or failed.
    pub tcp_stalled: Counter,
}

/// The process's one [`Live`].
pub fn live() -> &'static Live {
    static LIVE: LazyLock<Live> = LazyLock::new(Live::default);
    &LIVE
}

/// A TCP connection counted in `berth_tcp_connections_open` until dropped,
/// however its task ends.
pub struct OpenConnection(());

impl OpenConnection {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        live().tcp_open.inc();
        OpenConnection(())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        live().tcp_open.dec();
    }
}

impl Live {
    /// Registers every metric in `registry` (clones share the counts).
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "berth_docker_events",
            "Docker events that made berth look at a container again, by action",
            self.docker_events.clone(),
        );
        registry.register(
            "berth_docker_reconcile_repairs",
            "Containers whose records a periodic listing corrected because the event stream missed the change",
            self.docker_repairs.clone(),
        );
        registry.register(
            "berth_docker_reconciliations",
            "Periodic listings of the running containers that completed",
            self.docker_reconciliations.clone(),
        );
        registry.register(
            "berth_tcp_connections_open",
            "TCP connections being served",
            self.tcp_open.clone(),
        );
        registry.register(
            "berth_tcp_connections_refused",
            "TCP connections closed at once: too many were open, or too many from that client",
            self.tcp_refused.clone(),
        );
        registry.register(
            "berth_tcp_connections_evicted",
            "Idle TCP connections closed to make room for a new client",
            self.tcp_evicted.clone(),
        );
        registry.register(
            "berth_tcp_connections_stalled",
            "TCP connections closed because writing to them made no progress or failed",
            self.tcp_stalled.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_across_threads() {
        let before = total(Event::Forwarded);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        count(Event::Forwarded);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(total(Event::Forwarded) >= before + 4000);
    }
}
