//! RFC 1035, Domain Names - Implementation and Specification: berth's SOA
//! and NS, reverse names, UDP size, and what it does with messages that
//! break the format of §4.
//!
//! Every malformed-message test ends by checking berth still answers.

use std::time::Duration;

use berth::iana::{Rcode, Rtype};

use super::{REPLY, expect_formerr, start, start_with_many, still_answers};
use crate::support::raw::{self, Query, udp_exchange};
use crate::support::require;

/// Long enough to be sure no reply is coming to a packet berth drops.
const QUIET: Duration = Duration::from_millis(500);

/// §3.3.13: the SOA berth makes for a configured zone names berth's own
/// server and mailbox, with its timers and `--soa-minimum` as MINIMUM
/// (default 5, whatever `--ttl` is).
#[test]
fn rfc1035_3_3_13_apex_soa_has_berths_fields() {
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
    assert_eq!(&fields[3..], ["14400", "3600", "604800", "5"]);
}

/// §3.3.11: NS records cause additional section processing for the
/// server's address; berth's `ns.<zone>` answers with `--ns-address`.
#[test]
fn rfc1035_3_3_11_apex_ns_comes_with_its_address() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "7", "--ns-address", "192.0.2.53"]);
    let ns = berth.dig(&["apps.local", "NS"]);
    assert_eq!(ns.rdata("NS"), ["ns.apps.local."]);
    assert_eq!(ns.additional[0].rdata, "192.0.2.53", "glue for ns.<zone>");
    assert_eq!(
        berth.dig(&["ns.apps.local", "A"]).rdata("A"),
        ["192.0.2.53"]
    );
}

/// §3.3.11 and §3.3.13 with `--ns`: every name server given is in the NS
/// RRset with its addresses beside it (two distinct addresses, as zone
/// checkers ask), a name outside the zone is listed without glue, and the
/// first is the SOA's MNAME.
#[test]
fn rfc1035_3_3_11_several_name_servers() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[
        "--ns",
        "ns1=192.0.2.53",
        "--ns",
        "ns2=198.51.100.53",
        "--ns",
        "ns2=2001:db8::53",
        "--ns",
        "ns.example.net.",
    ]);
    let ns = berth.dig(&["apps.local", "NS"]);
    let mut names = ns.rdata("NS");
    names.sort();
    assert_eq!(
        names,
        ["ns.example.net.", "ns1.apps.local.", "ns2.apps.local."]
    );
    let mut glue: Vec<String> = ns
        .additional
        .iter()
        .map(|rr| format!("{} {} {}", rr.name, rr.rtype, rr.rdata))
        .collect();
    glue.sort();
    assert_eq!(
        glue,
        [
            "ns1.apps.local. A 192.0.2.53",
            "ns2.apps.local. A 198.51.100.53",
            "ns2.apps.local. AAAA 2001:db8::53"
        ]
    );
    let soa = berth.dig(&["apps.local", "SOA"]);
    assert!(
        soa.answer[0].rdata.starts_with("ns1.apps.local. "),
        "{soa:?}"
    );
    // The usual ns.<zone> is not made when --ns is given.
    assert_eq!(berth.dig(&["ns.apps.local", "A"]).status, "NXDOMAIN");
}

/// §3.5: a served address has a PTR under IN-ADDR.ARPA back to its name.
#[test]
fn rfc1035_3_5_in_addr_arpa_ptr_for_served_addresses() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let v4 = berth.dig(&["-x", "192.0.2.1"]);
    assert_eq!(v4.rdata("PTR"), ["gateway.apps.local."]);
    assert!(v4.has_flag("aa"));
    // Not berth's: forwarding is off, so refused rather than denied.
    assert_eq!(berth.dig(&["-x", "192.0.2.99"]).status, "REFUSED");
}

/// §4.2.1: without EDNS a UDP message is at most 512 octets; a longer
/// answer is truncated and TC set.
#[test]
fn rfc1035_4_2_1_udp_answers_over_512_octets_set_tc() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start_with_many();
    let plain = berth.dig(&["many.apps.local", "A", "+noedns", "+ignore"]);
    assert!(plain.has_flag("tc"));
}

