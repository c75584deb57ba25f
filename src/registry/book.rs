//! The sources' book: what each source contributed, entity by entity, and
//! which entities own records at each name.
//!
//! The book knows nothing of zones or the rules that join sources. Applying
//! a [`Change`] to it says which names it touched; the writer then asks it
//! for every entity's contribution at each of those names and places the
//! result in the zone tree ([`super::tree`]).
//!
//! An entity's records are grouped by owner and encoded once, as it is
//! added: one [`Node`] per name, which the published zone shares wherever
//! the entity is the name's only source. A large zone file is then held
//! once, not as records, nodes and copies of each.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use hickory_proto::rr::Name;

use super::name::{self, NameKey};
use super::record::{Change, Entity, Record, SourceId};
use super::snapshot::Node;
use super::{FastMap, FastSet};

/// Entities with up to this many names (containers, as a rule) are found
/// through the book's index of names, an entry per name; larger ones (zone
/// files) each keep an index of their own, four bytes a name, and are asked
/// one by one. There are many small entities and few large ones.
const INDEXED_NAMES: usize = 64;

/// How many `SourceId`s there are: see [`source_index`].
const SOURCES: usize = 4;

/// Where a source's IDs are kept in [`Book::ids`]. A new source fails to
/// compile here rather than index past the array.
fn source_index(source: SourceId) -> usize {
    match source {
        SourceId::Config => 0,
        SourceId::ZoneFiles => 1,
        SourceId::Docker => 2,
        SourceId::Etcd => 3,
    }
}

/// Where an entity is kept in the book.
type Slot = u32;

type Hasher = foldhash::fast::RandomState;

/// An entity as stored.
struct Stored {
    source: SourceId,
    /// Shared with the book's index of IDs.
    id: Arc<str>,
    /// Boxed: most entities (containers) declare none, and the book holds
    /// one `Stored` per container.
    zone: Option<Box<DeclaredZone>>,
    title: Option<Box<str>>,
    /// What it gives each name.
    nodes: Box<[Arc<Node>]>,
    /// For an entity too large for the book's index of names: its own,
    /// positions in `nodes` by the hash of the name's lookup key. Four
    /// bytes a name: the keys are the nodes' owners.
    positions: HashTable<u32>,
}

impl Stored {
    fn node_at(&self, key: &[u8], hasher: &Hasher) -> Option<&Arc<Node>> {
        if self.is_indexed() {
            // A handful of names: compared one by one.
            return self.nodes.iter().find(|node| is_owner(&node.owner, key));
        }
        let at = self.positions.find(hasher.hash_one(key), |&at| {
            self.nodes
                .get(at as usize)
                .is_some_and(|node| is_owner(&node.owner, key))
        })?;
        self.nodes.get(*at as usize)
    }

    fn is_indexed(&self) -> bool {
        self.nodes.len() <= INDEXED_NAMES
    }

    /// Whether `entity` would be told apart from this one only by its
    /// records: the same title and declared zone.
    fn describes_as(&self, entity: &Entity) -> bool {
        self.title.as_deref() == entity.title.as_deref()
            && self.zone.as_ref().map(|zone| &zone.name) == entity.declares_zone.as_ref()
    }
}

/// A zone an entity declares: as written, and its lookup key, kept so that
/// placing each of a large zone file's names does not encode it again.
struct DeclaredZone {
    name: Name,
    key: NameKey,
}

/// Whether a wire owner, in any case, is the name of a lookup key. Length
/// octets are below 64, so ignoring ASCII case changes nothing for them.
fn is_owner(owner: &[u8], key: &[u8]) -> bool {
    owner.eq_ignore_ascii_case(key)
}

/// The entities that own records at one name: almost always one.
enum Owners {
    One(Slot),
    Many(Vec<Slot>),
}

impl Owners {
    fn slots(&self) -> &[Slot] {
        match self {
            Owners::One(slot) => std::slice::from_ref(slot),
            Owners::Many(slots) => slots,
        }
    }

