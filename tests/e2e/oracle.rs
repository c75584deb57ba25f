//! BIND as the oracle: the same master files served by `named` and by berth,
//! the same queries, and the responses compared section by section — RCODE,
//! the AA and TC flags, answer, authority and additional records.

use std::path::{Path, PathBuf};

use crate::support::dig::{self, Answer, Rr};
use crate::support::named::Named;
use crate::support::{Berth, require};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/data")
}

const ZONES: [(&str, &str); 3] = [
    ("example", "example.zone"),
    ("oracle.test", "oracle.test.zone"),
    ("2.0.192.in-addr.arpa", "2.0.192.in-addr.arpa.zone"),
];

/// Queries the RFCs define answers for: (name, type, extra dig options).
const QUERIES: &[(&str, &str, &[&str])] = &[
    // RFC 4592 §2.2.1: the example zone and its queries.
    ("host3.example.", "MX", &[]),
    ("host3.example.", "A", &[]),
    ("foo.bar.example.", "TXT", &[]),
    ("host1.example.", "MX", &[]),
    ("sub.*.example.", "MX", &[]),
    ("_telnet._tcp.host1.example.", "SRV", &[]),
    ("host.subdel.example.", "A", &[]),
    ("ghost.*.example.", "MX", &[]),
    // An empty non-terminal is a name that exists (RFC 4592 §2.2.2).
    ("host2.example.", "A", &[]),
    ("_tcp.host2.example.", "SRV", &[]),
    ("subdel.example.", "NS", &[]),
    ("subdel.example.", "DS", &[]),
    ("host.subdel.example.", "DS", &[]),
    ("example.", "NS", &[]),
    ("example.", "SOA", &[]),
    // RFC 2308: NXDOMAIN and NODATA carry the SOA.
    ("nothing.oracle.test.", "A", &[]),
    ("web.oracle.test.", "MX", &[]),
    ("b.c.oracle.test.", "A", &[]),
    ("c.oracle.test.", "TXT", &[]),
    ("deeper.a.b.c.oracle.test.", "A", &[]),
    // Positive answers, several types.
    ("web.oracle.test.", "A", &[]),
    ("web.oracle.test.", "AAAA", &[]),
    ("web.oracle.test.", "TXT", &[]),
    ("oracle.test.", "NS", &[]),
    ("ns.oracle.test.", "A", &[]),
    // CNAME chasing inside the zone, and where the chain leaves it.
    ("alias.oracle.test.", "A", &[]),
    ("chain.oracle.test.", "AAAA", &[]),
    ("alias.oracle.test.", "CNAME", &[]),
    ("dangling.oracle.test.", "A", &[]),
    ("outside.oracle.test.", "A", &[]),
    ("alias.oracle.test.", "MX", &[]),
    // MX and SRV: the targets' addresses in the additional section.
    ("mail.oracle.test.", "MX", &[]),
    ("_http._tcp.oracle.test.", "SRV", &[]),
    // Wildcards: synthesis, a name that exists blocks it, CNAME at a wildcard.
    ("anything.wild.oracle.test.", "A", &[]),
    ("two.labels.wild.oracle.test.", "AAAA", &[]),
    ("exists.wild.oracle.test.", "A", &[]),
    ("anything.wild.oracle.test.", "TXT", &[]),
    ("x.cnamewild.oracle.test.", "A", &[]),
    // Case is preserved in the question and matched without it.
    ("WeB.OrAcLe.TeSt.", "A", &[]),
    ("NoThInG.oracle.test.", "A", &[]),
    // Reverse zone.
    ("10.2.0.192.in-addr.arpa.", "PTR", &[]),
    ("99.2.0.192.in-addr.arpa.", "PTR", &[]),
    // ANY of a name with one RRset (RFC 8482 lets multi-RRset answers differ).
    ("db.oracle.test.", "ANY", &["+notcp"]),
    // A 100-record and a 50-record RRset, with and without EDNS, UDP and TCP.
    ("big.oracle.test.", "A", &["+noedns", "+ignore"]),
    ("big.oracle.test.", "A", &["+bufsize=4096", "+ignore"]),
    ("big.oracle.test.", "A", &["+tcp"]),
    ("half.oracle.test.", "A", &["+noedns", "+ignore"]),
    ("half.oracle.test.", "A", &["+bufsize=1232", "+ignore"]),
    ("half.oracle.test.", "A", &["+noedns", "+tcp"]),
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
    for (name, rtype, options) in QUERIES {
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
                "{name} {rtype} {options:?}\n--- named:\n{}--- berth:\n{}",
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
