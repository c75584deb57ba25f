//! The sources' book: what each source contributed, entity by entity, and
//! which entities own records at each name.
//!
//! The book knows nothing of zones, nodes or wire format. Applying a
//! [`Change`] to it says which names it touched; the writer then asks it for
//! every entity's records at each of those names and places them in the zone
//! tree ([`super::tree`]).

use std::collections::{HashMap, HashSet};

use hickory_proto::rr::Name;

use super::name::{self, NameKey};
use super::record::{Change, Entity, Record, SourceId};

/// An entity is known by its source and its ID within that source.
type EntityKey = (SourceId, String);

/// An entity as stored: its records grouped by owner, so that refreshing one
/// name never scans a large zone file's worth of records.
struct Stored {
    declares_zone: Option<Name>,
    title: Option<String>,
    /// The lookup key of `declares_zone`, kept so that placing each of a
    /// large zone file's names does not encode it again.
    zone_key: Option<NameKey>,
    by_name: HashMap<NameKey, Vec<Record>>,
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
    pub records: &'a [Record],
}

#[derive(Default)]
pub(super) struct Book {
    entities: HashMap<EntityKey, Stored>,
    /// Which entities own records at each name.
    owners: HashMap<NameKey, Vec<EntityKey>>,
    /// The SRV owners (`_svc._proto.<name>`) below each name, so that a
    /// change at a name can refresh the services whose fate follows it.
    services: HashMap<NameKey, HashSet<NameKey>>,
}

/// `<name>` of an SRV owner `_svc._proto.<name>` (RFC 2782), if `key` is one.
pub(super) fn service_parent(key: &[u8]) -> Option<&[u8]> {
    let labels = name::Labels::of(key);
    let underscored = |i: usize| key.get(labels.offset(i, key) + 1) == Some(&b'_');
    (labels.count() > 2 && underscored(0) && underscored(1)).then(|| &key[labels.offset(2, key)..])
}

impl Book {
    /// Applies `change`, adding every name whose records it added or
    /// removed to `touched`.
    pub(super) fn apply(&mut self, change: Change, touched: &mut HashSet<NameKey>) {
        match change {
            Change::Replace { source, entities } => {
                let old: Vec<EntityKey> = self
                    .entities
                    .keys()
                    .filter(|(s, _)| *s == source)
                    .cloned()
                    .collect();
                for key in old {
                    self.take(&key, touched);
                }
                for entity in entities {
                    self.put(source, entity, touched);
                }
            }
            Change::Upsert { source, entity } => {
                self.take(&(source, entity.id.clone()), touched);
                self.put(source, entity, touched);
            }
            Change::Remove { source, id } => {
                self.take(&(source, id), touched);
            }
        }
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
                    self.forget_service(&owner);
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
            if let Some(parent) = service_parent(owner) {
                self.services
                    .entry(parent.into())
                    .or_default()
                    .insert(owner.clone());
            }
            touched.insert(owner.clone());
        }
        self.entities.insert(
            key,
            Stored {
                zone_key: entity.declares_zone.as_ref().map(name::key),
                declares_zone: entity.declares_zone,
                title: entity.title,
                by_name,
            },
        );
    }

    /// Whether `change` adds, replaces or removes an entity that is a zone
    /// of its own. Listing the declared zones is a pass over every entity;
    /// asking this first spares the usual change (one container among
    /// 100,000) that pass.
    pub(super) fn may_change_zones(&self, change: &Change) -> bool {
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

    /// The lookup keys of the zones entities declare, sorted, each once.
    pub(super) fn declared_zones(&self) -> Vec<NameKey> {
        let mut zones: Vec<NameKey> = self
            .entities
            .values()
            .filter_map(|e| e.zone_key.clone())
            .collect();
        zones.sort();
        zones.dedup();
        zones
    }

    /// The zones entities declare, as written (a zone two files declare
    /// appears twice).
    pub(super) fn declared_zone_names(&self) -> Vec<Name> {
        self.entities
            .values()
            .filter_map(|e| e.declares_zone.clone())
            .collect()
    }

    fn forget_service(&mut self, owner: &[u8]) {
        let Some(parent) = service_parent(owner) else {
            return;
        };
        if let Some(below) = self.services.get_mut(parent) {
            below.remove(owner);
            if below.is_empty() {
                self.services.remove(parent);
            }
        }
    }

    /// The SRV owners some entity has records at directly below `key`.
    pub(super) fn services_below(&self, key: &[u8]) -> impl Iterator<Item = &NameKey> {
        self.services.get(key).into_iter().flatten()
    }

    /// Every name some entity owns records at.
    pub(super) fn names(&self) -> Vec<NameKey> {
        self.owners.keys().cloned().collect()
    }

    pub(super) fn has_records_at(&self, key: &[u8]) -> bool {
        self.owners.contains_key(key)
    }

    /// Each entity's records at `key`.
    pub(super) fn at<'a>(&'a self, key: &'a [u8]) -> impl Iterator<Item = Contribution<'a>> {
        self.owners
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(move |owner| {
                let stored = self.entities.get(owner)?;
                Some(Contribution {
                    source: owner.0,
                    id: &owner.1,
                    title: stored.title.as_deref(),
                    zone: stored.zone_key.as_deref(),
                    records: stored.by_name.get(key).map_or(&[][..], |r| &r[..]),
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
        let mut touched = HashSet::new();
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
    fn contributions_say_who_and_which_zone() {
        let mut book = Book::default();
        let mut file = entity("f.zone", &["www.f.test."]);
        file.declares_zone = Some(name("f.test."));
        for (source, entity) in [
            (SourceId::ZoneFiles, file),
            (SourceId::Docker, entity("c1", &["www.f.test."])),
        ] {
            book.apply(Change::Upsert { source, entity }, &mut HashSet::new());
        }
        let www = name::key(&name("www.f.test."));
        let mut seen: Vec<(SourceId, Option<&[u8]>, usize)> = book
            .at(&www)
            .map(|c| (c.source, c.zone, c.records.len()))
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
