//! Answering from a snapshot, by the RFCs: RFC 1034 §4.3.2 for the lookup,
//! RFC 4592 for wildcards, RFC 2308 for negative answers, RFC 8482 for ANY,
//! RFC 6891 for EDNS. Everything here is synchronous and allocation-free
//! once the output buffer has grown to size.

use crate::registry::name::Labels;
use crate::registry::snapshot::{RRset, Zone, ZoneKind, ancestors};
use crate::registry::{Node, Snapshot};

use super::response::{Full, OPT_LEN, Owner, Response, Section};
use super::wire::{self, FLAG_AA, FLAG_RA, FLAG_TC, Malformed, Query};

pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
    /// Extended (RFC 6891): 16, carried as 1 in the OPT's upper bits.
    pub const BADVERS: u16 = 16;
}

mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const DS: u16 = 43;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const AAAA: u16 = 28;
    pub const OPT: u16 = 41;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const MAILB: u16 = 253;
    pub const MAILA: u16 = 254;
    pub const ANY: u16 = 255;
}

const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;
/// Largest UDP payload berth offers: fits an IPv6 minimum MTU without
/// fragmentation (the DNS flag day 2020 figure).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// A CNAME chain longer than this is cut short; the client follows the rest.
const MAX_CHAIN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// How a query ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A response of this many bytes is in the buffer.
    Reply(usize),
    /// Not berth's to answer: forward it, or refuse it.
    Forward,
    /// Send nothing.
    Drop,
}

/// Answers `packet` from `snapshot` into `buf`.
pub fn answer(
    snapshot: &Snapshot,
    packet: &[u8],
    transport: Transport,
    buf: &mut Vec<u8>,
) -> Outcome {
    let query = match parse_or_reject(packet, buf) {
        Ok(query) => query,
        Err(outcome) => return outcome,
    };
    let limit = size_limit(&query, transport);
    let mut response = Response::new(
        buf,
        query.id,
        query.flags,
        query.question,
        limit - opt_space(&query),
    );

    if let Some(edns) = query.edns
        && edns.version > 0
    {
        response.push_opt(MAX_UDP_PAYLOAD, (rcode::BADVERS >> 4) as u8, edns.dnssec_ok);
        return Outcome::Reply(response.finish());
    }
    match query.qtype {
        rtype::OPT | rtype::TSIG | rtype::TKEY => response.set_rcode(rcode::FORMERR),
        rtype::MAILA | rtype::MAILB => response.set_rcode(rcode::NOTIMP),
        _ => {
            let qname = query.qname.as_bytes();
            let Some(zone) = snapshot.zone_for(qname) else {
                return Outcome::Forward;
            };
            if query.qclass != CLASS_IN && query.qclass != CLASS_ANY {
                response.set_rcode(rcode::REFUSED);
            } else if zone.kind == ZoneKind::Reverse {
                if !answer_reverse(zone, &query, &mut response) {
                    return Outcome::Forward;
                }
            } else if matches!(query.qtype, rtype::AXFR | rtype::IXFR) {
                // No zone transfers: berth's zones are live views, not copies.
                response.set_rcode(rcode::REFUSED);
            } else {
                let mut lookup = Lookup {
                    zone,
                    qtype: query.qtype,
                    transport,
                    response: &mut response,
                };
                let code = lookup.run(qname);
                response.set_rcode(code);
            }
        }
    }
    finish_with_opt(response, &query)
}

/// Writes a reply with only a header and the question: REFUSED for queries
/// that may not be forwarded, SERVFAIL when forwarding failed.
pub fn reply_with_rcode(
    packet: &[u8],
    buf: &mut Vec<u8>,
    code: u8,
    recursion_available: bool,
) -> Outcome {
    let query = match parse_or_reject(packet, buf) {
        Ok(query) => query,
        Err(outcome) => return outcome,
    };
    let mut response = Response::new(buf, query.id, query.flags, query.question, usize::MAX);
    response.set_rcode(code);
    if recursion_available {
        response.set_flags(FLAG_RA);
    }
    finish_with_opt(response, &query)
}

fn finish_with_opt(mut response: Response<'_, '_>, query: &Query<'_>) -> Outcome {
    if let Some(edns) = query.edns {
        response.push_opt(MAX_UDP_PAYLOAD, 0, edns.dnssec_ok);
    }
    Outcome::Reply(response.finish())
}

/// Parses `packet`, or writes the reply (or no reply) a malformed one gets.
fn parse_or_reject<'p>(packet: &'p [u8], buf: &mut Vec<u8>) -> Result<Query<'p>, Outcome> {
    wire::parse_query(packet).map_err(|malformed| match malformed {
        Malformed::Drop => Outcome::Drop,
        Malformed::FormErr { id, flags } => error_reply(buf, id, flags, rcode::FORMERR),
        Malformed::NotImp { id, flags } => error_reply(buf, id, flags, rcode::NOTIMP),
    })
}

