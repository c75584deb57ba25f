//! The single writer behind the registry. Plain synchronous code: the task in
//! `mod.rs` feeds it changes, tests drive it directly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, RecordType};

use super::name::{self, NameKey};
use super::record::{Change, Entity, Record, SourceId};
use super::snapshot::{Node, NodeMap, Snapshot, Zone, ZoneKind, ancestors};

/// SOA timers secondaries and zone checkers expect (RFC 1912 §2.2).
const SOA_REFRESH: i32 = 14_400;
const SOA_RETRY: i32 = 3_600;
const SOA_EXPIRE: i32 = 604_800;

/// What the writer needs to know about the zones berth is configured for.
#[derive(Clone, Debug)]
pub struct ZoneSettings {
    /// The `--zone`s: berth writes their SOA and NS.
    pub zones: Vec<Name>,
    /// TTL of generated records and the SOA minimum.
    pub ttl: u32,
    /// Address of `ns.<zone>`, the name the apex NS points at.
    pub ns_address: Option<IpAddr>,
    /// Answer otherwise unknown names in each zone with this address.
    pub wildcard_target: Option<IpAddr>,
}

type EntityKey = (SourceId, String);

/// An entity as stored: its records grouped by owner, so that refreshing one
/// name never scans a large zone file's worth of records.
struct Stored {
    declares_zone: Option<Name>,
    /// The lookup key of `declares_zone`, kept so that placing each of a
    /// large zone file's names does not encode it again.
    zone_key: Option<NameKey>,
    by_name: HashMap<NameKey, Vec<Record>>,
}

struct ZoneState {
    apex: Name,
    apex_key: Arc<[u8]>,
    kind: ZoneKind,
    serial: u32,
    nodes: NodeMap,
    /// Names with records at or below each name; a node exists while > 0.
    subtree: HashMap<Arc<[u8]>, u32>,
    /// Names below the apex that own an NS RRset (delegation points).
    cuts: HashSet<Arc<[u8]>>,
    dirty: bool,
    published: Option<Arc<Zone>>,
}

impl ZoneState {
    fn new(apex: Name, kind: ZoneKind, serial: u32) -> Self {
        let apex_key: Arc<[u8]> = name::key(&apex).into();
        let mut nodes = NodeMap::default();
        nodes.insert(
            apex_key.clone(),
            Arc::new(Node::empty_non_terminal(&apex_key)),
        );
        ZoneState {
            apex,
            apex_key,
            kind,
            serial,
            nodes,
            subtree: HashMap::new(),
            cuts: HashSet::new(),
            dirty: true,
            published: None,
        }
    }
}

pub struct Writer {
    settings: ZoneSettings,
    entities: HashMap<EntityKey, Stored>,
    /// Which entities own records at each name.
    owners: HashMap<NameKey, Vec<EntityKey>>,
    zones: BTreeMap<Box<[u8]>, ZoneState>,
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
}

impl Writer {
    pub fn new(settings: ZoneSettings) -> Self {
        let mut writer = Writer {
            settings,
            entities: HashMap::new(),
            owners: HashMap::new(),
            zones: BTreeMap::new(),
        };
        writer.rebuild_zones();
        let config = writer.config_entities();
        writer.apply(Change::Replace {
            source: SourceId::Config,
            entities: config,
        });
        writer
    }

    /// Records implied by flags: the apex NS, its glue, the wildcard target.
    fn config_entities(&self) -> Vec<Entity> {
        let ttl = self.settings.ttl;
        self.settings
            .zones
            .iter()
            .map(|zone| {
                let mut records = Vec::new();
                if let Ok(ns) = Name::from_ascii("ns").and_then(|n| n.append_domain(zone)) {
                    records.push(Record::new(zone.clone(), ttl, RData::NS(NS(ns.clone()))));
                    if let Some(ip) = self.settings.ns_address {
                        records.push(Record::address(ns, ttl, ip));
                    }
                }
                if let Some(ip) = self.settings.wildcard_target
                    && let Ok(wild) = Name::from_ascii("*").and_then(|n| n.append_domain(zone))
                {
                    records.push(Record::address(wild, ttl, ip));
                }
                Entity::new(zone.to_ascii(), records)
            })
            .collect()
    }

