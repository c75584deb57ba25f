//! Names two sources claim, by README's one rule: a name a zone file gives
//! records to is the file's, and a container claiming it is not served
//! there (WARNed once, listed as shadowed in /v1/records); containers that
//! claim one name share it.

use super::{a, berth_at, eventually_a};
use crate::support::docker::{Scope, endpoint, require_docker};
use crate::support::{Berth, http_get, wait_until};

/// The shadowed entries of apps.local in /v1/records, as `name by owner`.
fn shadowed(berth: &Berth) -> Vec<String> {
    let (_, body) = http_get(berth.http_addr().expect("http"), "/v1/records");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let zone = json
        .as_array()
        .and_then(|zones| zones.iter().find(|z| z["zone"] == "apps.local."))
        .cloned()
        .unwrap_or_default();
    let mut entries: Vec<String> = zone["shadowed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} {} {}", s["name"], s["claimed_by"], s["owner"]))
        .collect();
    entries.sort();
    entries
}

#[test]
fn a_zone_files_names_are_the_files() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("shadow");
    let p = &scope.prefix;
    let dir = tempfile::tempdir().unwrap();
    let zone = format!(
        "$TTL 600\ngw IN A 192.0.2.1\nwww-{p} IN CNAME gw\nstatic-{p} IN A 192.0.2.2\n\
         *.wild-{p} IN A 192.0.2.3\n"
    );
    std::fs::write(dir.path().join("apps.local.zone"), &zone).unwrap();
    let berth = berth_at(&endpoint(), &["--zones", dir.path().to_str().unwrap()]);
    let container = scope.name("c");
    let names = format!("--label=berth.names=www-{p},static-{p},*.wild-{p},free-{p}");
    scope.run(&container, &[&names]);
    let ip = scope.ip(&container, "bridge");
    eventually_a(&berth, &format!("free-{p}"), &[&ip]);
    eventually_a(&berth, &format!("static-{p}"), &["192.0.2.2"]);

    // A CNAME the file wrote: followed for every type, never beside an A.
    for rtype in ["A", "AAAA", "TXT"] {
        let www = berth.dig(&[&format!("www-{p}.apps.local"), rtype]);
        assert_eq!(www.rdata("CNAME"), ["gw.apps.local."], "{}", www.raw);
        assert!(!www.raw.contains(&ip), "{}", www.raw);
    }
    // The file's address, with the file's TTL.
    let fixed = berth.dig(&[&format!("static-{p}.apps.local"), "A"]);
    assert_eq!(fixed.rdata("A"), ["192.0.2.2"]);
    assert_eq!(fixed.answer[0].ttl, 600);
    // The file's wildcard and the container's at one owner: the file's.
    assert_eq!(a(&berth, &format!("x.wild-{p}")), ["192.0.2.3"]);
    // The container keeps its own name.
    assert_eq!(a(&berth, &container), [ip.as_str()]);

    let claimed_by = format!("container {container}");
    let owner = format!("zone file {}", dir.path().join("apps.local.zone").display());
    let expected: Vec<String> = [
        format!("*.wild-{p}.apps.local."),
        format!("static-{p}.apps.local."),
        format!("www-{p}.apps.local."),
    ]
    .iter()
    .map(|name| format!("\"{name}\" \"{claimed_by}"))
    .collect();
    // The file alone is where www's records come from.
    let (_, body) = http_get(berth.http_addr().expect("http"), "/v1/records");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let www = format!("www-{p}.apps.local.");
    let from: Vec<String> = json
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|zone| zone["records"].as_array().cloned().unwrap_or_default())
        .filter(|record| record["name"] == www.as_str())
        .flat_map(|record| record["from"].as_array().cloned().unwrap_or_default())
        .map(|source| source.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !from.is_empty()
            && from
                .iter()
                .all(|s| s.contains("file ") && !s.contains("container")),
        "{from:?}"
    );
    let listed = shadowed(&berth);
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (entry, start) in listed.iter().zip(&expected) {
        assert!(entry.starts_with(start), "{entry} vs {start}");
        assert!(entry.contains(&owner), "{entry} names {owner}");
    }

    // WARNed once per name, naming both, even as the file is read again.
    std::fs::write(
        dir.path().join("apps.local.zone"),
        format!("{zone}more-{p} IN A 192.0.2.9\n"),
    )
    .unwrap();
    berth.reload();
    assert!(wait_until(
        || a(&berth, &format!("more-{p}")) == ["192.0.2.9"]
    ));
    let warns: Vec<String> = berth
        .log()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(&format!("www-{p}.apps.local.")))
        .map(str::to_string)
        .collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains(&owner) && warns[0].contains(&claimed_by));

    // The file gives the name up: the container gets it.
    std::fs::write(dir.path().join("apps.local.zone"), "$TTL 600\n").unwrap();
    berth.reload();
    eventually_a(&berth, &format!("www-{p}"), &[&ip]);
    assert!(shadowed(&berth).is_empty());
}

#[test]
fn containers_claiming_one_name_share_it() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("share");
    let berth = super::berth(&[]);
    let shared = scope.name("shared");
    let label = format!("--label=berth.names={shared}");
    scope.run(&scope.name("one"), &[&label]);
    scope.run(&scope.name("two"), &[&label]);
    let ips = [
        scope.ip(&scope.name("one"), "bridge"),
        scope.ip(&scope.name("two"), "bridge"),
    ];
    eventually_a(&berth, &shared, &[&ips[0], &ips[1]]);
    assert!(shadowed(&berth).is_empty());
}

#[test]
fn a_shadowed_names_srv_records_are_the_files_too() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("shadowsrv");
    let p = &scope.prefix;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apps.local.zone"),
        format!("$TTL 600\nwww-{p} IN A 192.0.2.2\n"),
    )
    .unwrap();
    let berth = berth_at(&endpoint(), &["--zones", dir.path().to_str().unwrap()]);
    let container = scope.name("c");
    scope.run(
        &container,
        &["--expose=80", &format!("--label=berth.names=www-{p}")],
    );
    let ip = scope.ip(&container, "bridge");
    eventually_a(&berth, &container, &[&ip]);

    let srv = |owner: &str| berth.dig(&[&format!("_http._tcp.{owner}.apps.local"), "SRV"]);
    let own = srv(&container);
    assert_eq!(
        own.rdata("SRV"),
        [format!("0 10 80 {container}.apps.local.")],
        "{}",
        own.raw
    );
    let shadowed = srv(&format!("www-{p}"));
    assert_eq!(shadowed.status, "NXDOMAIN", "{}", shadowed.raw);
    assert!(shadowed.rdata("SRV").is_empty(), "{}", shadowed.raw);

    // The file gives the name up: the container's services come with it.
    std::fs::write(dir.path().join("apps.local.zone"), "$TTL 600\n").unwrap();
    berth.reload();
    eventually_a(&berth, &format!("www-{p}"), &[&ip]);
    let back = srv(&format!("www-{p}"));
    assert_eq!(
        back.rdata("SRV"),
        [format!("0 10 80 {container}.apps.local.")],
        "{}",
        back.raw
    );
}
