//! RFC 1996, A Mechanism for Prompt Notification of Zone Changes (NOTIFY).

use std::net::UdpSocket;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::RecordType;

use super::ZONE_FILE;
use crate::support::Berth;
use crate::support::secondary::{KEY_NAME, KEY_SECRET};

/// A secondary's socket, as the test plays one.
fn listener() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    (socket, port)
}

/// The next NOTIFY berth sends, with where it came from and its bytes.
fn next_notify(socket: &UdpSocket) -> (Message, std::net::SocketAddr, Vec<u8>) {
    let mut buf = vec![0u8; 4096];
    let (len, from) = socket.recv_from(&mut buf).expect("a NOTIFY");
    buf.truncate(len);
    (Message::from_vec(&buf).expect("a DNS message"), from, buf)
}

/// The secondary's answer to a NOTIFY: its header and question, QR set.
fn reply_to(notify: &[u8]) -> Vec<u8> {
    let mut end = 12;
    while notify[end] != 0 {
        end += 1 + notify[end] as usize;
    }
    let mut reply = notify[..end + 5].to_vec();
    reply[2] |= 0x80;
    reply[6..12].fill(0);
    reply
}

/// §3.7 and §3.6: berth tells the secondary about its zone — opcode
/// NOTIFY, AA, the zone's SOA as the question and its record as a hint —
/// and sends it again, same ID, until the secondary answers.
#[test]
fn rfc1996_3_6_notify_is_repeated_until_answered() {
    let (socket, port) = listener();
    let target = format!("127.0.0.1:{port}");
    let (_berth, _dir) = Berth::with_zone_file(ZONE_FILE, &["--notify", &target]);
    let (first, from, _) = next_notify(&socket);
    assert_eq!(first.op_code, OpCode::Notify);
    assert_eq!(first.message_type, MessageType::Query);
    assert!(first.authoritative);
    assert_eq!(first.queries[0].name().to_ascii(), "apps.local.");
    assert_eq!(first.queries[0].query_type(), RecordType::SOA);
    assert_eq!(first.answers[0].record_type(), RecordType::SOA);
    let (again, _, again_bytes) = next_notify(&socket);
    assert_eq!(again.id, first.id, "a retry keeps its ID");

    socket
        .send_to(&reply_to(&again_bytes), from)
        .expect("answer");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    assert!(
        socket.recv_from(&mut buf).is_err(),
        "answered, berth sends no more"
    );
}

/// §3 with RFC 8945: `--notify "ADDR key NAME"` signs each NOTIFY.
#[test]
fn rfc1996_3_notify_is_signed_with_its_key() {
    let (socket, port) = listener();
    let key = format!("{KEY_NAME}:hmac-sha256:{KEY_SECRET}");
    let target = format!("127.0.0.1:{port} key {KEY_NAME}");
    let (_berth, _dir) =
        Berth::with_zone_file(ZONE_FILE, &["--tsig-key", &key, "--notify", &target]);
    let (notify, _, bytes) = next_notify(&socket);
    assert_eq!(notify.op_code, OpCode::Notify);
    // The last record: the key's name, then TYPE 250 (TSIG), CLASS ANY.
    let owner = format!("\x09{KEY_NAME}\x00");
    let tail = [owner.as_bytes(), &[0, 250, 0, 255]].concat();
    let at = bytes
        .windows(tail.len())
        .rposition(|w| w == tail)
        .expect("a TSIG record for the key");
    assert!(bytes.len() - at > tail.len() + 40, "a MAC follows");
}

/// §4.7 (and the coalescing berth adds): a burst of publishes is a few
/// NOTIFYs, not one per publish.
#[test]
fn rfc1996_a_burst_of_changes_is_a_few_notifies() {
    let (socket, port) = listener();
    let target = format!("127.0.0.1:{port}");
    let (berth, dir) = Berth::with_zone_file(ZONE_FILE, &["--notify", &target]);
    let (_, from, first) = next_notify(&socket);
    let answer = |notify: &[u8]| {
        socket.send_to(&reply_to(notify), from).expect("answer");
    };
    answer(&first);
    for i in 0..20 {
        let text = format!("{ZONE_FILE}burst-{i} IN A 192.0.2.{i}\n");
        std::fs::write(dir.path().join("apps.local.zone"), text).expect("rewrite");
        berth.reload();
        std::thread::sleep(Duration::from_millis(20));
    }
    socket
        .set_read_timeout(Some(Duration::from_secs(4)))
        .expect("timeout");
    let mut notifies = Vec::new();
    let mut buf = vec![0u8; 4096];
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        let message = Message::from_vec(&buf[..len]).expect("message");
        answer(&buf[..len]);
        notifies.push(message.id);
    }
    assert!(!notifies.is_empty());
    assert!(
        notifies.len() < 20,
        "{} NOTIFYs for 20 publishes",
        notifies.len()
    );
}
