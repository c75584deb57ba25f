//! The naming rules, one container at a time.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hickory_proto::rr::{Name, RData};

use super::map;
use crate::sources::docker::container::{Container, Health, Network, Port, Proto, Status};
use crate::sources::docker::{Addresses, Expose, Settings};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn container(name: &str) -> Container {
    Container {
        id: ID.into(),
        name: name.into(),
        hostname: None,
        status: Status::Running,
        health: Health::None,
        labels: BTreeMap::new(),
        service_env: BTreeMap::new(),
        exposed: Vec::new(),
        published: BTreeMap::new(),
        networks: vec![Network {
            name: "bridge".into(),
            ipv4: Some("172.17.0.2".parse().unwrap()),
            ipv6: None,
            ..Network::default()
        }],
    }
}

fn with_labels(mut c: Container, labels: &[(&str, &str)]) -> Container {
    for (k, v) in labels {
        c.labels.insert(k.to_string(), v.to_string());
    }
    c
}

fn tcp(number: u16) -> Port {
    Port {
        number,
        proto: Proto::Tcp,
    }
}

fn settings() -> Settings {
    Settings {
        endpoint: "unix:///var/run/docker.sock".into(),
        zones: vec![Name::from_ascii("apps.local.").unwrap()],
        reserved: vec![Name::from_ascii("ns.apps.local.").unwrap()],
        ttl: 5,
        addresses: Addresses::Container { network: None },
        serve_starting: false,
        expose: Expose::All,
        reconcile: None,
        stale_limit: None,
        filters: Default::default(),
    }
}

/// Every record as `name TYPE data`, sorted, for readable assertions.
fn lines(c: &Container, s: &Settings) -> Vec<String> {
    let Some(entity) = map(c, s).entity else {
        return Vec::new();
    };
    let mut lines: Vec<String> = entity
        .records
        .iter()
        .map(|r| {
            let data = match &r.data {
                RData::SRV(srv) => format!("{} {}", srv.port, srv.target),
                other => other.to_string(),
            };
            format!("{} {} {}", r.name, r.record_type(), data)
        })
        .collect();
    lines.sort();
    lines
}

fn has(lines: &[String], line: &str) -> bool {
    lines.iter().any(|l| l == line)
}

#[test]
fn container_name_gets_its_address_and_a_ptr() {
    let got = lines(&container("Web_1"), &settings());
    assert_eq!(
        got,
        [
            "0123456789ab.apps.local. A 172.17.0.2",
            "2.0.17.172.in-addr.arpa. PTR web-1.apps.local.",
            "web-1.apps.local. A 172.17.0.2",
        ]
    );
}

#[test]
fn compose_service_and_project() {
    let c = with_labels(
        container("shop-web-1"),
        &[
            ("com.docker.compose.service", "web"),
            ("com.docker.compose.project", "Shop"),
        ],
    );
    assert!(has(
        &lines(&c, &settings()),
        "web.shop.apps.local. A 172.17.0.2"
    ));
}

#[test]
fn berth_names_are_relative_and_may_be_wildcards() {
    let c = with_labels(
        container("web"),
        &[("berth.names", "api, *.preview ,evil.com.,ns,a..b, web")],
    );
    let mapped = map(&c, &settings());
    let got = lines(&c, &settings());
    assert!(has(&got, "api.apps.local. A 172.17.0.2"));
    assert!(has(&got, "*.preview.apps.local. A 172.17.0.2"));
    assert!(
        got.iter()
            .all(|l| !l.starts_with("ns.") && !l.contains("evil"))
    );
    let skipped: Vec<&str> = mapped.skipped.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "berth.names \"evil.com.\"",
            "berth.names \"a..b\"",
            "name ns"
        ]
    );
}

#[test]
fn srv_from_exposed_ports_under_every_name() {
    let mut c = with_labels(
        container("web"),
        &[
            ("com.docker.compose.service", "web"),
            ("com.docker.compose.project", "shop"),
            ("berth.names", "*.preview"),
        ],
    );
    c.exposed = vec![
        tcp(80),
        tcp(8080),
        Port {
            number: 53,
            proto: Proto::Udp,
        },
    ];
    let got = lines(&c, &settings());
    assert!(has(
        &got,
        "_http._tcp.web.apps.local. SRV 80 web.apps.local."
    ));
    assert!(has(
        &got,
        "_8080._tcp.web.apps.local. SRV 8080 web.apps.local."
    ));
    assert!(has(
        &got,
        "_domain._udp.web.apps.local. SRV 53 web.apps.local."
    ));
    assert!(has(
        &got,
        "_http._tcp.web.shop.apps.local. SRV 80 web.apps.local."
    ));
    // No SRV below a wildcard: it would answer every `_x._y` there.
    assert!(
        !got.iter()
            .any(|l| l.contains("SRV") && l.contains("preview"))
    );
}

