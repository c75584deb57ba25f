//! RFC 3225, Indicating Resolver Support of DNSSEC: the DO bit.

use super::start;
use crate::support::require;

/// §3: "The DO bit of the query MUST be copied in the response."
#[test]
fn rfc3225_3_do_bit_is_copied_into_the_response() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let dnssec = berth.dig(&["gateway.apps.local", "A", "+dnssec"]);
    assert!(
        dnssec.raw.contains("flags: do"),
        "DO echoed:\n{}",
        dnssec.raw
    );
}