    fn add(&mut self, slot: Slot) {
        match self {
            Owners::One(first) => *self = Owners::Many(vec![*first, slot]),
            Owners::Many(slots) => slots.push(slot),
        }
    }

    /// Removes `slot`; false when none is left.
    fn remove(&mut self, slot: Slot) -> bool {
        match self {
            Owners::One(only) => *only != slot,
            Owners::Many(slots) => {
                slots.retain(|s| *s != slot);
                match slots[..] {
                    [] => false,
                    [last] => {
                        *self = Owners::One(last);
                        true
                    }
                    _ => true,
                }
            }
        }
    }
}

/// One entity's records at one name, as [`Book::at`] hands them out.
pub(super) struct Contribution<'a> {
    pub source: SourceId,
    /// The entity's ID within its source, and its title if it has one.
    pub id: &'a str,
    pub title: Option<&'a str>,
    /// Set when the entity is a zone of its own: its records belong only
    /// in that zone.
    pub zone: Option<&'a [u8]>,
    /// Never empty.
    pub node: &'a Arc<Node>,
}

#[derive(Default)]
pub(super) struct Book {
    slots: Vec<Option<Stored>>,
    free: Vec<Slot>,
    /// Each source's entities by ID.
    ids: [HashMap<Arc<str>, Slot>; SOURCES],
    /// Which indexed entities own records at each name.
    owners: FastMap<Arc<[u8]>, Owners>,
    /// Entities too large for the index of names.
    large: Vec<Slot>,
    /// Hashes the keys of large entities' own indexes.
    hasher: Hasher,
    /// The SRV owners (`_svc._proto.<name>`) that claims give records to
    /// below each name, so that a change at a name can refresh the services
    /// whose fate follows it. Only claims: an owner's services are its own.
    services: FastMap<NameKey, Vec<NameKey>>,
}

/// `<name>` of an SRV owner `_svc._proto.<name>` (RFC 2782), if `key` is one.
pub(super) fn service_parent(key: &[u8]) -> Option<&[u8]> {
    let labels = name::Labels::of(key);
    let underscored = |i: usize| key.get(labels.offset(i, key) + 1) == Some(&b'_');
    (labels.count() > 2 && underscored(0) && underscored(1)).then(|| &key[labels.offset(2, key)..])
}

/// An entity's records grouped by owner and encoded: the nodes, and their
/// lookup keys.
fn encode(records: Vec<Record>) -> (Vec<Arc<Node>>, Vec<NameKey>) {
    // Sorted by key with the records left in place: a Record is large to
    // move, and a zone file brings a million of them.
    let mut order: Vec<(NameKey, usize)> = records
        .iter()
        .enumerate()
        .map(|(at, record)| (name::key(&record.name), at))
        .collect();
    // Stable: the records of one owner stay in the order written.
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut nodes = Vec::new();
    let mut keys: Vec<NameKey> = Vec::new();
    let mut group: Vec<&Record> = Vec::new();
    let mut order = order.into_iter().peekable();
    while let Some((key, first)) = order.next() {
        group.clear();
        group.extend(records.get(first));
        while let Some((_, at)) = order.next_if(|(next, _)| *next == key) {
            group.extend(records.get(at));
        }
        let Some(owner) = group.first().map(|record| name::wire(&record.name)) else {
            continue;
        };
        let node = Node::build_at(owner.into(), &group);
        if !node.is_empty() {
            nodes.push(Arc::new(node));
            keys.push(key);
        }
    }
    (nodes, keys)
}

