//! The single writer behind the registry: it keeps the sources' book
//! ([`super::book`]) and one zone tree per zone ([`super::tree`]), and holds
//! the rules that join them — which zones exist, which zone a name falls in,
//! which records a source may place there, and when a serial moves.
//!
//! Plain synchronous code: the task in `mod.rs` feeds it changes, tests and
//! `benches/publish.rs` drive it directly.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::NS;
use hickory_proto::rr::{Name, RData};

use super::FastSet;
use super::book::{self, Book, Contribution};
use super::name::{self, NameKey};
use super::record::{Change, Entity, Record, SourceId};
use super::snapshot::{Node, RRset, Shadowed, Snapshot, ZoneKind};
use super::tree::ZoneTree;
use crate::iana::Rtype;

/// What the writer needs to know about the zones berth is configured for.
#[derive(Clone, Debug)]
pub struct ZoneSettings {
    /// The `--zone`s: berth writes their SOA and NS.
    pub zones: Vec<Name>,
    /// TTL of generated records.
    pub ttl: u32,
    /// The SOA's MINIMUM, the negative-caching TTL (RFC 2308 §4), which is
    /// also the SOA record's own TTL so that it is the one that counts.
    pub soa_minimum: u32,
    /// Each `--ns`: the apex NS records, their glue, and the SOA MNAME
    /// (the first).
    pub name_servers: Vec<NameServer>,
    /// Answer otherwise unknown names in each zone with this address.
    pub wildcard_target: Option<IpAddr>,
    /// Versions of each zone kept for IXFR; 0: full transfers only.
    pub ixfr_journal: usize,
}

/// One `--ns NAME=IP`: a name the zone's NS RRset lists, and an address
/// for it when berth serves that name. Several with one name give it
/// several addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameServer {
    /// Relative (`ns1`: placed in every zone) or absolute (`ns1.example.`).
    pub name: Name,
    pub address: Option<IpAddr>,
}

impl NameServer {
    /// berth's usual one: `ns.<zone>`, at `address` when it is known.
    pub fn usual(address: Option<IpAddr>) -> Vec<NameServer> {
        let name = Name::from_ascii("ns").unwrap_or_default();
        vec![NameServer { name, address }]
    }

    /// The name in `zone`: relative names are placed under it.
    pub fn in_zone(&self, zone: &Name) -> Option<Name> {
        if self.name.is_fqdn() {
            Some(self.name.clone())
        } else {
            self.name.clone().append_domain(zone).ok()
        }
    }
}

pub struct Writer {
    settings: ZoneSettings,
    book: Book,
    /// Every zone served, by the lookup key of its apex.
    zones: BTreeMap<Box<[u8]>, ZoneTree>,
    /// The last serial each zone had in a previous run (`--state-dir`):
    /// its first serial now is above it, so a restart never repeats or
    /// lowers one.
    serials_before: HashMap<Box<[u8]>, u32>,
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
}

impl Writer {
    pub fn new(settings: ZoneSettings) -> Self {
        Writer::resuming(settings, HashMap::new())
    }

