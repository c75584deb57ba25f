//! RFC 8482, Providing Minimal-Sized Responses to DNS Queries That Have
//! QTYPE=ANY.

use super::start;
use crate::support::require;

/// §4.1: over UDP an ANY query is answered with one of the name's RRsets.
#[test]
fn rfc8482_4_1_any_over_udp_is_one_rrset() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let udp = berth.dig(&["gateway.apps.local", "ANY", "+notcp"]);
    assert_eq!(udp.status, "NOERROR");
    assert_eq!(udp.answer.len(), 1);
}

/// §4.4: a responder may give the conventional answer, every RRset, over
/// TCP, where size cannot be used for amplification.
#[test]
fn rfc8482_4_4_any_over_tcp_is_every_rrset() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let tcp = berth.dig(&["gateway.apps.local", "ANY", "+tcp"]);
    let mut types: Vec<&str> = tcp.answer.iter().map(|rr| rr.rtype.as_str()).collect();
    types.sort();
    assert_eq!(types, ["A", "AAAA", "TXT"]);
}
