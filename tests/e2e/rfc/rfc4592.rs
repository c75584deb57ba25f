//! RFC 4592, The Role of Wildcards in the Domain Name System. The §2.2.1
//! example zone itself is served by berth and BIND side by side in
//! `oracle.rs`; these tests cover berth's own names.

use super::start;
use crate::support::require;

/// §2.2.2: an empty non-terminal exists, so asking for it is NODATA with
/// the SOA, not NXDOMAIN.
#[test]
fn rfc4592_2_2_2_empty_non_terminal_is_nodata() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "9"]);
    let ent = berth.dig(&["_tcp.www.apps.local", "A"]);
    assert_eq!(ent.status, "NOERROR");
    assert_eq!(ent.authority[0].rtype, "SOA");
}

/// §3.3: the wildcard `--wildcard-target` puts at the apex answers only
/// names that do not exist, and a type it lacks is NODATA, not NXDOMAIN.
#[test]
fn rfc4592_3_3_wildcard_answers_only_names_that_do_not_exist() {
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
    let nodata = berth.dig(&["anything.apps.local", "AAAA"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answer.is_empty());
}
