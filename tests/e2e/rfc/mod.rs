//! RFC behaviour of berth's own zones, checked against the real binary with
//! dig, kdig and hand-built packets. One file per RFC; each test is named
//! after the section it checks (`rfc2308_2_2_…` is RFC 2308 §2.2), numbers
//! taken from the RFC text. RFC 2782's sections are unnumbered, so its test
//! names the field instead. BIND's answers to the same kinds of query are
//! compared in `oracle.rs`; what no RFC decides is in `serving.rs`.

mod rfc1034;
mod rfc1035;
mod rfc1995;
mod rfc1996;
mod rfc2181;
mod rfc2308;
mod rfc2782;
mod rfc3225;
mod rfc3596;
mod rfc4592;
mod rfc5936;
mod rfc6891;
mod rfc7766;
mod rfc8482;
mod rfc8945;

use std::time::Duration;

use berth::iana::Rcode;

use crate::support::Berth;
use crate::support::raw::{self, udp_exchange};

/// apps.local as most tests here see it: one name with three types, an
/// alias to it, and an SRV whose parent `_tcp.www` is an empty non-terminal.
const ZONE_FILE: &str = "$ORIGIN apps.local.\n$TTL 60\n\
gateway IN A 192.0.2.1\n\
gateway IN AAAA 2001:db8::1\n\
gateway IN TXT \"hello\"\n\
www IN CNAME gateway\n\
_http._tcp.www IN SRV 0 10 80 gateway\n";

/// How long a reply may take; silence past it means none is coming.
const REPLY: Duration = Duration::from_secs(5);

fn start(extra: &[&str]) -> (Berth, tempfile::TempDir) {
    Berth::with_zone_file(ZONE_FILE, extra)
}

/// berth serving `many.apps.local` with 40 A records: about 680 octets,
/// over 512 and under 1232.
fn start_with_many() -> (Berth, tempfile::TempDir) {
    let mut zone = String::from("$TTL 60\n");
    for i in 1..=40 {
        zone.push_str(&format!("many IN A 198.51.100.{i}\n"));
    }
    Berth::with_zone_file(&zone, &[])
}

/// Sends `packet` and asserts a FORMERR response with its ID.
fn expect_formerr(berth: &Berth, packet: &[u8], what: &str) {
    let reply =
        udp_exchange(berth.addr, packet, REPLY).unwrap_or_else(|| panic!("{what}: no reply"));
    assert!(raw::is_response(&reply), "{what}: not a response");
    assert_eq!(raw::id(&reply), raw::id(packet), "{what}: wrong ID");
    assert_eq!(
        raw::rcode(&reply),
        Rcode::FORMERR,
        "{what}: expected FORMERR"
    );
}

fn still_answers(berth: &Berth) {
    raw::assert_answers(berth.addr, "gateway.apps.local");
}
