//! RFC 1995, Incremental Zone Transfer in DNS (IXFR).

use super::{ZONE_FILE, start};
use crate::support::dig;
use crate::support::secondary::{rewrite, serial};
use crate::support::{Berth, require, wait_until};

/// (owner, type) of each record of a `dig ixfr=N` listing, in order.
fn listing(berth: &Berth, args: &[&str]) -> Vec<(String, String)> {
    let output = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &berth.port().to_string(), "+nocookie"])
        .args(args)
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(';'))
        .filter_map(dig::parse_rr)
        .map(|rr| (rr.name, rr.rtype))
        .collect()
}

/// Rewrites apps.local.zone with `extra` appended, reloads, and waits for
/// the serial to move on from `before`.
fn publish(berth: &Berth, dir: &tempfile::TempDir, extra: &str, before: u32) -> u32 {
    rewrite(dir.path(), &format!("{ZONE_FILE}{extra}"));
    berth.reload();
    let mut now = before;
    assert!(wait_until(|| {
        now = serial(berth.addr, "apps.local").unwrap_or(before);
        now != before
    }));
    now
}

fn soa() -> (String, String) {
    ("apps.local.".into(), "SOA".into())
}

fn a(name: &str) -> (String, String) {
    (format!("{name}.apps.local."), "A".into())
}

/// §4: a client at a serial the journal holds gets only the differences:
/// the new SOA, then per version the old SOA, what went, the new SOA, what
/// came, and the new SOA to close.
#[test]
fn rfc1995_4_differences_from_the_journal() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = start(&["--allow-transfer", "127.0.0.1"]);
    let first = serial(berth.addr, "apps.local").expect("serial");
    let second = publish(&berth, &dir, "one IN A 192.0.2.10\n", first);
    publish(&berth, &dir, "two IN A 192.0.2.20\n", second);

    let from_second = listing(&berth, &[&format!("ixfr={second}"), "apps.local"]);
    let expected = vec![soa(), soa(), a("one"), soa(), a("two"), soa()];
    assert_eq!(from_second, expected);

    let from_first = listing(&berth, &[&format!("ixfr={first}"), "apps.local"]);
    let expected = vec![
        soa(),
        soa(),
        soa(),
        a("one"),
        soa(),
        a("one"),
        soa(),
        a("two"),
        soa(),
    ];
    assert_eq!(from_first, expected);
}

/// §4: a serial the journal does not reach (or no journal at all) gets the
/// whole zone in AXFR form; one already current gets the SOA alone.
#[test]
fn rfc1995_4_the_whole_zone_or_one_soa() {
    if !require("dig") {
        return;
    }
    for journal in ["100", "0"] {
        let (berth, dir) = start(&["--allow-transfer", "127.0.0.1", "--ixfr-journal", journal]);
        let first = serial(berth.addr, "apps.local").expect("serial");
        let current = publish(&berth, &dir, "one IN A 192.0.2.10\n", first);
        // With a journal, a serial long before berth started: the journal
        // reaches back to berth's first version only.
        let old = if journal == "0" {
            first
        } else {
            first - 100_000
        };
        let full = listing(&berth, &[&format!("ixfr={old}"), "apps.local"]);
        assert_eq!(full.first(), Some(&soa()));
        assert_eq!(full.last(), Some(&soa()));
        assert_eq!(full.iter().filter(|r| **r == soa()).count(), 2, "{full:?}");
        assert!(full.contains(&a("gateway")) && full.contains(&a("one")));

        let current_only = listing(&berth, &[&format!("ixfr={current}"), "apps.local"]);
        assert_eq!(current_only, vec![soa()]);
    }
}

/// §2: over UDP berth sends the current SOA alone: "up to date", or, for an
/// older serial, the sign to come back over TCP.
#[test]
fn rfc1995_2_over_udp_one_soa() {
    if !require("dig") {
        return;
    }
    let (berth, dir) = start(&["--allow-transfer", "127.0.0.1"]);
    let first = serial(berth.addr, "apps.local").expect("serial");
    let current = publish(&berth, &dir, "one IN A 192.0.2.10\n", first);
    let answer = dig::dig(
        berth.addr,
        &[&format!("ixfr={first}"), "+notcp", "apps.local"],
    );
    assert_eq!(answer.status, "NOERROR", "{}", answer.raw);
    assert_eq!(answer.answer.len(), 1, "{}", answer.raw);
    assert_eq!(answer.answer[0].rtype, "SOA");
    assert!(answer.answer[0].rdata.contains(&format!(" {current} ")));
}
