//! Response rate limiting for berth's own UDP answers, the scheme BIND,
//! Knot and NSD share: responses are counted per second in buckets keyed by
//! the client's network (/24 for IPv4, /56 for IPv6) and by what the
//! response is, so that one forged source address cannot turn berth into an
//! amplifier, while every other client, and the same client over TCP, is
//! served as before.
//!
//! - a positive or empty answer is keyed by its name and type,
//! - NXDOMAIN by the zone (random names under one zone share a bucket),
//! - errors (REFUSED, FORMERR, NOTIMP, BADVERS, NOTAUTH) by the network only.
//!
//! Past the rate, every `slip`-th response goes out as an empty reply with
//! TC set — no larger than the query, so worthless to an attacker, while a
//! real client retries over TCP, which is never limited — and the others are
//! dropped. Forwarded answers are not limited: only clients in
//! `--allow-recursion` get them.
//!
//! The table is fixed when berth starts: [`SLOTS`] words, each a bucket's
//! tag, second and count packed into one `AtomicU64` updated by
//! compare-and-swap, so UDP threads share it without a lock and no query
//! allocates. A new key takes the slot of whatever hashed there before:
//! under a flood of distinct keys buckets are forgotten and the limiter
//! errs towards answering, never towards silencing a client it has not seen.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Buckets in the table: 512 KiB, as much as NSD's default and far more
/// than the distinct (network, name) pairs that are busy in any second.
pub const SLOTS: usize = 1 << 16;

/// Responses per second per bucket unless `--rrl` says otherwise. A
/// caching resolver asks berth for one name and type once per TTL (5 s by
/// default), so even 250 resolvers sharing a /24 stay near 50 a second;
/// a client without a cache that asks faster still gets its answer, over
/// TCP, through the slipped TC reply.
pub const DEFAULT_RATE: u32 = 100;
/// Every limited response is sent as TC (Knot's default): a real client is
/// never left to time out, and a TC reply is no larger than the query.
pub const DEFAULT_SLIP: u32 = 1;
/// The most `--rrl` accepts; the count field holds a little more.
pub const MAX_RATE: u32 = 1_000_000;

const COUNT_BITS: u32 = 20;
const SECOND_BITS: u32 = 16;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const SECOND_MASK: u64 = (1 << SECOND_BITS) - 1;

/// What kind of response a bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind<'a> {
    /// NOERROR, with records or without: the query's name and type.
    Answer { qname: &'a [u8], qtype: u16 },
    /// NXDOMAIN: the zone's apex.
    NxDomain { zone: &'a [u8] },
    /// Any other RCODE.
    Error,
}

/// What to do with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send an empty reply with TC set instead.
    Slip,
    Drop,
}

/// The settings: `--rrl` and `--rrl-slip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Responses per second per bucket.
    pub rate: u32,
    /// Every `slip`-th limited response is sent as TC; 0: none is.
    pub slip: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rate: DEFAULT_RATE,
            slip: DEFAULT_SLIP,
        }
    }
}

pub struct Limiter {
    settings: Settings,
    slots: Box<[AtomicU64]>,
    /// Seeded at random, so that nobody outside can pick keys that collide.
    hasher: foldhash::fast::RandomState,
    epoch: Instant,
}

