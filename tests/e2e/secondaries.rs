//! BIND and Knot as secondaries of berth's zones, each configured from its
//! snippet in `deploy/`: they load the zones by transfer, hear of changes
//! by NOTIFY and fetch them by IXFR, keep answering while berth is down,
//! and catch up after it restarts with a higher serial.

use std::net::SocketAddr;

use crate::support::docker::{Scope, must, require_docker};
use crate::support::peers::Daemon;
use crate::support::secondary::{self, addresses, berth_flags, key_file, rewrite, serial};
use crate::support::{Berth, free_port, require, wait_until};

const ZONE: &str = "$ORIGIN apps.local.\n$TTL 60\ngateway IN A 192.0.2.1\n";

/// Waits until `server` answers `name` with `address`, failing with the
/// secondary's log.
fn eventually(server: SocketAddr, name: &str, address: &str, log: &Daemon) {
    let held = wait_until(|| addresses(server, name) == [address.to_string()]);
    assert!(
        held,
        "{name} never became {address}; secondary's log:\n{}",
        log.log()
    );
}

/// berth on `port` over the zone directory `zones`, with `flags`.
fn berth_on(port: u16, zones: &std::path::Path, flags: &[String]) -> Berth {
    let listen = format!("127.0.0.1:{port}");
    let mut args: Vec<&str> = vec![
        "--listen",
        &listen,
        "--zones",
        zones.to_str().expect("utf-8"),
    ];
    args.extend(flags.iter().map(String::as_str));
    Berth::start(&args)
}

/// The common story, told to whichever secondary `start` brings up:
/// loaded; a change arrives by NOTIFY and IXFR; berth stops and the
/// secondary answers on; berth restarts with a higher serial and the
/// secondary follows again.
fn follows_berth(start: impl Fn(u16, u16, &str) -> Daemon, ixfr_in_log: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key_file(dir.path());
    let zones = tempfile::tempdir().expect("zones dir");
    rewrite(zones.path(), ZONE);
    let (berth_port, secondary_port) = (free_port(), free_port());
    let flags = berth_flags(&key, secondary_port);
    let berth = berth_on(berth_port, zones.path(), &flags);
    let secondary = start(secondary_port, berth_port, &key);
    let at = secondary.addr;
    eventually(at, "gateway.apps.local", "192.0.2.1", &secondary);
    assert!(wait_until(|| serial(at, "17.172.in-addr.arpa").is_some()));

    rewrite(zones.path(), &format!("{ZONE}fresh IN A 192.0.2.50\n"));
    eventually(at, "fresh.apps.local", "192.0.2.50", &secondary);
    assert!(
        wait_until(|| secondary.log_count(ixfr_in_log) > 0),
        "no IXFR in the log:\n{}",
        secondary.log()
    );
    let before = serial(berth.addr, "apps.local").expect("berth's serial");
    assert!(wait_until(|| serial(at, "apps.local") == Some(before)));

    drop(berth);
    // The serial rule is max(serial + 1, unix time), kept in memory only
    // (README): a restart continues upward once the clock has passed the
    // last serial served, which a restart within that same second has not.
    assert!(wait_until(|| unix_now() > u64::from(before)));
    assert_eq!(addresses(at, "fresh.apps.local"), ["192.0.2.50"]);
    assert_eq!(addresses(at, "gateway.apps.local"), ["192.0.2.1"]);

    let berth = berth_on(berth_port, zones.path(), &flags);
    let after = serial(berth.addr, "apps.local").expect("berth's serial");
    assert!(
        after > before,
        "serial went from {before} to {after} across a restart"
    );
    rewrite(zones.path(), &format!("{ZONE}later IN A 192.0.2.60\n"));
    eventually(at, "later.apps.local", "192.0.2.60", &secondary);
    assert_eq!(addresses(at, "fresh.apps.local"), Vec::<String>::new());
}

