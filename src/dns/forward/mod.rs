//! Forwarding queries berth does not own to upstream resolvers.
//!
//! ```text
//! query ─▶ cache hit? ──yes──▶ reply (synchronous, on the UDP thread)
//!             │ no
//!             ▼
//!          a slot free? ──no──▶ SERVFAIL
//!             │ yes
//!             ▼
//!          same question out already? ──berth's own──▶ SERVFAIL (a loop)
//!             │ no                      └─a client's─▶ wait for its answer
//!             ▼
//!          upstreams in turn (UDP, TCP on TC) ──▶ relay, cache, tell waiters
//! ```
//!
//! Only the question goes upstream, under a fresh ID, in a random case, with
//! an OPT of berth's own and no options: a client's EDNS Client Subnet,
//! cookies, padding and the like are hop-by-hop and never forwarded, so the
//! cache (keyed without them) cannot hand one client's subnet-specific
//! answer to another. An upstream's answer counts only if it echoes that
//! question exactly and reads cleanly to the end ([`stored::Stored`]);
//! otherwise the next upstream is asked, and SERVFAIL comes last. Every
//! client then gets it from [`stored::Stored`], which rewrites only what
//! belongs to an exchange (ID, case, RD, OPT) and the TTLs (less the time
//! held, capped at `--max-ttl`).

mod cache;
mod flight;
mod health;
pub(crate) mod stored;
pub(crate) mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use self::cache::CacheStats;
use self::cache::{Cache, KeyRef};
use self::flight::{Flights, Follower, Join, Leader};
use self::health::UpstreamHealth;
pub use self::health::UpstreamReport;
pub use self::stored::DEFAULT_MAX_TTL;
use self::stored::Stored;
use super::message::{self, FLAG_CD, FLAG_RD, HEADER_LEN, MAX_UDP_PAYLOAD, Transport, size_limit};
use super::response::write_opt;
use super::wire::{OwnedQuery, Query};
use crate::iana::Rcode;
use crate::metrics::{self, Event};

/// Forwards waiting on an upstream at most. A dead or slow upstream holds
/// each for up to a timeout per upstream; past this many, queries get
/// SERVFAIL at once rather than piling up tasks and memory.
pub const MAX_IN_FLIGHT: usize = 1024;

pub struct Forwarder {
    /// In the order given; each with its failing flag and counts.
    upstreams: Vec<UpstreamHealth>,
    /// How long to wait for one upstream before trying the next.
    timeout: Duration,
    /// The upstream that answered last, tried first: a dead first upstream
    /// then costs one timeout, not one per query.
    preferred: AtomicUsize,
    /// `None` when `--cache-size 0`.
    cache: Option<Cache>,
    flights: Arc<Flights>,
    /// One permit per forward waiting on an upstream (leaders and
    /// followers alike).
    slots: Arc<Semaphore>,
    /// The longest TTL clients are given (`--max-ttl`).
    max_ttl: u32,
}

/// How a query to be forwarded starts.
pub enum Begin {
    /// Answered already (from the cache, or SERVFAIL); the reply is this
    /// many bytes at the start of the buffer.
    Reply(usize),
    /// Must wait for an upstream: run [`Pending::finish`] on the runtime.
    Pending(Pending),
}

impl Forwarder {
    /// `cache_size` is in units of one answer up to 1 KiB; 0 turns the
    /// cache off.
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration, cache_size: usize) -> Self {
        Self::with_slots(upstreams, timeout, cache_size, MAX_IN_FLIGHT)
    }

    /// Caps the TTLs clients are given at `seconds`.
    pub fn with_max_ttl(mut self, seconds: u32) -> Self {
        self.max_ttl = seconds;
        self
    }

    fn with_slots(
        upstreams: Vec<SocketAddr>,
        timeout: Duration,
        cache_size: usize,
        slots: usize,
    ) -> Self {
        Forwarder {
            upstreams: upstreams.into_iter().map(UpstreamHealth::new).collect(),
            timeout,
            preferred: AtomicUsize::new(0),
            cache: Cache::new(cache_size),
            flights: Arc::default(),
            slots: Arc::new(Semaphore::new(slots)),
            max_ttl: DEFAULT_MAX_TTL,
        }
    }

    /// Answers `query` from the cache, or refuses it a slot, or hands back
    /// the work of asking upstream. Never waits.
    pub fn begin(
        self: &Arc<Self>,
        query: &Query<'_>,
        transport: Transport,
        buf: &mut Vec<u8>,
    ) -> Begin {
        let key = KeyRef::of(query);
        let limit = size_limit(query, transport);
        if let Some(cache) = &self.cache {
            if let Some((answer, age)) = cache.get(key, Instant::now()) {
                metrics::count(Event::CacheHit);
                answer.reply(query, age, limit, buf);
                return Begin::Reply(buf.len());
            }
            metrics::count(Event::CacheMiss);
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            tracing::debug!("{MAX_IN_FLIGHT} forwards in flight; SERVFAIL");
            return Begin::Reply(write_servfail(query, buf));
        };
        let role = match self.flights.join(key, query.question) {
            Join::Lead(leader) => Role::Lead(leader),
            Join::Follow(follower) => Role::Follow(follower),
            Join::Loop => {
                tracing::warn!(
                    name = %crate::registry::name::to_text(query.qname.as_bytes()),
                    "a forwarded query came back to berth (a forwarding loop); SERVFAIL"
                );
                return Begin::Reply(write_servfail(query, buf));
            }
        };
        Begin::Pending(Pending {
            forwarder: self.clone(),
            query: Box::new(query.to_owned()),
            limit,
            role,
            _slot: slot,
        })
    }

    /// Asks each upstream in turn, starting with the one that answered
    /// last, until one gives an answer that reads cleanly. `None` when none
    /// did.
    async fn ask_upstreams(&self, query: &[u8]) -> Option<Stored> {
        let count = self.upstreams.len();
        let first = self.preferred.load(Ordering::Relaxed);
        for index in (0..count).map(|i| (first + i) % count) {
            let upstream = &self.upstreams[index];
            let answer = match upstream::exchange(upstream.address, query, self.timeout).await {
                Ok(answer) => answer,
                Err(error) => {
                    upstream.failed(&error);
                    continue;
                }
            };
            match Stored::parse_capped(&answer, self.max_ttl) {
                Ok(stored) => {
                    upstream.answered();
                    self.preferred.store(index, Ordering::Relaxed);
                    return Some(stored);
                }
                Err(error) => upstream.malformed(&error),
            }
        }
        None
    }

    /// The cache's size and churn; `None` with `--cache-size 0`.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(Cache::stats)
    }

    /// Each upstream's state and counts, in the order given.
    pub fn upstreams(&self) -> Vec<UpstreamReport> {
        self.upstreams.iter().map(UpstreamHealth::report).collect()
    }
}

