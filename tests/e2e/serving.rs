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

/// A burst at full rate overflows the kernel's default receive buffer and
/// loses queries; berth asks for 1 MiB, as NSD does. The kernel grants it
/// whole to a privileged process and caps it at `net.core.rmem_max`
/// otherwise, then counts double; either way it is more than the default.
#[test]
fn udp_sockets_get_a_receive_buffer_larger_than_the_default() {
    if !require("ss") {
        return;
    }
    let berth = Berth::start(&[]);
    let default = core_sysctl("rmem_default");
    let granted_at_least = 2 * core_sysctl("rmem_max").min(1 << 20);
    let buffers = udp_receive_buffers(berth.port());
    assert!(
        !buffers.is_empty(),
        "ss lists no UDP socket on port {}",
        berth.port()
    );
    for buffer in buffers {
        assert!(buffer > default, "rb {buffer} <= rmem_default {default}");
        assert!(
            buffer >= granted_at_least,
            "rb {buffer} < {granted_at_least}"
        );
    }
    assert!(
        berth.log().contains("udp receive buffer"),
        "{}",
        berth.log()
    );
}

fn core_sysctl(name: &str) -> u64 {
    let path = format!("/proc/sys/net/core/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {text:?}: {e}"))
}

/// The `rb` (receive buffer) of each UDP socket bound to `port`, from
/// `ss -m`: one per worker thread, all sharing the port.
fn udp_receive_buffers(port: u16) -> Vec<u64> {
    let output = std::process::Command::new("ss")
        .args(["-ulmnH", &format!("sport = :{port}")])
        .output()
        .expect("run ss");
    assert!(output.status.success(), "ss failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .split("skmem:(")
        .skip(1)
        .filter_map(|memory| {
            memory
                .split([',', ')'])
                .find_map(|field| field.strip_prefix("rb"))
                .and_then(|bytes| bytes.parse().ok())
        })
        .collect()
}
