//! Nothing from the network can hurt berth: malformed queries get FORMERR
//! or silence (RFC 1035 §4.1.1), and the server answers normally afterwards.

use std::net::TcpStream;
use std::time::Duration;

use crate::support::raw::{self, FORMERR, NOERROR, NOTIMP, Query, udp_exchange};
use crate::support::{Berth, require};

const QUIET: Duration = Duration::from_millis(500);
const REPLY: Duration = Duration::from_secs(5);

fn start() -> (Berth, tempfile::TempDir) {
    Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.7\n", &[])
}

fn still_answers(berth: &Berth) {
    let reply = udp_exchange(berth.addr, &raw::query(7, "web.apps.local", 1), REPLY)
        .expect("berth stopped answering");
    assert_eq!(raw::rcode(&reply), NOERROR);
    assert_eq!(raw::ancount(&reply), 1);
}

fn expect_formerr(berth: &Berth, packet: &[u8], what: &str) {
    let reply =
        udp_exchange(berth.addr, packet, REPLY).unwrap_or_else(|| panic!("{what}: no reply"));
    assert!(raw::is_response(&reply), "{what}: not a response");
    assert_eq!(raw::id(&reply), raw::id(packet), "{what}: wrong ID");
    assert_eq!(raw::rcode(&reply), FORMERR, "{what}: expected FORMERR");
}

#[test]
fn rfc1035_truncated_header_is_dropped() {
    let (berth, _dir) = start();
    for len in [0usize, 1, 5, 11] {
        let packet = raw::query(1, "web.apps.local", 1);
        assert!(
            udp_exchange(berth.addr, &packet[..len.max(1)], QUIET).is_none(),
            "reply to {len} bytes"
        );
    }
    still_answers(&berth);
}

#[test]
fn rfc1035_malformed_questions_get_formerr() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start();

    // A compression pointer in the question, pointing forwards, and a loop.
    let forward = Query::new(2, "", 1).qname_octets(&[0xc0, 0x40]).bytes();
    expect_formerr(&berth, &forward, "forward pointer");
    let looped = Query::new(3, "", 1).qname_octets(&[0xc0, 0x0c]).bytes();
    expect_formerr(&berth, &looped, "pointer to itself");

    // QDCOUNT 0 and 2.
    let none = Query::new(4, "web.apps.local", 1).qdcount(0).bytes();
    expect_formerr(&berth, &none, "QDCOUNT 0");
    let two = Query::new(5, "web.apps.local", 1).qdcount(2).bytes();
    expect_formerr(&berth, &two, "QDCOUNT 2 with one question");
    let two_real = Query::new(6, "web.apps.local", 1).questions(2).bytes();
    expect_formerr(&berth, &two_real, "QDCOUNT 2");

    // A label longer than 63 octets (its length byte has the 0x40 bit set).
    let long_label = raw::query(8, &"a".repeat(64), 1);
    expect_formerr(&berth, &long_label, "64-octet label");

    // A name longer than 255 octets.
    let long_name = raw::query(9, &[&*"a".repeat(60); 5].join("."), 1);
    expect_formerr(&berth, &long_name, "name over 255 octets");

    // The question cut off before QTYPE/QCLASS.
    let full = raw::query(10, "web.apps.local", 1);
    expect_formerr(&berth, &full[..full.len() - 3], "cut-off question");

    // An OPT record whose options overrun its RDATA.
    let bad_opt = Query::new(11, "web.apps.local", 1)
        .opt(1232, &[0, 10, 0, 9])
        .bytes();
    expect_formerr(&berth, &bad_opt, "overrunning EDNS option");

    still_answers(&berth);
}

#[test]
fn rfc1035_unknown_opcodes_get_notimp() {
    let (berth, _dir) = start();
    for opcode in [1u8, 2, 4, 5, 15] {
        let packet = Query::new(20 + opcode as u16, "web.apps.local", 1)
            .opcode(opcode)
            .bytes();
        let reply = udp_exchange(berth.addr, &packet, REPLY).expect("reply");
        assert_eq!(raw::rcode(&reply), NOTIMP, "opcode {opcode}");
        assert_eq!(raw::opcode(&reply), opcode, "opcode echoed");
    }
    still_answers(&berth);
}

#[test]
fn responses_are_never_answered() {
    let (berth, _dir) = start();
    let packet = Query::new(30, "web.apps.local", 1).response().bytes();
    assert!(udp_exchange(berth.addr, &packet, QUIET).is_none());
    still_answers(&berth);
}

/// Random bytes and random mutations of a valid query: each gets silence or a
/// response with its ID, and the server survives them all.
#[test]
fn random_packets_never_break_the_server() {
    let (berth, _dir) = start();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let valid = raw::query(0, "web.apps.local", 1);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut buf = [0u8; 4096];
    let mut sent = std::collections::HashSet::new();
    for i in 0..2000u32 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let len = (next() % 64) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut packet = valid.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() as usize) % packet.len();
                packet[at] = next() as u8;
            }
            packet.truncate(1 + (next() as usize) % (packet.len() + 8).min(packet.len()));
            packet
        };
        if let Some(id) = packet.get(..2) {
            sent.insert([id[0], id[1]]);
        }
        socket.send_to(&packet, berth.addr).unwrap();
        // On a busy machine a reply may come after the 10 ms wait, while a
        // later packet is waited for: it must carry the ID of some packet
        // sent, never one berth made up.
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            let reply = &buf[..len];
            assert!(raw::is_response(reply), "non-response to {packet:?}");
            assert!(
                sent.contains(&[reply[0], reply[1]]),
                "reply ID {:?} was never sent (last packet {packet:?})",
                &reply[..2]
            );
        }
    }
    still_answers(&berth);
}

#[test]
fn rfc7766_malformed_tcp_message_does_not_stop_the_server() {
    let (berth, _dir) = start();
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    raw::tcp_send_all(&mut stream, &[vec![1, 2, 3]]);
    // Too short to carry an ID: berth closes the connection.
    assert!(raw::tcp_read(&mut stream).is_none());

    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    let bad = Query::new(40, "web.apps.local", 1).qdcount(0).bytes();
    raw::tcp_send_all(&mut stream, &[bad, raw::query(41, "web.apps.local", 1)]);
    let first = raw::tcp_read(&mut stream).expect("FORMERR over TCP");
    assert_eq!((raw::id(&first), raw::rcode(&first)), (40, FORMERR));
    let second = raw::tcp_read(&mut stream).expect("answer after FORMERR");
    assert_eq!((raw::id(&second), raw::rcode(&second)), (41, NOERROR));
    still_answers(&berth);
}
