//! The forwarded-reply path: bytes from an upstream, as the answer to a
//! client's query, through berth's check that they answer the question,
//! its reading of them, and what it serves the client from them.
//!
//! The input's first byte chooses the client's side (EDNS or not, UDP or
//! TCP, how long the answer was held); the rest is the upstream's reply.
//! The client's question is the reply's own when it has one a query can
//! carry, so the fuzzer need not guess it, else `www.example. A`.
//!
//! Invariants: no panic; the client gets berth's relay of the reply or a
//! SERVFAIL, either of which reads cleanly with berth's own record reader
//! to the last byte, echoes the client's ID and question, and fits the
//! client's limit; whatever hickory-proto can read from the upstream, it
//! can still read in berth's relay; no TTL is above `--max-ttl`.

#![no_main]

use berth::dns::message::{HEADER_LEN, Transport};
use berth::dns::wire::{be16, parse_query, read_record, skip_name};
use berth::fuzzing::{Relayed, relay};
use berth::iana::Rtype;
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

const MAX_TTL: u32 = 86_400;
const FALLBACK_QUESTION: &[u8] = b"\x03www\x07example\x00\x00\x01\x00\x01";

fuzz_target!(|data: &[u8]| {
    let Some((&choice, reply)) = data.split_first() else {
        return;
    };
    let edns = choice & 1 != 0;
    let transport = if choice & 2 != 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let age = u32::from(choice >> 2) * 1000;
    let client = client_query(reply, edns);
    let Some(relayed) = relay(&client, reply, MAX_TTL, age, transport) else {
        panic!("berth would not forward the harness's own query: {client:02x?}");
    };
    let sent = match relayed {
        Relayed::Ignored => return,
        Relayed::Servfail(sent) => {
            assert_eq!(sent[3] & 0x0f, 2, "not SERVFAIL");
            sent
        }
        Relayed::Answer(sent) => {
            if Message::from_vec(reply).is_ok()
                && let Err(error) = Message::from_vec(&sent)
            {
                panic!("hickory reads the upstream's reply but not berth's relay: {error}");
            }
            sent
        }
    };
    let query = parse_query(&client).expect("the client's query parses");
    assert_eq!(sent[..2], client[..2], "the client's ID is not echoed");
    assert!(sent[2] & 0x80 != 0, "QR is not set");
    let question_end = HEADER_LEN + query.question.len();
    assert_eq!(be16(&sent, 4), Some(1), "one question");
    assert_eq!(
        &sent[HEADER_LEN..question_end],
        query.question,
        "the question changed"
    );
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp if edns => 1232,
        Transport::Udp => 512,
    };
    assert!(
        sent.len() <= limit,
        "{} bytes past the client's {limit}",
        sent.len()
    );
    // Every record the header counts, and nothing after them.
    let count: u32 = [6, 8, 10]
        .iter()
        .map(|&at| u32::from(be16(&sent, at).unwrap_or(0)))
        .sum();
    let mut at = question_end;
    let mut opts = 0;
    for _ in 0..count {
        let Some(record) = read_record(&sent, at) else {
            panic!("a counted record does not read at {at}: {sent:02x?}");
        };
        if record.rtype == Rtype::OPT {
            opts += 1;
        } else {
            assert!(record.ttl <= MAX_TTL, "TTL {} above --max-ttl", record.ttl);
        }
        at = record.end;
    }
    assert_eq!(at, sent.len(), "bytes after the last record");
    assert_eq!(
        opts,
        usize::from(edns),
        "the client's EDNS, and only berth's OPT"
    );
});

/// A client's query (ID 0x4242, RD) for the reply's question when it has
/// one a query can carry, else for the fallback question.
fn client_query(reply: &[u8], edns: bool) -> Vec<u8> {
    let question = skip_name(reply, HEADER_LEN)
        .map(|end| end + 4)
        .and_then(|end| reply.get(HEADER_LEN..end))
        .unwrap_or(FALLBACK_QUESTION);
    let build = |question: &[u8]| {
        let mut packet = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
        packet.extend_from_slice(question);
        if edns {
            packet.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        }
        packet
    };
    let packet = build(question);
    if parse_query(&packet).is_ok() {
        packet
    } else {
        build(FALLBACK_QUESTION)
    }
}
