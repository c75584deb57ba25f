//! The one place a query is routed, between the sockets and the answers.
//! It parses the packet once and hands the parsed [`Query`] on; nothing
//! after it parses again. It follows RFC 1034 §4.3.2: find the zone berth
//! serves that holds the name, answer from it, else recurse (forward) if the
//! client may, else refuse. Every query is counted here.
//!
//! ```text
//! packet ─▶ parse ── malformed ──▶ FORMERR, NOTIMP, or no reply
//!             │
//!          signed, TSIG fails ────▶ NOTAUTH with the TSIG error (RFC 8945)
//!          AXFR/IXFR ─────────────▶ xfr: a zone's apex, --allow-transfer
//!          EDNS version > 0 ──────▶ BADVERS
//!          OPT/TSIG/TKEY, MAILA/B ▶ FORMERR, NOTIMP
//!             │
//!          in a served zone? ── no ────────────────────────┐
//!             │ yes                                         ▼
//!          class not IN/ANY ──────▶ REFUSED       forwarding on, and the
//!          reverse tree ──────────▶ PTR, or ────▶ client in --allow-recursion?
//!          else ──────────────────▶ answer,        │ no          │ yes
//!                         signed if the query was  ▼             ▼
//!                                               REFUSED   Forwarder::begin:
//!                                                         cache, or Pending
//! ```
//!
//! Every reply of berth's own over UDP (not forwarded ones) then passes the
//! response rate limiter ([`rrl`]): sent, sent empty with TC, or dropped.

use std::cell::{Cell, OnceCell};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::answer;
use super::forward::{Begin, Forwarder, Pending};
use super::message::{self, FLAG_TC, Transport};
use super::rrl::{self, Kind, Verdict};
use super::wire::{self, Query};
use super::{tsig, xfr};
use crate::iana::{Class, Rcode, Rtype};
use crate::metrics::{self, Event};
use crate::registry::{Snapshot, SnapshotCell, ZoneKind};

/// What berth answers with: the registry's snapshots, and the way out for
/// everything else.
pub struct Handler {
    pub snapshot: SnapshotCell,
    /// `None`: forwarding is off, names outside berth's zones are REFUSED.
    pub forwarder: Option<Arc<Forwarder>>,
    /// Clients that may use forwarding; others get REFUSED.
    pub allow_recursion: Vec<IpNet>,
    /// Who may transfer zones, and the TSIG keys queries are signed with.
    pub transfers: Arc<xfr::Settings>,
    /// Response rate limiting of berth's own UDP answers; `None`: off.
    pub rrl: Option<rrl::Limiter>,
}

/// What the socket does with one query.
pub enum Action {
    /// Send the first this many bytes of the buffer.
    Reply(usize),
    /// Wait for an upstream (on the runtime), then send what it says.
    Forward(Pending),
    /// Send these messages in turn: a zone transfer (TCP only).
    Transfer(Vec<Vec<u8>>),
    /// Send nothing.
    Drop,
}

