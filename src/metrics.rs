//! Counters for `/metrics`. The hot path counts into a shard owned by its
//! own thread, so two UDP workers never fight over one cache line; a scrape
//! adds the shards up.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
}

const RCODES: usize = 16;
const SLOTS: usize = 6 + RCODES;

/// The metrics, in the order `/metrics` shows them, with their help text.
const METRICS: [(&str, &str); 6] = [
    ("berth_queries_total", "DNS queries received, by transport."),
    (
        "berth_answers_total",
        "Queries answered from berth's own data, by RCODE.",
    ),
    ("berth_forwarded_total", "Queries forwarded upstream."),
    (
        "berth_forward_failures_total",
        "Forwarded queries no upstream answered.",
    ),
    (
        "berth_refused_total",
        "Queries for other names that were refused.",
    ),
    ("berth_dropped_total", "Packets dropped without a reply."),
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
            Event::Answered(rcode) => 6 + usize::from(rcode.header_bits()),
        }
    }

    /// The metric this event counts into and its label, if it has one.
    /// RCODEs without a mnemonic share the label `OTHER`.
    pub fn series(self) -> (&'static str, Option<(&'static str, &'static str)>) {
        match self {
            Event::UdpQuery => ("berth_queries_total", Some(("transport", "udp"))),
            Event::TcpQuery => ("berth_queries_total", Some(("transport", "tcp"))),
            Event::Answered(rcode) => {
                let name = Rcode(rcode.header_bits().into()).mnemonic();
                (
                    "berth_answers_total",
                    Some(("rcode", name.unwrap_or("OTHER"))),
                )
            }
            Event::Forwarded => ("berth_forwarded_total", None),
            Event::ForwardFailed => ("berth_forward_failures_total", None),
            Event::Refused => ("berth_refused_total", None),
            Event::Dropped => ("berth_dropped_total", None),
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

/// The counters in Prometheus text format: each metric's series in the
/// order their events are counted, events with the same series summed.
pub fn render_queries(out: &mut String) {
    use std::fmt::Write;
    for (metric, help) in METRICS {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} counter");
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
        for (label, n) in series {
            let _ = match label {
                Some((key, value)) => writeln!(out, "{metric}{{{key}=\"{value}\"}} {n}"),
                None => writeln!(out, "{metric} {n}"),
            };
        }
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
