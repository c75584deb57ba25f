//! Nothing from the network can hurt berth: what is not a query gets
//! silence or a response with its own ID, and the server answers normally
//! afterwards. Malformed messages an RFC has an answer for (FORMERR,
//! NOTIMP) are tested under `rfc/`, by section.

use std::time::Duration;

use berth::iana::Rtype;

use crate::support::Berth;
use crate::support::raw::{self, Query, udp_exchange};

const QUIET: Duration = Duration::from_millis(500);

fn start() -> (Berth, tempfile::TempDir) {
    Berth::with_zone_file("$TTL 60\nweb IN A 192.0.2.7\n", &[])
}

fn still_answers(berth: &Berth) {
    raw::assert_answers(berth.addr, "web.apps.local");
}

#[test]
fn responses_are_never_answered() {
    let (berth, _dir) = start();
    let packet = Query::new(30, "web.apps.local", Rtype::A)
        .response()
        .bytes();
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
    let valid = raw::query(0, "web.apps.local", Rtype::A);
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