impl Book {
    /// Applies `change`, adding every name whose records it added or
    /// removed to `touched`.
    pub(super) fn apply(&mut self, change: Change, touched: &mut FastSet<NameKey>) {
        match change {
            Change::Replace { source, entities } => {
                let old: Vec<Slot> = self.ids_of(source).values().copied().collect();
                for slot in old {
                    self.take(slot, touched);
                }
                for entity in entities {
                    self.put(source, entity, touched, None);
                }
            }
            Change::Upsert { source, entity } => {
                let slot = self.ids_of(source).get(entity.id.as_str()).copied();
                let mut gone = FastSet::default();
                let before = slot.and_then(|slot| self.take(slot, &mut gone));
                // A new version of the same entity (a zone file edited, a
                // container joining a network) touches only the names whose
                // records changed: a one-line edit in a million-line file is
                // one name to place again, not a million. A new title or
                // zone changes how every name is described: all are placed.
                let comparable = before
                    .as_ref()
                    .filter(|before| before.describes_as(&entity));
                self.put(source, entity, touched, comparable.map(|b| (b, &mut gone)));
                touched.extend(gone);
            }
            Change::Remove { source, id } => {
                if let Some(&slot) = self.ids_of(source).get(id.as_str()) {
                    self.take(slot, touched);
                }
            }
        }
    }

    /// Removes the entity in `slot`, adding its names to `touched`, and
    /// returns it.
    fn take(&mut self, slot: Slot, touched: &mut FastSet<NameKey>) -> Option<Stored> {
        let stored = self.slots.get_mut(slot as usize).and_then(Option::take)?;
        let indexed = stored.is_indexed();
        self.free.push(slot);
        if !indexed {
            self.large.retain(|s| *s != slot);
        }
        for node in stored.nodes.iter() {
            let key = node.key();
            if indexed
                && let Some(owners) = self.owners.get_mut(&key[..])
                && !owners.remove(slot)
            {
                self.owners.remove(&key[..]);
            }
            if stored.source.only_claims() {
                self.forget_service(&key);
            }
            touched.insert(key);
        }
        self.ids_of_mut(stored.source).remove(&stored.id);
        Some(stored)
    }