impl Limiter {
    pub fn new(settings: Settings) -> Limiter {
        Limiter {
            settings: Settings {
                rate: settings.rate.clamp(1, MAX_RATE),
                slip: settings.slip,
            },
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::RandomState::default(),
            epoch: Instant::now(),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Counts one response of `kind` to `client` in the current second.
    pub fn check(&self, client: IpAddr, kind: Kind<'_>) -> Verdict {
        let second = self.epoch.elapsed().as_secs();
        self.check_at(client, kind, second)
    }

    fn check_at(&self, client: IpAddr, kind: Kind<'_>, second: u64) -> Verdict {
        let mut hasher = self.hasher.build_hasher();
        network(client).hash(&mut hasher);
        kind.hash(&mut hasher);
        let hash = hasher.finish();
        let slot = &self.slots[hash as usize & (SLOTS - 1)];
        // The slot index used the low bits; the tag is the rest.
        let tag = hash >> (COUNT_BITS + SECOND_BITS);
        let second = second & SECOND_MASK;
        let mut current = slot.load(Ordering::Relaxed);
        let count = loop {
            let same = current >> (COUNT_BITS + SECOND_BITS) == tag
                && (current >> COUNT_BITS) & SECOND_MASK == second;
            let count = if same {
                ((current & COUNT_MASK) + 1).min(COUNT_MASK)
            } else {
                1
            };
            let next = tag << (COUNT_BITS + SECOND_BITS) | second << COUNT_BITS | count;
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break count,
                Err(seen) => current = seen,
            }
        };
        let rate = u64::from(self.settings.rate);
        if count <= rate {
            return Verdict::Send;
        }
        let slip = u64::from(self.settings.slip);
        if slip != 0 && (count - rate) % slip == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The client's network: /24 for IPv4 (and IPv4-mapped IPv6), /56 for IPv6.
fn network(client: IpAddr) -> u128 {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    match client {
        IpAddr::V4(v4) => u128::from(u32::from(v4) & 0xffff_ff00),
        // The low bit, never set in an IPv4 /24, marks IPv6, so 10.0.0.0/24
        // and ::a00:0/56 differ.
        IpAddr::V6(v6) => (u128::from(v6) & !((1u128 << 72) - 1)) | 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, slip: u32) -> Limiter {
        Limiter::new(Settings { rate, slip })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const WEB: Kind<'static> = Kind::Answer {
        qname: b"\x03web\x04apps\x05local\x00",
        qtype: 1,
    };

    fn verdicts(limiter: &Limiter, client: &str, kind: Kind<'_>, n: usize) -> Vec<Verdict> {
        (0..n)
            .map(|_| limiter.check_at(ip(client), kind, 7))
            .collect()
    }

    #[test]
    fn past_the_rate_every_slipth_is_truncated_the_rest_dropped() {
        let limiter = limiter(5, 2);
        let seen = verdicts(&limiter, "192.0.2.1", WEB, 9);
        use Verdict::*;
        assert_eq!(seen, [Send, Send, Send, Send, Send, Drop, Slip, Drop, Slip]);
        // slip 0 drops them all; the next second starts afresh.
        let limiter = self::limiter(1, 0);
        assert_eq!(verdicts(&limiter, "192.0.2.1", WEB, 3), [Send, Drop, Drop]);
        assert_eq!(limiter.check_at(ip("192.0.2.1"), WEB, 8), Send);
    }

    #[test]
    fn buckets_are_per_network_and_per_kind() {
        let limiter = limiter(2, 1);
        let _ = verdicts(&limiter, "192.0.2.1", WEB, 2);
        // The same /24 shares the bucket; another /24 has its own.
        assert_eq!(limiter.check_at(ip("192.0.2.200"), WEB, 7), Verdict::Slip);
        assert_eq!(limiter.check_at(ip("192.0.3.1"), WEB, 7), Verdict::Send);
        assert_eq!(
            limiter.check_at(ip("::ffff:192.0.2.9"), WEB, 7),
            Verdict::Slip
        );
        // Another type, NXDOMAIN and errors are counted apart.
        let aaaa = Kind::Answer {
            qname: b"\x03web\x04apps\x05local\x00",
            qtype: 28,
        };
        let nx = Kind::NxDomain {
            zone: b"\x04apps\x05local\x00",
        };
        for kind in [aaaa, nx, Kind::Error] {
            assert_eq!(limiter.check_at(ip("192.0.2.1"), kind, 7), Verdict::Send);
        }
        // IPv6: /56.
        let _ = verdicts(&limiter, "2001:db8:0:1::1", WEB, 2);
        assert_eq!(
            limiter.check_at(ip("2001:db8:0:ff::9"), WEB, 7),
            Verdict::Slip
        );
        assert_eq!(
            limiter.check_at(ip("2001:db8:0:100::1"), WEB, 7),
            Verdict::Send
        );
    }

    #[test]
    fn threads_share_the_count() {
        let limiter = std::sync::Arc::new(limiter(1000, 1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|_| limiter.check_at(ip("192.0.2.1"), WEB, 3) == Verdict::Send)
                        .count()
                })
            })
            .collect();
        let sent: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(sent, 1000);
    }
}
