//! RFC 7766 §6.2.3 under hostile clients: one address cannot take every
//! connection, a client that never reads is closed, and when the table is
//! full the connection idle the longest makes room for a new client.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use berth::iana::Rtype;
use socket2::{Domain, Socket, Type};

use crate::support::raw::{self, ancount};
use crate::support::{Berth, DEADLINE, http_get, wait_until};

fn zone() -> String {
    // A large RRset, so that unread answers fill buffers quickly.
    let mut zone = String::from("$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n");
    for i in 1..=100 {
        zone.push_str(&format!("big A 10.0.0.{i}\n"));
    }
    zone.push_str("web A 192.0.2.7\n");
    zone
}

/// A TCP connection to `server` from the loopback address `from`.
fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("address");
    socket.bind(&local.into()).expect("bind a loopback source");
    socket.connect(&server.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream
}

/// Asks `name` on `stream` and reads the answer; None if berth closed it.
fn ask(stream: &mut TcpStream, id: u16, name: &str) -> Option<Vec<u8>> {
    let query = raw::query(id, name, Rtype::A);
    let framed = [&(query.len() as u16).to_be_bytes()[..], &query].concat();
    stream.write_all(&framed).ok()?;
    raw::tcp_read(stream)
}

fn metric(berth: &Berth, name: &str) -> u64 {
    let (_, text) = http_get(berth.http_addr().expect("http"), "/metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

#[test]
fn one_address_gets_only_its_share_of_connections() {
    let zone = zone();
    let (berth, _dir) =
        Berth::with_zone_file(&zone, &["--tcp-connections", "8", "--tcp-per-client", "2"]);
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| connect_from("127.0.0.1", berth.addr))
        .collect();
    for (id, stream) in held.iter_mut().enumerate() {
        assert!(ask(stream, id as u16, "web.apps.local").is_some());
    }
    // A third from the same address is closed unanswered...
    let mut third = connect_from("127.0.0.1", berth.addr);
    assert_eq!(ask(&mut third, 3, "web.apps.local"), None);
    // ...while another address is served, and the two held still are.
    let mut other = connect_from("127.0.0.2", berth.addr);
    assert_eq!(ancount(&ask(&mut other, 4, "web.apps.local").unwrap()), 1);
    for stream in &mut held {
        assert!(ask(stream, 5, "web.apps.local").is_some());
    }
    assert!(metric(&berth, "berth_tcp_connections_refused_total") >= 1);
}

#[test]
fn when_full_the_oldest_idle_connection_is_closed_for_a_new_client() {
    let zone = zone();
    let (berth, _dir) =
        Berth::with_zone_file(&zone, &["--tcp-connections", "4", "--tcp-per-client", "4"]);
    // Four clients, each asks once and then sits idle, oldest first.
    let mut idle: Vec<TcpStream> = (1..=4)
        .map(|i| {
            let mut stream = connect_from(&format!("127.0.0.{i}"), berth.addr);
            assert!(ask(&mut stream, i, "web.apps.local").is_some());
            // Distinct activity times, so "oldest" has one answer.
            std::thread::sleep(Duration::from_millis(20));
            stream
        })
        .collect();
    let mut fresh = connect_from("127.0.0.5", berth.addr);
    let answer = ask(&mut fresh, 9, "web.apps.local").expect("a new client gets in");
    assert_eq!(ancount(&answer), 1);
    // The oldest was closed for it; the most recent was not.
    assert_eq!(raw::tcp_read(&mut idle[0]), None);
    assert!(ask(&mut idle[3], 10, "web.apps.local").is_some());
    assert!(metric(&berth, "berth_tcp_connections_evicted_total") >= 1);
}

#[test]
fn a_client_that_never_reads_is_closed() {
    let zone = zone();
    let (berth, _dir) = Berth::with_zone_file(&zone, &["--tcp-idle-timeout", "1s"]);
    let mut greedy = connect_from("127.0.0.1", berth.addr);
    greedy
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let query = raw::query(1, "big.apps.local", Rtype::A);
    let framed: Vec<u8> = std::iter::repeat_n(
        [&(query.len() as u16).to_be_bytes()[..], &query].concat(),
        100,
    )
    .flatten()
    .collect();
    // Pipeline queries for a 1.6 KB answer and never read one. Writes
    // stall once berth stops reading (its budget for replies is full);
    // then berth's own writes stall and it closes the connection, which
    // the next write here sees as a reset.
    let closed = wait_until(|| match greedy.write(&framed) {
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    });
    assert!(closed, "berth kept a connection that never reads");
    assert!(metric(&berth, "berth_tcp_connections_stalled_total") >= 1);
    // Everyone else is still served.
    let mut other = connect_from("127.0.0.1", berth.addr);
    assert!(ask(&mut other, 2, "web.apps.local").is_some());
}
