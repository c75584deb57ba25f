//! RFC behaviour of berth's own zones, checked with dig and kdig against the
//! real binary. Tests are named after the RFC (and section) they check.

use std::net::TcpStream;
use std::time::Duration;

use crate::support::dig::{dig, kdig};
use crate::support::raw;
use crate::support::{Berth, require};

const ZONE_FILE: &str = "$ORIGIN apps.local.\n$TTL 60\n\
gateway IN A 192.0.2.1\n\
gateway IN AAAA 2001:db8::1\n\
gateway IN TXT \"hello\"\n\
www IN CNAME gateway\n\
_http._tcp.www IN SRV 0 10 80 gateway\n";

fn start(extra: &[&str]) -> (Berth, tempfile::TempDir) {
    Berth::with_zone_file(ZONE_FILE, extra)
}

#[test]
fn rfc1035_configured_zone_has_berths_soa_and_ns() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "7", "--ns-address", "192.0.2.53"]);
    let soa = berth.dig(&["apps.local", "SOA"]);
    assert_eq!(soa.status, "NOERROR");
    assert!(soa.has_flag("aa"));
    let fields: Vec<&str> = soa.answer[0].rdata.split_whitespace().collect();
    assert_eq!(fields[0], "ns.apps.local.");
    assert_eq!(fields[1], "hostmaster.apps.local.");
    assert_eq!(&fields[3..], ["14400", "3600", "604800", "7"]);

    let ns = berth.dig(&["apps.local", "NS"]);
    assert_eq!(ns.rdata("NS"), ["ns.apps.local."]);
    assert_eq!(ns.additional[0].rdata, "192.0.2.53", "glue for ns.<zone>");
    assert_eq!(
        berth.dig(&["ns.apps.local", "A"]).rdata("A"),
        ["192.0.2.53"]
    );
}

#[test]
fn rfc1034_question_case_is_preserved() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let answer = berth.dig(&["GaTeWaY.aPpS.LoCaL", "A", "+question"]);
    assert_eq!(answer.rdata("A"), ["192.0.2.1"]);
    assert!(
        answer.raw.contains(";GaTeWaY.aPpS.LoCaL."),
        "question echoed as sent:\n{}",
        answer.raw
    );
    assert!(
        answer.raw.contains("\nGaTeWaY.aPpS.LoCaL."),
        "answer owner as asked:\n{}",
        answer.raw
    );
}

#[test]
fn rfc2308_negative_answers_carry_the_soa() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "9"]);
    let nxdomain = berth.dig(&["missing.apps.local", "A"]);
    assert_eq!(nxdomain.status, "NXDOMAIN");
    assert!(nxdomain.has_flag("aa"));
    assert!(nxdomain.answer.is_empty());
    assert_eq!(nxdomain.authority.len(), 1);
    assert_eq!(nxdomain.authority[0].rtype, "SOA");
    assert_eq!(nxdomain.authority[0].name, "apps.local.");
    assert_eq!(
        nxdomain.authority[0].ttl, 9,
        "negative TTL is the SOA minimum"
    );

    let nodata = berth.dig(&["gateway.apps.local", "MX"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answer.is_empty());
    assert_eq!(nodata.authority[0].rtype, "SOA");

    // An empty non-terminal exists: NODATA, not NXDOMAIN.
    let ent = berth.dig(&["_tcp.www.apps.local", "A"]);
    assert_eq!(ent.status, "NOERROR");
    assert_eq!(ent.authority[0].rtype, "SOA");
}

#[test]
fn rfc1034_cname_is_followed_inside_the_zone() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let answer = berth.dig(&["www.apps.local", "AAAA"]);
    assert_eq!(answer.rdata("CNAME"), ["gateway.apps.local."]);
    assert_eq!(answer.rdata("AAAA"), ["2001:db8::1"]);
}

