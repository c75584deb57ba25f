//! The immutable view readers answer from. A snapshot is published whole by
//! the writer and swapped in atomically; readers never see half an update.
//!
//! Every RRset is encoded to wire format once, when it is published, so that
//! answering a query is copying bytes, not building records.

use std::sync::Arc;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::journal::Journal;
use super::name::{self, Labels, NameKey};
use super::nodes::Nodes;
use super::record::Record;
use crate::iana::{Class, Rtype};

/// What berth does with names in a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    /// A `--zone`: berth writes its SOA and NS and is authoritative.
    Configured,
    /// A master file with an origin of its own, served as written.
    Static,
    /// `arpa.`: PTR records for the addresses berth serves. Berth is not
    /// authoritative for the reverse tree, so names it lacks are forwarded.
    Reverse,
}

/// One zone as readers see it.
pub struct Zone {
    pub apex: Arc<[u8]>,
    pub kind: ZoneKind,
    pub serial: u32,
    pub nodes: Nodes,
    /// The apex SOA with its TTL lowered to the SOA minimum (RFC 2308 §3),
    /// ready for the authority section of negative answers.
    pub negative_soa: Option<RRset>,
    /// Whether any NS RRset exists below the apex; lets the hot path skip
    /// the referral check in the usual zone that delegates nothing.
    pub has_cuts: bool,
    /// What recent publishes changed, for IXFR.
    pub journal: Arc<Journal>,
    /// Names containers claimed that another source owns, so they are not
    /// served there.
    pub shadowed: Arc<[Shadowed]>,
}

/// A container's claim to a name a zone file (or berth's configuration)
/// owns: the container is not served at that name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shadowed {
    /// The name, as text with its final dot.
    pub name: String,
    /// Who claimed it: `container shop-web-1 (3f2a4b5c6d7e)`.
    pub claimed_by: String,
    /// Who owns it: `zone file zones/apps.local.zone`.
    pub owner: String,
}

impl Zone {
    pub fn node(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key).map(|node| &**node)
    }

    /// The SERIAL of the SOA the zone is served with: berth's own for a
    /// `--zone`, the file's for a zone served as written.
    pub fn soa_serial(&self) -> Option<u32> {
        let apex = self.node(&self.apex)?;
        super::journal::soa_serial(apex.get(Rtype::SOA)?.records().next()?)
    }

    pub fn is_authoritative(&self) -> bool {
        self.kind != ZoneKind::Reverse
    }
}

/// Everything berth answers from.
#[derive(Default)]
pub struct Snapshot {
    /// Ordered longest apex first, so the first zone that contains a name
    /// is its closest enclosing zone.
    pub zones: Vec<Arc<Zone>>,
}

impl Snapshot {
    /// The zone that `qname` (lower-cased wire format) falls in, if any.
    pub fn zone_for(&self, qname: &[u8]) -> Option<&Zone> {
        self.zones
            .iter()
            .map(|zone| &**zone)
            .find(|zone| name::is_within(qname, &zone.apex))
    }

    pub fn zone(&self, apex: &[u8]) -> Option<&Zone> {
        self.zones
            .iter()
            .map(|zone| &**zone)
            .find(|zone| &*zone.apex == apex)
    }
}

/// A name in a zone: its RRsets, or none for an empty non-terminal.
///
/// Kept small: a zone of a million names holds a million of these, and two
/// boxed slices cost less than a `Vec` with its spare capacity beside.
#[derive(Debug, PartialEq, Eq)]
pub struct Node {
    /// The owner as the source wrote it (case preserved), in wire format.
    /// Empty for an empty non-terminal, whose owner is never written.
    /// Shared: where it is already lower case it is also the zone's key
    /// for the name.
    pub owner: Arc<[u8]>,
    /// Sorted by type, at most one per type.
    pub rrsets: Box<[RRset]>,
}

impl Node {
    /// The node of every empty non-terminal: they hold nothing, so one is
    /// shared by all of them instead of one allocation per name.
    pub fn empty_non_terminal() -> Arc<Node> {
        static EMPTY: std::sync::LazyLock<Arc<Node>> = std::sync::LazyLock::new(|| {
            Arc::new(Node {
                owner: Arc::new([]),
                rrsets: Box::default(),
            })
        });
        EMPTY.clone()
    }

