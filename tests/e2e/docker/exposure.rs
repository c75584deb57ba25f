//! Which containers berth looks at and serves: `--expose labelled` and
//! `--filter`, against the real daemon. A container left out is never
//! answered; one seen and not served is listed, with why, in /v1/records.

use super::{a, berth, berth_at, eventually_a, eventually_gone, proxy};
use crate::support::docker::{Scope, must, require_docker};
use crate::support::{Berth, http_get, wait_until};

/// apps.local's hidden containers in /v1/records: name → reason.
fn hidden(berth: &Berth) -> Vec<(String, String)> {
    let (_, body) = http_get(berth.http_addr().expect("http"), "/v1/records");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    json.as_array()
        .into_iter()
        .flatten()
        .filter(|zone| zone["zone"] == "apps.local.")
        .flat_map(|zone| zone["hidden"].as_array().cloned().unwrap_or_default())
        .map(|entry| {
            let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
            (text("container"), text("reason"))
        })
        .collect()
}

#[test]
fn expose_labelled_serves_only_containers_that_opt_in() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("expose");
    let p = &scope.prefix;
    let berth = berth(&["--expose", "labelled"]);
    let plain = scope.name("plain");
    scope.run(&plain, &[]);
    let off = scope.name("off");
    scope.run(
        &off,
        &[
            "--label=berth.enable=false",
            &format!("--label=berth.names=off-{p}"),
        ],
    );
    let enabled = scope.name("enabled");
    scope.run(&enabled, &["--label=berth.enable=true"]);
    let named = scope.name("named");
    scope.run(&named, &[&format!("--label=berth.names=www-{p}")]);
    let named_ip = scope.ip(&named, "bridge");

    // Events are applied in order: once the last is served, the first
    // ones have been seen.
    eventually_a(&berth, &format!("www-{p}"), &[&named_ip]);
    assert_eq!(a(&berth, &named), [named_ip.as_str()]);
    let enabled_ip = scope.ip(&enabled, "bridge");
    assert_eq!(a(&berth, &enabled), [enabled_ip]);
    for name in [plain.clone(), off.clone(), format!("off-{p}")] {
        let answer = berth.dig(&[&format!("{name}.apps.local"), "A"]);
        assert_eq!(answer.status, "NXDOMAIN", "{name}: {}", answer.raw);
    }

    let hidden = hidden(&berth);
    let reason = |name: &str| {
        hidden
            .iter()
            .find(|(container, _)| container == name)
            .map(|(_, reason)| reason.clone())
    };
    let plain_reason = reason(&plain).unwrap_or_else(|| panic!("{plain} in {hidden:?}"));
    assert!(plain_reason.contains("--expose labelled"), "{plain_reason}");
    assert_eq!(reason(&off).as_deref(), Some("berth.enable=false"));
    assert_eq!(reason(&named), None);
}

/// Whether berth lists `container` as seen and hidden.
fn listed_hidden(berth: &Berth, container: &str) -> bool {
    hidden(berth).iter().any(|(name, _)| name == container)
}

#[test]
fn filter_by_label_never_looks_at_other_containers() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("filterlabel");
    let p = &scope.prefix;
    let front = scope.network("front");
    let on_front = format!("--network={front}");
    let team = format!("--label=e2e.team={p}");
    // Labelled berth.enable=false: were berth to look at them, /v1/records
    // would list them as hidden.
    let unlabelled = ["--label=berth.enable=false", on_front.as_str()];
    let inside = scope.name("in");
    scope.run(&inside, &[&team, &on_front]);
    let outside = scope.name("out");
    let outside_id = scope.run(&outside, &unlabelled);
    let proxy = proxy();
    let berth = berth_at(
        &proxy.url(),
        &[
            "--filter",
            &format!("label=e2e.team={p}"),
            "--network",
            &front,
        ],
    );
    let inside_ip = scope.ip(&inside, &front);
    eventually_a(&berth, &inside, &[&inside_ip]);
    assert_eq!(
        berth.dig(&[&format!("{outside}.apps.local"), "A"]).status,
        "NXDOMAIN"
    );
    assert!(!listed_hidden(&berth, &outside), "{:?}", hidden(&berth));

    // Started later: the unlabelled one first, then a labelled one on the
    // default bridge, which has no address on --network and is hidden.
    let late = scope.name("late");
    let late_id = scope.run(&late, &unlabelled);
    let joiner = scope.name("joiner");
    let joiner_id = scope.run(&joiner, &[&team]);
    assert!(
        wait_until(|| listed_hidden(&berth, &joiner)),
        "{joiner} never seen; log:\n{}",
        berth.log()
    );
    assert!(!listed_hidden(&berth, &late), "{:?}", hidden(&berth));
    assert_eq!(
        berth.dig(&[&format!("{late}.apps.local"), "A"]).status,
        "NXDOMAIN"
    );

    // Network events come apart from the label-filtered container events,
    // every container's: the unlabelled one joining a network is passed
    // over, the labelled one joining --network's network is served.
    must(&["network", "connect", "bridge", &late]);
    must(&["network", "connect", &front, &joiner]);
    let joiner_ip = scope.ip(&joiner, &front);
    eventually_a(&berth, &joiner, &[&joiner_ip]);
    assert!(!listed_hidden(&berth, &late), "{:?}", hidden(&berth));
    // berth never asked the daemon about the unlabelled containers.
    let sent = proxy.sent();
    let inspected = |id: &str| sent.contains(&format!("/containers/{id}/json"));
    assert!(inspected(&joiner_id), "the proxy saw berth's inspections");
    for id in [&outside_id, &late_id] {
        assert!(!inspected(id), "berth inspected {id}");
    }
}

#[test]
fn filter_by_network_follows_containers_joining_and_leaving_it() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("filternet");
    let front = scope.network("front");
    let berth = berth(&[
        "--filter",
        &format!("network={front}"),
        "--filter",
        &format!("name=^{}-", scope.prefix),
    ]);
    let member = scope.name("member");
    scope.run(&member, &[&format!("--network={front}")]);
    let member_ip = scope.ip(&member, &front);
    let other = scope.name("other");
    scope.run(&other, &[]);
    let other_ip = scope.ip(&other, "bridge");
    eventually_a(&berth, &member, &[&member_ip]);
    assert_eq!(
        berth.dig(&[&format!("{other}.apps.local"), "A"]).status,
        "NXDOMAIN"
    );
    assert!(!listed_hidden(&berth, &other), "{:?}", hidden(&berth));

    // Joining the network lets it in (served at its first network's
    // address); leaving it takes the other out.
    must(&["network", "connect", &front, &other]);
    eventually_a(&berth, &other, &[&other_ip]);
    must(&["network", "disconnect", &front, &member]);
    eventually_gone(&berth, &member);
    assert!(!listed_hidden(&berth, &member), "{:?}", hidden(&berth));
}