impl Handler {
    /// Answers `packet` from `snapshot` or the forwarder's cache without
    /// waiting; hands back what must wait for an upstream. `client` is asked
    /// for only when the query is not berth's own: the UDP hot path never
    /// converts the peer address.
    pub fn respond(
        &self,
        snapshot: &Snapshot,
        packet: &[u8],
        client: impl FnOnce() -> Option<IpAddr>,
        transport: Transport,
        buf: &mut Vec<u8>,
    ) -> Action {
        metrics::count(match transport {
            Transport::Udp => Event::UdpQuery,
            Transport::Tcp => Event::TcpQuery,
        });
        // Only UDP answers are limited: over TCP the source is not forged.
        let limiter = match transport {
            Transport::Udp => self.rrl.as_ref(),
            Transport::Tcp => None,
        };
        let client = Peer::new(client);
        let query = match wire::parse_query(packet) {
            Ok(query) => query,
            Err(malformed) => {
                return match message::reply_to_malformed(malformed, buf) {
                    Some(len) => limit(limiter, client.ip(), Kind::Error, None, len, buf),
                    None => {
                        metrics::count(Event::Dropped);
                        Action::Drop
                    }
                };
            }
        };
        let own = |len, kind, buf: &mut Vec<u8>| {
            limit(limiter, client.ip(), kind, Some(&query), len, buf)
        };
        // RFC 8945 §5.2: a signed query is checked before anything else;
        // one that fails gets NOTAUTH, whatever it asked.
        let verified = match query.tsig {
            None => None,
            Some(at) => {
                let error =
                    |buf: &mut Vec<u8>, code| message::reply_with_rcode(&query, buf, code, false);
                match tsig::check(&self.transfers.keys, packet, at, buf, error) {
                    Ok(verified) => Some(verified),
                    Err(len) => return own(len, Kind::Error, buf),
                }
            }
        };
        if matches!(query.qtype, Rtype::AXFR | Rtype::IXFR) {
            let settings = &self.transfers;
            let signed = verified.as_ref();
            return match xfr::serve(
                snapshot,
                &query,
                client.ip(),
                transport,
                settings,
                signed,
                buf,
            ) {
                xfr::Answer::Reply(len) => own(len, Kind::Error, buf),
                xfr::Answer::Messages(messages) => {
                    metrics::count(Event::Answered(Rcode::NOERROR));
                    Action::Transfer(messages)
                }
            };
        }
        match own_reply(snapshot, &query, transport, buf) {
            Some((len, zone)) => {
                let len = match &verified {
                    Some(verified) => sign_reply(&query, transport, verified, len, buf),
                    None => len,
                };
                let kind = match rcode_of(buf) {
                    Rcode::NOERROR => Kind::Answer {
                        qname: query.qname.as_bytes(),
                        qtype: query.qtype.0,
                    },
                    Rcode::NXDOMAIN => Kind::NxDomain { zone },
                    _ => Kind::Error,
                };
                own(len, kind, buf)
            }
            None => self.elsewhere(&query, || client.ip(), transport, buf, limiter),
        }
    }

    /// A name berth does not serve (RFC 1034 §4.3.2 step 4): forwarded for
    /// a client that may recurse, REFUSED for any other, or for all when
    /// forwarding is off — berth is never an open resolver.
    fn elsewhere(
        &self,
        query: &Query<'_>,
        client: impl FnOnce() -> Option<IpAddr>,
        transport: Transport,
        buf: &mut Vec<u8>,
        limiter: Option<&rrl::Limiter>,
    ) -> Action {
        let client = client();
        let forwarder = match &self.forwarder {
            Some(forwarder) if client.is_some_and(|ip| self.may_forward(ip)) => forwarder,
            _ => {
                metrics::count(Event::Refused);
                let len = message::reply_with_rcode(query, buf, Rcode::REFUSED, false);
                return limit(limiter, client, Kind::Error, Some(query), len, buf);
            }
        };
        metrics::count(Event::Forwarded);
        match forwarder.begin(query, transport, buf) {
            Begin::Reply(len) => Action::Reply(len),
            Begin::Pending(pending) => Action::Forward(pending),
        }
    }

    fn may_forward(&self, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        self.allow_recursion.iter().any(|net| net.contains(&client))
    }
}

/// berth's own reply to `query`: its length, and the apex of the zone it
/// came from (empty when it was refused before a zone was looked up);
/// `None` when the name is not berth's to answer.
fn own_reply<'s>(
    snapshot: &'s Snapshot,
    query: &Query<'_>,
    transport: Transport,
    buf: &mut Vec<u8>,
) -> Option<(usize, &'s [u8])> {
    let rcode_only = |buf: &mut Vec<u8>, code| message::reply_with_rcode(query, buf, code, false);
    // Whatever the name, a version berth does not speak (RFC 6891 §6.1.3)
    // and types that are never looked up: OPT, TSIG and TKEY belong in the
    // additional section only; MAILA and MAILB are obsolete (RFC 6895 §3.1).
    if query.edns.is_some_and(|edns| edns.version > 0) {
        return Some((message::reply_badvers(query, buf), &[]));
    }
    match query.qtype {
        Rtype::OPT | Rtype::TSIG | Rtype::TKEY => {
            return Some((rcode_only(buf, Rcode::FORMERR), &[]));
        }
        Rtype::MAILA | Rtype::MAILB => return Some((rcode_only(buf, Rcode::NOTIMP), &[])),
        _ => {}
    }
    let zone = snapshot.zone_for(query.qname.as_bytes())?;
    let len = if query.qclass != Class::IN && query.qclass != Class::ANY {
        rcode_only(buf, Rcode::REFUSED)
    } else if zone.kind == ZoneKind::Reverse {
        answer::answer_reverse(zone, query, transport, buf)?
    } else {
        answer::answer(zone, query, transport, buf)
    };
    Some((len, &zone.apex))
}

