//! Response rate limiting (the BIND/Knot/NSD scheme): a burst from one
//! client network gets empty TC replies or nothing past the rate, while TCP
//! and every other network are answered in full.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use berth::dns::message::FLAG_TC;
use berth::iana::{Rcode, Rtype};

use crate::support::raw::{self, ancount, rcode};
use crate::support::{Berth, http_get};

const ZONE: &str = "$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n\
                    web A 192.0.2.7\n";

fn truncated(reply: &[u8]) -> bool {
    u16::from_be_bytes([reply[2], reply[3]]) & FLAG_TC != 0
}

/// What came back for a burst of `count` queries from `socket`: full
/// answers, empty TC replies, and queries that got nothing.
#[derive(Debug, Default)]
struct Burst {
    full: usize,
    slipped: usize,
    silent: usize,
}

/// Sends `count` queries back to back (`name(i)` A), then reads replies
/// until a second of silence. Sent without waiting, so the burst outruns
/// any rate a test sets, however slow the machine.
fn burst(
    socket: &UdpSocket,
    server: SocketAddr,
    count: u16,
    name: impl Fn(u16) -> String,
) -> Burst {
    for id in 0..count {
        socket
            .send_to(&raw::query(id, &name(id), Rtype::A), server)
            .expect("send");
    }
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut seen = Burst::default();
    let mut buf = [0u8; 4096];
    while let Ok(len) = socket.recv(&mut buf) {
        let reply = &buf[..len];
        if truncated(reply) {
            assert_eq!(ancount(reply), 0, "a slipped reply carries no records");
            seen.slipped += 1;
        } else {
            seen.full += 1;
        }
    }
    seen.silent = usize::from(count) - seen.full - seen.slipped;
    seen
}

fn metric(berth: &Berth, name: &str) -> u64 {
    let (_, text) = http_get(berth.http_addr().expect("http"), "/metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

fn bind(address: &str) -> UdpSocket {
    UdpSocket::bind(address).expect("bind a loopback source address")
}

#[test]
fn a_burst_from_one_network_is_slipped_while_tcp_and_others_are_answered() {
    let (berth, _dir) = Berth::with_zone_file(ZONE, &["--rrl", "20"]);
    let web = |_| "web.apps.local".to_string();
    let seen = burst(&bind("127.0.0.1:0"), berth.addr, 300, web);
    // The default slip of 1: every limited reply is an empty TC, none lost.
    assert!(seen.full >= 20, "{seen:?}");
    assert!(seen.slipped > 0, "{seen:?}");
    // Another /24 has buckets of its own: answered in full.
    let other = burst(&bind("127.1.0.1:0"), berth.addr, 5, web);
    assert_eq!((other.full, other.slipped), (5, 0), "{other:?}");

    // TCP, where a slipped client goes, is never limited.
    let mut stream = TcpStream::connect(berth.addr).expect("tcp");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let queries: Vec<Vec<u8>> = (0..50)
        .map(|id| raw::query(id, "web.apps.local", Rtype::A))
        .collect();
    raw::tcp_send_all(&mut stream, &queries);
    for _ in &queries {
        let reply = raw::tcp_read(&mut stream).expect("a tcp answer");
        assert_eq!(ancount(&reply), 1);
        assert!(!truncated(&reply));
    }

    // NXDOMAIN is counted per zone: distinct random names share a bucket.
    let nx = burst(&bind("127.2.0.1:0"), berth.addr, 300, |i| {
        format!("nothing-{i}.apps.local")
    });
    assert!(nx.slipped > 0, "{nx:?}");
    assert!(metric(&berth, "berth_rrl_slipped_total") >= (seen.slipped + nx.slipped) as u64);
}

#[test]
fn slip_sends_every_nth_and_drops_the_rest_and_off_answers_all() {
    let (berth, _dir) = Berth::with_zone_file(ZONE, &["--rrl", "20", "--rrl-slip", "2"]);
    let seen = burst(&bind("127.0.0.1:0"), berth.addr, 300, |_| {
        "web.apps.local".to_string()
    });
    assert!(seen.slipped > 0 && seen.silent > 0, "{seen:?}");
    assert!(metric(&berth, "berth_rrl_dropped_total") > 0);
    drop(berth);

    let (berth, _dir) = Berth::with_zone_file(ZONE, &["--rrl", "off"]);
    let socket = bind("127.0.0.1:0");
    let seen = burst(&socket, berth.addr, 300, |_| "web.apps.local".to_string());
    assert_eq!(seen.slipped, 0, "{seen:?}");
    // Loopback may drop a datagram under a burst; what came is in full.
    assert!(seen.full > 0, "{seen:?}");
    let reply = raw::udp_exchange(
        berth.addr,
        &raw::query(1, "web.apps.local", Rtype::A),
        Duration::from_secs(5),
    )
    .expect("an answer");
    assert_eq!(rcode(&reply), Rcode::NOERROR);
}
