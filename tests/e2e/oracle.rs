//! BIND as the oracle: the same master files served by `named` and by berth,
//! the same queries, and the responses compared section by section — RCODE,
//! the AA and TC flags, answer, authority and additional records.

use std::path::{Path, PathBuf};

use std::time::Duration;

use berth::dns::message::FLAG_CD;
use berth::iana::Rtype;

use crate::support::dig::{self, Answer, Rr};
use crate::support::named::Named;
use crate::support::raw::{Query, udp_exchange};
use crate::support::{Berth, require};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/data")
}

const ZONES: [(&str, &str); 3] = [
    ("example", "example.zone"),
    ("oracle.test", "oracle.test.zone"),
    ("2.0.192.in-addr.arpa", "2.0.192.in-addr.arpa.zone"),
];

/// Queries the RFCs define answers for: (the section the expected answer
/// comes from, name, type, extra dig options).
const QUERIES: &[(&str, &str, &str, &[&str])] = &[
    // The example zone and its queries.
    ("RFC 4592 §2.2.1", "host3.example.", "MX", &[]),
    ("RFC 4592 §2.2.1", "host3.example.", "A", &[]),
    ("RFC 4592 §2.2.1", "foo.bar.example.", "TXT", &[]),
    ("RFC 4592 §2.2.1", "host1.example.", "MX", &[]),
    ("RFC 4592 §2.2.1", "sub.*.example.", "MX", &[]),
    ("RFC 4592 §2.2.1", "_telnet._tcp.host1.example.", "SRV", &[]),
    ("RFC 4592 §2.2.1", "host.subdel.example.", "A", &[]),
    ("RFC 4592 §2.2.1", "ghost.*.example.", "MX", &[]),
    // An empty non-terminal is a name that exists.
    ("RFC 4592 §2.2.2", "host2.example.", "A", &[]),
    ("RFC 4592 §2.2.2", "_tcp.host2.example.", "SRV", &[]),
    // The delegation: referrals, and the cut's DS answered from the parent.
    ("RFC 1034 §4.3.2", "subdel.example.", "NS", &[]),
    ("RFC 4035 §3.1.4.1", "subdel.example.", "DS", &[]),
    ("RFC 1034 §4.3.2", "host.subdel.example.", "DS", &[]),
    ("RFC 1035 §3.3.11", "example.", "NS", &[]),
    ("RFC 1035 §3.3.13", "example.", "SOA", &[]),
    // NXDOMAIN and NODATA carry the SOA; empty non-terminals are NODATA.
    ("RFC 2308 §2.1", "nothing.oracle.test.", "A", &[]),
    ("RFC 2308 §2.2", "web.oracle.test.", "MX", &[]),
    ("RFC 4592 §2.2.2", "b.c.oracle.test.", "A", &[]),
    ("RFC 4592 §2.2.2", "c.oracle.test.", "TXT", &[]),
    ("RFC 2308 §2.1", "deeper.a.b.c.oracle.test.", "A", &[]),
    // Positive answers, several types.
    ("RFC 1034 §4.3.2", "web.oracle.test.", "A", &[]),
    ("RFC 1034 §4.3.2", "web.oracle.test.", "AAAA", &[]),
    ("RFC 1034 §4.3.2", "web.oracle.test.", "TXT", &[]),
    ("RFC 1035 §3.3.11", "oracle.test.", "NS", &[]),
    ("RFC 1034 §4.3.2", "ns.oracle.test.", "A", &[]),
    // CNAME chasing inside the zone, and where the chain leaves it.
    ("RFC 1034 §4.3.2", "alias.oracle.test.", "A", &[]),
    ("RFC 1034 §4.3.2", "chain.oracle.test.", "AAAA", &[]),
    ("RFC 1034 §4.3.2", "alias.oracle.test.", "CNAME", &[]),
    ("RFC 1034 §4.3.2", "dangling.oracle.test.", "A", &[]),
    ("RFC 1034 §4.3.2", "outside.oracle.test.", "A", &[]),
    ("RFC 1034 §4.3.2", "alias.oracle.test.", "MX", &[]),
    // MX and SRV: the targets' addresses in the additional section.
    ("RFC 1035 §3.3.9", "mail.oracle.test.", "MX", &[]),
    ("RFC 2782 Target", "_http._tcp.oracle.test.", "SRV", &[]),
    // Wildcards: synthesis, a name that exists blocks it, CNAME at a wildcard.
    ("RFC 4592 §3.3", "anything.wild.oracle.test.", "A", &[]),
    ("RFC 4592 §3.3", "two.labels.wild.oracle.test.", "AAAA", &[]),
    ("RFC 4592 §3.3", "exists.wild.oracle.test.", "A", &[]),
    ("RFC 4592 §3.3", "anything.wild.oracle.test.", "TXT", &[]),
    ("RFC 4592 §4.3", "x.cnamewild.oracle.test.", "A", &[]),
    // Case is preserved in the question and matched without it.
    ("RFC 1034 §3.1", "WeB.OrAcLe.TeSt.", "A", &[]),
    ("RFC 1034 §3.1", "NoThInG.oracle.test.", "A", &[]),
    // Reverse zone.
    ("RFC 1035 §3.5", "10.2.0.192.in-addr.arpa.", "PTR", &[]),
    ("RFC 1035 §3.5", "99.2.0.192.in-addr.arpa.", "PTR", &[]),
    // ANY of a name with one RRset (multi-RRset answers may differ).
    ("RFC 8482 §4.1", "db.oracle.test.", "ANY", &["+notcp"]),
    // A 100-record and a 50-record RRset, with and without EDNS, UDP and TCP.
    (
        "RFC 1035 §4.2.1",
        "big.oracle.test.",
        "A",
        &["+noedns", "+ignore"],
    ),
    (
        "RFC 6891 §6.2.3",
        "big.oracle.test.",
        "A",
        &["+bufsize=4096", "+ignore"],
    ),
    ("RFC 7766 §5", "big.oracle.test.", "A", &["+tcp"]),
    (
        "RFC 1035 §4.2.1",
        "half.oracle.test.",
        "A",
        &["+noedns", "+ignore"],
    ),
    (
        "RFC 6891 §6.2.3",
        "half.oracle.test.",
        "A",
        &["+bufsize=1232", "+ignore"],
    ),
    (
        "RFC 7766 §5",
        "half.oracle.test.",
        "A",
        &["+noedns", "+tcp"],
    ),
];

