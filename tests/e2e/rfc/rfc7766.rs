//! RFC 7766, DNS Transport over TCP - Implementation Requirements.

use std::net::TcpStream;
use std::time::Duration;

use berth::iana::{Rcode, Rtype};

use super::{REPLY, start, still_answers};
use crate::support::dig::kdig;
use crate::support::raw::{self, Query};
use crate::support::{Berth, require};

/// §5: an authoritative server supports TCP so that its answers are not
/// limited to what fits in one UDP packet.
#[test]
fn rfc7766_5_tcp_carries_what_udp_truncates() {
    if !require("kdig") {
        return;
    }
    let mut zone = String::from("$TTL 60\n");
    for i in 1..=200 {
        zone.push_str(&format!("huge IN A 10.0.{}.{}\n", i / 250, i % 250));
    }
    let (berth, _dir) = Berth::with_zone_file(&zone, &[]);
    let answer = kdig(berth.addr, &["huge.apps.local", "A", "+tcp"]);
    assert_eq!(answer.status, "NOERROR");
    assert_eq!(answer.answer.len(), 200);
    let udp = kdig(berth.addr, &["huge.apps.local", "A", "+notcp", "+ignore"]);
    assert!(udp.has_flag("tc"));
}

/// §6.2.1.1: queries sent back to back on one connection, without waiting,
/// are all answered, each under its own ID.
#[test]
fn rfc7766_6_2_1_1_pipelined_queries_are_all_answered() {
    let (berth, _dir) = start(&[]);
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let names = [
        "gateway.apps.local",
        "www.apps.local",
        "missing.apps.local",
        "gateway.apps.local",
    ];
    let queries: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| raw::query(100 + i as u16, n, Rtype::A))
        .collect();
    raw::tcp_send_all(&mut stream, &queries);
    let mut ids: Vec<(u16, Rcode)> = (0..names.len())
        .map(|_| {
            let reply = raw::tcp_read(&mut stream).expect("pipelined reply");
            (raw::id(&reply), raw::rcode(&reply))
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            (100, Rcode::NOERROR),
            (101, Rcode::NOERROR),
            (102, Rcode::NXDOMAIN),
            (103, Rcode::NOERROR)
        ]
    );
}

/// §6.2.1: one malformed query does not cost the connection: FORMERR, and
/// the next query on it is answered. A frame too short to carry an ID
/// cannot be answered; berth closes that connection.
#[test]
fn rfc7766_6_2_1_connection_outlives_a_malformed_query() {
    let (berth, _dir) = start(&[]);
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    raw::tcp_send_all(&mut stream, &[vec![1, 2, 3]]);
    assert!(raw::tcp_read(&mut stream).is_none());

    let mut stream = TcpStream::connect(berth.addr).unwrap();
    stream.set_read_timeout(Some(REPLY)).unwrap();
    let bad = Query::new(40, "gateway.apps.local", Rtype::A)
        .qdcount(0)
        .bytes();
    raw::tcp_send_all(
        &mut stream,
        &[bad, raw::query(41, "gateway.apps.local", Rtype::A)],
    );
    let first = raw::tcp_read(&mut stream).expect("FORMERR over TCP");
    assert_eq!((raw::id(&first), raw::rcode(&first)), (40, Rcode::FORMERR));
    let second = raw::tcp_read(&mut stream).expect("answer after FORMERR");
    assert_eq!(
        (raw::id(&second), raw::rcode(&second)),
        (41, Rcode::NOERROR)
    );
    still_answers(&berth);
}

/// §6.2.3: a server closes a connection left idle.
#[test]
fn rfc7766_6_2_3_idle_timeout_closes_the_connection() {
    let (berth, _dir) = start(&[]);
    let mut stream = TcpStream::connect(berth.addr).unwrap();
    // Far longer than berth's idle timeout: the read ends because berth
    // closed the connection, not because this deadline passed.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut byte = [0u8; 1];
    // A signal meant for another test's child may interrupt the read.
    let read = loop {
        match std::io::Read::read(&mut stream, &mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    // An orderly close (EOF) or a reset both mean berth hung up; a timeout
    // or a byte would not.
    let closed = match &read {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(
        closed,
        "expected berth to close the idle connection, got {read:?}"
    );
}
