//! File handles under a flood: berth started with few handles, flooded with
//! idle HTTP and DNS TCP connections, still answers UDP, TCP and HTTP,
//! still reads its zone directory, and does not flood its log.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use berth::iana::Rtype;
use socket2::{Domain, Socket, Type};

use crate::support::raw::{self, ancount};
use crate::support::{Berth, require, wait_until};

const ZONE: &str = "$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n\
                    web A 192.0.2.7\n";

fn connect_from(from: &str, server: SocketAddr) -> Option<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    let local: SocketAddr = format!("{from}:0").parse().ok()?;
    socket.bind(&local.into()).ok()?;
    socket.connect(&server.into()).ok()?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(stream)
}

/// `GET /healthz` that reports failure instead of panicking: over its limit
/// berth closes a connection at once.
fn healthy(http: SocketAddr) -> bool {
    let Some(mut stream) = connect_from("127.0.0.1", http) else {
        return false;
    };
    let request = "GET /healthz HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

fn tcp_answers(from: &str, server: SocketAddr, name: &str) -> bool {
    let Some(mut stream) = connect_from(from, server) else {
        return false;
    };
    raw::tcp_send_all(&mut stream, &[raw::query(1, name, Rtype::A)]);
    raw::tcp_read(&mut stream).is_some_and(|reply| ancount(&reply) == 1)
}

#[test]
fn a_connection_flood_under_few_handles_leaves_dns_http_and_zone_files_working() {
    if !require("prlimit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zone_file = dir.path().join("apps.local.zone");
    std::fs::write(&zone_file, ZONE).unwrap();
    let started = Instant::now();
    let berth = Berth::start_wrapped(
        &["prlimit", "--nofile=200:200", "--"],
        &[
            "--zones",
            dir.path().to_str().unwrap(),
            "--http-timeout",
            "1s",
        ],
    );
    let http = berth.http_addr().expect("http");
    // It says what it has, and keeps handles back from connections.
    berth.wait_for_log("open file limit soft=200 hard=200");
    berth.wait_for_log("lowered them");

    // Far more idle connections than berth has handles, from several
    // addresses, all held open while berth is asked the rest.
    let mut flood = Vec::new();
    for i in 0..300 {
        let from = format!("127.0.{}.1", i % 10);
        flood.extend(connect_from(&from, http));
        flood.extend(connect_from(&from, berth.addr));
    }
    assert!(
        flood.len() > 400,
        "the flood itself failed: {}",
        flood.len()
    );

    raw::assert_answers(berth.addr, "web.apps.local");
    // A new DNS TCP client gets in: an idle one is closed for it.
    assert!(wait_until(|| tcp_answers(
        "127.0.99.1",
        berth.addr,
        "web.apps.local"
    )));
    // HTTP: the idle ones are closed after --http-timeout.
    assert!(wait_until(|| healthy(http)), "http never answered");
    // The zone directory can still be read: a name added is served.
    std::fs::write(&zone_file, format!("{ZONE}new A 192.0.2.8\n")).unwrap();
    berth.reload();
    assert!(wait_until(|| tcp_answers(
        "127.0.98.1",
        berth.addr,
        "new.apps.local"
    )));
    drop(flood);

    // At most a line a second about failed accepts, whatever happened.
    let log = berth.log();
    let accept_lines = log.matches("accept failed").count() as u64;
    assert!(
        accept_lines <= started.elapsed().as_secs() + 1,
        "{accept_lines} accept lines:\n{log}"
    );
    assert!(log.lines().count() < 100, "log flooded:\n{log}");
}
