//! RFC 5936, DNS Zone Transfer Protocol (AXFR).

use std::collections::BTreeSet;

use berth::iana::Rtype;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::start;
use crate::support::dig;
use crate::support::raw::{self, Query};
use crate::support::secondary::{self, transfer};
use crate::support::{Berth, http_get, require, wait_until};

const AXFR: Rtype = Rtype::AXFR;

/// (owner, type, data) of each record in `text`, kdig's or dig's listing.
fn listed(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(';'))
        .filter_map(dig::parse_rr)
        .map(|rr| (rr.name, rr.rtype, rr.rdata))
        .collect()
}

/// §2.2: the transfer is the zone's SOA, every other record of the zone
/// once — exactly what berth serves, as /v1/records lists it — and the SOA
/// again.
#[test]
fn rfc5936_2_2_axfr_is_every_record_between_two_soas() {
    if !require("kdig") {
        return;
    }
    let (berth, _dir) = start(&["--allow-transfer", "127.0.0.1"]);
    let output = std::process::Command::new("kdig")
        .args([
            "@127.0.0.1",
            "-p",
            &berth.port().to_string(),
            "apps.local",
            "AXFR",
        ])
        .output()
        .expect("run kdig");
    let records = listed(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(
        records.first().map(|r| &r.1[..]),
        Some("SOA"),
        "{records:?}"
    );
    assert_eq!(records.first(), records.last());
    let transferred: BTreeSet<(String, String)> = records[1..records.len() - 1]
        .iter()
        .map(|(name, rtype, _)| (name.clone(), rtype.clone()))
        .collect();
    assert_eq!(transferred.len(), records.len() - 2, "a record came twice");

    berth.wait_for_log("http listening");
    let (_, json) = http_get(berth.http_addr().expect("http"), "/v1/records");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let zone = json
        .as_array()
        .and_then(|zones| zones.iter().find(|z| z["zone"] == "apps.local."))
        .expect("apps.local in /v1/records");
    let served: BTreeSet<(String, String)> = zone["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["type"] != "SOA")
        .map(|r| {
            let name = r["name"].as_str().unwrap_or_default().to_ascii_lowercase();
            (name, r["type"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(transferred, served);
}

/// §2.2: a zone too large for one message comes in several, each at most
/// 64 KiB, all carrying the query's ID; dig puts them back together.
#[test]
fn rfc5936_2_2_a_large_zone_spans_messages() {
    if !require("dig") {
        return;
    }
    let mut zone = String::from("$TTL 60\n");
    for i in 0..5000 {
        zone.push_str(&format!("host-{i} IN A 10.1.{}.{}\n", i / 250, i % 250));
    }
    let (berth, _dir) = Berth::with_zone_file(&zone, &["--allow-transfer", "127.0.0.0/8"]);
    let query = Query::new(0x4242, "apps.local", AXFR).bytes();
    let messages = transfer(berth.addr, &query);
    assert!(messages.len() > 1, "5000 names in one message");
    let records: usize = messages.iter().map(|m| m.answers.len()).sum();
    // SOA, NS, ns A, 5000 A, SOA.
    assert_eq!(records, 5004);
    assert!(messages.iter().all(|m| m.id == 0x4242 && m.authoritative));
    let answer = dig::dig(berth.addr, &["apps.local", "AXFR", "+stats"]);
    assert!(
        answer.raw.contains("XFR size: 5004 records"),
        "{}",
        answer.raw
    );
}

/// §2.2 with §6: a transfer under way when a publish lands delivers the
/// version it started from, whole: SOA serials agree and no new name
/// slips in.
#[test]
fn rfc5936_2_2_a_transfer_under_way_keeps_its_version() {
    let mut zone = String::from("$TTL 60\n");
    for i in 0..20_000 {
        zone.push_str(&format!("host-{i} IN A 10.2.{}.{}\n", i / 250, i % 250));
    }
    let (berth, dir) = Berth::with_zone_file(&zone, &["--allow-transfer", "127.0.0.1"]);
    let before = secondary::serial(berth.addr, "apps.local").expect("serial");
    let mut stream = std::net::TcpStream::connect(berth.addr).expect("connect");
    raw::tcp_send_all(&mut stream, &[Query::new(9, "apps.local", AXFR).bytes()]);
    let first = raw::tcp_read(&mut stream).expect("first message");
    // The publish lands while the rest is still on its way.
    let mut changed = zone.clone();
    changed.push_str("latecomer IN A 192.0.2.99\n");
    secondary::rewrite(dir.path(), &changed);
    berth.reload();
    assert!(wait_until(
        || secondary::serial(berth.addr, "apps.local") != Some(before)
    ));
    let mut messages = vec![Message::from_vec(&first).expect("message")];
    while let Some(bytes) = raw::tcp_read(&mut stream) {
        let message = Message::from_vec(&bytes).expect("message");
        let soas = message
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        messages.push(message);
        if soas > 0 {
            break;
        }
    }
    let records: Vec<_> = messages.iter().flat_map(|m| m.answers.iter()).collect();
    assert_eq!(records.len(), 20_004);
    let serials: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.data.to_string())
        .collect();
    assert_eq!(serials.len(), 2);
    assert_eq!(serials[0], serials[1]);
    assert!(serials[0].contains(&format!(" {before} ")), "{serials:?}");
    assert!(
        !records
            .iter()
            .any(|r| r.name.to_ascii().starts_with("latecomer"))
    );
}

/// §6 (access control): without --allow-transfer, or from an address it
/// does not list, the transfer is REFUSED; berth still answers queries.
#[test]
fn rfc5936_6_transfers_are_refused_outside_allow_transfer() {
    let (berth, _dir) = start(&[]);
    let query = Query::new(5, "apps.local", AXFR).bytes();
    let messages = transfer(berth.addr, &query);
    assert_eq!(messages[0].response_code, ResponseCode::Refused);
    assert!(messages[0].answers.is_empty());

    let (berth, _dir) = start(&["--allow-transfer", "127.0.0.2/32"]);
    let messages = transfer(berth.addr, &query);
    assert_eq!(messages[0].response_code, ResponseCode::Refused);
    raw::assert_answers(berth.addr, "gateway.apps.local");
}

/// §4.2: AXFR is carried over TCP only; over UDP berth answers FORMERR
/// with no records, as BIND does.
#[test]
fn rfc5936_4_2_axfr_over_udp_is_formerr() {
    let (berth, _dir) = start(&["--allow-transfer", "127.0.0.1"]);
    let query = Query::new(6, "apps.local", AXFR).bytes();
    let reply = raw::udp_exchange(berth.addr, &query, super::REPLY).expect("reply");
    let message = Message::from_vec(&reply).expect("message");
    assert_eq!(message.response_code, ResponseCode::FormErr);
    assert!(message.answers.is_empty());
}
