//! RFC 1034, Domain Names - Concepts and Facilities: names as berth echoes
//! them, and the lookup algorithm of §4.3.2.

use super::start;
use crate::support::require;

/// §3.1: "When you receive a domain name or label, you should preserve its
/// case" — in the question echoed and in the answer's owner.
#[test]
fn rfc1034_3_1_question_case_is_preserved() {
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

/// §4.3.2 step 3a: a CNAME goes into the answer and the search restarts at
/// its target, which berth holds too.
#[test]
fn rfc1034_4_3_2_cname_is_followed_inside_the_zone() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let answer = berth.dig(&["www.apps.local", "AAAA"]);
    assert_eq!(answer.rdata("CNAME"), ["gateway.apps.local."]);
    assert_eq!(answer.rdata("AAAA"), ["2001:db8::1"]);
}
