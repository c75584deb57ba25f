//! Docker's `inspect` JSON to records: bytes read as the Engine API's
//! ContainerInspectResponse, mapped by berth's naming rules in both
//! address modes (the host one with `--expose labelled`), then published.
//!
//! Invariants: no panic; every name a container gets is inside a zone
//! berth serves (or the reverse tree, for its PTR) and is never one of the
//! zone's reserved name-server names; the registry's writer publishes it.

#![no_main]

use std::sync::LazyLock;

use berth::fuzzing::docker_inspect;
use berth::registry::{Change, NameServer, SourceId, Writer, ZoneSettings};
use berth::sources::docker::{Addresses, Expose, Settings};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("a valid name")
}

static SETTINGS: LazyLock<[Settings; 2]> = LazyLock::new(|| {
    let container = Settings {
        endpoint: "unix:///var/run/docker.sock".into(),
        zones: vec![name("apps.local."), name("docker.")],
        reserved: vec![name("ns.apps.local."), name("ns.docker.")],
        ttl: 5,
        addresses: Addresses::Container { network: None },
        serve_starting: false,
        expose: Expose::All,
        reconcile: None,
        stale_limit: None,
        filters: Default::default(),
    };
    let host = Settings {
        addresses: Addresses::Host {
            ip: "192.0.2.1".parse().expect("an address"),
        },
        serve_starting: true,
        expose: Expose::Labelled,
        ..container.clone()
    };
    [container, host]
});

fuzz_target!(|json: &[u8]| {
    let reverse = [name("in-addr.arpa."), name("ip6.arpa.")];
    for settings in SETTINGS.iter() {
        let Some(entity) = docker_inspect(json, settings) else {
            continue;
        };
        for record in &entity.records {
            let owner = &record.name;
            assert!(
                settings
                    .zones
                    .iter()
                    .chain(&reverse)
                    .any(|zone| zone.zone_of(owner)),
                "{owner} is outside the zones"
            );
            assert!(
                !settings.reserved.contains(owner),
                "{owner} is a reserved name"
            );
        }
        let mut writer = Writer::new(ZoneSettings {
            zones: settings.zones.clone(),
            ttl: 5,
            soa_minimum: 5,
            name_servers: NameServer::usual(None),
            wildcard_target: None,
            ixfr_journal: 0,
        });
        writer.apply(Change::Upsert {
            source: SourceId::Docker,
            entity,
        });
        writer.publish();
    }
});