/// §4.1.1: a message shorter than the 12-octet header has no ID to answer
/// to; berth drops it.
#[test]
fn rfc1035_4_1_1_short_header_is_dropped() {
    let (berth, _dir) = start(&[]);
    for len in [0usize, 1, 5, 11] {
        let packet = raw::query(1, "gateway.apps.local", Rtype::A);
        assert!(
            udp_exchange(berth.addr, &packet[..len.max(1)], QUIET).is_none(),
            "reply to {len} bytes"
        );
    }
    still_answers(&berth);
}

/// §4.1.1: QDCOUNT other than one, whether or not the questions follow,
/// is a format error.
#[test]
fn rfc1035_4_1_1_qdcount_other_than_one_gets_formerr() {
    let (berth, _dir) = start(&[]);
    let none = Query::new(4, "gateway.apps.local", Rtype::A)
        .qdcount(0)
        .bytes();
    expect_formerr(&berth, &none, "QDCOUNT 0");
    let two = Query::new(5, "gateway.apps.local", Rtype::A)
        .qdcount(2)
        .bytes();
    expect_formerr(&berth, &two, "QDCOUNT 2 with one question");
    let two_real = Query::new(6, "gateway.apps.local", Rtype::A)
        .questions(2)
        .bytes();
    expect_formerr(&berth, &two_real, "QDCOUNT 2");
    still_answers(&berth);
}

/// §4.1.1: an opcode other than QUERY gets NOTIMP, the opcode echoed.
#[test]
fn rfc1035_4_1_1_unknown_opcodes_get_notimp() {
    let (berth, _dir) = start(&[]);
    for opcode in [1u8, 2, 4, 5, 15] {
        let packet = Query::new(20 + opcode as u16, "gateway.apps.local", Rtype::A)
            .opcode(opcode)
            .bytes();
        let reply = udp_exchange(berth.addr, &packet, REPLY).expect("reply");
        assert_eq!(raw::rcode(&reply), Rcode::NOTIMP, "opcode {opcode}");
        assert_eq!(raw::opcode(&reply), opcode, "opcode echoed");
    }
    still_answers(&berth);
}

/// §4.1.2: a question cut off before QTYPE and QCLASS is a format error.
#[test]
fn rfc1035_4_1_2_cut_off_question_gets_formerr() {
    let (berth, _dir) = start(&[]);
    let full = raw::query(10, "gateway.apps.local", Rtype::A);
    expect_formerr(&berth, &full[..full.len() - 3], "cut-off question");
    still_answers(&berth);
}

/// §4.1.4: a compression pointer in the question (the only name before
/// it) can only point forwards or at itself: FORMERR, never a loop.
#[test]
fn rfc1035_4_1_4_compression_pointers_in_the_question_get_formerr() {
    let (berth, _dir) = start(&[]);
    let forward = Query::new(2, "", Rtype::A)
        .qname_octets(&[0xc0, 0x40])
        .bytes();
    expect_formerr(&berth, &forward, "forward pointer");
    let looped = Query::new(3, "", Rtype::A)
        .qname_octets(&[0xc0, 0x0c])
        .bytes();
    expect_formerr(&berth, &looped, "pointer to itself");
    still_answers(&berth);
}

/// §2.3.4: labels are at most 63 octets, names at most 255.
#[test]
fn rfc1035_2_3_4_oversized_labels_and_names_get_formerr() {
    let (berth, _dir) = start(&[]);
    // A 64-octet label: its length byte has the 0x40 bit set.
    let long_label = raw::query(8, &"a".repeat(64), Rtype::A);
    expect_formerr(&berth, &long_label, "64-octet label");
    let long_name = raw::query(9, &[&*"a".repeat(60); 5].join("."), Rtype::A);
    expect_formerr(&berth, &long_name, "name over 255 octets");
    still_answers(&berth);
}