#[test]
fn rfc2782_srv_targets_come_with_their_addresses() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let answer = berth.dig(&["_http._tcp.www.apps.local", "SRV"]);
    assert_eq!(answer.rdata("SRV"), ["0 10 80 gateway.apps.local."]);
    let mut extra: Vec<(String, String)> = answer
        .additional
        .iter()
        .map(|rr| (rr.rtype.clone(), rr.rdata.clone()))
        .collect();
    extra.sort();
    assert_eq!(
        extra,
        [
            ("A".to_string(), "192.0.2.1".to_string()),
            ("AAAA".to_string(), "2001:db8::1".to_string())
        ]
    );
}

#[test]
fn rfc1035_reverse_lookups_for_served_addresses() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let v4 = berth.dig(&["-x", "192.0.2.1"]);
    assert_eq!(v4.rdata("PTR"), ["gateway.apps.local."]);
    assert!(v4.has_flag("aa"));
    let v6 = berth.dig(&["-x", "2001:db8::1"]);
    assert_eq!(v6.rdata("PTR"), ["gateway.apps.local."]);
    // Not berth's: forwarding is off, so refused rather than denied.
    assert_eq!(berth.dig(&["-x", "192.0.2.99"]).status, "REFUSED");
}

#[test]
fn rfc8482_any_is_one_rrset_over_udp_and_all_over_tcp() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let udp = berth.dig(&["gateway.apps.local", "ANY", "+notcp"]);
    assert_eq!(udp.status, "NOERROR");
    assert_eq!(udp.answer.len(), 1);
    let tcp = berth.dig(&["gateway.apps.local", "ANY", "+tcp"]);
    let mut types: Vec<&str> = tcp.answer.iter().map(|rr| rr.rtype.as_str()).collect();
    types.sort();
    assert_eq!(types, ["A", "AAAA", "TXT"]);
}

#[test]
fn rfc6891_edns_is_echoed_and_its_size_honoured() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let with = berth.dig(&["gateway.apps.local", "A", "+bufsize=4096"]);
    assert_eq!(
        with.edns,
        Some((0, 1232)),
        "OPT echoed with berth's own size"
    );
    let without = berth.dig(&["gateway.apps.local", "A", "+noedns"]);
    assert_eq!(without.edns, None, "no OPT without one in the query");
    assert_eq!(without.rdata("A"), ["192.0.2.1"]);

    // Version 1 is not known: BADVERS, with an OPT of version 0.
    let badvers = berth.dig(&["gateway.apps.local", "A", "+edns=1", "+noednsnegotiation"]);
    assert_eq!(badvers.status, "BADVERS");
    assert_eq!(badvers.edns.map(|e| e.0), Some(0));

    // Unknown options are ignored.
    let option = berth.dig(&["gateway.apps.local", "A", "+ednsopt=65001:cafe"]);
    assert_eq!(option.rdata("A"), ["192.0.2.1"]);

    // The DO bit comes back.
    let dnssec = berth.dig(&["gateway.apps.local", "A", "+dnssec"]);
    assert!(
        dnssec.raw.contains("flags: do"),
        "DO echoed:\n{}",
        dnssec.raw
    );
}

#[test]
fn rfc6891_answers_larger_than_the_client_limit_set_tc() {
    if !require("dig") {
        return;
    }
    let mut zone = String::from("$TTL 60\n");
    for i in 1..=40 {
        zone.push_str(&format!("many IN A 198.51.100.{i}\n"));
    }
    let (berth, _dir) = Berth::with_zone_file(&zone, &[]);
    // 40 records are about 680 octets: over 512, under 1232.
    let small = berth.dig(&["many.apps.local", "A", "+bufsize=512", "+ignore"]);
    assert!(small.has_flag("tc"));
    let plain = berth.dig(&["many.apps.local", "A", "+noedns", "+ignore"]);
    assert!(plain.has_flag("tc"));
    let large = berth.dig(&["many.apps.local", "A", "+bufsize=1232", "+ignore"]);
    assert!(!large.has_flag("tc"));
    assert_eq!(large.answer.len(), 40);
    // dig retries over TCP by itself when it sees TC.
    let retried = berth.dig(&["many.apps.local", "A", "+noedns"]);
    assert_eq!(retried.answer.len(), 40);
}

