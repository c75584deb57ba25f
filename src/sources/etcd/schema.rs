//! The SkyDNS key schema, as SkyDNS, CoreDNS's etcd plugin and
//! registrator's skydns2 backend use it (pure: no I/O).
//!
//! A name is stored reversed into the key under the prefix, one label per
//! path segment, and the last segment names the record: `web.shop.apps.local`
//! registered by the host `host-a` is the key `/skydns/local/apps/shop/web/host-a`.
//! The value is JSON: `{"host", "port", "priority", "weight", "ttl"}`.
//!
//! Reading: a record is served at the key's own name and at its parent (the
//! name it was registered for), as SkyDNS does; SkyDNS also answers every
//! further ancestor with everything below it, which berth does not, so that
//! a zone's apex never answers with every record of the zone.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData};
use serde::{Deserialize, Serialize};

use crate::registry::Record;

/// SkyDNS's SRV priority when a value has none.
pub const DEFAULT_PRIORITY: u16 = 10;
/// The SRV weight when a value has none or 0. SkyDNS then splits 100 among
/// the records of one priority; giving each 100 keeps the same proportions.
pub const DEFAULT_WEIGHT: u16 = 100;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("is not under the prefix {0}")]
    OutsidePrefix(String),
    #[error("has an empty or over-long path segment")]
    BadSegment,
    #[error("is not a DNS name")]
    BadName,
    #[error("value is not SkyDNS JSON: {0}")]
    BadValue(String),
    #[error("value has no host")]
    NoHost,
    #[error("is outside every served zone")]
    OutsideZones,
}

/// A SkyDNS value. Fields SkyDNS knows and berth does not serve (`text`,
/// `mail`, `targetstrip`, `group`) are accepted and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    pub host: String,
    /// 0 and absent both mean "no port", as in SkyDNS (Go's `omitempty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// The name a key stands for: its segments after the prefix, reversed.
pub fn name_of_key(prefix: &str, key: &str) -> Result<Name, SchemaError> {
    let rest = key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| SchemaError::OutsidePrefix(prefix.to_string()))?;
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || s.len() > 63) {
        return Err(SchemaError::BadSegment);
    }
    let mut name = Name::from_labels(segments.iter().rev().map(|s| s.as_bytes()))
        .map_err(|_| SchemaError::BadName)?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

/// The key for `name` with `label` as its last segment.
pub fn key_of_name(prefix: &str, name: &Name, label: &str) -> String {
    let mut key = prefix.trim_end_matches('/').to_string();
    let labels: Vec<&[u8]> = name.iter().collect();
    for part in labels.iter().rev() {
        key.push('/');
        key.push_str(&String::from_utf8_lossy(part));
    }
    key.push('/');
    key.push_str(label);
    key
}

/// The records one key and value give, SkyDNS's way: an IP `host` is an A
/// or AAAA record, plus an SRV whose target is the key's own name when a
/// port is set; a name `host` is an SRV target (with a port) and nothing
/// else. Each record is placed at the key's name and at its parent, unless
/// the parent is the apex of the zone `apex_of` finds for the name.
pub fn records(
    prefix: &str,
    key: &str,
    value: &[u8],
    default_ttl: u32,
    apex_of: impl Fn(&Name) -> Option<Name>,
) -> Result<Vec<Record>, SchemaError> {
    let name = name_of_key(prefix, key)?;
    let apex = apex_of(&name).ok_or(SchemaError::OutsideZones)?;
    let value: Value =
        serde_json::from_slice(value).map_err(|e| SchemaError::BadValue(e.to_string()))?;
    let host = value.host.trim();
    if host.is_empty() {
        return Err(SchemaError::NoHost);
    }
    let ttl = value.ttl.filter(|&t| t > 0).unwrap_or(default_ttl);
    let port = value.port.filter(|&p| p > 0);
    let priority = value.priority.unwrap_or(DEFAULT_PRIORITY);
    let weight = value.weight.filter(|&w| w > 0).unwrap_or(DEFAULT_WEIGHT);

    let mut data = Vec::with_capacity(2);
    match host.parse::<IpAddr>() {
        Ok(ip) => {
            data.push(Record::address(name.clone(), ttl, ip).data);
            if let Some(port) = port {
                data.push(RData::SRV(SRV::new(priority, weight, port, name.clone())));
            }
        }
        Err(_) => {
            let target = Name::from_ascii(host)
                .map(|mut t| {
                    t.set_fqdn(true);
                    t
                })
                .map_err(|_| SchemaError::BadValue(format!("host {host:?} is no IP or name")))?;
            if let Some(port) = port {
                data.push(RData::SRV(SRV::new(priority, weight, port, target)));
            }
        }
    }

    let mut owners = vec![name.clone()];
    let parent = name.base_name();
    if parent.num_labels() > apex.num_labels() {
        owners.push(parent);
    }
    Ok(owners
        .iter()
        .flat_map(|owner| {
            data.iter()
                .map(|d| Record::new(owner.clone(), ttl, d.clone()))
        })
        .collect())
}