#[test]
fn berth_port_labels() {
    let c = with_labels(
        container("api"),
        &[
            ("berth.port.web", "8000"),
            ("berth.port.dns", "5353/udp"),
            ("berth.port.bad", "http"),
        ],
    );
    let mapped = map(&c, &settings());
    let got = lines(&c, &settings());
    assert!(has(
        &got,
        "_web._tcp.api.apps.local. SRV 8000 api.apps.local."
    ));
    assert!(has(
        &got,
        "_dns._udp.api.apps.local. SRV 5353 api.apps.local."
    ));
    assert_eq!(mapped.skipped.len(), 1);
    assert!(mapped.skipped[0].what.contains("berth.port.bad"));
}

#[test]
fn host_addresses_use_published_ports_and_no_ptr() {
    let mut c = with_labels(container("web"), &[("berth.port.admin", "9000")]);
    c.exposed = vec![tcp(80), tcp(9000), tcp(9100)];
    c.published.insert(tcp(80), vec![32768]);
    c.published.insert(tcp(9000), vec![32769]);
    let s = Settings {
        addresses: Addresses::Host {
            ip: "192.0.2.7".parse().unwrap(),
        },
        ..settings()
    };
    let got = lines(&c, &s);
    assert_eq!(
        got,
        [
            "0123456789ab.apps.local. A 192.0.2.7",
            "_9000._tcp.web.apps.local. SRV 32769 web.apps.local.",
            "_admin._tcp.web.apps.local. SRV 32769 web.apps.local.",
            "_http._tcp.web.apps.local. SRV 32768 web.apps.local.",
            "web.apps.local. A 192.0.2.7",
        ]
    );
}

#[test]
fn registrator_service_names_and_tags() {
    let mut c = container("db1");
    c.exposed = vec![tcp(5432)];
    c.service_env
        .insert("SERVICE_NAME".into(), "Postgres".into());
    c.service_env
        .insert("SERVICE_TAGS".into(), "primary,eu".into());
    let got = lines(&c, &settings());
    assert!(has(&got, "postgres.apps.local. A 172.17.0.2"));
    assert!(has(&got, "primary.postgres.apps.local. A 172.17.0.2"));
    assert!(has(&got, "eu.postgres.apps.local. A 172.17.0.2"));
    assert!(has(
        &got,
        "_postgres._tcp.apps.local. SRV 5432 db1.apps.local."
    ));
}

#[test]
fn registrator_names_each_port_and_labels_win_over_env() {
    let mut c = with_labels(container("app"), &[("SERVICE_NAME", "fromlabel")]);
    c.exposed = vec![tcp(80), tcp(9000)];
    c.service_env
        .insert("SERVICE_NAME".into(), "fromenv".into());
    c.service_env
        .insert("SERVICE_9000_NAME".into(), "metrics".into());
    let got = lines(&c, &settings());
    assert!(has(
        &got,
        "_fromlabel-80._tcp.apps.local. SRV 80 app.apps.local."
    ));
    assert!(has(
        &got,
        "_metrics._tcp.apps.local. SRV 9000 app.apps.local."
    ));
    assert!(!got.iter().any(|l| l.contains("fromenv")));
}

#[test]
fn only_running_healthy_containers_are_served() {
    let mut c = container("web");
    c.health = Health::Unhealthy;
    assert!(map(&c, &settings()).entity.is_none());
    c.health = Health::Starting;
    assert!(map(&c, &settings()).entity.is_none());
    let starting = Settings {
        serve_starting: true,
        ..settings()
    };
    assert!(map(&c, &starting).entity.is_some());
    c.health = Health::Healthy;
    assert!(map(&c, &settings()).entity.is_some());
    for status in [Status::Paused, Status::Restarting, Status::NotRunning] {
        c.status = status;
        assert!(map(&c, &settings()).entity.is_none(), "{status:?}");
    }
}