/// The RCODE in a reply's header (its low four bits; BADVERS shows as 0
/// here and is told apart by the caller only through the OPT).
fn rcode_of(buf: &[u8]) -> Rcode {
    Rcode::of_header(buf.get(3).map_or(0, |&byte| u16::from(byte)))
}

/// Who asked, converted from the socket's address only when something
/// needs it: the UDP hot path with RRL off never does.
struct Peer<F> {
    ask: Cell<Option<F>>,
    ip: OnceCell<Option<IpAddr>>,
}

impl<F: FnOnce() -> Option<IpAddr>> Peer<F> {
    fn new(ask: F) -> Self {
        Peer {
            ask: Cell::new(Some(ask)),
            ip: OnceCell::new(),
        }
    }

    fn ip(&self) -> Option<IpAddr> {
        *self
            .ip
            .get_or_init(|| self.ask.take().and_then(|ask| ask()))
    }
}

/// Sends berth's own reply of `len` bytes, counted by its RCODE, unless
/// `limiter` says the client has had its share this second: then nothing,
/// or the same reply emptied with TC set, so a real client asks over TCP.
fn limit(
    limiter: Option<&rrl::Limiter>,
    client: Option<IpAddr>,
    kind: Kind<'_>,
    query: Option<&Query<'_>>,
    len: usize,
    buf: &mut Vec<u8>,
) -> Action {
    let verdict = match (limiter, client) {
        (Some(limiter), Some(client)) => limiter.check(client, kind),
        _ => Verdict::Send,
    };
    match verdict {
        Verdict::Send => answered(len, buf),
        Verdict::Drop => {
            metrics::count(Event::RrlDropped);
            Action::Drop
        }
        Verdict::Slip => {
            metrics::count(Event::RrlSlipped);
            let len = match query {
                Some(query) => message::reply_with_rcode(query, buf, rcode_of(buf), false),
                // A packet that did not parse has no question to repeat:
                // its reply is already only a header.
                None => len,
            };
            if let Some(flags) = buf.get_mut(2) {
                *flags |= (FLAG_TC >> 8) as u8;
            }
            Action::Reply(len)
        }
    }
}

/// Counts a reply of `len` bytes in `buf` by its RCODE and sends it.
fn answered(len: usize, buf: &[u8]) -> Action {
    let low_flags = buf.get(3).map_or(0, |&byte| u16::from(byte));
    metrics::count(Event::Answered(Rcode::of_header(low_flags)));
    Action::Reply(len)
}

/// Signs berth's reply to a signed query with the query's key (RFC 8945
/// §5.3). A reply that would outgrow the client's limit with its TSIG goes
/// out empty with TC set, signed, so the client retries over TCP.
fn sign_reply(
    query: &Query<'_>,
    transport: Transport,
    verified: &tsig::Verified,
    len: usize,
    buf: &mut Vec<u8>,
) -> usize {
    buf.truncate(len);
    if len + tsig::space(&verified.key) > message::size_limit(query, transport) {
        let code = Rcode::of_header(buf.get(3).map_or(0, |&byte| u16::from(byte)));
        let len = message::reply_with_rcode(query, buf, code, false);
        buf.truncate(len);
        buf[2] |= (FLAG_TC >> 8) as u8;
    }
    tsig::Signer::new(verified).sign(buf, 0, &[]);
    buf.len()
}