    /// Applies one change to the writer's state. Nothing is visible to
    /// readers until [`Writer::publish`].
    pub fn apply(&mut self, change: Change) {
        // Listing the declared zones is a pass over every entity; only a
        // change that involves an entity declaring a zone can alter them,
        // so one container among 100,000 does not pay for it.
        let zones_before = self
            .may_change_zones(&change)
            .then(|| self.declared_zones());
        let mut touched: HashSet<NameKey> = HashSet::new();
        match change {
            Change::Replace { source, entities } => {
                let old: Vec<EntityKey> = self
                    .entities
                    .keys()
                    .filter(|(s, _)| *s == source)
                    .cloned()
                    .collect();
                for key in old {
                    self.take(&key, &mut touched);
                }
                for entity in entities {
                    self.put(source, entity, &mut touched);
                }
            }
            Change::Upsert { source, entity } => {
                self.take(&(source, entity.id.clone()), &mut touched);
                self.put(source, entity, &mut touched);
            }
            Change::Remove { source, id } => {
                self.take(&(source, id), &mut touched);
            }
        }
        if zones_before.is_some_and(|before| self.declared_zones() != before) {
            self.rebuild_zones();
        } else {
            for key in touched {
                self.refresh(&key);
            }
        }
    }

    /// Whether `change` adds, replaces or removes an entity that is a zone
    /// of its own.
    fn may_change_zones(&self, change: &Change) -> bool {
        let stored_declares = |source: SourceId, id: &str| {
            self.entities
                .get(&(source, id.to_owned()))
                .is_some_and(|stored| stored.declares_zone.is_some())
        };
        match change {
            Change::Replace { source, entities } => {
                entities.iter().any(|e| e.declares_zone.is_some())
                    || self
                        .entities
                        .iter()
                        .any(|((s, _), stored)| s == source && stored.declares_zone.is_some())
            }
            Change::Upsert { source, entity } => {
                entity.declares_zone.is_some() || stored_declares(*source, &entity.id)
            }
            Change::Remove { source, id } => stored_declares(*source, id),
        }
    }

    fn declared_zones(&self) -> Vec<NameKey> {
        let mut zones: Vec<NameKey> = self
            .entities
            .values()
            .filter_map(|e| e.zone_key.clone())
            .collect();
        zones.sort();
        zones.dedup();
        zones
    }

    fn take(&mut self, key: &EntityKey, touched: &mut HashSet<NameKey>) {
        let Some(stored) = self.entities.remove(key) else {
            return;
        };
        for owner in stored.by_name.into_keys() {
            if let Some(list) = self.owners.get_mut(&owner) {
                list.retain(|k| k != key);
                if list.is_empty() {
                    self.owners.remove(&owner);
                }
            }
            touched.insert(owner);
        }
    }

    fn put(&mut self, source: SourceId, entity: Entity, touched: &mut HashSet<NameKey>) {
        let key = (source, entity.id);
        let mut by_name: HashMap<NameKey, Vec<Record>> = HashMap::new();
        for record in entity.records {
            by_name
                .entry(name::key(&record.name))
                .or_default()
                .push(record);
        }
        for owner in by_name.keys() {
            self.owners
                .entry(owner.clone())
                .or_default()
                .push(key.clone());
            touched.insert(owner.clone());
        }
        self.entities.insert(
            key,
            Stored {
                zone_key: entity.declares_zone.as_ref().map(name::key),
                declares_zone: entity.declares_zone,
                by_name,
            },
        );
    }

