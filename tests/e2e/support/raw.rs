//! Hand-built packets, for what dig will not send: malformed queries,
//! pipelined TCP, exact bytes. [`Query`] is the one place the e2e tests
//! assemble a DNS message; the readers below pick fields out of replies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use berth::dns::message::{FLAG_QR, FLAG_RD, HEADER_LEN, OPCODE_MASK};
use berth::iana::{Class, Rcode, Rtype};

/// A standard query for one name, RD set, class IN: what a stub resolver
/// sends. Each setter bends one field, so a test says which rule it breaks.
#[derive(Clone, Debug)]
pub struct Query {
    id: u16,
    flags: u16,
    /// QDCOUNT as written in the header, when it is to disagree with the
    /// questions that follow.
    qdcount: Option<u16>,
    /// How many times the question is written.
    questions: u16,
    qname: Vec<u8>,
    qtype: Rtype,
    additional: Vec<u8>,
    arcount: u16,
}

impl Query {
    /// `name` is dotted, without escapes; each label is written with its
    /// length octet as given, so over-long labels and names can be built.
    pub fn new(id: u16, name: &str, qtype: Rtype) -> Query {
        let mut qname = Vec::new();
        for label in name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            qname.push(label.len() as u8);
            qname.extend_from_slice(label.as_bytes());
        }
        qname.push(0);
        Query {
            id,
            flags: FLAG_RD,
            qdcount: None,
            questions: 1,
            qname,
            qtype,
            additional: Vec::new(),
            arcount: 0,
        }
    }

    /// The question's name as these exact octets (compression pointers).
    pub fn qname_octets(mut self, octets: &[u8]) -> Query {
        self.qname = octets.to_vec();
        self
    }

    pub fn opcode(mut self, opcode: u8) -> Query {
        self.flags = (self.flags & !OPCODE_MASK) | ((u16::from(opcode) << 11) & OPCODE_MASK);
        self
    }

    /// Sets these header flags beside the ones already set (RD).
    pub fn flags(mut self, flags: u16) -> Query {
        self.flags |= flags;
        self
    }

    /// Sets QR: the packet claims to be a response.
    pub fn response(mut self) -> Query {
        self.flags |= FLAG_QR;
        self
    }

    /// Writes QDCOUNT as `count` whatever the questions that follow.
    pub fn qdcount(mut self, count: u16) -> Query {
        self.qdcount = Some(count);
        self
    }

    /// Writes the question `count` times (and QDCOUNT to match).
    pub fn questions(mut self, count: u16) -> Query {
        self.questions = count;
        self
    }

    /// Adds an OPT record (RFC 6891 §6.1.2): version 0, no flags, `options`
    /// as the RDATA exactly, so a malformed option can be sent.
    pub fn opt(mut self, payload: u16, options: &[u8]) -> Query {
        self.additional.push(0);
        self.additional
            .extend_from_slice(&Rtype::OPT.0.to_be_bytes());
        self.additional.extend_from_slice(&payload.to_be_bytes());
        self.additional.extend_from_slice(&[0, 0, 0, 0]);
        self.additional
            .extend_from_slice(&(options.len() as u16).to_be_bytes());
        self.additional.extend_from_slice(options);
        self.arcount += 1;
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut packet = Vec::with_capacity(HEADER_LEN + self.qname.len() + 4);
        packet.extend_from_slice(&self.id.to_be_bytes());
        packet.extend_from_slice(&self.flags.to_be_bytes());
        let qdcount = self.qdcount.unwrap_or(self.questions);
        for count in [qdcount, 0, 0, self.arcount] {
            packet.extend_from_slice(&count.to_be_bytes());
        }
        for _ in 0..self.questions {
            packet.extend_from_slice(&self.qname);
            packet.extend_from_slice(&self.qtype.0.to_be_bytes());
            packet.extend_from_slice(&Class::IN.0.to_be_bytes());
        }
        packet.extend_from_slice(&self.additional);
        packet
    }
}

/// A standard query for `name` (dotted, no escapes) with RD set.
pub fn query(id: u16, name: &str, qtype: Rtype) -> Vec<u8> {
    Query::new(id, name, qtype).bytes()
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

/// Asserts berth still answers after what a test threw at it: `name` A
/// gets NOERROR and one record.
pub fn assert_answers(server: SocketAddr, name: &str) {
    let reply = udp_exchange(server, &query(7, name, Rtype::A), Duration::from_secs(5))
        .expect("berth stopped answering");
    assert_eq!(rcode(&reply), Rcode::NOERROR);
    assert_eq!(ancount(&reply), 1);
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

fn flags(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[2], message[3]])
}

pub fn opcode(message: &[u8]) -> u8 {
    ((flags(message) & OPCODE_MASK) >> 11) as u8
}

pub fn rcode(message: &[u8]) -> Rcode {
    Rcode::of_header(flags(message))
}

pub fn is_response(message: &[u8]) -> bool {
    message.len() >= HEADER_LEN && flags(message) & FLAG_QR != 0
}

pub fn ancount(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[6], message[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_bytes_a_stub_resolver_sends() {
        let expected = [
            0, 7, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'e', b'b', 4, b'a', b'p', b'p', b's',
            0, 0, 1, 0, 1,
        ];
        assert_eq!(query(7, "web.apps.", Rtype::A), expected);
        let odd = Query::new(7, "web.apps", Rtype::A)
            .opcode(5)
            .response()
            .qdcount(0)
            .opt(1232, &[0, 10, 0, 0])
            .bytes();
        assert_eq!(&odd[2..12], [0xa9, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(opcode(&odd), 5);
        assert!(odd.ends_with(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0]));
        let twice = Query::new(7, "web", Rtype::A).questions(2).bytes();
        assert_eq!(twice[5], 2);
        assert_eq!(twice[12..21], twice[21..30]);
    }
}