#[test]
fn rfc7766_tcp_gives_the_whole_answer() {
    if !require("kdig") {
        return;
    }
    let mut zone = String::from("$TTL 60\n");
    for i in 1..=200 {
        zone.push_str(&format!("huge IN A 10.0.{}.{}\n", i / 250, i % 250));
    }
    let (berth, _dir) = Berth::with_zone_file(&zone, &[]);
    let answer = kdig(berth.addr, &["huge.apps.local", "A", "+tcp"]);
    assert_eq!(answer.status, "NOERROR");
    assert_eq!(answer.answer.len(), 200);
    let udp = kdig(berth.addr, &["huge.apps.local", "A", "+notcp", "+ignore"]);
    assert!(udp.has_flag("tc"));
}

#[test]
fn rfc7766_pipelined_queries_are_all_answered() {
    let (berth, _dir) = start(&[]);
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let names = [
        "gateway.apps.local",
        "www.apps.local",
        "missing.apps.local",
        "gateway.apps.local",
    ];
    let queries: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| raw::query(100 + i as u16, n, 1))
        .collect();
    raw::tcp_send_all(&mut stream, &queries);
    let mut ids: Vec<(u16, u8)> = (0..names.len())
        .map(|_| {
            let reply = raw::tcp_read(&mut stream).expect("pipelined reply");
            (raw::id(&reply), raw::rcode(&reply))
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [(100, 0), (101, 0), (102, 3), (103, 0)]);
}

#[test]
fn rfc7766_idle_connections_are_closed() {
    let (berth, _dir) = start(&[]);
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    // Far longer than berth's idle timeout: the read ends because berth
    // closed the connection, not because this deadline passed.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut byte = [0u8; 1];
    // A signal meant for another test's child may interrupt the read.
    let read = loop {
        match std::io::Read::read(&mut stream, &mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    // An orderly close (EOF) or a reset both mean berth hung up; a timeout
    // or a byte would not.
    let closed = match &read {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(
        closed,
        "expected berth to close the idle connection, got {read:?}"
    );
}

#[test]
fn ipv6_listeners_answer_over_udp_and_tcp() {
    if !require("dig") {
        return;
    }
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        assert!(!crate::support::in_ci(), "::1 is not available in CI");
        eprintln!("SKIPPING: no IPv6 loopback here");
        return;
    }
    let (berth, _dir) = start(&["--listen", "[::1]:0"]);
    assert!(berth.addr.is_ipv6());
    assert_eq!(
        dig(berth.addr, &["gateway.apps.local", "AAAA"]).rdata("AAAA"),
        ["2001:db8::1"]
    );
    assert_eq!(
        dig(berth.addr, &["gateway.apps.local", "A", "+tcp"]).rdata("A"),
        ["192.0.2.1"]
    );
}

#[test]
fn other_classes_transfers_and_foreign_names_are_refused() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    assert_eq!(
        berth.dig(&["gateway.apps.local", "A", "-c", "CH"]).status,
        "REFUSED"
    );
    assert_eq!(
        berth.dig(&["example.com", "A"]).status,
        "REFUSED",
        "forwarding is off"
    );
    let axfr = berth.dig(&["apps.local", "AXFR"]);
    assert!(
        axfr.raw.contains("Transfer failed") || axfr.status == "REFUSED",
        "{}",
        axfr.raw
    );
}

#[test]
fn wildcard_target_answers_unknown_names() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--wildcard-target", "192.0.2.200"]);
    assert_eq!(
        berth.dig(&["anything.apps.local", "A"]).rdata("A"),
        ["192.0.2.200"]
    );
    assert_eq!(
        berth.dig(&["gateway.apps.local", "A"]).rdata("A"),
        ["192.0.2.1"],
        "real names win"
    );
    // The wildcard has no AAAA: NODATA, not NXDOMAIN (RFC 4592 §3.3.1).
    let nodata = berth.dig(&["anything.apps.local", "AAAA"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answer.is_empty());
}