    /// Recreates every zone and places every name again: needed only when
    /// the set of zones changes (a zone file with a new origin).
    fn rebuild_zones(&mut self) {
        let now = unix_now();
        let mut old = std::mem::take(&mut self.zones);
        let mut add = |apex: Name, kind: ZoneKind, zones: &mut BTreeMap<Box<[u8]>, ZoneState>| {
            let key = name::key(&apex);
            // Keep serials moving forward across rebuilds.
            let serial = old.remove(&key).map_or(now, |z| z.serial);
            zones
                .entry(key)
                .or_insert_with(|| ZoneState::new(apex, kind, serial));
        };
        let mut zones = BTreeMap::new();
        for zone in &self.settings.zones {
            add(zone.clone(), ZoneKind::Configured, &mut zones);
        }
        let declared: Vec<Name> = self
            .entities
            .values()
            .filter_map(|e| e.declares_zone.clone())
            .collect();
        for zone in declared {
            add(zone, ZoneKind::Static, &mut zones);
        }
        if let Ok(arpa) = Name::from_ascii("arpa.") {
            add(arpa, ZoneKind::Reverse, &mut zones);
        }
        self.zones = zones;
        let names: Vec<NameKey> = self.owners.keys().cloned().collect();
        for key in names {
            self.refresh(&key);
        }
        let apexes: Vec<NameKey> = self.zones.keys().cloned().collect();
        for apex in apexes {
            self.refresh(&apex);
        }
    }

    /// The apex of the closest zone enclosing `key`.
    fn zone_of(&self, key: &[u8]) -> Option<Box<[u8]>> {
        self.zones
            .keys()
            .filter(|apex| name::is_within(key, apex))
            .max_by_key(|apex| apex.len())
            .cloned()
    }

    /// Rebuilds the node at `key` from every entity that owns records there.
    fn refresh(&mut self, key: &[u8]) {
        let Some(apex) = self.zone_of(key) else {
            if self.owners.contains_key(key) {
                tracing::warn!(name = %name::to_text(key), "records outside every served zone are ignored");
            }
            return;
        };
        let Some(zone) = self.zones.get(&apex) else {
            return;
        };
        let at_apex = key == &*apex;
        let configured = zone.kind == ZoneKind::Configured;
        let synthesized_soa = (configured && at_apex).then(|| self.soa(zone));

        let mut records: Vec<&Record> = Vec::new();
        if let Some(owners) = self.owners.get(key) {
            for owner in owners {
                let Some(stored) = self.entities.get(owner) else {
                    continue;
                };
                // An entity that is a zone of its own places records only there.
                if let Some(declared) = &stored.zone_key
                    && *declared != apex
                {
                    continue;
                }
                for record in stored.by_name.get(key).into_iter().flatten() {
                    let rtype = record.record_type();
                    // berth writes the SOA and NS of the zones it is configured for.
                    if configured
                        && at_apex
                        && owner.0 != SourceId::Config
                        && matches!(rtype, RecordType::SOA | RecordType::NS)
                    {
                        continue;
                    }
                    if rtype == RecordType::SOA && !at_apex {
                        continue;
                    }
                    records.push(record);
                }
            }
        }
        if let Some(soa) = &synthesized_soa {
            records.push(soa);
        }

        let node = match records.first() {
            Some(first) => Node::build(&first.name, &records),
            None => Node::empty_non_terminal(key),
        };
        let key: Arc<[u8]> = key.into();
        let has_ns = node.get(RecordType::NS.into()).is_some();
        let Some(zone) = self.zones.get_mut(&apex) else {
            return;
        };
        zone.dirty = true;
        if !at_apex {
            if has_ns {
                zone.cuts.insert(key.clone());
            } else {
                zone.cuts.remove(&key);
            }
        }
        let was_present = zone.nodes.get(&key).is_some_and(|n| !n.is_empty());
        let is_present = !node.is_empty();
        if at_apex {
            zone.nodes.insert(key, Arc::new(node));
            return;
        }
        match (was_present, is_present) {
            (false, true) => {
                Self::count_subtree(zone, &key, 1);
                zone.nodes.insert(key, Arc::new(node));
            }
            (true, true) => {
                zone.nodes.insert(key, Arc::new(node));
            }
            (true, false) => {
                Self::count_subtree(zone, &key, -1);
                if zone.subtree.contains_key(&key) {
                    zone.nodes.insert(key, Arc::new(node));
                }
            }
            (false, false) => {}
        }
    }

