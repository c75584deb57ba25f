//! Master files under `--zones`: reloaded on change and on SIGHUP; a broken
//! file keeps the last good data and the log names the file and line.

use crate::support::{Berth, require, wait_until};

fn serial(berth: &Berth, zone: &str) -> u64 {
    let soa = berth.dig(&[zone, "SOA"]);
    soa.answer
        .first()
        .and_then(|rr| rr.rdata.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or_else(|| panic!("no SOA for {zone}:\n{}", soa.raw))
}

#[test]
fn changed_files_are_reloaded_and_bump_the_serial() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.1\n", &[]);
    let file = dir.path().join("apps.local.zone");
    assert_eq!(
        berth.dig(&["web.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"]
    );
    let before = serial(&berth, "apps.local");

    std::fs::write(&file, "$TTL 60\nweb IN A 192.0.2.2\nnew IN A 192.0.2.3\n").unwrap();
    let reloaded = wait_until(|| berth.dig(&["web.apps.local", "A"]).rdata("A") == ["192.0.2.2"]);
    assert!(
        reloaded,
        "the change was not picked up; log:\n{}",
        berth.log()
    );
    assert_eq!(
        berth.dig(&["new.apps.local", "A"]).rdata("A"),
        ["192.0.2.3"]
    );
    assert!(
        serial(&berth, "apps.local") > before,
        "the SOA serial moves on every change"
    );
}

#[test]
fn a_broken_file_keeps_the_last_good_data_and_names_the_line() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.1\n", &[]);
    let file = dir.path().join("apps.local.zone");

    std::fs::write(
        &file,
        "$TTL 60\nweb IN A 192.0.2.1\nother IN A 192.0.2.9\nbroken IN A 999.1.1.1\n",
    )
    .unwrap();
    berth.reload();
    berth.wait_for_log("zone file rejected");
    let log = berth.log();
    assert!(
        log.contains("apps.local.zone:4:"),
        "the log names file and line:\n{log}"
    );
    assert_eq!(
        berth.dig(&["web.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"]
    );
    assert_eq!(
        berth.dig(&["other.apps.local", "A"]).status,
        "NXDOMAIN",
        "nothing from the broken file"
    );

    std::fs::write(&file, "$TTL 60\nweb IN A 192.0.2.5\n").unwrap();
    berth.reload();
    assert!(wait_until(|| berth
        .dig(&["web.apps.local", "A"])
        .rdata("A")
        == ["192.0.2.5"]));
}

#[test]
fn sighup_rereads_every_file() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.1\n", &[]);
    berth.wait_for_log("zone file loaded");
    let loads = |log: &str| log.matches("zone file loaded").count();
    let before = loads(&berth.log());
    berth.reload();
    assert!(
        wait_until(|| loads(&berth.log()) > before),
        "SIGHUP did not reload:\n{}",
        berth.log()
    );
    assert_eq!(
        berth.dig(&["web.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"]
    );
}

#[test]
fn a_file_with_a_new_origin_becomes_a_zone_of_its_own() {
    if !require("dig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(&["--zones", dir.path().to_str().unwrap()]);
    assert_eq!(berth.dig(&["www.static.test", "A"]).status, "REFUSED");

    let zone = "$ORIGIN static.test.\n$TTL 120\n@ IN SOA ns hostmaster ( 42 3600 600 86400 30 )\n\
                @ IN NS ns\nns IN A 192.0.2.53\nwww IN A 192.0.2.80\n";
    std::fs::write(dir.path().join("static.test.zone"), zone).unwrap();
    assert!(wait_until(|| berth
        .dig(&["www.static.test", "A"])
        .rdata("A")
        == ["192.0.2.80"]));
    assert_eq!(
        serial(&berth, "static.test"),
        42,
        "a static zone keeps its own SOA"
    );
    let missing = berth.dig(&["nope.static.test", "A"]);
    assert_eq!(missing.status, "NXDOMAIN");
    assert_eq!(missing.authority[0].ttl, 30);

    std::fs::remove_file(dir.path().join("static.test.zone")).unwrap();
    assert!(wait_until(
        || berth.dig(&["www.static.test", "A"]).status == "REFUSED"
    ));
}

/// RFC 1034 §3.6.2, RFC 2181 §10.1: a file that puts other data beside a
/// CNAME is rejected at the later of the two lines, and the last good
/// version stays served; a CNAME at the apex (beside berth's SOA and NS)
/// likewise.
#[test]
fn a_cname_beside_other_data_rejects_the_file() {
    if !require("dig") {
        return;
    }
    let good = "$TTL 60\ngw IN A 192.0.2.1\nwww IN CNAME gw\n";
    let (berth, dir) = Berth::with_zone_file(good, &[]);
    let file = dir.path().join("apps.local.zone");
    let good_is_served = || berth.dig(&["www.apps.local", "A"]).rdata("A") == ["192.0.2.1"];
    for (text, reason) in [
        (
            format!("{good}www IN A 192.0.2.66\n"),
            "CNAME and other data",
        ),
        (format!("{good}@ IN CNAME gw\n"), "CNAME at the zone's apex"),
    ] {
        // A rejection keeps the last good version: have one first.
        assert!(wait_until(good_is_served), "{}", berth.log());
        std::fs::write(&file, &text).unwrap();
        berth.reload();
        let named = wait_until(|| {
            berth.log().lines().any(|l| {
                l.contains("zone file rejected")
                    && l.contains("apps.local.zone:4:")
                    && l.contains(reason)
            })
        });
        assert!(
            named,
            "no rejection at line 4: {reason}; log:\n{}",
            berth.log()
        );
        let www = berth.dig(&["www.apps.local", "A"]);
        assert_eq!(www.rdata("CNAME"), ["gw.apps.local."], "{}", www.raw);
        assert_eq!(www.rdata("A"), ["192.0.2.1"], "{}", www.raw);
        std::fs::write(&file, good).unwrap();
        berth.reload();
    }
}
