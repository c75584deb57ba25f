//! RFC 3596, DNS Extensions to Support IP Version 6.

use super::start;
use crate::support::require;

/// §2.5: a served IPv6 address has a PTR under IP6.ARPA back to its name.
#[test]
fn rfc3596_2_5_ip6_arpa_ptr_for_served_addresses() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&[]);
    let v6 = berth.dig(&["-x", "2001:db8::1"]);
    assert_eq!(v6.rdata("PTR"), ["gateway.apps.local."]);
}
