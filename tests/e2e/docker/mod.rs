//! berth following a real dockerd: the naming rules, container lifecycle
//! and health, and resynchronisation after losing the daemon. Tests query
//! only berth, over loopback; they never send traffic to containers.

mod access;
mod conflicts;
mod exposure;
mod freshness;
mod lifecycle;
mod naming;
mod resync;

use crate::support::docker::endpoint;
use crate::support::proxy::SocketProxy;
use crate::support::{Berth, wait_until};

/// A proxy in front of the test's own daemon, for berth to go through.
fn proxy() -> SocketProxy {
    let socket = endpoint();
    let path = socket
        .strip_prefix("unix://")
        .unwrap_or_else(|| panic!("the proxy needs a unix:// Docker endpoint, not {socket}"));
    SocketProxy::start(path)
}

/// berth following the daemon at `url`, with `extra` flags, once its
/// first listing is in.
fn berth_at(url: &str, extra: &[&str]) -> Berth {
    let mut args = vec!["--docker", url];
    args.extend_from_slice(extra);
    let berth = Berth::start(&args);
    berth.wait_for_log("docker: following container events");
    berth
}

/// berth following the test's own daemon.
fn berth(extra: &[&str]) -> Berth {
    berth_at(&endpoint(), extra)
}

/// The A records berth gives for `name` in apps.local.
fn a(berth: &Berth, name: &str) -> Vec<String> {
    berth.dig(&[&format!("{name}.apps.local"), "A"]).rdata("A")
}

/// Polls until berth answers `name` with exactly `expected` (sorted; empty
/// means no address), failing with berth's log otherwise.
fn eventually_a(berth: &Berth, name: &str, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    let mut last = Vec::new();
    let held = wait_until(|| {
        last = a(berth, name);
        last == expected
    });
    assert!(
        held,
        "{name}.apps.local: wanted {expected:?}, berth kept answering {last:?}; log:\n{}",
        berth.log()
    );
}

/// Polls until `name` is NXDOMAIN.
fn eventually_gone(berth: &Berth, name: &str) {
    let fqdn = format!("{name}.apps.local");
    let mut status = String::new();
    let gone = wait_until(|| {
        status = berth.dig(&[&fqdn, "A"]).status;
        status == "NXDOMAIN"
    });
    assert!(gone, "{fqdn} is still {status}; log:\n{}", berth.log());
}
