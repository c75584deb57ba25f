//! berth across many hosts: a real three-member etcd cluster on loopback
//! ports, keys in the SkyDNS schema, and berths that read (and publish)
//! them. Tests poll with a generous deadline; they never assert durations.

mod hosts;
mod schema;

use crate::support::etcd::Cluster;
use crate::support::{Berth, wait_until};

/// berth following `cluster`, with `extra` flags, once its first reading
/// of the prefix is in.
fn berth(cluster: &Cluster, extra: &[&str]) -> Berth {
    let mut args: Vec<String> = cluster.berth_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let berth = Berth::start(&args);
    berth.wait_for_log("etcd: following the prefix");
    berth
}

/// The sorted rdata berth answers for `name` `rtype`.
fn rdata(berth: &Berth, name: &str, rtype: &str) -> Vec<String> {
    let mut got = berth.dig(&[name, rtype]).rdata(rtype);
    got.sort();
    got
}

/// Polls until berth answers `name` `rtype` with exactly `expected`
/// (sorted; empty for no records of that type).
fn eventually(berth: &Berth, name: &str, rtype: &str, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    let mut last = Vec::new();
    let held = wait_until(|| {
        last = rdata(berth, name, rtype);
        last == expected
    });
    assert!(
        held,
        "{name} {rtype}: wanted {expected:?}, berth kept answering {last:?}; log:\n{}",
        berth.log()
    );
}
