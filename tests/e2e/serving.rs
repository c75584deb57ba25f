//! What berth serves at all, which no RFC decides: the addresses it listens
//! on, and the queries it refuses (another class, a zone transfer, a name
//! it does not hold while forwarding is off).

use crate::support::dig::dig;
use crate::support::{Berth, require};

const ZONE_FILE: &str = "$ORIGIN apps.local.\n$TTL 60\n\
gateway IN A 192.0.2.1\n\
gateway IN AAAA 2001:db8::1\n";

#[test]
fn ipv6_listeners_answer_over_udp_and_tcp() {
    if !require("dig") {
        return;
    }
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        assert!(!crate::support::in_ci(), "::1 is not available in CI");
        eprintln!("SKIPPING: no IPv6 loopback here");
        return;
    }
    let (berth, _dir) = Berth::with_zone_file(ZONE_FILE, &["--listen", "[::1]:0"]);
    assert!(berth.addr.is_ipv6());
    assert_eq!(
        dig(berth.addr, &["gateway.apps.local", "AAAA"]).rdata("AAAA"),
        ["2001:db8::1"]
    );
    assert_eq!(
        dig(berth.addr, &["gateway.apps.local", "A", "+tcp"]).rdata("A"),
        ["192.0.2.1"]
    );
}

#[test]
fn other_classes_transfers_and_foreign_names_are_refused() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = Berth::with_zone_file(ZONE_FILE, &[]);
    assert_eq!(
        berth.dig(&["gateway.apps.local", "A", "-c", "CH"]).status,
        "REFUSED"
    );
    assert_eq!(
        berth.dig(&["example.com", "A"]).status,
        "REFUSED",
        "forwarding is off"
    );
    let axfr = berth.dig(&["apps.local", "AXFR"]);
    assert!(
        axfr.raw.contains("Transfer failed") || axfr.status == "REFUSED",
        "{}",
        axfr.raw
    );
}