/// What is compared: dig's view of the response, records sorted (RRset
/// order is not significant), SOA serials aside.
#[derive(Debug, PartialEq, Eq)]
struct Comparable {
    status: String,
    aa: bool,
    tc: bool,
    answer: Vec<Rr>,
    authority: Vec<Rr>,
    additional: Vec<Rr>,
}

/// With TC set the sections are advisory (RFC 2181 §9): BIND fills in what
/// fits, berth sends none, and the client retries over TCP either way. Only
/// the header is compared then.
fn comparable(answer: &Answer) -> Comparable {
    if answer.has_flag("tc") {
        return Comparable {
            status: answer.status.clone(),
            aa: answer.has_flag("aa"),
            tc: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        };
    }
    let sorted = |rrs: &[Rr]| {
        let mut rrs: Vec<Rr> = rrs.iter().cloned().map(without_serial).collect();
        rrs.sort();
        rrs
    };
    Comparable {
        status: answer.status.clone(),
        aa: answer.has_flag("aa"),
        tc: answer.has_flag("tc"),
        answer: sorted(&answer.answer),
        authority: sorted(&answer.authority),
        additional: sorted(&answer.additional),
    }
}

fn without_serial(mut rr: Rr) -> Rr {
    if rr.rtype == "SOA" {
        let mut fields: Vec<&str> = rr.rdata.split_whitespace().collect();
        if fields.len() > 2 {
            fields[2] = "SERIAL";
        }
        rr.rdata = fields.join(" ");
    }
    rr.rdata = rr.rdata.to_ascii_lowercase();
    rr
}

#[test]
fn berth_answers_as_bind_does() {
    if !require("named") || !require("dig") {
        return;
    }
    let data = data_dir();
    let files: Vec<(&str, String)> = ZONES
        .iter()
        .map(|(origin, file)| (*origin, data.join(file).display().to_string()))
        .collect();
    let named_zones: Vec<(&str, &str)> = files.iter().map(|(o, f)| (*o, f.as_str())).collect();
    let named = Named::start(&named_zones);
    let berth = Berth::start(&["--zones", data.to_str().unwrap(), "--zone", "berth.invalid"]);

    let mut mismatches = Vec::new();
    for (section, name, rtype, options) in QUERIES {
        let mut args = vec![*name, *rtype];
        args.extend_from_slice(options);
        let expected = dig::dig(named.addr, &args);
        let got = berth.dig(&args);
        assert!(
            !expected.status.is_empty(),
            "named gave no answer to {args:?}:\n{}",
            expected.raw
        );
        if comparable(&expected) != comparable(&got) {
            mismatches.push(format!(
                "{section}: {name} {rtype} {options:?}\n--- named:\n{}--- berth:\n{}",
                expected.raw, got.raw
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} queries differ from BIND:\n{}",
        mismatches.len(),
        QUERIES.len(),
        mismatches.join("\n")
    );
}

/// Opcodes berth does not implement (RFC 1035 §4.1.1): NOTIMP with the
/// opcode echoed and only QR set — RD and CD belong to queries, and BIND
/// clears them — and a NOTIFY (RFC 1996 §3.7) or UPDATE (RFC 2136 §3.1.1)
/// without the one question naming its zone is FORMERR. The replies are
/// compared byte for byte with BIND's.
#[test]
fn other_opcodes_are_answered_as_bind_does() {
    if !require("named") {
        return;
    }
    let data = data_dir();
    let file = data.join("oracle.test.zone").display().to_string();
    let named = Named::start(&[("oracle.test", &file)]);
    let berth = Berth::start(&["--zones", data.to_str().unwrap(), "--zone", "berth.invalid"]);
    let wait = Duration::from_secs(5);
    // IQUERY, STATUS, unassigned 3, DSO (RFC 8490, TCP only) and 15, with
    // a question; NOTIFY and UPDATE without one.
    let cases = [(1u8, 1u16), (2, 1), (3, 1), (6, 1), (15, 1), (4, 0), (5, 0)];
    for (opcode, qdcount) in cases {
        let packet = Query::new(0x4100 + u16::from(opcode), "web.oracle.test", Rtype::A)
            .opcode(opcode)
            .flags(FLAG_CD)
            .questions(qdcount)
            .bytes();
        let expected = udp_exchange(named.addr, &packet, wait)
            .unwrap_or_else(|| panic!("named: no reply to opcode {opcode}"));
        let got = udp_exchange(berth.addr, &packet, wait)
            .unwrap_or_else(|| panic!("berth: no reply to opcode {opcode}"));
        assert_eq!(got, expected, "opcode {opcode}, QDCOUNT {qdcount}");
    }
}