enum Role {
    Lead(Leader),
    Follow(Follower),
}

/// A query waiting on an upstream, holding one of the slots until it ends.
pub struct Pending {
    forwarder: Arc<Forwarder>,
    /// The client's query, parsed by the handler and kept across the await.
    /// Boxed: it holds a whole name, and a Pending moves through the
    /// handler's return value on the UDP hot path.
    query: Box<OwnedQuery>,
    /// The size the client's reply may take.
    limit: usize,
    role: Role,
    _slot: OwnedSemaphorePermit,
}

impl Pending {
    /// The reply for the client, SERVFAIL when no upstream answered.
    pub async fn finish(self) -> Vec<u8> {
        let Pending {
            forwarder,
            query,
            limit,
            role,
            _slot,
        } = self;
        let query = query.query();
        let mut reply = Vec::new();
        match role {
            Role::Follow(follower) => match follower.wait().await {
                Some(answer) => answer.reply(&query, 0, limit, &mut reply),
                None => {
                    write_servfail(&query, &mut reply);
                }
            },
            Role::Lead(leader) => {
                let outgoing = outgoing_query(&query, leader.question());
                let answer = forwarder.ask_upstreams(&outgoing).await.map(Arc::new);
                match &answer {
                    Some(answer) => {
                        if let Some(cache) = &forwarder.cache {
                            cache.insert(KeyRef::of(&query), answer.clone(), Instant::now());
                        }
                        answer.reply(&query, 0, limit, &mut reply);
                    }
                    None => {
                        write_servfail(&query, &mut reply);
                    }
                }
                leader.land(answer);
            }
        }
        reply
    }
}

/// The query that goes upstream for `query`: a fresh random ID, its RD
/// and CD bits, `question` (the client's, case marked), and, when the
/// client spoke EDNS, an OPT of berth's own with its DO bit and no options.
pub(crate) fn outgoing_query(query: &Query<'_>, question: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER_LEN + question.len() + 11);
    packet.extend_from_slice(&rand::random::<u16>().to_be_bytes());
    packet.extend_from_slice(&(query.flags & (FLAG_RD | FLAG_CD)).to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(query.edns.is_some())]);
    packet.extend_from_slice(question);
    if let Some(edns) = query.edns {
        write_opt(&mut packet, MAX_UDP_PAYLOAD, 0, edns.dnssec_ok);
    }
    packet
}

/// Writes SERVFAIL for `query` (with RA: berth does offer it recursion),
/// and counts it. Returns its length.
pub(crate) fn write_servfail(query: &Query<'_>, buf: &mut Vec<u8>) -> usize {
    metrics::count(Event::ForwardFailed);
    message::reply_with_rcode(query, buf, Rcode::SERVFAIL, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::forward::stored::tests::query;
    use crate::dns::wire::parse_query;

    #[test]
    fn past_the_bound_queries_get_servfail_at_once() {
        let upstream = "127.0.0.1:9".parse().unwrap();
        let forwarder = Arc::new(Forwarder::with_slots(
            vec![upstream],
            Duration::from_secs(1),
            0,
            1,
        ));
        let mut buf = Vec::new();
        let first = query(1, b"\x01a\x07example\x00", false);
        let first = parse_query(&first).unwrap();
        let Begin::Pending(pending) = forwarder.begin(&first, Transport::Udp, &mut buf) else {
            panic!("the first query goes upstream");
        };
        let second = query(2, b"\x01b\x07example\x00", false);
        let second = parse_query(&second).unwrap();
        let Begin::Reply(len) = forwarder.begin(&second, Transport::Udp, &mut buf) else {
            panic!("no slot left: answered at once");
        };
        assert_eq!(buf[..2], [0, 2]);
        assert_eq!(Rcode::of_header(buf[3].into()), Rcode::SERVFAIL);
        assert_eq!(len, buf.len());
        // The slot comes back when the first forward ends.
        drop(pending);
        assert!(matches!(
            forwarder.begin(&second, Transport::Udp, &mut buf),
            Begin::Pending(_)
        ));
    }
}
