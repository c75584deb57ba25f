//! Which containers berth looks at and serves: `--expose labelled` and
//! `--filter`, against the real daemon. A container left out is never
//! answered; one seen and not served is listed, with why, in /v1/records.

use super::{a, berth, eventually_a};
use crate::support::docker::{Scope, require_docker};
use crate::support::{Berth, http_get};

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