    /// A writer whose zones start above the serials a previous run last
    /// published, by apex key.
    pub fn resuming(settings: ZoneSettings, serials_before: HashMap<Box<[u8]>, u32>) -> Self {
        let mut writer = Writer {
            settings,
            book: Book::default(),
            zones: BTreeMap::new(),
            serials_before,
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
                let mut records: Vec<Record> = Vec::new();
                for server in &self.settings.name_servers {
                    let Some(ns) = server.in_zone(zone) else {
                        continue;
                    };
                    let listed = records
                        .iter()
                        .any(|r| matches!(&r.data, RData::NS(NS(listed)) if *listed == ns));
                    if !listed {
                        records.push(Record::new(zone.clone(), ttl, RData::NS(NS(ns.clone()))));
                    }
                    if let Some(ip) = server.address {
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

    /// The SOA MNAME of `zone`: the first name server.
    fn primary_name_server(&self, zone: &Name) -> Name {
        let first = self.settings.name_servers.first();
        first
            .and_then(|server| server.in_zone(zone))
            .unwrap_or_else(|| zone.clone())
    }

    /// Applies one change to the writer's state. Nothing is visible to
    /// readers until [`Writer::publish`].
    pub fn apply(&mut self, change: Change) {
        let zones_before = self
            .book
            .may_change_zones(&change)
            .then(|| self.book.declared_zones());
        let mut touched: FastSet<NameKey> = FastSet::default();
        self.book.apply(change, &mut touched);
        // A service's SRV records follow its name's owner (see `refresh`).
        let services: Vec<NameKey> = touched
            .iter()
            .flat_map(|key| self.book.services_below(key))
            .cloned()
            .collect();
        touched.extend(services);
        if zones_before.is_some_and(|before| self.book.declared_zones() != before) {
            self.rebuild_zones();
        } else {
            for key in touched {
                self.refresh(&key);
            }
        }
    }

    /// Recreates every zone and places every name again: needed only when
    /// the set of zones changes (a zone file with a new origin).
    fn rebuild_zones(&mut self) {
        let now = unix_now();
        let mut old = std::mem::take(&mut self.zones);
        let mut add = |apex: Name, kind: ZoneKind, zones: &mut BTreeMap<Box<[u8]>, ZoneTree>| {
            let key = name::key(&apex);
            // Keep serials moving forward across rebuilds, and restarts.
            let first = || {
                self.serials_before
                    .get(&key)
                    .map_or(now, |last| last.wrapping_add(1).max(now))
            };
            let serial = old.remove(&key).map_or_else(first, |z| z.serial);
            zones
                .entry(key)
                .or_insert_with(|| ZoneTree::new(apex, kind, serial));
        };
        let mut zones = BTreeMap::new();
        for zone in &self.settings.zones {
            add(zone.clone(), ZoneKind::Configured, &mut zones);
        }
        for zone in self.book.declared_zone_names() {
            add(zone, ZoneKind::Static, &mut zones);
        }
        if let Ok(arpa) = Name::from_ascii("arpa.") {
            add(arpa, ZoneKind::Reverse, &mut zones);
        }
        self.zones = zones;
        for key in self.book.names() {
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
            if self.book.has_records_at(key) {
                tracing::warn!(name = %name::to_text(key), "records outside every served zone are ignored");
            }
            return;
        };
        let Some(zone) = self.zones.get(&apex) else {
            return;
        };
        let at_apex = key == &*apex;
        let configured = zone.kind == ZoneKind::Configured;
        let synthesized_soa = (configured && at_apex).then(|| {
            let soa = zone.soa(
                self.primary_name_server(&zone.apex),
                self.settings.soa_minimum,
            );
            Node::build(&soa.name, &[&soa])
        });

        // One rule for names two sources claim: a name a zone file (or
        // berth's configuration) gives records to belongs to it, and a
        // container claiming it is not served there. Containers share.
        let claims: Vec<_> = self
            .book
            .at(key)
            .filter(|entity| entity.zone.is_none_or(|declared| *declared == *apex))
            .collect();
        let owner = claims.iter().find(|c| !c.source.only_claims());
        // A container's SRV records `_svc._proto.<name>` go with its claim
        // of `<name>`: where a file owns that name, they are not served.
        let parent = book::service_parent(key);
        let parent_owner = parent.and_then(|parent| {
            self.book
                .at(parent)
                .filter(|e| e.zone.is_none_or(|declared| *declared == *apex))
                .find(|e| !e.source.only_claims())
        });
        let claims_parent = |entity: &Contribution<'_>| {
            parent.is_some_and(|parent| {
                self.book
                    .at(parent)
                    .any(|e| e.source == entity.source && e.id == entity.id)
            })
        };
        let mut shadowed = Vec::new();
        // The contributions served, and their RRsets that stay.
        let mut served: Vec<&Arc<Node>> = Vec::new();
        let mut sets: Vec<&RRset> = Vec::new();
        let mut dropped = false;
        for entity in &claims {
            let owner = owner.or_else(|| parent_owner.as_ref().filter(|_| claims_parent(entity)));
            if let Some(owner) = owner
                && entity.source.only_claims()
            {
                shadowed.push(Shadowed {
                    name: name::to_text(key),
                    claimed_by: describe(entity),
                    owner: describe(owner),
                });
                continue;
            }
            served.push(entity.node);
            for set in entity.node.rrsets.iter() {
                // berth writes the SOA and NS of the zones it is configured for.
                let written_by_berth = configured
                    && at_apex
                    && entity.source != SourceId::Config
                    && matches!(set.rtype, Rtype::SOA | Rtype::NS);
                if written_by_berth || (set.rtype == Rtype::SOA && !at_apex) {
                    dropped = true;
                    continue;
                }
                sets.push(set);
            }
        }
        if let Some(soa) = &synthesized_soa {
            sets.extend(soa.rrsets.iter());
        }
        dropped |= keep_cname_alone(key, at_apex, &mut sets);
        if let Some(zone) = self.zones.get_mut(&apex) {
            for claim in zone.shadow(key, shadowed) {
                tracing::warn!(
                    "{} is {}'s; {} claims it too and is not served there",
                    claim.name,
                    claim.owner,
                    claim.claimed_by
                );
            }
        }

        // The usual name has one source and keeps all it gave: the zone
        // shares that source's node instead of a copy.
        let node = match (&served[..], &synthesized_soa) {
            ([only], None) if !dropped => Arc::clone(only),
            _ if sets.is_empty() => Node::empty_non_terminal(),
            _ => {
                let owner = served
                    .first()
                    .map(|node| &node.owner)
                    .or(synthesized_soa.as_ref().map(|soa| &soa.owner));
                let owner = owner.map_or_else(|| Arc::from(key), Arc::clone);
                Arc::new(Node::merge(owner, sets))
            }
        };
        if let Some(zone) = self.zones.get_mut(&apex) {
            zone.place(key, node);
        }
    }

    /// Publishes the current state: zones that changed get a new serial and
    /// a new snapshot entry; the others are shared with the previous one.
    pub fn publish(&mut self) -> Arc<Snapshot> {
        let now = unix_now();
        let changed: Vec<Box<[u8]>> = self
            .zones
            .iter()
            .filter(|(_, z)| z.needs_publishing())
            .map(|(k, _)| k.clone())
            .collect();
        for apex in changed {
            let Some(zone) = self.zones.get_mut(&apex) else {
                continue;
            };
            if zone.kind == ZoneKind::Configured {
                zone.bump_serial(now);
                // The SOA berth writes carries the serial: place it again.
                self.refresh(&apex);
            }
            if let Some(zone) = self.zones.get_mut(&apex) {
                zone.publish(self.settings.ixfr_journal);
            }
        }
        let mut zones: Vec<_> = self
            .zones
            .values()
            .filter_map(ZoneTree::published)
            .collect();
        zones.sort_by_key(|z| std::cmp::Reverse(z.apex.len()));
        Arc::new(Snapshot { zones })
    }
}

/// A source's entity as the operator knows it.
fn describe(entity: &Contribution<'_>) -> String {
    match (entity.source, entity.title) {
        (SourceId::Docker, Some(title)) => {
            let short = entity.id.get(..12).unwrap_or(entity.id);
            format!("container {title} ({short})")
        }
        (SourceId::Docker, None) => format!("container {}", entity.id),
        (SourceId::Etcd, _) => format!("etcd key {}", entity.id),
        (SourceId::ZoneFiles, _) => format!("zone file {}", entity.id),
        (SourceId::Config, _) => "berth's configuration".to_string(),
    }
}

/// The registry's invariant (RFC 1034 §3.6.2, RFC 2181 §10.1): no RRset
/// beside a CNAME at one owner, whatever the sources. Zone files that try
/// it are rejected when read and containers never make CNAMEs, so this
/// only holds the line: at the apex the zone's own SOA and NS stay and the
/// CNAME goes; elsewhere the CNAME stays alone. Returns whether it dropped
/// any.
fn keep_cname_alone(key: &[u8], at_apex: bool, sets: &mut Vec<&RRset>) -> bool {
    let is_cname = |set: &&RRset| set.rtype == Rtype::CNAME;
    let dnssec = |set: &&RRset| matches!(set.rtype, Rtype::RRSIG | Rtype::NSEC);
    if !sets.iter().any(is_cname) || sets.iter().all(|s| is_cname(s) || dnssec(s)) {
        return false;
    }
    tracing::warn!(name = %name::to_text(key), "a CNAME and other data at one name: keeping {}", if at_apex { "the other data" } else { "the CNAME" });
    if at_apex {
        sets.retain(|s| !is_cname(s));
    } else {
        sets.retain(|s| is_cname(s) || dnssec(s));
    }
    true
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
            soa_minimum: 5,
            name_servers: NameServer::usual(Some("127.0.0.1".parse().unwrap())),
            wildcard_target: None,
            ixfr_journal: 10,
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

    fn zone_file(records: Vec<Record>) -> Change {
        Change::Upsert {
            source: SourceId::ZoneFiles,
            entity: Entity::new("zones/apps.local.zone", records),
        }
    }

    fn rtypes(snap: &Snapshot, owner: &str) -> Vec<crate::iana::Rtype> {
        let zone = snap.zone(&key("apps.local.")).unwrap();
        let node = zone.node(&key(owner));
        node.map(|n| n.rrsets.iter().map(|s| s.rtype).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_zone_files_name_is_the_files_and_the_claim_is_listed() {
        let mut writer = Writer::new(settings());
        let www = Record::new(
            name("www.apps.local."),
            300,
            RData::CNAME(hickory_proto::rr::rdata::CNAME(name("gw.apps.local."))),
        );
        writer.apply(zone_file(vec![www]));
        let mut web = Entity::new(
            "3f2a4b5c6d7e8f90",
            vec![Record::address(
                name("www.apps.local."),
                5,
                "192.0.2.1".parse().unwrap(),
            )],
        );
        web.title = Some("shop-web-1".into());
        writer.apply(Change::Upsert {
            source: SourceId::Docker,
            entity: web,
        });
        let snap = writer.publish();
        assert_eq!(
            rtypes(&snap, "www.apps.local."),
            [crate::iana::Rtype::CNAME]
        );
        let zone = snap.zone(&key("apps.local.")).unwrap();
        let set = zone.node(&key("www.apps.local.")).unwrap();
        assert_eq!(set.rrsets[0].ttl, 300, "the file's TTL");
        assert_eq!(
            &zone.shadowed[..],
            [Shadowed {
                name: "www.apps.local.".into(),
                claimed_by: "container shop-web-1 (3f2a4b5c6d7e)".into(),
                owner: "zone file zones/apps.local.zone".into(),
            }]
        );
        // The file lets go of the name: the container has it.
        writer.apply(zone_file(Vec::new()));
        let snap = writer.publish();
        assert_eq!(rtypes(&snap, "www.apps.local."), [crate::iana::Rtype::A]);
        assert!(snap.zone(&key("apps.local.")).unwrap().shadowed.is_empty());
    }

    #[test]
    fn a_shadowed_names_services_go_with_it() {
        let mut writer = Writer::new(settings());
        let srv = |owner: &str| Record::srv(name(owner), 5, 80, name("web.apps.local."));
        let ip = "192.0.2.1".parse().unwrap();
        let web = Entity::new(
            "3f2a4b5c6d7e8f90",
            vec![
                Record::address(name("web.apps.local."), 5, ip),
                srv("_http._tcp.web.apps.local."),
                Record::address(name("www.apps.local."), 5, ip),
                srv("_http._tcp.www.apps.local."),
            ],
        );
        writer.apply(Change::Upsert {
            source: SourceId::Docker,
            entity: web,
        });
        let srv_at =
            |snap: &Snapshot, owner: &str| rtypes(snap, owner).contains(&crate::iana::Rtype::SRV);
        assert!(srv_at(&writer.publish(), "_http._tcp.www.apps.local."));

        // The file takes www, after the container: its service goes too.
        let file_www = Record::address(name("www.apps.local."), 300, "192.0.2.9".parse().unwrap());
        writer.apply(zone_file(vec![file_www]));
        let snap = writer.publish();
        assert!(!srv_at(&snap, "_http._tcp.www.apps.local."));
        assert!(srv_at(&snap, "_http._tcp.web.apps.local."));
        let zone = snap.zone(&key("apps.local.")).unwrap();
        let names: Vec<&str> = zone.shadowed.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"_http._tcp.www.apps.local."), "{names:?}");

        // The file gives it up: the service is back.
        writer.apply(zone_file(Vec::new()));
        assert!(srv_at(&writer.publish(), "_http._tcp.www.apps.local."));
    }

    #[test]
    fn no_rrset_stands_beside_a_cname() {
        let mut writer = Writer::new(settings());
        let cname = |owner: &str| {
            Record::new(
                name(owner),
                60,
                RData::CNAME(hickory_proto::rr::rdata::CNAME(name("gw.apps.local."))),
            )
        };
        // Two sources a file check cannot see together: the flags' NS at
        // the apex and ns.<zone>, and a file's CNAME at both.
        writer.apply(zone_file(vec![
            cname("apps.local."),
            cname("ns.apps.local."),
        ]));
        let snap = writer.publish();
        use crate::iana::Rtype;
        let apex = rtypes(&snap, "apps.local.");
        assert!(
            apex.contains(&Rtype::SOA) && !apex.contains(&Rtype::CNAME),
            "{apex:?}"
        );
        assert_eq!(rtypes(&snap, "ns.apps.local."), [Rtype::CNAME]);
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
    fn a_restart_starts_above_the_last_serial() {
        let ahead = unix_now() + 1_000_000;
        let before = HashMap::from([(key("apps.local."), ahead)]);
        let mut writer = Writer::resuming(settings(), before);
        let serial = writer.publish().zone(&key("apps.local.")).unwrap().serial;
        assert_eq!(serial, ahead + 1);
        // One long past does not hold the clock back.
        let before = HashMap::from([(key("apps.local."), 7)]);
        let mut writer = Writer::resuming(settings(), before);
        let serial = writer.publish().zone(&key("apps.local.")).unwrap().serial;
        assert!(serial >= unix_now() - 1, "{serial}");
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
