//! Answering from a zone berth serves, by the RFCs: RFC 1034 §4.3.2 step 3
//! for the lookup, RFC 4592 for wildcards, RFC 2308 for negative answers,
//! RFC 8482 for ANY. Which zone, if any, and whether to answer at all is
//! the handler's call; by the time a query is here it is berth's to answer.
//! Everything here is synchronous and allocation-free once the output
//! buffer has grown to size.

use crate::iana::{Rcode, Rtype};
use crate::registry::Node;
use crate::registry::name::Labels;
use crate::registry::snapshot::{RRset, Zone, ancestors};

use super::message::{FLAG_AA, FLAG_TC, Transport, finish_with_opt, size_limit};
use super::response::{Full, OPT_LEN, Owner, Response, Section};
use super::wire::Query;

/// A CNAME chain longer than this is cut short; the client follows the rest.
const MAX_CHAIN: usize = 8;

/// Answers `query` from `zone`, a zone berth is authoritative for, into
/// `buf`. Returns the reply's length.
pub fn answer(zone: &Zone, query: &Query<'_>, transport: Transport, buf: &mut Vec<u8>) -> usize {
    let mut response = start(query, transport, buf);
    let mut lookup = Lookup {
        zone,
        qtype: query.qtype,
        transport,
        response: &mut response,
    };
    let code = lookup.run(query.qname.as_bytes());
    response.set_rcode(code);
    finish_with_opt(response, query)
}

/// PTR records berth holds for addresses it serves, from the reverse tree
/// (`arpa.`). `None` when it holds nothing for this name and type: berth is
/// not authoritative there, so the handler forwards the query instead.
pub fn answer_reverse(
    zone: &Zone,
    query: &Query<'_>,
    transport: Transport,
    buf: &mut Vec<u8>,
) -> Option<usize> {
    let node = zone.node(query.qname.as_bytes())?;
    let set = match query.qtype {
        Rtype::PTR | Rtype::ANY => node.get(Rtype::PTR)?,
        _ => return None,
    };
    let mut response = start(query, transport, buf);
    response.set_flags(FLAG_AA);
    if response
        .push_rrset(Section::Answer, Owner::Question, &set.tails, set.count)
        .is_err()
    {
        response.set_flags(FLAG_TC);
    }
    Some(finish_with_opt(response, query))
}

/// A response to `query` with room left for the OPT that ends it.
fn start<'b, 's>(
    query: &Query<'_>,
    transport: Transport,
    buf: &'b mut Vec<u8>,
) -> Response<'b, 's> {
    let opt_space = if query.edns.is_some() { OPT_LEN } else { 0 };
    let limit = size_limit(query, transport) - opt_space;
    Response::new(buf, query.id, query.flags, query.question, limit)
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
    qtype: Rtype,
    transport: Transport,
    response: &'r mut Response<'b, 's>,
}

impl<'s> Lookup<'_, '_, 's> {
    /// Runs the lookup for `qname`, following CNAMEs within the zone.
    /// Returns the RCODE.
    fn run(&mut self, qname: &'s [u8]) -> Rcode {
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
                    return Rcode::NXDOMAIN;
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
            if self.qtype == Rtype::ANY && !node.is_empty() {
                self.any(owner, node);
                return Rcode::NOERROR;
            }
            if let Some(set) = node.get(self.qtype) {
                // RFC 1035 §3.3.9, RFC 2782: addresses of MX and SRV targets
                // and NS hosts ride along; a CNAME's target is an answer, not
                // additional data.
                if self.answer(owner, set).is_ok() && self.qtype != Rtype::CNAME {
                    self.additional(set);
                }
                return Rcode::NOERROR;
            }
            let Some(cname) = node.get(Rtype::CNAME) else {
                self.negative();
                return Rcode::NOERROR;
            };
            if self.answer(owner, cname).is_err() {
                return Rcode::NOERROR;
            }
            match cname.targets().next() {
                Some(target) if crate::registry::name::is_within(target, &self.zone.apex) => {
                    name = target;
                    owner = Owner::Name {
                        key: target,
                        wire: target,
                    };
                }
                // Out of zone: the client's resolver follows it.
                _ => return Rcode::NOERROR,
            }
        }
        Rcode::NOERROR
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
        for target in set.targets() {
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
            for address_type in [Rtype::A, Rtype::AAAA] {
                if let Some(addresses) = node.get(address_type)
                    && self.push(Section::Additional, owner, addresses).is_err()
                {
                    return;
                }
            }
        }
    }

    /// A referral: the cut's NS RRset in authority, glue in additional.
    fn refer(&mut self, key: &'s [u8], cut: &'s Node) -> Rcode {
        let Some(ns) = cut.get(Rtype::NS) else {
            return Rcode::SERVFAIL;
        };
        let owner = Owner::Name {
            key,
            wire: &cut.owner,
        };
        if self.push(Section::Authority, owner, ns).is_ok() {
            self.additional(ns);
        }
        Rcode::NOERROR
    }
}

/// The name search of RFC 1034 §4.3.2 step 3 with RFC 4592 wildcards:
/// delegation first, then the exact name, then the wildcard at the closest
/// encloser. Costs one hash lookup per label, whatever the zone's size.
fn find<'z>(zone: &'z Zone, name: &[u8], qtype: Rtype) -> Found<'z> {
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
            if qtype == Rtype::DS && suffix.len() == name.len() {
                continue;
            }
            if let Some((key, node)) = zone.nodes.get_key_value(suffix)
                && node.get(Rtype::NS).is_some()
                && node.get(Rtype::SOA).is_none()
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

#[cfg(test)]
mod tests;
