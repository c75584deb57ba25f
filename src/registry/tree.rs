//! The zone tree: one zone's nodes as the writer builds them, and what keeps
//! their shape right as names come and go.
//!
//! - A count, for each name with names beneath it, of the names with
//!   records strictly below: an empty non-terminal (RFC 4592 §2.2.2: it
//!   blocks a wildcard) exists while that count is above zero, and vanishes
//!   with the last name beneath it.
//! - The delegation points (names below the apex with an NS RRset), so the
//!   published zone can tell readers whether a referral is possible at all.
//!
//! Which records make up a node is the writer's business; the tree takes a
//! built [`Node`] and puts it in place. Publishing shares the persistent node
//! map with the previous snapshot, so an unchanged zone costs nothing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, RecordType};

use super::journal::Journal;
use super::name;
use super::nodes::Nodes;
use super::record::Record;
use super::snapshot::{Node, Shadowed, Zone, ZoneKind, ancestors};
use super::{FastMap, FastSet};

/// SOA timers secondaries and zone checkers expect (RFC 1912 §2.2).
const SOA_REFRESH: i32 = 14_400;
const SOA_RETRY: i32 = 3_600;
const SOA_EXPIRE: i32 = 604_800;

pub(super) struct ZoneTree {
    pub apex: Name,
    pub apex_key: Arc<[u8]>,
    pub kind: ZoneKind,
    pub serial: u32,
    nodes: Nodes,
    /// Names with records strictly below each name that has any; a node
    /// exists while it has records or a count here.
    below: FastMap<Arc<[u8]>, u32>,
    /// Names below the apex that own an NS RRset (delegation points).
    cuts: HashSet<Arc<[u8]>>,
    /// Containers' claims to names another source owns, by name.
    shadowed: BTreeMap<Arc<[u8]>, Vec<Shadowed>>,
    /// Changed since it was last published.
    dirty: bool,
    /// Names placed since the last publish: what its journal diff covers.
    touched: FastSet<Arc<[u8]>>,
    published: Option<Arc<Zone>>,
}

impl ZoneTree {
    pub(super) fn new(apex: Name, kind: ZoneKind, serial: u32) -> Self {
        let apex_key: Arc<[u8]> = name::key(&apex).into();
        let mut nodes = Nodes::default();
        nodes.insert(apex_key.clone(), Node::empty_non_terminal());
        ZoneTree {
            apex,
            apex_key,
            kind,
            serial,
            nodes,
            below: FastMap::default(),
            cuts: HashSet::new(),
            shadowed: BTreeMap::new(),
            dirty: true,
            touched: FastSet::default(),
            published: None,
        }
    }

    /// Puts `node` at `key` (a name in this zone), replacing what was there.
    /// An empty node removes the name, unless names below keep it as an
    /// empty non-terminal; the apex always stays.
    pub(super) fn place(&mut self, key: &[u8], node: Arc<Node>) {
        let at_apex = key == &*self.apex_key;
        let held = self.nodes.get_key_value(key);
        let was_present = held.is_some_and(|(_, n)| !n.is_empty());
        // No allocation for the key where one exists: the key the map
        // holds, or the node's owner when that is already lower case.
        let key: Arc<[u8]> = match held {
            Some((held, _)) => held.clone(),
            None if *node.owner == *key => node.owner.clone(),
            None => key.into(),
        };
        let has_ns = node.get(RecordType::NS.into()).is_some();
        self.dirty = true;
        // The first version's journal needs no list of what changed.
        if self.published.is_some() {
            self.touched.insert(key.clone());
        }
        if !at_apex {
            if has_ns {
                self.cuts.insert(key.clone());
            } else if !self.cuts.is_empty() {
                self.cuts.remove(&key);
            }
        }
        let is_present = !node.is_empty();
        if at_apex {
            self.nodes.insert(key, node);
            return;
        }
        match (was_present, is_present) {
            (false, true) => {
                self.count_below(&key, 1);
                self.nodes.insert(key, node);
            }
            (true, true) => {
                self.nodes.insert(key, node);
            }
            (true, false) => {
                self.count_below(&key, -1);
                if self.below.contains_key(&key) {
                    self.nodes.insert(key, Node::empty_non_terminal());
                } else {
                    self.nodes.remove(&key);
                }
            }
            (false, false) => {}
        }
    }

    /// Records the claims shadowed at `key`; returns those that were not
    /// shadowed before, for the caller to tell the operator once.
    pub(super) fn shadow(&mut self, key: &[u8], claims: Vec<Shadowed>) -> Vec<Shadowed> {
        let before = self.shadowed.get(key).map_or(&[][..], |b| &b[..]);
        let new: Vec<Shadowed> = claims
            .iter()
            .filter(|claim| !before.contains(claim))
            .cloned()
            .collect();
        if claims.is_empty() {
            self.shadowed.remove(key);
        } else {
            self.shadowed.insert(key.into(), claims);
        }
        new
    }

    /// Adjusts the counts of the ancestors of `key` below the apex by
    /// `delta`, as a name with records appears or goes at `key`: creating
    /// empty non-terminals as names appear beneath them, removing them when
    /// nothing is left. A name with nothing below has no count at all, so a
    /// flat zone's names cost nothing here.
    fn count_below(&mut self, key: &[u8], delta: i32) {
        let apex_len = self.apex_key.len();
        for name in ancestors(key, apex_len) {
            if let Some(count) = self.below.get_mut(name) {
                *count = count.saturating_add_signed(delta);
                if *count == 0 {
                    self.below.remove(name);
                    if self.nodes.get(name).is_some_and(|node| node.is_empty()) {
                        self.nodes.remove(name);
                    }
                }
                continue;
            }
            if delta <= 0 {
                continue;
            }
            let name: Arc<[u8]> = match self.nodes.get_key_value(name) {
                Some((held, _)) => held.clone(),
                None => {
                    let name: Arc<[u8]> = name.into();
                    self.nodes.insert(name.clone(), Node::empty_non_terminal());
                    name
                }
            };
            self.below.insert(name, delta as u32);
        }
    }

