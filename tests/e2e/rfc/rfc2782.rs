//! RFC 2782, A DNS RR for specifying the location of services (DNS SRV).
//! Its sections are not numbered; the test names the field it checks.

use super::start;
use crate::support::require;

/// "The format of the SRV RR", Target: implementors are urged to return
/// the target's address records in the additional section.
#[test]
fn rfc2782_target_addresses_come_in_the_additional_section() {
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
