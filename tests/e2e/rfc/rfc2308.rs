//! RFC 2308, Negative Caching of DNS Queries: NXDOMAIN and NODATA from
//! berth's own zones carry the SOA a resolver caches them by.

use super::start;
use crate::support::require;

/// §2.1 with §3 and §5: NXDOMAIN is authoritative and carries the zone's
/// SOA, whose TTL and MINIMUM are `--soa-minimum`, the negative TTL — set
/// apart from `--ttl`, the positive TTL of the names themselves.
#[test]
fn rfc2308_2_1_nxdomain_carries_the_soa() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "9", "--soa-minimum", "120"]);
    let nxdomain = berth.dig(&["missing.apps.local", "A"]);
    assert_eq!(nxdomain.status, "NXDOMAIN");
    assert!(nxdomain.has_flag("aa"));
    assert!(nxdomain.answer.is_empty());
    assert_eq!(nxdomain.authority.len(), 1);
    assert_eq!(nxdomain.authority[0].rtype, "SOA");
    assert_eq!(nxdomain.authority[0].name, "apps.local.");
    assert_eq!(
        nxdomain.authority[0].ttl, 120,
        "negative TTL is the SOA minimum"
    );
    let minimum = nxdomain.authority[0].rdata.split_whitespace().last();
    assert_eq!(minimum, Some("120"));
    let ns = berth.dig(&["apps.local", "NS"]);
    assert_eq!(ns.answer[0].ttl, 9, "generated records keep --ttl");
}

/// §2.2: a name that exists without the type asked for is NOERROR with an
/// empty answer and the SOA.
#[test]
fn rfc2308_2_2_nodata_carries_the_soa() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start(&["--ttl", "9"]);
    let nodata = berth.dig(&["gateway.apps.local", "MX"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answer.is_empty());
    assert_eq!(nodata.authority[0].rtype, "SOA");
}