#[test]
fn enable_false_hides_and_ttl_overrides() {
    let hidden = with_labels(container("web"), &[("berth.enable", "False")]);
    assert!(map(&hidden, &settings()).entity.is_none());
    let shown = with_labels(container("web"), &[("berth.enable", "true")]);
    assert!(map(&shown, &settings()).entity.is_some());

    let long = with_labels(container("web"), &[("berth.ttl", "300")]);
    let entity = map(&long, &settings()).entity.unwrap();
    assert!(entity.records.iter().all(|r| r.ttl == 300));
    let bad = with_labels(container("web"), &[("berth.ttl", "-1")]);
    let mapped = map(&bad, &settings());
    assert!(mapped.entity.unwrap().records.iter().all(|r| r.ttl == 5));
    assert_eq!(mapped.skipped.len(), 1);
}

#[test]
fn expose_labelled_serves_only_containers_that_opt_in() {
    let labelled = Settings {
        expose: Expose::Labelled,
        ..settings()
    };
    let plain = container("web");
    let mapped = map(&plain, &labelled);
    assert!(mapped.entity.is_none());
    assert!(mapped.hidden.unwrap().contains("--expose labelled"));
    assert!(map(&plain, &settings()).entity.is_some());
    for opt_in in [
        ("berth.enable", "true"),
        ("berth.enable", "Yes"),
        ("berth.names", "www"),
    ] {
        let c = with_labels(container("web"), &[opt_in]);
        assert!(map(&c, &labelled).entity.is_some(), "{opt_in:?}");
    }
    let blank = with_labels(container("web"), &[("berth.names", " ")]);
    assert!(map(&blank, &labelled).entity.is_none());
    // berth.enable=false wins over berth.names, under either policy.
    let off = with_labels(
        container("web"),
        &[("berth.enable", "false"), ("berth.names", "www")],
    );
    for s in [settings(), labelled] {
        assert_eq!(map(&off, &s).hidden, Some("berth.enable=false"));
    }
}

#[test]
fn network_choice_and_ipv6() {
    let mut c = container("web");
    c.networks.push(Network {
        name: "backend".into(),
        ipv4: Some("10.1.0.5".parse().unwrap()),
        ipv6: Some("fd00:1::5".parse().unwrap()),
        ..Network::default()
    });
    let on = |network: &str| Settings {
        addresses: Addresses::Container {
            network: Some(network.into()),
        },
        ..settings()
    };
    let got = lines(&c, &on("backend"));
    assert!(has(&got, "web.apps.local. A 10.1.0.5"));
    assert!(has(&got, "web.apps.local. AAAA fd00:1::5"));
    assert!(
        got.iter()
            .any(|l| l.ends_with("ip6.arpa. PTR web.apps.local."))
    );
    assert!(!got.iter().any(|l| l.contains("172.17.0.2")));
    // Not on the network berth is told to use: nothing to give out.
    assert!(map(&c, &on("frontend")).entity.is_none());
    // Default: the first network that has an address.
    c.networks[0].ipv4 = None;
    assert!(has(&lines(&c, &settings()), "web.apps.local. A 10.1.0.5"));
}

#[test]
fn names_go_in_every_zone_and_ptr_in_the_first() {
    let s = Settings {
        zones: vec![
            Name::from_ascii("apps.local.").unwrap(),
            Name::from_ascii("b.test.").unwrap(),
        ],
        ..settings()
    };
    let got = lines(&container("web"), &s);
    assert!(has(&got, "web.apps.local. A 172.17.0.2"));
    assert!(has(&got, "web.b.test. A 172.17.0.2"));
    assert!(has(&got, "2.0.17.172.in-addr.arpa. PTR web.apps.local."));
    assert!(has(&got, "0123456789ab.b.test. A 172.17.0.2"));
    assert_eq!(got.len(), 5);
}

#[test]
fn short_id_and_hostname_as_docker_names_them() {
    let mut c = container("web");
    c.hostname = Some("Box.Lan".into());
    let got = lines(&c, &settings());
    assert!(
        has(&got, "0123456789ab.apps.local. A 172.17.0.2"),
        "{got:?}"
    );
    assert!(has(&got, "box.lan.apps.local. A 172.17.0.2"), "{got:?}");
    // Docker's default hostname is the short ID: one name, not two.
    c.hostname = Some("0123456789ab".into());
    assert_eq!(lines(&c, &settings()).len(), 3);
    // A hostname that is the container's name adds nothing.
    c.hostname = Some("web".into());
    assert_eq!(lines(&c, &settings()).len(), 3);
}

