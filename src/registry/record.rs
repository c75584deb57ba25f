//! The records sources hand to the registry, and the changes they make.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, PTR, SRV};
use hickory_proto::rr::{Name, RData, RecordType};

/// One resource record, class IN. Sources build these; the registry groups
/// them into RRsets and encodes them once, when a snapshot is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    pub fn new(name: Name, ttl: u32, data: RData) -> Self {
        Record { name, ttl, data }
    }

    /// An A or AAAA record for `ip`.
    pub fn address(name: Name, ttl: u32, ip: IpAddr) -> Self {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        Record::new(name, ttl, data)
    }

    /// An SRV record with berth's fixed priority 0 and weight 10.
    pub fn srv(name: Name, ttl: u32, port: u16, target: Name) -> Self {
        Record::new(name, ttl, RData::SRV(SRV::new(0, 10, port, target)))
    }

    /// The reverse-lookup PTR record for `ip`, pointing at `target`.
    pub fn reverse(ip: IpAddr, ttl: u32, target: Name) -> Self {
        Record::new(reverse_name(ip), ttl, RData::PTR(PTR(target)))
    }

    pub fn record_type(&self) -> RecordType {
        self.data.record_type()
    }
}

/// `d.c.b.a.in-addr.arpa.` or the nibble form under `ip6.arpa.`.
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
        }
        IpAddr::V6(v6) => {
            let mut text = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                text.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            text.push_str("ip6.arpa.");
            text
        }
    };
    // Built from digits and fixed labels only, so it always parses.
    Name::from_ascii(&text).unwrap_or_else(|_| Name::root())
}

/// Who contributed a set of records. Each source replaces only its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    /// Records implied by flags: `--wildcard-target`, `--ns-address`.
    Config,
    /// RFC 1035 master files under `--zones`.
    ZoneFiles,
    /// Running containers on the Docker host.
    Docker,
    /// Other hosts' records (and anyone's in the SkyDNS schema) from etcd.
    Etcd,
}

impl SourceId {
    /// Whether the source's names are claims that give way to an owner's
    /// (a zone file's, berth's configuration's) and share with each other.
    pub fn only_claims(self) -> bool {
        matches!(self, SourceId::Docker | SourceId::Etcd)
    }
}

/// A unit a source adds and removes as a whole: one zone file, one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Stable within the source: a file path, a container ID.
    pub id: String,
    pub records: Vec<Record>,
    /// Set when this entity is a zone of its own (a master file whose origin
    /// is not a `--zone`): berth then serves its SOA and NS as written.
    pub declares_zone: Option<Name>,
    /// How the operator knows it, when the ID says little: a container's
    /// name.
    pub title: Option<String>,
}

impl Entity {
    pub fn new(id: impl Into<String>, records: Vec<Record>) -> Self {
        Entity {
            id: id.into(),
            records,
            declares_zone: None,
            title: None,
        }
    }
}

/// What a source asks the registry writer to do.
#[derive(Clone, Debug)]
pub enum Change {
    /// Replace everything `source` contributed with exactly these entities:
    /// a resync after a reconnect, a zone directory reload.
    Replace {
        source: SourceId,
        entities: Vec<Entity>,
    },
    /// Add or replace one entity.
    Upsert { source: SourceId, entity: Entity },
    /// Remove one entity, if present.
    Remove { source: SourceId, id: String },
}

impl Change {
    /// How many records the change brings.
    pub fn records(&self) -> usize {
        match self {
            Change::Replace { entities, .. } => entities.iter().map(|e| e.records.len()).sum(),
            Change::Upsert { entity, .. } => entity.records.len(),
            Change::Remove { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        let v4 = reverse_name("192.0.2.10".parse().unwrap());
        assert_eq!(v4.to_ascii(), "10.2.0.192.in-addr.arpa.");
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.to_ascii().starts_with("1.0.0.0.0.0.0.0."));
        assert!(v6.to_ascii().ends_with("8.b.d.0.1.0.0.2.ip6.arpa."));
    }
}