    /// The SOA berth writes for a zone it is configured for: `mname`,
    /// `hostmaster.<zone>`, this zone's serial, and `minimum` as both its
    /// TTL and the negative-caching minimum: a resolver caches a negative
    /// answer for the lesser of the two (RFC 2308 §5).
    pub(super) fn soa(&self, mname: Name, minimum: u32) -> Record {
        let hostmaster = Name::from_ascii("hostmaster")
            .and_then(|n| n.append_domain(&self.apex))
            .unwrap_or_else(|_| self.apex.clone());
        let soa = SOA::new(
            mname,
            hostmaster,
            self.serial,
            SOA_REFRESH,
            SOA_RETRY,
            SOA_EXPIRE,
            minimum,
        );
        Record::new(self.apex.clone(), minimum, RData::SOA(soa))
    }

    /// Whether the next snapshot needs a new entry for this zone.
    pub(super) fn needs_publishing(&self) -> bool {
        self.dirty || self.published.is_none()
    }

    /// Moves the serial of a zone already published past its last value
    /// (to the clock, `now`, when that is ahead), so secondaries see the
    /// change. A zone's first publication keeps the serial it started with.
    pub(super) fn bump_serial(&mut self, now: u32) {
        if self.published.is_some() {
            self.serial = self.serial.wrapping_add(1).max(now);
        }
    }

    /// Freezes the tree as it is into the zone readers see, with a journal
    /// of up to `journal` versions for IXFR.
    pub(super) fn publish(&mut self, journal: usize) {
        self.nodes.settle();
        let soa = self
            .nodes
            .get(&self.apex_key[..])
            .and_then(|apex| apex.get(RecordType::SOA.into()).cloned());
        let negative_soa = soa.map(|soa| {
            let ttl = soa.soa_minimum().map_or(soa.ttl, |min| soa.ttl.min(min));
            soa.with_ttl(ttl)
        });
        let journal = match &self.published {
            Some(before) => before.journal.next(
                &before.nodes,
                &self.nodes,
                &self.apex_key,
                self.touched.iter().map(|key| &key[..]),
                journal,
            ),
            None => Journal::start(&self.nodes),
        };
        // Released, not cleared: after a large zone's first load it held
        // every name.
        self.touched = FastSet::default();
        self.published = Some(Arc::new(Zone {
            apex: self.apex_key.clone(),
            kind: self.kind,
            serial: self.serial,
            nodes: self.nodes.clone(),
            negative_soa,
            has_cuts: !self.cuts.is_empty(),
            journal: Arc::new(journal),
            shadowed: self.shadowed.values().flatten().cloned().collect(),
        }));
        self.dirty = false;
    }

    /// The zone as last published.
    pub(super) fn published(&self) -> Option<Arc<Zone>> {
        self.published.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn key(text: &str) -> Vec<u8> {
        name::key(&name(text)).into_vec()
    }

    fn node(owner: &str, data: RData) -> Arc<Node> {
        let record = Record::new(name(owner), 5, data);
        Arc::new(Node::build(&record.name, &[&record]))
    }

    fn delegation(owner: &str) -> Arc<Node> {
        node(
            owner,
            RData::NS(hickory_proto::rr::rdata::NS(name("ns.elsewhere."))),
        )
    }

    #[test]
    fn a_delegation_point_comes_and_goes() {
        let mut tree = ZoneTree::new(name("z."), ZoneKind::Configured, 1);
        tree.place(&key("sub.z."), delegation("sub.z."));
        tree.publish(0);
        assert!(tree.published().unwrap().has_cuts);
        tree.place(&key("sub.z."), Node::empty_non_terminal());
        tree.publish(0);
        let zone = tree.published().unwrap();
        assert!(!zone.has_cuts);
        assert!(zone.node(&key("sub.z.")).is_none());
    }

    #[test]
    fn an_empty_non_terminal_stays_while_a_name_below_it_does() {
        let mut tree = ZoneTree::new(name("z."), ZoneKind::Static, 1);
        let address = || RData::A("192.0.2.1".parse().unwrap());
        tree.place(&key("b.z."), node("b.z.", address()));
        tree.place(&key("a.b.z."), node("a.b.z.", address()));
        // b loses its records but keeps a below it.
        tree.place(&key("b.z."), Node::empty_non_terminal());
        tree.publish(0);
        let zone = tree.published().unwrap();
        assert!(zone.node(&key("b.z.")).unwrap().is_empty());
        tree.place(&key("a.b.z."), Node::empty_non_terminal());
        tree.publish(0);
        let zone = tree.published().unwrap();
        assert!(zone.node(&key("b.z.")).is_none());
        assert!(zone.node(&key("z.")).is_some(), "the apex always stays");
    }

    #[test]
    fn the_serial_moves_only_after_a_first_publication() {
        let mut tree = ZoneTree::new(name("z."), ZoneKind::Configured, 10);
        tree.bump_serial(5);
        assert_eq!(tree.serial, 10);
        tree.publish(0);
        tree.bump_serial(5);
        assert_eq!(tree.serial, 11);
        tree.bump_serial(100);
        assert_eq!(tree.serial, 100);
    }
}