    pub fn get(&self, rtype: Rtype) -> Option<&RRset> {
        self.rrsets.iter().find(|set| set.rtype == rtype)
    }

    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }

    /// Groups `records` (all owned by `owner`) into RRsets: duplicates
    /// removed, one TTL per RRset (the lowest, RFC 2181 §5.2).
    pub fn build(owner: &Name, records: &[&Record]) -> Self {
        Node::build_at(name::wire(owner).into(), records)
    }

    /// [`Node::build`] with the owner already in wire format.
    pub fn build_at(owner: Arc<[u8]>, records: &[&Record]) -> Self {
        // (type, lowest TTL seen, distinct records)
        let mut by_type: Vec<(RecordType, u32, Vec<&Record>)> = Vec::new();
        for record in records {
            let rtype = record.record_type();
            match by_type.iter_mut().find(|(t, _, _)| *t == rtype) {
                Some((_, ttl, list)) => {
                    *ttl = (*ttl).min(record.ttl);
                    if !list.iter().any(|r| r.data == record.data) {
                        list.push(record);
                    }
                }
                None => by_type.push((rtype, record.ttl, vec![record])),
            }
        }
        by_type.sort_by_key(|(rtype, _, _)| Rtype::from(*rtype));
        let rrsets = by_type
            .into_iter()
            .filter_map(|(rtype, ttl, list)| RRset::encode(rtype, ttl, &list))
            .collect();
        Node { owner, rrsets }
    }

    /// The node at `owner` that several sources' RRsets make together: one
    /// RRset per type, each the union of those given for it, at the lowest
    /// of their TTLs.
    pub fn merge(owner: Arc<[u8]>, mut sets: Vec<&RRset>) -> Self {
        sets.sort_by_key(|set| set.rtype);
        let mut rrsets: Vec<RRset> = Vec::with_capacity(sets.len());
        for set in sets {
            match rrsets.last_mut() {
                Some(last) if last.rtype == set.rtype => *last = last.union(set),
                _ => rrsets.push(set.clone()),
            }
        }
        Node {
            owner,
            rrsets: rrsets.into_boxed_slice(),
        }
    }

    /// The lookup key of this node's owner.
    pub fn key(&self) -> NameKey {
        let mut key: NameKey = self.owner[..].into();
        key.make_ascii_lowercase();
        key
    }
}

/// One RRset, pre-encoded: for each record, the wire bytes that follow its
/// owner name (TYPE, CLASS, TTL, RDLENGTH, RDATA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRset {
    pub rtype: Rtype,
    pub ttl: u32,
    pub count: u16,
    pub tails: Box<[u8]>,
    /// Names whose addresses belong in the additional section (SRV and MX
    /// targets, NS hosts), or the target of a CNAME; lower-cased wire keys.
    /// One after another, each ending in its root label: one allocation,
    /// not one per name. See [`RRset::targets`].
    targets: Box<[u8]>,
}

/// Sources name types with hickory's enum; snapshots carry the wire value.
impl From<RecordType> for Rtype {
    fn from(rtype: RecordType) -> Self {
        Rtype(rtype.into())
    }
}

impl RRset {
    fn encode(rtype: RecordType, ttl: u32, records: &[&Record]) -> Option<Self> {
        // Room for an SRV with a long target: growing the buffer cost more
        // than the shrink to fit at the end.
        let mut tails = Vec::with_capacity(records.len() * 64);
        let mut targets: Vec<u8> = Vec::new();
        let mut count = 0u16;
        for record in records {
            let start = tails.len();
            tails.extend_from_slice(&u16::from(rtype).to_be_bytes());
            tails.extend_from_slice(&Class::IN.0.to_be_bytes());
            tails.extend_from_slice(&ttl.to_be_bytes());
            tails.extend_from_slice(&[0, 0]);
            let mut encoder = BinEncoder::new(&mut tails);
            encoder.set_offset(start + 10);
            encoder.set_name_encoding(NameEncoding::Uncompressed);
            if record.data.emit(&mut encoder).is_err() {
                tails.truncate(start);
                continue;
            }
            let rdlength = tails.len() - start - 10;
            let Ok(rdlength) = u16::try_from(rdlength) else {
                tails.truncate(start);
                continue;
            };
            tails[start + 8..start + 10].copy_from_slice(&rdlength.to_be_bytes());
            count += 1;
            let target = match &record.data {
                RData::SRV(srv) => Some(&srv.target),
                RData::MX(mx) => Some(&mx.exchange),
                RData::NS(ns) => Some(&ns.0),
                RData::CNAME(cname) => Some(&cname.0),
                _ => None,
            };
            if let Some(target) = target {
                let key = name::key(target);
                if !names_in(&targets).any(|known| *known == *key) {
                    targets.extend_from_slice(&key);
                }
            }
        }
        (count > 0).then(|| RRset {
            rtype: Rtype::from(rtype),
            ttl,
            count,
            tails: tails.into_boxed_slice(),
            targets: targets.into_boxed_slice(),
        })
    }