    /// Adjusts the subtree counts of `key` and its ancestors below the apex,
    /// creating empty non-terminals as names appear and removing them when
    /// nothing is left beneath.
    fn count_subtree(zone: &mut ZoneState, key: &Arc<[u8]>, delta: i32) {
        let apex_len = zone.apex_key.len();
        let chain = std::iter::once(&key[..]).chain(ancestors(key, apex_len));
        for name in chain {
            let name: Arc<[u8]> = name.into();
            let count = zone.subtree.entry(name.clone()).or_insert(0);
            *count = count.saturating_add_signed(delta);
            if *count == 0 {
                zone.subtree.remove(&name);
                zone.nodes.remove(&name);
            } else if !zone.nodes.contains_key(&name) {
                zone.nodes
                    .insert(name.clone(), Arc::new(Node::empty_non_terminal(&name)));
            }
        }
    }

    fn soa(&self, zone: &ZoneState) -> Record {
        let child = |label: &str| {
            Name::from_ascii(label)
                .and_then(|n| n.append_domain(&zone.apex))
                .unwrap_or_else(|_| zone.apex.clone())
        };
        let ttl = self.settings.ttl;
        let soa = SOA::new(
            child("ns"),
            child("hostmaster"),
            zone.serial,
            SOA_REFRESH,
            SOA_RETRY,
            SOA_EXPIRE,
            ttl,
        );
        Record::new(zone.apex.clone(), ttl, RData::SOA(soa))
    }