/// A reply to a packet whose question could not be read: the header alone.
fn error_reply(buf: &mut Vec<u8>, id: u16, flags: u16, code: u8) -> Outcome {
    let mut response = Response::new(buf, id, flags, &[], usize::MAX);
    response.set_rcode(code);
    Outcome::Reply(response.finish())
}

/// RFC 1035 §4.2.1 and RFC 6891 §6.2.5: 512 bytes without EDNS, else the
/// client's size, at least 512, at most ours. TCP takes a full message.
pub fn size_limit(query: &Query<'_>, transport: Transport) -> usize {
    match (transport, query.edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(edns)) => edns.payload.clamp(512, MAX_UDP_PAYLOAD) as usize,
    }
}

fn opt_space(query: &Query<'_>) -> usize {
    if query.edns.is_some() { OPT_LEN } else { 0 }
}

/// PTR records berth holds for addresses it serves. Returns false when the
/// reverse tree has nothing for this name, so that it is forwarded instead.
fn answer_reverse(zone: &Zone, query: &Query<'_>, response: &mut Response<'_, '_>) -> bool {
    let Some(node) = zone.node(query.qname.as_bytes()) else {
        return false;
    };
    let set = match query.qtype {
        rtype::PTR | rtype::ANY => node.get(rtype::PTR),
        _ => None,
    };
    let Some(set) = set else {
        return false;
    };
    response.set_flags(FLAG_AA);
    if response
        .push_rrset(Section::Answer, Owner::Question, &set.tails, set.count)
        .is_err()
    {
        response.set_flags(FLAG_TC);
    }
    true
}

/// Where the name search for one query name ended.
enum Found<'z> {
    /// The name exists (possibly as an empty non-terminal).
    Exact(&'z Node),
    /// Synthesised from the wildcard at the closest encloser (RFC 4592 §3.3.1).
    Wildcard(&'z Node),
    /// A zone cut at or above the name, with its key in the zone: refer
    /// the client to it.
    Cut(&'z [u8], &'z Node),
    NxDomain,
}

struct Lookup<'r, 'b, 's> {
    zone: &'s Zone,
    qtype: u16,
    transport: Transport,
    response: &'r mut Response<'b, 's>,
}

impl<'s> Lookup<'_, '_, 's> {
    /// Runs the lookup for `qname`, following CNAMEs within the zone.
    /// Returns the RCODE.
    fn run(&mut self, qname: &'s [u8]) -> u8 {
        let mut name: &'s [u8] = qname;
        let mut owner = Owner::Question;
        self.response.set_flags(FLAG_AA);
        for hop in 0..MAX_CHAIN {
            let found = find(self.zone, name, self.qtype);
            let node = match found {
                Found::Exact(node) | Found::Wildcard(node) => node,
                Found::Cut(key, cut) => {
                    if hop == 0 {
                        self.clear_aa();
                    }
                    return self.refer(key, cut);
                }
                Found::NxDomain => {
                    self.negative();
                    return rcode::NXDOMAIN;
                }
            };
            if let Found::Exact(node) = found {
                // Past the first hop the owner is a name from the zone.
                if hop > 0 {
                    owner = Owner::Name {
                        key: name,
                        wire: &node.owner,
                    };
                }
            }
            if self.qtype == rtype::ANY && !node.is_empty() {
                self.any(owner, node);
                return rcode::NOERROR;
            }
            if let Some(set) = node.get(self.qtype) {
                // RFC 1035 §3.3.9, RFC 2782: addresses of MX and SRV targets
                // and NS hosts ride along; a CNAME's target is an answer, not
                // additional data.
                if self.answer(owner, set).is_ok() && self.qtype != rtype::CNAME {
                    self.additional(set);
                }
                return rcode::NOERROR;
            }
            let Some(cname) = node.get(rtype::CNAME) else {
                self.negative();
                return rcode::NOERROR;
            };
            if self.answer(owner, cname).is_err() {
                return rcode::NOERROR;
            }
            match cname.targets.first() {
                Some(target) if crate::registry::name::is_within(target, &self.zone.apex) => {
                    name = target;
                    owner = Owner::Name {
                        key: target,
                        wire: target,
                    };
                }
                // Out of zone: the client's resolver follows it.
                _ => return rcode::NOERROR,
            }
        }
        rcode::NOERROR
    }