/// What berth publishes for its own records: A, AAAA and SRV, one key per
/// record. The last segment is `instance` when the host has one record at
/// a name, else `instance-1`, `instance-2`, … in the records' order, so
/// that a restart writes the same keys again.
pub fn publish<'a>(
    prefix: &str,
    instance: &str,
    records: impl IntoIterator<Item = &'a Record>,
) -> BTreeMap<String, String> {
    let mut by_name: BTreeMap<Name, Vec<Value>> = BTreeMap::new();
    for record in records {
        let value = match &record.data {
            RData::A(a) => Value {
                host: a.0.to_string(),
                ttl: Some(record.ttl),
                ..Value::default()
            },
            RData::AAAA(aaaa) => Value {
                host: aaaa.0.to_string(),
                ttl: Some(record.ttl),
                ..Value::default()
            },
            RData::SRV(srv) => Value {
                host: srv.target.to_ascii().trim_end_matches('.').to_string(),
                port: Some(srv.port),
                priority: Some(srv.priority),
                weight: Some(srv.weight),
                ttl: Some(record.ttl),
            },
            _ => continue,
        };
        by_name
            .entry(record.name.to_lowercase())
            .or_default()
            .push(value);
    }
    let mut keys = BTreeMap::new();
    for (name, mut values) in by_name {
        values.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
        values.dedup();
        let several = values.len() > 1;
        for (index, value) in values.iter().enumerate() {
            let label = if several {
                format!("{instance}-{}", index + 1)
            } else {
                instance.to_string()
            };
            // A Value of strings and integers always serialises.
            let json = serde_json::to_string(value).unwrap_or_default();
            keys.insert(key_of_name(prefix, &name, &label), json);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/skydns";

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn apps_local(_: &Name) -> Option<Name> {
        Some(name("apps.local."))
    }

    fn read(key: &str, value: &str) -> Vec<String> {
        let mut out: Vec<String> = records(PREFIX, key, value.as_bytes(), 5, apps_local)
            .unwrap()
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn keys_are_names_reversed_under_the_prefix() {
        let key = "/skydns/local/apps/shop/web/host-a";
        assert_eq!(
            name_of_key(PREFIX, key).unwrap(),
            name("host-a.web.shop.apps.local.")
        );
        assert_eq!(
            key_of_name(PREFIX, &name("web.shop.apps.local."), "host-a"),
            key
        );
        assert_eq!(
            name_of_key(PREFIX, "/other/local/x"),
            Err(SchemaError::OutsidePrefix(PREFIX.into()))
        );
        assert_eq!(
            name_of_key(PREFIX, "/skydns/local//x"),
            Err(SchemaError::BadSegment)
        );
        assert_eq!(
            name_of_key(PREFIX, "/skydnsx/local"),
            Err(SchemaError::OutsidePrefix(PREFIX.into()))
        );
        // Mixed case in a key is the same name.
        assert_eq!(
            name_of_key(PREFIX, "/skydns/LOCAL/Apps/db").unwrap(),
            name("db.apps.local.")
        );
    }

    #[test]
    fn an_ip_host_is_an_address_at_the_key_and_its_parent() {
        assert_eq!(
            read("/skydns/local/apps/web/x1", r#"{"host":"10.0.0.5"}"#),
            [
                "web.apps.local. 5 10.0.0.5",
                "x1.web.apps.local. 5 10.0.0.5"
            ]
        );
        assert_eq!(
            read(
                "/skydns/local/apps/web/x1",
                r#"{"host":"2001:db8::5","ttl":60}"#
            ),
            [
                "web.apps.local. 60 2001:db8::5",
                "x1.web.apps.local. 60 2001:db8::5"
            ]
        );
        // A key right under the zone: its parent is the apex, left alone.
        assert_eq!(
            read("/skydns/local/apps/db", r#"{"host":"10.0.0.9"}"#),
            ["db.apps.local. 5 10.0.0.9"]
        );
    }

    #[test]
    fn registrator_skydns2_values_give_a_and_srv() {
        // What registrator's skydns2 backend writes: the service name, then
        // the service ID (host:container:port), host and port only.
        let got = read(
            "/skydns/local/apps/web/host1:web-1:80",
            r#"{"host":"10.0.0.5","port":8080}"#,
        );
        // hickory writes `:` escaped in presentation format; on the wire
        // (and in dig) it is a plain octet.
        assert_eq!(
            got,
            [
                r"host1\:web-1\:80.web.apps.local. 5 10 100 8080 host1\:web-1\:80.web.apps.local.",
                r"host1\:web-1\:80.web.apps.local. 5 10.0.0.5",
                r"web.apps.local. 5 10 100 8080 host1\:web-1\:80.web.apps.local.",
                "web.apps.local. 5 10.0.0.5",
            ]
        );
    }

    #[test]
    fn a_name_host_is_an_srv_target_only_with_a_port() {
        let value = r#"{"host":"db1.apps.local","port":5432,"priority":0,"weight":10,"ttl":30}"#;
        assert_eq!(
            read("/skydns/local/apps/_tcp/_pg/h", value),
            [
                "_pg._tcp.apps.local. 30 0 10 5432 db1.apps.local.",
                "h._pg._tcp.apps.local. 30 0 10 5432 db1.apps.local."
            ]
        );
        assert!(read("/skydns/local/apps/x/h", r#"{"host":"example.com"}"#).is_empty());
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        let bad = |value: &str| {
            records(
                PREFIX,
                "/skydns/local/apps/x",
                value.as_bytes(),
                5,
                apps_local,
            )
        };
        assert!(matches!(bad("not json"), Err(SchemaError::BadValue(_))));
        assert!(matches!(bad(r#"{"host":""}"#), Err(SchemaError::NoHost)));
        assert!(matches!(
            bad(r#"{"port":80}"#),
            Err(SchemaError::BadValue(_))
        ));
        assert!(matches!(
            bad(r#"{"host":"1.2.3.4","port":70000}"#),
            Err(SchemaError::BadValue(_))
        ));
        assert!(matches!(
            bad(r#"{"host":"a..b","port":1}"#),
            Err(SchemaError::BadValue(_))
        ));
        // Fields berth does not serve are accepted.
        assert!(bad(r#"{"host":"1.2.3.4","text":"x","group":"g","mail":false}"#).is_ok());
    }

    #[test]
    fn publishing_writes_one_key_per_record_and_reads_back() {
        let web = name("web.shop.apps.local.");
        let srv_owner = name("_http._tcp.web.shop.apps.local.");
        let own = [
            Record::address(web.clone(), 5, "172.18.0.3".parse().unwrap()),
            Record::address(web.clone(), 5, "172.18.0.2".parse().unwrap()),
            Record::srv(srv_owner.clone(), 5, 80, name("shop-web-1.apps.local.")),
            Record::reverse("172.18.0.2".parse().unwrap(), 5, web.clone()),
        ];
        let keys = publish(PREFIX, "host-a", &own);
        let listed: Vec<(&str, &str)> =
            keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            listed,
            [
                (
                    "/skydns/local/apps/shop/web/_tcp/_http/host-a",
                    r#"{"host":"shop-web-1.apps.local","port":80,"priority":0,"weight":10,"ttl":5}"#
                ),
                (
                    "/skydns/local/apps/shop/web/host-a-1",
                    r#"{"host":"172.18.0.2","ttl":5}"#
                ),
                (
                    "/skydns/local/apps/shop/web/host-a-2",
                    r#"{"host":"172.18.0.3","ttl":5}"#
                ),
            ]
        );
        // Read back, every published record is served at its name again.
        let mut served = Vec::new();
        for (key, value) in &keys {
            served.extend(records(PREFIX, key, value.as_bytes(), 99, apps_local).unwrap());
        }
        for record in &own[..3] {
            assert!(served.contains(record), "{record:?} not read back");
        }
    }
}
