//! RFC 6891, Extension Mechanisms for DNS (EDNS(0)): the OPT record as
//! berth echoes it, and the requestor's payload size.

use berth::iana::Rtype;

use super::{expect_formerr, start, start_with_many, still_answers};
use crate::support::raw::Query;
use crate::support::require;

/// §6.1.1: a query with OPT gets OPT back, version 0, with berth's own
/// payload size rather than the requestor's.
#[test]
fn rfc6891_6_1_1_opt_is_echoed_with_berths_payload_size() {
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
}

/// §7: without OPT in the query there is none in the response.
#[test]
fn rfc6891_7_no_opt_without_one_in_the_query() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let without = berth.dig(&["gateway.apps.local", "A", "+noedns"]);
    assert_eq!(without.edns, None, "no OPT without one in the query");
    assert_eq!(without.rdata("A"), ["192.0.2.1"]);
}

/// §6.1.3: a version berth does not implement gets BADVERS, with an OPT
/// of the version berth does.
#[test]
fn rfc6891_6_1_3_unknown_version_gets_badvers() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let badvers = berth.dig(&["gateway.apps.local", "A", "+edns=1", "+noednsnegotiation"]);
    assert_eq!(badvers.status, "BADVERS");
    assert_eq!(badvers.edns.map(|e| e.0), Some(0));
}

/// §6.1.2: "Any OPTION-CODE values not understood by a responder or
/// requestor MUST be ignored."
#[test]
fn rfc6891_6_1_2_unknown_options_are_ignored() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let option = berth.dig(&["gateway.apps.local", "A", "+ednsopt=65001:cafe"]);
    assert_eq!(option.rdata("A"), ["192.0.2.1"]);
}

/// §6.2.3: the requestor's payload size bounds the UDP response; an
/// answer over it is truncated, one under it is not.
#[test]
fn rfc6891_6_2_3_answers_over_the_requestors_payload_size_set_tc() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start_with_many();
    let small = berth.dig(&["many.apps.local", "A", "+bufsize=512", "+ignore"]);
    assert!(small.has_flag("tc"));
    let large = berth.dig(&["many.apps.local", "A", "+bufsize=1232", "+ignore"]);
    assert!(!large.has_flag("tc"));
    assert_eq!(large.answer.len(), 40);
}

/// §7: a problem with the OPT record itself, here an option overrunning
/// its RDATA, is a FORMERR.
#[test]
fn rfc6891_7_malformed_opt_gets_formerr() {
    let (berth, _dir) = start(&[]);
    let bad_opt = Query::new(11, "gateway.apps.local", Rtype::A)
        .opt(1232, &[0, 10, 0, 9])
        .bytes();
    expect_formerr(&berth, &bad_opt, "overrunning EDNS option");
    still_answers(&berth);
}