    fn clear_aa(&mut self) {
        // A referral is not authoritative (RFC 1034 §4.3.2 step 3b).
        self.response.clear_flags(FLAG_AA);
    }

    fn answer(&mut self, owner: Owner<'s>, set: &'s RRset) -> Result<(), Full> {
        self.push(Section::Answer, owner, set)
    }

    fn push(&mut self, section: Section, owner: Owner<'s>, set: &'s RRset) -> Result<(), Full> {
        let result = self
            .response
            .push_rrset(section, owner, &set.tails, set.count);
        if result.is_err() && section != Section::Additional {
            self.response.set_flags(FLAG_TC);
        }
        result
    }

    /// RFC 8482: over UDP one RRset is enough; over TCP the client gets all.
    fn any(&mut self, owner: Owner<'s>, node: &'s Node) {
        let wanted = match self.transport {
            Transport::Udp => 1,
            Transport::Tcp => node.rrsets.len(),
        };
        for set in node.rrsets.iter().take(wanted) {
            if self.answer(owner, set).is_err() {
                return;
            }
        }
    }

    /// NODATA and NXDOMAIN carry the zone's SOA (RFC 2308 §2).
    fn negative(&mut self) {
        let zone = self.zone;
        if let (Some(soa), Some(apex)) = (&zone.negative_soa, zone.node(&zone.apex)) {
            let owner = Owner::Name {
                key: &zone.apex,
                wire: &apex.owner,
            };
            let _ = self.push(Section::Authority, owner, soa);
        }
    }

    /// Addresses of SRV and MX targets and NS hosts held in this zone.
    fn additional(&mut self, set: &'s RRset) {
        for target in set.targets.iter() {
            if !crate::registry::name::is_within(target, &self.zone.apex) {
                continue;
            }
            let Some(node) = self.zone.node(target) else {
                continue;
            };
            let owner = Owner::Name {
                key: target,
                wire: &node.owner,
            };
            for address_type in [rtype::A, rtype::AAAA] {
                if let Some(addresses) = node.get(address_type)
                    && self.push(Section::Additional, owner, addresses).is_err()
                {
                    return;
                }
            }
        }
    }

    /// A referral: the cut's NS RRset in authority, glue in additional.
    fn refer(&mut self, key: &'s [u8], cut: &'s Node) -> u8 {
        let Some(ns) = cut.get(rtype::NS) else {
            return rcode::SERVFAIL;
        };
        let owner = Owner::Name {
            key,
            wire: &cut.owner,
        };
        if self.push(Section::Authority, owner, ns).is_ok() {
            self.additional(ns);
        }
        rcode::NOERROR
    }
}

/// The name search of RFC 1034 §4.3.2 step 3 with RFC 4592 wildcards:
/// delegation first, then the exact name, then the wildcard at the closest
/// encloser. Costs one hash lookup per label, whatever the zone's size.
fn find<'z>(zone: &'z Zone, name: &[u8], qtype: u16) -> Found<'z> {
    let apex_len = zone.apex.len();
    if zone.has_cuts {
        // The cut nearest the apex wins; the apex's own NS is not a cut. A DS
        // RRset lives on the parent side of its cut (RFC 4035 §3.1.4.1), so a
        // DS query for the cut itself is answered here.
        let mut cut = None;
        let chain = std::iter::once(name).chain(ancestors(name, apex_len));
        for suffix in chain {
            if suffix.len() <= apex_len {
                break;
            }
            if qtype == rtype::DS && suffix.len() == name.len() {
                continue;
            }
            if let Some((key, node)) = zone.nodes.get_key_value(suffix)
                && node.get(rtype::NS).is_some()
                && node.get(rtype::SOA).is_none()
            {
                cut = Some((&key[..], &**node));
            }
        }
        if let Some((key, node)) = cut {
            return Found::Cut(key, node);
        }
    }
    if let Some(node) = zone.node(name) {
        return Found::Exact(node);
    }
    // The closest encloser exists (the apex always does); its wildcard child
    // is the source of synthesis, if there is one.
    let labels = Labels::of(name);
    let mut wildcard = [0u8; 257];
    for i in 1..=labels.count() {
        let encloser = &name[labels.offset(i, name)..];
        if encloser.len() < apex_len || zone.node(encloser).is_none() {
            continue;
        }
        wildcard[0] = 1;
        wildcard[1] = b'*';
        let len = encloser.len() + 2;
        if len > wildcard.len() {
            return Found::NxDomain;
        }
        wildcard[2..len].copy_from_slice(encloser);
        return match zone.node(&wildcard[..len]) {
            Some(node) => Found::Wildcard(node),
            None => Found::NxDomain,
        };
    }
    Found::NxDomain
}
