//! Hand-built packets, for what dig will not send: malformed queries,
//! pipelined TCP, exact bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// A standard query for `name` (dotted, no escapes) with RD set.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut packet = Vec::new();
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&[0, 1]);
    packet
}

/// Sends one UDP packet and waits for one reply, or None on silence.
pub fn udp_exchange(server: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    socket.send_to(packet, server).expect("send");
    let mut buf = vec![0u8; 65535];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    buf.truncate(len);
    Some(buf)
}

/// Writes length-prefixed messages to a TCP stream in one write.
pub fn tcp_send_all(stream: &mut TcpStream, messages: &[Vec<u8>]) {
    let mut framed = Vec::new();
    for message in messages {
        framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
        framed.extend_from_slice(message);
    }
    stream.write_all(&framed).expect("tcp write");
}

/// Reads one length-prefixed message, or None when the stream ends.
pub fn tcp_read(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

pub fn id(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[0], message[1]])
}

pub fn rcode(message: &[u8]) -> u8 {
    message[3] & 0x0f
}

pub fn is_response(message: &[u8]) -> bool {
    message.len() >= 12 && message[2] & 0x80 != 0
}

pub fn ancount(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[6], message[7]])
}
