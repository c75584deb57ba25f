//! Zone files berth must not trust: `$INCLUDE`s that fan out, block, never
//! end or leave the zone directory are refused with file:line, while DNS
//! over UDP and TCP, HTTP and SIGTERM keep working; edits to included files
//! reload; a file that empties or disappears is applied but logged at WARN.

use std::path::Path;
use std::process::Command;

use crate::support::http_get as get;
use crate::support::{Berth, require, signal, wait_until};

const GOOD: &str = "$TTL 60\nweb IN A 192.0.2.1\n";

/// The static zone every hostile case is written into: SOA and NS first,
/// then `body`, so a refusal's line number is `4 + line in body`.
fn hostile_zone(body: &str) -> String {
    format!(
        "$ORIGIN hostile.test.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\n{body}"
    )
}

/// UDP, TCP and HTTP each answer now.
fn assert_serving(berth: &Berth) {
    assert_eq!(
        berth.dig(&["web.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"],
        "UDP; log:\n{}",
        berth.log()
    );
    assert_eq!(
        berth.dig(&["+tcp", "web.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"],
        "TCP; log:\n{}",
        berth.log()
    );
    let http = berth.http_addr().expect("http address in the log");
    assert_eq!(get(http, "/healthz").0, 200, "HTTP");
}

/// SIGTERM stops berth.
fn assert_stops(mut berth: Berth) {
    signal(berth.pid(), "TERM");
    assert!(
        wait_until(|| !berth.is_running()),
        "berth ignored SIGTERM; log:\n{}",
        berth.log()
    );
}

/// Writes `hostile.test.zone` with `body` beside a good zone, and checks
/// that it is refused at `at` (`file:line`) with `reason` in the message,
/// while everything else keeps answering — both when the file is there at
/// start-up and when it appears later.
fn refused(body: &str, at: &str, reason: &str, prepare: impl Fn(&Path)) {
    if !require("dig") {
        return;
    }
    let expected = format!("/{at}: ");
    let check = |berth: &Berth| {
        berth.wait_for_log("zone file rejected");
        let log = berth.log();
        let rejection = log
            .lines()
            .find(|l| l.contains("zone file rejected"))
            .unwrap_or_default();
        assert!(
            rejection.contains(&expected) && rejection.contains(reason),
            "expected {expected}…{reason}; log:\n{log}"
        );
        assert_serving(berth);
        assert_eq!(berth.dig(&["ns.hostile.test", "A"]).status, "REFUSED");
    };

    // Present at start-up: berth still opens its ports.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apps.local.zone"), GOOD).unwrap();
    prepare(dir.path());
    std::fs::write(dir.path().join("hostile.test.zone"), hostile_zone(body)).unwrap();
    let zones = dir.path().to_str().unwrap();
    let berth = Berth::start(&["--zones", zones]);
    check(&berth);
    assert_stops(berth);

    // Appearing while berth runs, then re-read on SIGHUP.
    let (berth, dir) = Berth::with_zone_file(GOOD, &[]);
    berth.wait_for_log("zone file loaded");
    prepare(dir.path());
    std::fs::write(dir.path().join("hostile.test.zone"), hostile_zone(body)).unwrap();
    assert_serving(&berth);
    check(&berth);
    berth.reload();
    assert_serving(&berth);
    assert!(wait_until(|| berth
        .log()
        .matches("zone file rejected")
        .count()
        >= 2));
    assert_stops(berth);
}

#[test]
fn include_fan_out_is_refused_at_the_depth_limit() {
    // Each file includes the next twice: 2^40 reads if nothing stopped it.
    refused("$INCLUDE f0\n", "f7:2", "nested more than 8 deep", |dir| {
        for i in 0..40 {
            let next = format!("f{}", i + 1);
            let text = format!("a{i} A 192.0.2.9\n$INCLUDE {next}\n$INCLUDE {next}\n");
            std::fs::write(dir.join(format!("f{i}")), text).unwrap();
        }
        std::fs::write(dir.join("f40"), "end A 192.0.2.9\n").unwrap();
    });
}

#[test]
fn include_of_a_fifo_is_refused() {
    if !require("mkfifo") {
        return;
    }
    refused(
        "$INCLUDE pipe\n",
        "hostile.test.zone:5",
        "is a FIFO, not a regular file",
        |dir| {
            let status = Command::new("mkfifo")
                .arg(dir.join("pipe"))
                .status()
                .unwrap();
            assert!(status.success());
        },
    );
}

#[test]
fn include_of_dev_zero_is_refused() {
    refused(
        "ok A 192.0.2.2\n$INCLUDE /dev/zero\n",
        "hostile.test.zone:6",
        "outside the zone directory",
        |_| {},
    );
}

#[test]
fn include_outside_the_directory_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("secret");
    std::fs::write(&secret, "stolen TXT \"do not serve\"\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let body = format!("$INCLUDE {}\n", secret.display());
    refused(
        &body,
        "hostile.test.zone:5",
        "outside the zone directory",
        |_| {},
    );
    let relative = "$INCLUDE ../../../../../../../../etc/passwd\n";
    refused(
        relative,
        "hostile.test.zone:5",
        "outside the zone directory",
        |_| {},
    );
}

#[test]
fn include_through_an_escaping_symlink_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("records");
    std::fs::write(&target, "stolen A 192.0.2.66\n").unwrap();
    refused(
        "\n; the link looks local\n$INCLUDE local-looking\n",
        "hostile.test.zone:7",
        "outside the zone directory",
        |dir| std::os::unix::fs::symlink(&target, dir.join("local-looking")).unwrap(),
    );
}

#[test]
fn includes_over_the_size_limits_are_refused() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = Berth::with_zone_file(GOOD, &["--max-zone-file-size", "1K"]);
    let big: String = (0..100).map(|i| format!("h{i} A 192.0.2.{i}\n")).collect();
    std::fs::write(dir.path().join("big"), big).unwrap();
    std::fs::write(
        dir.path().join("hostile.test.zone"),
        hostile_zone("$INCLUDE big\n"),
    )
    .unwrap();
    berth.wait_for_log("zone file rejected");
    let log = berth.log();
    assert!(
        log.contains("hostile.test.zone:5: ") && log.contains("--max-zone-file-size (1024 bytes)"),
        "{log}"
    );
    assert_serving(&berth);
    assert_stops(berth);
}

