//! Counters for `/metrics`. The hot path counts into a shard owned by its
//! own thread, so two UDP workers never fight over one cache line; a scrape
//! adds the shards up.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What is counted. The names double as the Prometheus metric names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    UdpQuery,
    TcpQuery,
    /// Answered from berth's own data, by RCODE (0..=15).
    Answered(u8),
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

impl Event {
    fn slot(self) -> usize {
        match self {
            Event::UdpQuery => 0,
            Event::TcpQuery => 1,
            Event::Forwarded => 2,
            Event::ForwardFailed => 3,
            Event::Refused => 4,
            Event::Dropped => 5,
            Event::Answered(rcode) => 6 + (rcode as usize & 0x0f),
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

/// RCODE mnemonics for labels (RFC 6895 §2.3).
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "OTHER",
    }
}

/// The query counters in Prometheus text format.
pub fn render_queries(out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "# HELP berth_queries_total DNS queries received, by transport."
    );
    let _ = writeln!(out, "# TYPE berth_queries_total counter");
    let _ = writeln!(
        out,
        "berth_queries_total{{transport=\"udp\"}} {}",
        total(Event::UdpQuery)
    );
    let _ = writeln!(
        out,
        "berth_queries_total{{transport=\"tcp\"}} {}",
        total(Event::TcpQuery)
    );
    let _ = writeln!(
        out,
        "# HELP berth_answers_total Queries answered from berth's own data, by RCODE."
    );
    let _ = writeln!(out, "# TYPE berth_answers_total counter");
    let mut other = 0;
    for rcode in 0..RCODES as u8 {
        let n = total(Event::Answered(rcode));
        match rcode_name(rcode) {
            "OTHER" => other += n,
            name => {
                let _ = writeln!(out, "berth_answers_total{{rcode=\"{name}\"}} {n}");
            }
        }
    }
    let _ = writeln!(out, "berth_answers_total{{rcode=\"OTHER\"}} {other}");
    for (name, help, event) in [
        (
            "berth_forwarded_total",
            "Queries forwarded upstream.",
            Event::Forwarded,
        ),
        (
            "berth_forward_failures_total",
            "Forwarded queries no upstream answered.",
            Event::ForwardFailed,
        ),
        (
            "berth_refused_total",
            "Queries for other names that were refused.",
            Event::Refused,
        ),
        (
            "berth_dropped_total",
            "Packets dropped without a reply.",
            Event::Dropped,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", total(event));
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