    /// SOA only: the MINIMUM field, the last of its RDATA (RFC 1035
    /// §3.3.13), for negative-answer TTLs.
    pub fn soa_minimum(&self) -> Option<u32> {
        if self.rtype != Rtype::SOA {
            return None;
        }
        let record = self.records().next()?;
        let minimum = record.get(record.len().checked_sub(4)?..)?;
        Some(u32::from_be_bytes([
            minimum[0], minimum[1], minimum[2], minimum[3],
        ]))
    }

    /// Both sets' records, each once, at the lower of the two TTLs.
    fn union(&self, other: &RRset) -> RRset {
        let ttl = self.ttl.min(other.ttl);
        let mut tails = Vec::with_capacity(self.tails.len() + other.tails.len());
        let mut count = 0u16;
        // A record's identity is its TYPE, CLASS and RDATA: the TTL aside.
        let same = |a: &[u8], b: &[u8]| a[..4] == b[..4] && a[8..] == b[8..];
        for record in self.records().chain(other.records()) {
            let seen = RRset::records_in(&tails).any(|kept| same(kept, record));
            if seen || count == u16::MAX {
                continue;
            }
            let start = tails.len();
            tails.extend_from_slice(record);
            tails[start + 4..start + 8].copy_from_slice(&ttl.to_be_bytes());
            count += 1;
        }
        let mut targets = self.targets.to_vec();
        for target in other.targets() {
            if !names_in(&targets).any(|known| known == target) {
                targets.extend_from_slice(target);
            }
        }
        RRset {
            rtype: self.rtype,
            ttl,
            count,
            tails: tails.into_boxed_slice(),
            targets: targets.into_boxed_slice(),
        }
    }

    /// The same records with every TTL set to `ttl`.
    pub fn with_ttl(&self, ttl: u32) -> Self {
        let mut copy = self.clone();
        copy.ttl = ttl;
        let mut at = 0usize;
        while at + 10 <= copy.tails.len() {
            copy.tails[at + 4..at + 8].copy_from_slice(&ttl.to_be_bytes());
            let rdlength = u16::from_be_bytes([copy.tails[at + 8], copy.tails[at + 9]]);
            at += 10 + rdlength as usize;
        }
        copy
    }

    /// Names whose addresses belong in the additional section (SRV and MX
    /// targets, NS hosts), or the target of a CNAME: lower-cased wire keys.
    pub fn targets(&self) -> impl Iterator<Item = &[u8]> {
        names_in(&self.targets)
    }

    /// Iterates the encoded records (each TYPE…RDATA).
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        RRset::records_in(&self.tails)
    }

    fn records_in(tails: &[u8]) -> impl Iterator<Item = &[u8]> {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let header = tails.get(at..at + 10)?;
            let rdlength = u16::from_be_bytes([header[8], header[9]]) as usize;
            let record = tails.get(at..at + 10 + rdlength)?;
            at += 10 + rdlength;
            Some(record)
        })
    }
}

/// The wire names laid one after another in `names`.
fn names_in(names: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = names;
    std::iter::from_fn(move || {
        let mut at = 0usize;
        loop {
            let len = *rest.get(at)? as usize;
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
        let (name, after) = rest.split_at_checked(at)?;
        rest = after;
        Some(name)
    })
}

/// Walks from `name` towards the apex of `zone`: the lookup keys of every
/// ancestor strictly between them, nearest first.
pub fn ancestors(name: &[u8], apex_len: usize) -> impl Iterator<Item = &[u8]> {
    let labels = Labels::of(name);
    (1..=labels.count())
        .map(move |i| &name[labels.offset(i, name)..])
        .take_while(move |suffix| suffix.len() > apex_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn rrsets_dedupe_and_take_lowest_ttl() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let a = Record::address(name("x.z."), 30, ip);
        let b = Record::address(name("x.z."), 10, ip);
        let c = Record::address(name("x.z."), 20, other);
        let node = Node::build(&name("x.z."), &[&a, &b, &c]);
        let set = node.get(Rtype::A).unwrap();
        assert_eq!(set.count, 2);
        assert_eq!(set.ttl, 10);
        assert_eq!(set.records().count(), 2);
        let first = set.records().next().unwrap();
        assert_eq!(first, &[0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 192, 0, 2, 1]);
        assert_eq!(set.with_ttl(3).records().next().unwrap()[7], 3);
    }

    #[test]
    fn ancestors_stop_above_apex() {
        let key = name::key(&name("a.b.z."));
        let apex = name::key(&name("z."));
        let list: Vec<_> = ancestors(&key, apex.len()).collect();
        assert_eq!(list, vec![&b"\x01b\x01z\x00"[..]]);
    }
}
