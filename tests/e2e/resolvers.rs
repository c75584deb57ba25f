//! The resolvers people already run, handing apps.local to berth with the
//! very snippets in deploy/ (only the port changed): dnsmasq, BIND and
//! unbound, each queried with dig, must give the answers berth gives —
//! records, NXDOMAIN and NODATA alike. This is where Consul behind BIND went
//! wrong: FORMERR on AAAA, NXDOMAIN for NODATA, an SOA with the wrong owner.

use crate::support::dig::{Answer, Rr};
use crate::support::peers::{self, Daemon};
use crate::support::{Berth, require};

const ZONE_FILE: &str = "$ORIGIN apps.local.\n$TTL 60\n\
gateway IN A 192.0.2.1\n\
gateway IN AAAA 2001:db8::1\n\
gateway IN TXT \"hello\"\n\
web IN A 192.0.2.2\n\
www IN CNAME gateway\n\
_http._tcp.web IN SRV 0 10 80 web\n";

/// (name, type, what berth must say).
const QUERIES: &[(&str, &str, &str)] = &[
    ("gateway.apps.local", "A", "NOERROR"),
    ("gateway.apps.local", "AAAA", "NOERROR"),
    ("gateway.apps.local", "TXT", "NOERROR"),
    // NODATA: the name exists, the type does not (AAAA is where Consul broke).
    ("web.apps.local", "AAAA", "NOERROR"),
    ("web.apps.local", "MX", "NOERROR"),
    ("nothing.apps.local", "A", "NXDOMAIN"),
    ("nothing.apps.local", "AAAA", "NXDOMAIN"),
    ("deep.nothing.apps.local", "A", "NXDOMAIN"),
    ("www.apps.local", "A", "NOERROR"),
    ("_http._tcp.web.apps.local", "SRV", "NOERROR"),
];

fn start_berth() -> (Berth, tempfile::TempDir) {
    Berth::with_zone_file(ZONE_FILE, &[])
}

/// A record without its TTL (a resolver serves what is left of it).
fn untimed(records: &[Rr], rtype: Option<&str>) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = records
        .iter()
        .filter(|rr| rtype.is_none_or(|t| rr.rtype == t))
        .map(|rr| (rr.name.clone(), rr.rtype.clone(), rr.rdata.clone()))
        .collect();
    out.sort();
    out
}

/// Queries `resolver` and berth alike and compares what matters to a
/// client: the RCODE, the answer records, and for a negative answer the
/// zone's SOA (owner and data) in the authority section.
fn assert_same_as_berth(berth: &Berth, resolver: &Daemon, which: &str) {
    for &(name, rtype, status) in QUERIES {
        let own = berth.dig(&[name, rtype]);
        assert_eq!(own.status, status, "berth's own answer to {name} {rtype}");
        let via = crate::support::dig::dig(resolver.addr, &[name, rtype]);
        let what = format!(
            "{which}: {name} {rtype}\n{}\nberth said:\n{}",
            via.raw, own.raw
        );
        assert_eq!(via.status, own.status, "{what}");
        assert_eq!(
            untimed(&via.answer, None),
            untimed(&own.answer, None),
            "{what}"
        );
        for (theirs, ours) in via.answer.iter().zip(&own.answer) {
            assert!(theirs.ttl <= ours.ttl, "TTL grew: {what}");
        }
        if own.answer.is_empty() {
            assert_eq!(
                untimed(&via.authority, Some("SOA")),
                untimed(&own.authority, Some("SOA")),
                "negative answers carry the zone's SOA: {what}"
            );
        }
        assert_serves_negative(&via, &what);
    }
}

fn assert_serves_negative(via: &Answer, what: &str) {
    if via.answer.is_empty() {
        assert!(
            via.authority
                .iter()
                .any(|rr| rr.rtype == "SOA" && rr.name == "apps.local."),
            "{what}"
        );
    }
}

#[test]
fn dnsmasq_hands_apps_local_to_berth() {
    if !(require("dig") && require("dnsmasq")) {
        return;
    }
    let (berth, _zones) = start_berth();
    let conf = peers::deploy_file("dnsmasq/berth.conf", berth.port());
    let dnsmasq = peers::dnsmasq(&conf, crate::support::free_port());
    assert_same_as_berth(&berth, &dnsmasq, "dnsmasq");
}

#[test]
fn bind_hands_apps_local_to_berth_and_validates_the_rest() {
    if !(require("dig") && require("named")) {
        return;
    }
    let (berth, _zones) = start_berth();
    let options = peers::deploy_file("bind/berth-options.conf", berth.port());
    let zones = peers::deploy_file("bind/berth-zones.conf", berth.port());
    let named = peers::named(&options, &zones);
    assert_same_as_berth(&berth, &named, "named");
}

#[test]
fn bind_without_the_dnssec_exception_fails_apps_local() {
    if !(require("dig") && require("named")) {
        return;
    }
    // The exemption in berth-options.conf is what makes it work: without
    // it a validating BIND cannot prove apps.local insecure.
    let (berth, _zones) = start_berth();
    let zones = peers::deploy_file("bind/berth-zones.conf", berth.port());
    let named = peers::named("", &zones);
    let via = crate::support::dig::dig(named.addr, &["gateway.apps.local", "A", "+time=10"]);
    assert_eq!(via.status, "SERVFAIL", "{}", via.raw);
    assert!(
        named.log().contains("broken trust chain"),
        "{}",
        named.log()
    );
}

#[test]
fn unbound_hands_apps_local_to_berth() {
    if !(require("dig") && require("unbound")) {
        return;
    }
    let (berth, _zones) = start_berth();
    let include = peers::deploy_file("unbound/berth.conf", berth.port());
    let unbound = peers::unbound(&include);
    assert_same_as_berth(&berth, &unbound, "unbound");
}