    /// Adds `entity`, adding its names to `touched`. With the version it
    /// replaces and the names that version had (`gone`), a name whose
    /// records are the same in both keeps its node and is not touched, and
    /// leaves `gone`.
    fn put(
        &mut self,
        source: SourceId,
        entity: Entity,
        touched: &mut FastSet<NameKey>,
        mut before: Option<(&Stored, &mut FastSet<NameKey>)>,
    ) {
        let (mut nodes, keys) = encode(entity.records);
        let mut unchanged = vec![false; nodes.len()];
        if let Some((before, gone)) = &mut before {
            for ((node, key), same) in nodes.iter_mut().zip(&keys).zip(&mut unchanged) {
                if let Some(old) = before.node_at(key, &self.hasher)
                    && **old == **node
                {
                    // The zone shares the old node: keep that one.
                    *node = old.clone();
                    *same = true;
                }
                gone.remove(key);
            }
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as Slot
            }
        };
        let mut positions = HashTable::new();
        if nodes.len() > INDEXED_NAMES {
            positions.reserve(keys.len(), |&at: &u32| {
                self.hasher.hash_one(&keys[at as usize])
            });
            for (at, key) in keys.iter().enumerate() {
                let hash = self.hasher.hash_one(key);
                positions.insert_unique(hash, at as u32, |&at| {
                    self.hasher.hash_one(&keys[at as usize])
                });
            }
        }
        let stored = Stored {
            source,
            id: entity.id.into(),
            zone: entity.declares_zone.map(|name| {
                Box::new(DeclaredZone {
                    key: name::key(&name),
                    name,
                })
            }),
            title: entity.title.map(String::into_boxed_str),
            nodes: nodes.into_boxed_slice(),
            positions,
        };
        let indexed = stored.is_indexed();
        if !indexed {
            self.large.push(slot);
        }
        for (at, (key, node)) in keys.into_iter().zip(stored.nodes.iter()).enumerate() {
            if indexed {
                match self.owners.get_mut(&key[..]) {
                    Some(owners) => owners.add(slot),
                    None => {
                        // The node's owner is the key where it is lower case.
                        let shared = match *node.owner == *key {
                            true => node.owner.clone(),
                            false => key[..].into(),
                        };
                        self.owners.insert(shared, Owners::One(slot));
                    }
                }
            }
            if source.only_claims()
                && let Some(parent) = service_parent(&key)
            {
                let below = self.services.entry(parent.into()).or_default();
                if !below.contains(&key) {
                    below.push(key.clone());
                }
            }
            if !unchanged[at] {
                touched.insert(key);
            }
        }
        self.ids_of_mut(source).insert(stored.id.clone(), slot);
        if let Some(place) = self.slots.get_mut(slot as usize) {
            *place = Some(stored);
        }
    }

    fn ids_of(&self, source: SourceId) -> &HashMap<Arc<str>, Slot> {
        &self.ids[source_index(source)]
    }

    fn ids_of_mut(&mut self, source: SourceId) -> &mut HashMap<Arc<str>, Slot> {
        &mut self.ids[source_index(source)]
    }

    fn stored(&self) -> impl Iterator<Item = &Stored> {
        self.slots.iter().flatten()
    }

    fn stored_as(&self, source: SourceId, id: &str) -> Option<&Stored> {
        let slot = *self.ids_of(source).get(id)?;
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Whether `change` adds, replaces or removes an entity that is a zone
    /// of its own. Listing the declared zones is a pass over every entity;
    /// asking this first spares the usual change (one container among
    /// 100,000) that pass.
    pub(super) fn may_change_zones(&self, change: &Change) -> bool {
        let stored_declares = |source: SourceId, id: &str| {
            self.stored_as(source, id)
                .is_some_and(|stored| stored.zone.is_some())
        };
        match change {
            Change::Replace { source, entities } => {
                entities.iter().any(|e| e.declares_zone.is_some())
                    || self
                        .stored()
                        .any(|stored| stored.source == *source && stored.zone.is_some())
            }
            Change::Upsert { source, entity } => {
                entity.declares_zone.is_some() || stored_declares(*source, &entity.id)
            }
            Change::Remove { source, id } => stored_declares(*source, id),
        }
    }

    /// The lookup keys of the zones entities declare, sorted, each once.
    pub(super) fn declared_zones(&self) -> Vec<NameKey> {
        let mut zones: Vec<NameKey> = self
            .stored()
            .filter_map(|e| Some(e.zone.as_ref()?.key.clone()))
            .collect();
        zones.sort();
        zones.dedup();
        zones
    }

    /// The zones entities declare, as written (a zone two files declare
    /// appears twice).
    pub(super) fn declared_zone_names(&self) -> Vec<Name> {
        self.stored()
            .filter_map(|e| Some(e.zone.as_ref()?.name.clone()))
            .collect()
    }

    fn forget_service(&mut self, owner: &[u8]) {
        let Some(parent) = service_parent(owner) else {
            return;
        };
        if let Some(below) = self.services.get_mut(parent) {
            below.retain(|service| **service != *owner);
            if below.is_empty() {
                self.services.remove(parent);
            }
        }
    }

    /// The SRV owners some claim has records at directly below `key`.
    pub(super) fn services_below(&self, key: &[u8]) -> impl Iterator<Item = &NameKey> {
        self.services.get(key).into_iter().flatten()
    }

    /// Every name some entity owns records at: a name two large entities
    /// share is listed twice.
    pub(super) fn names(&self) -> Vec<NameKey> {
        let mut names: Vec<NameKey> = self.owners.keys().map(|key| key[..].into()).collect();
        for slot in &self.large {
            if let Some(Some(stored)) = self.slots.get(*slot as usize) {
                names.extend(stored.nodes.iter().map(|node| node.key()));
            }
        }
        names
    }

    pub(super) fn has_records_at(&self, key: &[u8]) -> bool {
        self.at(key).next().is_some()
    }

    /// Each entity's records at `key`.
    pub(super) fn at<'a>(&'a self, key: &'a [u8]) -> impl Iterator<Item = Contribution<'a>> {
        let indexed = self.owners.get(key).map_or(&[][..], Owners::slots);
        indexed
            .iter()
            .chain(self.large.iter())
            .filter_map(move |slot| {
                let stored = self.slots.get(*slot as usize)?.as_ref()?;
                Some(Contribution {
                    source: stored.source,
                    id: &stored.id,
                    title: stored.title.as_deref(),
                    zone: stored.zone.as_ref().map(|zone| &zone.key[..]),
                    node: stored.node_at(key, &self.hasher)?,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn entity(id: &str, hosts: &[&str]) -> Entity {
        let ip = "192.0.2.1".parse().unwrap();
        let records = hosts
            .iter()
            .map(|host| Record::address(name(host), 5, ip))
            .collect();
        Entity::new(id, records)
    }

    fn touched_by(book: &mut Book, change: Change) -> Vec<NameKey> {
        let mut touched = FastSet::default();
        book.apply(change, &mut touched);
        let mut touched: Vec<NameKey> = touched.into_iter().collect();
        touched.sort();
        touched
    }

    #[test]
    fn a_change_touches_the_names_it_adds_and_removes() {
        let mut book = Book::default();
        let upsert = |id: &str, hosts: &[&str]| Change::Upsert {
            source: SourceId::Docker,
            entity: entity(id, hosts),
        };
        let a = name::key(&name("a.z."));
        let b = name::key(&name("b.z."));
        assert_eq!(
            touched_by(&mut book, upsert("c1", &["a.z."])),
            std::slice::from_ref(&a)
        );
        // Moving c1 from a to b touches both.
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!(touched_by(&mut book, upsert("c1", &["b.z."])), both);
        assert!(!book.has_records_at(&a));
        let replace = Change::Replace {
            source: SourceId::Docker,
            entities: Vec::new(),
        };
        assert_eq!(touched_by(&mut book, replace), [b]);
        assert!(book.names().is_empty());
    }

    #[test]
    fn a_new_version_touches_only_the_names_that_changed() {
        let hosts: Vec<String> = (0..100).map(|i| format!("h{i}.z.")).collect();
        let file = |changed: &str| {
            let mut records: Vec<Record> = hosts
                .iter()
                .map(|host| Record::address(name(host), 5, "192.0.2.1".parse().unwrap()))
                .collect();
            records.push(Record::address(name("x.z."), 5, changed.parse().unwrap()));
            Change::Upsert {
                source: SourceId::ZoneFiles,
                entity: Entity::new("z.zone", records),
            }
        };
        let mut book = Book::default();
        assert_eq!(touched_by(&mut book, file("192.0.2.7")).len(), 101);
        let x = name::key(&name("x.z."));
        assert_eq!(touched_by(&mut book, file("192.0.2.8")), [x]);
        assert!(touched_by(&mut book, file("192.0.2.8")).is_empty());
        // A name that goes is touched too.
        let fewer = Change::Upsert {
            source: SourceId::ZoneFiles,
            entity: entity("z.zone", &["h0.z."]),
        };
        assert_eq!(touched_by(&mut book, fewer).len(), 100);
    }

    #[test]
    fn contributions_say_who_and_which_zone() {
        let mut book = Book::default();
        let mut file = entity("f.zone", &["www.f.test."]);
        file.declares_zone = Some(name("f.test."));
        for (source, entity) in [
            (SourceId::ZoneFiles, file),
            (SourceId::Docker, entity("c1", &["www.f.test."])),
        ] {
            book.apply(Change::Upsert { source, entity }, &mut FastSet::default());
        }
        let www = name::key(&name("www.f.test."));
        let mut seen: Vec<(SourceId, Option<&[u8]>, usize)> = book
            .at(&www)
            .map(|c| (c.source, c.zone, c.node.rrsets[0].count as usize))
            .collect();
        seen.sort();
        let apex = name::key(&name("f.test."));
        assert_eq!(
            seen,
            [
                (SourceId::ZoneFiles, Some(&apex[..]), 1),
                (SourceId::Docker, None, 1)
            ]
        );
        assert_eq!(book.declared_zones(), [apex]);
    }
}