#[test]
fn an_edited_included_file_reloads() {
    if !require("dig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("apps.local.zone"),
        "$TTL 60\n$INCLUDE hosts/web\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("hosts")).unwrap();
    let web = dir.path().join("hosts/web");
    std::fs::write(&web, "web A 192.0.2.1\n").unwrap();
    let berth = Berth::start(&["--zones", dir.path().to_str().unwrap()]);
    assert_serving(&berth);

    std::fs::write(&web, "web A 192.0.2.2\n").unwrap();
    assert!(
        wait_until(|| berth.dig(&["web.apps.local", "A"]).rdata("A") == ["192.0.2.2"]),
        "the edit to the included file was not picked up; log:\n{}",
        berth.log()
    );
}

#[test]
fn an_emptied_or_removed_file_is_applied_with_a_warning() {
    if !require("dig") {
        return;
    }
    let many: String = (1..=10).map(|i| format!("h{i} A 192.0.2.{i}\n")).collect();
    let (berth, dir) = Berth::with_zone_file(&format!("$TTL 60\n{many}"), &[]);
    let file = dir.path().join("apps.local.zone");
    assert_eq!(berth.dig(&["h3.apps.local", "A"]).rdata("A"), ["192.0.2.3"]);

    std::fs::write(&file, "").unwrap();
    berth.wait_for_log("zone file lost most of its records");
    let log = berth.log();
    let warning = log
        .lines()
        .find(|l| l.contains("lost most of its records"))
        .unwrap_or_default();
    assert!(
        warning.contains("WARN") && warning.contains("before=10") && warning.contains("after=0"),
        "{log}"
    );
    assert!(wait_until(
        || berth.dig(&["h3.apps.local", "A"]).status == "NXDOMAIN"
    ));

    std::fs::write(&file, format!("$TTL 60\n{many}")).unwrap();
    assert!(wait_until(
        || berth.dig(&["h3.apps.local", "A"]).rdata("A") == ["192.0.2.3"]
    ));
    std::fs::remove_file(&file).unwrap();
    berth.wait_for_log("zone file removed");
    let log = berth.log();
    let warning = log
        .lines()
        .find(|l| l.contains("zone file removed"))
        .unwrap_or_default();
    assert!(
        warning.contains("WARN") && warning.contains("withdrawn=10"),
        "{log}"
    );
}

/// A zone large enough that reading it takes a while: queries asked right
/// after SIGHUP, while it is read, are answered, and SIGTERM sent during a
/// reading stops berth.
#[test]
fn serving_goes_on_while_a_large_zone_is_read() {
    if !require("dig") {
        return;
    }
    let hosts: String = (0..200_000)
        .map(|i| format!("host{i} A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("apps.local.zone"), GOOD).unwrap();
    std::fs::write(
        dir.path().join("big.test.zone"),
        format!("{}{hosts}", hostile_zone("").replace("hostile", "big")),
    )
    .unwrap();
    let berth = Berth::start(&["--zones", dir.path().to_str().unwrap()]);
    assert_eq!(
        berth.dig(&["host199999.big.test", "A"]).rdata("A"),
        ["10.3.13.63"]
    );
    let loads = |log: &str| log.matches("zone file loaded").count();
    let before = loads(&berth.log());
    berth.reload();
    let mut rounds = 0;
    while loads(&berth.log()) < before + 2 {
        assert_serving(&berth);
        rounds += 1;
        assert!(
            rounds < 1000,
            "the reload never finished; log:\n{}",
            berth.log()
        );
    }
    assert_eq!(
        berth.dig(&["host42.big.test", "A"]).rdata("A"),
        ["10.0.0.42"]
    );

    berth.reload();
    assert_stops(berth);
}
