//! The IXFR journal (RFC 1995): per zone, the records each publish removed
//! and added, between the SOA serials it published, so that a secondary
//! one or a few versions behind gets only the difference.
//!
//! A publish touches a few names; the diff is taken over those names only,
//! record by record, against the zone as last published. The journal keeps
//! at most `limit` diffs and never more records than the zone itself holds
//! (past that a full transfer is smaller, RFC 1995 §4).

use std::sync::Arc;

use super::nodes::Nodes;
use super::snapshot::Node;
use crate::iana::Rtype;

/// One record as a transfer writes it: owner (case kept, uncompressed
/// wire) and the bytes after it (TYPE, CLASS, TTL, RDLENGTH, RDATA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalRecord {
    pub owner: Arc<[u8]>,
    pub record: Box<[u8]>,
}

/// What one publish changed.
#[derive(Debug)]
pub struct Diff {
    /// The apex SOA before and after (record bytes after the owner).
    pub old_soa: Box<[u8]>,
    pub new_soa: Box<[u8]>,
    pub removed: Vec<JournalRecord>,
    pub added: Vec<JournalRecord>,
}

impl Diff {
    pub fn from_serial(&self) -> Option<u32> {
        soa_serial(&self.old_soa)
    }

    fn len(&self) -> usize {
        self.removed.len() + self.added.len() + 2
    }
}

/// The diffs of one zone, oldest first, ending at the zone's current SOA.
#[derive(Debug, Default)]
pub struct Journal {
    diffs: Vec<Arc<Diff>>,
    /// Records (SOA aside) in the zone as published with this journal.
    zone_records: usize,
    /// Records in all diffs together.
    journal_records: usize,
}

impl Journal {
    /// The journal of a zone published for the first time: no diffs, and
    /// one pass to count its records.
    pub fn start(nodes: &Nodes) -> Journal {
        let zone_records = nodes.values().map(|node| records_of(node).count()).sum();
        Journal {
            zone_records,
            ..Journal::default()
        }
    }

    /// The journal after a publish that touched `touched` names of `before`
    /// to give `after`: one more diff, the oldest ones dropped past `limit`
    /// versions or past the zone's size. A serial that did not move forward
    /// (a static zone file edited without raising it) empties the journal:
    /// secondaries asking from any serial then get a full transfer.
    pub fn next<'k>(
        &self,
        before: &Nodes,
        after: &Nodes,
        apex: &[u8],
        touched: impl IntoIterator<Item = &'k [u8]>,
        limit: usize,
    ) -> Journal {
        let mut removed = Vec::new();
        let mut added = Vec::new();
        for key in touched {
            let old = before.get(key);
            let new = after.get(key);
            let old_records: Vec<&[u8]> = old.map(|n| records_of(n).collect()).unwrap_or_default();
            let new_records: Vec<&[u8]> = new.map(|n| records_of(n).collect()).unwrap_or_default();
            for (list, from, other, node) in [
                (&mut removed, &old_records, &new_records, old),
                (&mut added, &new_records, &old_records, new),
            ] {
                let Some(node) = node else { continue };
                let owner: Arc<[u8]> = node.owner.clone();
                for record in from.iter().filter(|r| !other.contains(r)) {
                    list.push(JournalRecord {
                        owner: owner.clone(),
                        record: (*record).into(),
                    });
                }
            }
        }
        let zone_records = (self.zone_records + added.len()).saturating_sub(removed.len());
        let soa = |nodes: &Nodes| {
            nodes
                .get(apex)
                .and_then(|n| n.get(Rtype::SOA))
                .and_then(|set| set.records().next().map(Box::from))
        };
        let (Some(old_soa), Some(new_soa)) = (soa(before), soa(after)) else {
            return Journal {
                zone_records,
                ..Journal::default()
            };
        };
        let moved_forward = match (soa_serial(&old_soa), soa_serial(&new_soa)) {
            (Some(old), Some(new)) => serial_lt(old, new),
            _ => false,
        };
        if !moved_forward || limit == 0 {
            return Journal {
                zone_records,
                ..Journal::default()
            };
        }
        let diff = Arc::new(Diff {
            old_soa,
            new_soa,
            removed,
            added,
        });
        let mut diffs: Vec<Arc<Diff>> = Vec::with_capacity(self.diffs.len() + 1);
        diffs.extend(self.diffs.iter().cloned());
        diffs.push(diff);
        let mut journal_records: usize = diffs.iter().map(|d| d.len()).sum();
        let mut drop = diffs.len().saturating_sub(limit);
        for diff in &diffs[..drop] {
            journal_records -= diff.len();
        }
        while drop < diffs.len() && journal_records > zone_records + 2 {
            journal_records -= diffs[drop].len();
            drop += 1;
        }
        // Copying the list costs at most `limit` pointers per publish.
        diffs.drain(..drop);
        Journal {
            diffs,
            zone_records,
            journal_records,
        }
    }

    /// The diffs that take a secondary at `serial` to the current version,
    /// or None when the journal does not reach back that far.
    pub fn since(&self, serial: u32) -> Option<&[Arc<Diff>]> {
        let at = self
            .diffs
            .iter()
            .position(|d| d.from_serial() == Some(serial))?;
        Some(&self.diffs[at..])
    }

    pub fn len(&self) -> usize {
        self.diffs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diffs.is_empty()
    }

    pub fn zone_records(&self) -> usize {
        self.zone_records
    }

    pub fn journal_records(&self) -> usize {
        self.journal_records
    }
}

/// Every record of a node except the SOA, which transfers place themselves.
fn records_of(node: &Node) -> impl Iterator<Item = &[u8]> {
    node.rrsets
        .iter()
        .filter(|set| set.rtype != Rtype::SOA)
        .flat_map(|set| set.records())
}

