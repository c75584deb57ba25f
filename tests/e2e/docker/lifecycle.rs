//! A container's life as berth sees it: health, pause, stop, rename,
//! networks, and which address its names carry.

use super::{a, berth, eventually_a, eventually_gone};
use crate::support::docker::{Scope, must, require_docker};
use crate::support::wait_until;

/// A healthcheck the test flips by writing a file in the container.
const HEALTH: [&str; 3] = [
    "--health-cmd=test -s /tmp/ok",
    "--health-interval=1s",
    "--health-retries=1",
];

fn set_healthy(container: &str, healthy: bool) {
    let script = if healthy {
        "echo ok > /tmp/ok"
    } else {
        ": > /tmp/ok"
    };
    must(&["exec", container, "/bin/sh", "-c", script]);
}

#[test]
fn a_failing_healthcheck_hides_the_container_until_it_passes() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("health");
    let berth = berth(&[]);
    let container = scope.name("web");
    scope.run(&container, &HEALTH);
    let ip = scope.ip(&container, "bridge");

    // Starting, then unhealthy: never served. `marker` starts after the
    // health change, so once berth serves it, it has seen that change.
    let unhealthy = wait_until(|| {
        must(&["inspect", "-f", "{{.State.Health.Status}}", &container]) == "unhealthy"
    });
    assert!(unhealthy, "the healthcheck never failed");
    let marker = scope.name("marker");
    scope.run(&marker, &[]);
    eventually_a(&berth, &marker, &[&scope.ip(&marker, "bridge")]);
    assert_eq!(a(&berth, &container), Vec::<String>::new());

    set_healthy(&container, true);
    eventually_a(&berth, &container, &[&ip]);
    set_healthy(&container, false);
    eventually_gone(&berth, &container);
    set_healthy(&container, true);
    eventually_a(&berth, &container, &[&ip]);
}

#[test]
fn starting_containers_are_served_only_with_serve_starting() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("starting");
    let strict = berth(&[]);
    let eager = berth(&["--serve-starting"]);
    // The first check is an hour away: the container stays "starting".
    let slow = scope.name("slow");
    scope.run(&slow, &["--health-cmd=exit 1", "--health-interval=1h"]);
    let marker = scope.name("marker");
    scope.run(&marker, &[]);
    let slow_ip = scope.ip(&slow, "bridge");
    let marker_ip = scope.ip(&marker, "bridge");

    eventually_a(&eager, &slow, &[&slow_ip]);
    // `marker` started after `slow`: once it is served, `slow` was seen.
    eventually_a(&strict, &marker, &[&marker_ip]);
    assert_eq!(a(&strict, &slow), Vec::<String>::new());
}

#[test]
fn pause_stop_start_and_remove() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("life");
    let berth = berth(&[]);
    let container = scope.name("app");
    scope.run(&container, &[]);
    let ip = scope.ip(&container, "bridge");
    eventually_a(&berth, &container, &[&ip]);

    must(&["pause", &container]);
    eventually_gone(&berth, &container);
    must(&["unpause", &container]);
    eventually_a(&berth, &container, &[&ip]);

    must(&["stop", &container]);
    eventually_gone(&berth, &container);
    must(&["start", &container]);
    let ip = scope.ip(&container, "bridge");
    eventually_a(&berth, &container, &[&ip]);

    must(&["rm", "-f", &container]);
    eventually_gone(&berth, &container);
}

#[test]
fn rename_moves_the_name() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("rename");
    let berth = berth(&[]);
    let old = scope.name("old");
    let new = scope.name("new");
    scope.run(&old, &["--expose=80"]);
    let ip = scope.ip(&old, "bridge");
    eventually_a(&berth, &old, &[&ip]);

    must(&["rename", &old, &new]);
    eventually_a(&berth, &new, &[&ip]);
    eventually_gone(&berth, &old);
    let ptr = berth.dig(&["-x", &ip]);
    assert_eq!(ptr.rdata("PTR"), [format!("{new}.apps.local.")]);
    let srv = berth.dig(&[&format!("_http._tcp.{new}.apps.local"), "SRV"]);
    assert_eq!(srv.rdata("SRV"), [format!("0 10 80 {new}.apps.local.")]);
}

#[test]
fn network_connect_and_disconnect() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("net");
    let network = scope.network("backend");
    let berth = berth(&["--network", &network]);
    let container = scope.name("app");
    scope.run(&container, &[]);
    let marker = scope.name("marker");
    scope.run(&marker, &["--network", &network]);
    eventually_a(&berth, &marker, &[&scope.ip(&marker, &network)]);
    // On the default bridge only: nothing to give out on `backend`.
    assert_eq!(a(&berth, &container), Vec::<String>::new());

    must(&["network", "connect", &network, &container]);
    let ip = scope.ip(&container, &network);
    eventually_a(&berth, &container, &[&ip]);
    must(&["network", "disconnect", &network, &container]);
    eventually_gone(&berth, &container);
}

#[test]
fn ipv6_addresses_get_aaaa_and_an_ip6_arpa_ptr() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("ipv6");
    // A ULA subnet of this run's own, so parallel runs do not collide.
    let subnet = format!("fd00:b0:{:x}::/64", std::process::id() & 0xffff);
    let network = scope.network_with("v6", &["--ipv6", "--subnet", &subnet]);
    let berth = berth(&["--network", &network]);
    let container = scope.name("app");
    scope.run(&container, &["--network", &network]);
    let ipv6 = scope.ipv6(&container, &network);
    assert!(!ipv6.is_empty(), "docker gave {container} no IPv6 address");

    eventually_a(&berth, &container, &[&scope.ip(&container, &network)]);
    let aaaa = berth.dig(&[&format!("{container}.apps.local"), "AAAA"]);
    let want: std::net::Ipv6Addr = ipv6.parse().unwrap();
    let got: Vec<std::net::Ipv6Addr> = aaaa
        .rdata("AAAA")
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    assert_eq!(got, [want], "{}", aaaa.raw);
    let ptr = berth.dig(&["-x", &ipv6]);
    assert_eq!(ptr.rdata("PTR"), [format!("{container}.apps.local.")]);
}

#[test]
fn host_addresses_carry_published_ports() {
    if !require_docker() {
        return;
    }
    let scope = Scope::new("hostaddr");
    let host_ip = "192.0.2.10";
    let berth = berth(&["--address", "host", "--host-ip", host_ip]);
    let container = scope.name("web");
    scope.run(&container, &["--publish=127.0.0.1::80", "--expose=81"]);
    let published = must(&["port", &container, "80/tcp"]);
    let host_port = published
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .unwrap_or_else(|| panic!("no published port in {published:?}"))
        .to_string();

    eventually_a(&berth, &container, &[host_ip]);
    let srv = berth.dig(&[&format!("_http._tcp.{container}.apps.local"), "SRV"]);
    assert_eq!(
        srv.rdata("SRV"),
        [format!("0 10 {host_port} {container}.apps.local.")]
    );
    // Exposed but not published: not reachable through the host.
    let unpublished = berth.dig(&[&format!("_81._tcp.{container}.apps.local"), "SRV"]);
    assert!(unpublished.rdata("SRV").is_empty(), "{}", unpublished.raw);
    // The host's address is the host's: no PTR names a container.
    assert!(berth.dig(&["-x", host_ip]).rdata("PTR").is_empty());
}