    /// Publishes the current state: zones that changed get a new serial and
    /// a new snapshot entry; the others are shared with the previous one.
    pub fn publish(&mut self) -> Arc<Snapshot> {
        let now = unix_now();
        let dirty: Vec<Box<[u8]>> = self
            .zones
            .iter()
            .filter(|(_, z)| z.dirty || z.published.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for apex in dirty {
            if let Some(zone) = self.zones.get_mut(&apex)
                && zone.kind == ZoneKind::Configured
                && zone.published.is_some()
            {
                zone.serial = zone.serial.wrapping_add(1).max(now);
            }
            if self
                .zones
                .get(&apex)
                .is_some_and(|z| z.kind == ZoneKind::Configured)
            {
                self.refresh(&apex);
            }
            let Some(zone) = self.zones.get_mut(&apex) else {
                continue;
            };
            let soa = zone
                .nodes
                .get(&zone.apex_key[..])
                .and_then(|apex| apex.get(RecordType::SOA.into()).cloned());
            let negative_soa = soa.map(|soa| {
                let ttl = soa.soa_minimum.map_or(soa.ttl, |min| soa.ttl.min(min));
                soa.with_ttl(ttl)
            });
            zone.published = Some(Arc::new(Zone {
                apex: zone.apex_key.clone(),
                kind: zone.kind,
                serial: zone.serial,
                nodes: zone.nodes.clone(),
                negative_soa,
                has_cuts: !zone.cuts.is_empty(),
            }));
            zone.dirty = false;
        }
        let mut zones: Vec<Arc<Zone>> = self
            .zones
            .values()
            .filter_map(|z| z.published.clone())
            .collect();
        zones.sort_by_key(|z| std::cmp::Reverse(z.apex.len()));
        Arc::new(Snapshot { zones })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn settings() -> ZoneSettings {
        ZoneSettings {
            zones: vec![name("apps.local.")],
            ttl: 5,
            ns_address: Some("127.0.0.1".parse().unwrap()),
            wildcard_target: None,
        }
    }

    fn container(id: &str, host: &str, ip: &str) -> Change {
        Change::Upsert {
            source: SourceId::Docker,
            entity: Entity::new(
                id,
                vec![Record::address(name(host), 5, ip.parse().unwrap())],
            ),
        }
    }

    fn key(text: &str) -> NameKey {
        name::key(&name(text))
    }

    #[test]
    fn empty_non_terminals_come_and_go() {
        let mut writer = Writer::new(settings());
        writer.apply(container("c1", "a.b.c.apps.local.", "192.0.2.1"));
        let snap = writer.publish();
        let zone = snap.zone(&key("apps.local.")).unwrap();
        assert!(zone.node(&key("c.apps.local.")).unwrap().is_empty());
        assert!(zone.node(&key("b.c.apps.local.")).unwrap().is_empty());
        assert!(!zone.node(&key("a.b.c.apps.local.")).unwrap().is_empty());

        writer.apply(Change::Remove {
            source: SourceId::Docker,
            id: "c1".into(),
        });
        let snap = writer.publish();
        let zone = snap.zone(&key("apps.local.")).unwrap();
        assert!(zone.node(&key("c.apps.local.")).is_none());
        assert!(zone.node(&key("a.b.c.apps.local.")).is_none());
    }

    #[test]
    fn two_entities_share_one_rrset() {
        let mut writer = Writer::new(settings());
        writer.apply(container("c1", "web.apps.local.", "192.0.2.1"));
        writer.apply(container("c2", "web.apps.local.", "192.0.2.2"));
        let snap = writer.publish();
        let zone = snap.zone(&key("apps.local.")).unwrap();
        let node = zone.node(&key("web.apps.local.")).unwrap();
        assert_eq!(node.get(crate::iana::Rtype::A).unwrap().count, 2);
    }

    #[test]
    fn every_publish_of_a_change_bumps_the_serial() {
        let mut writer = Writer::new(settings());
        let first = writer.publish().zone(&key("apps.local.")).unwrap().serial;
        writer.apply(container("c1", "web.apps.local.", "192.0.2.1"));
        let second = writer.publish().zone(&key("apps.local.")).unwrap().serial;
        assert!(second > first);
        let unchanged = writer.publish().zone(&key("apps.local.")).unwrap().serial;
        assert_eq!(unchanged, second);
    }

    #[test]
    fn names_outside_zones_are_not_served() {
        let mut writer = Writer::new(settings());
        writer.apply(container("c1", "evil.example.com.", "192.0.2.1"));
        let snap = writer.publish();
        assert!(snap.zone_for(&key("evil.example.com.")).is_none());
    }

    #[test]
    fn a_declared_zone_comes_and_goes_with_its_entity() {
        let mut writer = Writer::new(settings());
        writer.apply(container("c1", "web.apps.local.", "192.0.2.1"));
        let mut file = Entity::new(
            "example.test.zone",
            vec![Record::address(
                name("www.example.test."),
                5,
                "192.0.2.9".parse().unwrap(),
            )],
        );
        file.declares_zone = Some(name("example.test."));
        writer.apply(Change::Upsert {
            source: SourceId::ZoneFiles,
            entity: file,
        });
        let snap = writer.publish();
        assert!(snap.zone(&key("example.test.")).is_some());
        assert!(snap.zone_for(&key("www.example.test.")).is_some());

        writer.apply(Change::Remove {
            source: SourceId::ZoneFiles,
            id: "example.test.zone".into(),
        });
        let snap = writer.publish();
        assert!(snap.zone(&key("example.test.")).is_none());
        assert!(snap.zone(&key("apps.local.")).is_some());
    }

    #[test]
    fn replace_removes_what_is_gone() {
        let mut writer = Writer::new(settings());
        writer.apply(container("c1", "one.apps.local.", "192.0.2.1"));
        writer.apply(Change::Replace {
            source: SourceId::Docker,
            entities: vec![Entity::new(
                "c2",
                vec![Record::address(
                    name("two.apps.local."),
                    5,
                    "192.0.2.2".parse().unwrap(),
                )],
            )],
        });
        let snap = writer.publish();
        let zone = snap.zone(&key("apps.local.")).unwrap();
        assert!(zone.node(&key("one.apps.local.")).is_none());
        assert!(zone.node(&key("two.apps.local.")).is_some());
    }
}