/// The SERIAL field of an encoded SOA record (TYPE…RDATA): after the
/// 10-byte header and two uncompressed names.
pub fn soa_serial(record: &[u8]) -> Option<u32> {
    let rdata = record.get(10..)?;
    let mut at = 0usize;
    for _ in 0..2 {
        loop {
            let len = *rdata.get(at)? as usize;
            at += 1 + len;
            if len == 0 {
                break;
            }
        }
    }
    let serial = rdata.get(at..at + 4)?;
    Some(u32::from_be_bytes([
        serial[0], serial[1], serial[2], serial[3],
    ]))
}

/// `a < b` in serial number arithmetic (RFC 1982).
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::name;
    use crate::registry::record::Record;
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{Name, RData};

    fn n(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn put(nodes: &mut Nodes, records: &[Record]) {
        let owner = &records[0].name;
        let list: Vec<&Record> = records.iter().collect();
        nodes.insert(name::key(owner).into(), Arc::new(Node::build(owner, &list)));
    }

    fn soa(serial: u32) -> Record {
        let data = SOA::new(n("ns.z."), n("h.z."), serial, 1, 1, 1, 5);
        Record::new(n("z."), 5, RData::SOA(data))
    }

    fn a(owner: &str, ip: &str) -> Record {
        Record::address(n(owner), 5, ip.parse().unwrap())
    }

    fn key(text: &str) -> Vec<u8> {
        name::key(&n(text)).into_vec()
    }

    /// A zone at `serial` with `hosts` (name, address) under it.
    fn zone(serial: u32, hosts: &[(&str, &str)]) -> Nodes {
        let mut nodes = Nodes::default();
        put(&mut nodes, &[soa(serial)]);
        for (host, ip) in hosts {
            put(&mut nodes, &[a(host, ip)]);
        }
        nodes
    }

    #[test]
    fn a_diff_holds_what_was_removed_and_added() {
        let same = [
            ("d.z.", "192.0.2.4"),
            ("e.z.", "192.0.2.5"),
            ("f.z.", "192.0.2.6"),
        ];
        let mut before = zone(10, &[("a.z.", "192.0.2.1"), ("b.z.", "192.0.2.2")]);
        let mut after = zone(11, &[("a.z.", "192.0.2.9"), ("c.z.", "192.0.2.3")]);
        for (host, ip) in same {
            put(&mut before, &[a(host, ip)]);
            put(&mut after, &[a(host, ip)]);
        }
        let journal = Journal::start(&before);
        assert_eq!(journal.zone_records(), 5);
        let touched = [key("a.z."), key("b.z."), key("c.z."), key("z.")];
        let journal = journal.next(
            &before,
            &after,
            &key("z."),
            touched.iter().map(|k| &k[..]),
            10,
        );
        let diffs = journal.since(10).unwrap();
        assert_eq!(diffs.len(), 1);
        assert_eq!(soa_serial(&diffs[0].new_soa), Some(11));
        let owners = |list: &[JournalRecord]| {
            let mut owners: Vec<String> = list.iter().map(|r| name::to_text(&r.owner)).collect();
            owners.sort();
            owners
        };
        assert_eq!(owners(&diffs[0].removed), ["a.z.", "b.z."]);
        assert_eq!(owners(&diffs[0].added), ["a.z.", "c.z."]);
        assert!(
            journal.since(11).is_none(),
            "up to date is not a journal question"
        );
        assert!(journal.since(9).is_none());
    }

    #[test]
    fn bounded_by_versions_and_by_the_zone_size() {
        let hosts: Vec<(String, String)> = (0..20)
            .map(|i| (format!("h{i}.z."), format!("192.0.2.{i}")))
            .collect();
        let borrowed: Vec<(&str, &str)> = hosts.iter().map(|(h, i)| (&h[..], &i[..])).collect();
        let mut nodes = zone(100, &borrowed);
        let mut journal = Journal::start(&nodes);
        for step in 1..=5u32 {
            let mut next = nodes.clone();
            put(&mut next, &[soa(100 + step)]);
            put(&mut next, &[a("h0.z.", &format!("198.51.100.{step}"))]);
            let touched = [key("h0.z."), key("z.")];
            journal = journal.next(&nodes, &next, &key("z."), touched.iter().map(|k| &k[..]), 3);
            nodes = next;
        }
        assert_eq!(journal.len(), 3);
        assert!(journal.since(101).is_none());
        assert_eq!(journal.since(102).unwrap().len(), 3);
        assert_eq!(journal.since(104).unwrap().len(), 1);

        // Every name changed at once: that diff alone is larger than the zone.
        let mut next = nodes.clone();
        put(&mut next, &[soa(200)]);
        for (i, (host, _)) in hosts.iter().enumerate() {
            put(&mut next, &[a(host, &format!("203.0.113.{i}"))]);
        }
        let touched: Vec<Vec<u8>> = hosts.iter().map(|(h, _)| key(h)).collect();
        let journal = journal.next(&nodes, &next, &key("z."), touched.iter().map(|k| &k[..]), 3);
        assert!(journal.is_empty());
        assert_eq!(journal.zone_records(), 20);
    }

    #[test]
    fn a_serial_that_does_not_rise_empties_it() {
        let before = zone(7, &[("a.z.", "192.0.2.1")]);
        let after = zone(7, &[("a.z.", "192.0.2.2")]);
        let touched = [key("a.z.")];
        let journal = Journal::start(&before).next(
            &before,
            &after,
            &key("z."),
            touched.iter().map(|k| &k[..]),
            10,
        );
        assert!(journal.is_empty());
        assert!(serial_lt(u32::MAX, 0));
        assert!(!serial_lt(5, 5));
    }
}