#[test]
fn bind_follows_berth_by_notify_and_ixfr_and_outlives_it() {
    if !require("named") || !require("dig") {
        return;
    }
    follows_berth(secondary::named, "IXFR");
}

#[test]
fn knot_follows_berth_by_notify_and_ixfr_and_outlives_it() {
    if !require("knotd") || !require("dig") {
        return;
    }
    follows_berth(
        |port, berth_port, _| secondary::knot(port, berth_port),
        "IXFR",
    );
}

/// 20 containers started together: named answers each new name and its
/// PTR, fetched by IXFR after a few coalesced NOTIFYs, not 20.
#[test]
fn bind_gets_twenty_new_containers_by_ixfr() {
    if !require("named") || !require("dig") || !require_docker() {
        return;
    }
    let scope = Scope::new("xfr");
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key_file(dir.path());
    let zones = tempfile::tempdir().expect("zones dir");
    rewrite(zones.path(), ZONE);
    let (berth_port, named_port) = (free_port(), free_port());
    let mut flags = berth_flags(&key, named_port);
    flags.extend(["--docker".to_string(), crate::support::docker::endpoint()]);
    let berth = berth_on(berth_port, zones.path(), &flags);
    berth.wait_for_log("docker: following container events");
    let named = secondary::named(named_port, berth_port, &key);
    eventually(named.addr, "gateway.apps.local", "192.0.2.1", &named);
    let notifies = || {
        let log = berth.log();
        let forward = |line: &&str| line.contains("notify answered") && !line.contains("in-addr");
        log.lines().filter(forward).count()
    };
    let notifies_before = notifies();

    let names: Vec<String> = (0..20).map(|i| scope.name(&format!("c{i}"))).collect();
    std::thread::scope(|threads| {
        for name in &names {
            let scope = &scope;
            threads.spawn(move || scope.run(name, &[]));
        }
    });
    for name in &names {
        let ip = must(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ]);
        let ip = ip.trim();
        eventually(named.addr, &format!("{name}.apps.local"), ip, &named);
        if ip.starts_with("172.17.") {
            let octets: Vec<&str> = ip.split('.').rev().collect();
            let ptr = format!("{}.in-addr.arpa", octets.join("."));
            // The reverse zone is a transfer of its own, a moment apart.
            let target = [format!("{name}.apps.local.")];
            let ptr_held = wait_until(|| {
                crate::support::dig::dig(named.addr, &[&ptr, "PTR"]).rdata("PTR") == target
            });
            assert!(
                ptr_held,
                "{ptr} PTR never came; named log:\n{}",
                named.log()
            );
        }
    }
    assert!(named.log_count("IXFR") > 0, "named log:\n{}", named.log());
    let sent = notifies() - notifies_before;
    assert!(sent < 20, "{sent} NOTIFYs of apps.local for 20 containers");
    eprintln!("20 containers: {sent} NOTIFYs of apps.local");
}

/// A 100,000-name zone: named loads it by AXFR, and berth's journal then
/// sends a change to it by IXFR.
#[test]
fn bind_loads_a_zone_of_100000_names() {
    if !require("named") || !require("dig") {
        return;
    }
    let mut zone = String::with_capacity(4_000_000);
    zone.push_str(ZONE);
    for i in 0..100_000u32 {
        zone.push_str(&format!(
            "host-{i} IN A 10.{}.{}.{}\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let key = key_file(dir.path());
    let zones = tempfile::tempdir().expect("zones dir");
    rewrite(zones.path(), &zone);
    let (berth_port, named_port) = (free_port(), free_port());
    let berth = berth_on(berth_port, zones.path(), &berth_flags(&key, named_port));
    let started = std::time::Instant::now();
    let named = secondary::named(named_port, berth_port, &key);
    eventually(named.addr, "host-99999.apps.local", "10.1.134.159", &named);
    // A figure for the report, not an assertion.
    eprintln!(
        "100,000 names: named answered from its copy {:?} after starting",
        started.elapsed()
    );
    let _ = berth;
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