#[test]
fn network_aliases_get_the_address_on_their_network() {
    let mut c = container("web");
    c.networks[0].aliases = vec!["web".into(), "www".into()];
    c.networks.push(Network {
        name: "front".into(),
        ipv4: Some("10.1.0.5".parse().unwrap()),
        ipv6: Some("fd00:1::5".parse().unwrap()),
        aliases: vec!["api".into(), "www".into(), "shop.api".into()],
        ..Network::default()
    });
    let got = lines(&c, &settings());
    assert!(has(&got, "api.apps.local. A 10.1.0.5"), "{got:?}");
    assert!(has(&got, "api.apps.local. AAAA fd00:1::5"), "{got:?}");
    assert!(has(&got, "shop.api.apps.local. A 10.1.0.5"), "{got:?}");
    // One alias on two networks: both addresses, as Docker's DNS would
    // give on each.
    assert!(has(&got, "www.apps.local. A 172.17.0.2"), "{got:?}");
    assert!(has(&got, "www.apps.local. A 10.1.0.5"), "{got:?}");
    // The container's own name keeps its own address only.
    assert!(!has(&got, "web.apps.local. A 10.1.0.5"), "{got:?}");
    assert!(!got.iter().any(|l| l.contains("in-addr.arpa. PTR api")));

    // With --network, only that network's aliases: clients reach no other.
    let front = Settings {
        addresses: Addresses::Container {
            network: Some("front".into()),
        },
        ..settings()
    };
    let got = lines(&c, &front);
    assert!(has(&got, "api.apps.local. A 10.1.0.5"), "{got:?}");
    assert!(!has(&got, "www.apps.local. A 172.17.0.2"), "{got:?}");
}

#[test]
fn hostile_labels_never_leave_the_zone() {
    let long = "x".repeat(300);
    let c = with_labels(
        container("Evil.Name_ünï"),
        &[
            (
                "berth.names",
                "..,.,*,*.*,a.b.c.,\u{0}\n,\\065,@,com.docker.x",
            ),
            ("com.docker.compose.service", "../.."),
            ("com.docker.compose.project", &long),
            ("berth.port.\u{1f600}", "80"),
            ("berth.port.x", "99999"),
            ("SERVICE_NAME", "!!"),
            ("berth.ttl", "4294967295"),
        ],
    );
    let zone = Name::from_ascii("apps.local.").unwrap();
    let arpa = Name::from_ascii("arpa.").unwrap();
    let mapped = map(&c, &settings());
    let entity = mapped.entity.unwrap();
    for record in &entity.records {
        assert!(
            zone.zone_of(&record.name) || arpa.zone_of(&record.name),
            "{}",
            record.name
        );
    }
    assert!(entity.records.iter().all(|r| r.ttl == 5));
    assert!(has(
        &lines(&c, &settings()),
        "evil-name--n.apps.local. A 172.17.0.2"
    ));
    assert!(mapped.skipped.len() >= 8, "{:?}", mapped.skipped);
}

#[test]
fn addresses_helper_prefers_ipv4_then_ipv6() {
    let mut c = container("web");
    c.networks[0].ipv6 = Some("fd00::2".parse().unwrap());
    let ips: Vec<IpAddr> = super::addresses(&c, &settings().addresses);
    assert_eq!(
        ips,
        [
            "172.17.0.2".parse::<IpAddr>().unwrap(),
            "fd00::2".parse().unwrap()
        ]
    );
}

#[test]
fn the_zones_name_servers_are_never_a_containers() {
    let s = Settings {
        reserved: vec![Name::from_ascii("ns1.apps.local.").unwrap()],
        ..settings()
    };
    let c = with_labels(container("web"), &[("berth.names", "ns1,ns")]);
    let got = lines(&c, &s);
    assert!(has(&got, "ns.apps.local. A 172.17.0.2"), "ns is free now");
    assert!(got.iter().all(|l| !l.starts_with("ns1.")));
    let skipped: Vec<String> = map(&c, &s).skipped.iter().map(|s| s.what.clone()).collect();
    assert_eq!(skipped, ["name ns1"]);
}
