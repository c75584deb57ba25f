//! The query path: a packet from a client, through berth's real handler,
//! against a small published snapshot (A, AAAA, SRV, CNAME chains and a
//! loop, a wildcard, a large RRset, PTR), with forwarding, zone transfers
//! and a TSIG key configured. Each packet is asked over UDP and TCP from a
//! client that may recurse and transfer, and over UDP from one that may
//! not, reusing one buffer as the sockets do.
//!
//! Invariants: no panic; every reply berth sends reads cleanly with
//! hickory-proto, echoes the query's ID, is a response, fits the client's
//! limit, and repeats the question as asked (case included).

#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use berth::dns::forward::Forwarder;
use berth::dns::handler::{Action, Handler};
use berth::dns::message::{Transport, size_limit};
use berth::dns::tsig::{Algorithm, Key, Keyring};
use berth::dns::wire::parse_query;
use berth::dns::xfr::{Rule, Settings};
use berth::registry::{Change, Entity, NameServer, Record, SourceId, Writer, ZoneSettings};
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData};
use libfuzzer_sys::fuzz_target;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Outside --allow-recursion and --allow-transfer.
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("a valid name")
}

fn records() -> Vec<Record> {
    let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
    let mut records = vec![
        Record::address(name("web.apps.test."), 60, ip("192.0.2.1")),
        Record::address(name("web.apps.test."), 60, ip("2001:db8::1")),
        Record::new(
            name("web.apps.test."),
            60,
            RData::TXT(TXT::new(vec!["v=web".into()])),
        ),
        Record::srv(
            name("_http._tcp.web.apps.test."),
            60,
            80,
            name("web.apps.test."),
        ),
        Record::new(
            name("mail.apps.test."),
            60,
            RData::MX(MX::new(10, name("web.apps.test."))),
        ),
        Record::new(
            name("www.apps.test."),
            60,
            RData::CNAME(CNAME(name("web.apps.test."))),
        ),
        Record::new(
            name("out.apps.test."),
            60,
            RData::CNAME(CNAME(name("example.org."))),
        ),
        Record::new(
            name("loop1.apps.test."),
            60,
            RData::CNAME(CNAME(name("loop2.apps.test."))),
        ),
        Record::new(
            name("loop2.apps.test."),
            60,
            RData::CNAME(CNAME(name("loop1.apps.test."))),
        ),
        Record::address(name("*.wild.apps.test."), 60, ip("192.0.2.9")),
        Record::srv(
            name("_http._tcp.*.wild.apps.test."),
            60,
            8080,
            name("web.apps.test."),
        ),
        Record::address(name("deep.a.b.c.apps.test."), 60, ip("192.0.2.10")),
        Record::reverse(ip("192.0.2.1"), 60, name("web.apps.test.")),
        Record::reverse(ip("2001:db8::1"), 60, name("web.apps.test.")),
    ];
    // Too many for 512 bytes: TC over UDP, whole over TCP.
    for last in 1..=60u8 {
        let address = IpAddr::V4(Ipv4Addr::new(198, 51, 100, last));
        records.push(Record::address(name("big.apps.test."), 60, address));
    }
    records
}

/// One handler for the process: the zone published twice, so that IXFR
/// has a difference to send.
static HANDLER: LazyLock<Handler> = LazyLock::new(|| {
    let mut writer = Writer::new(ZoneSettings {
        zones: vec![name("apps.test.")],
        ttl: 60,
        soa_minimum: 30,
        name_servers: NameServer::usual(Some("192.0.2.53".parse().expect("an address"))),
        wildcard_target: None,
        ixfr_journal: 4,
    });
    let upsert = |records| Change::Upsert {
        source: SourceId::Docker,
        entity: Entity::new("fuzz", records),
    };
    let mut first = records();
    first.pop();
    writer.apply(upsert(first));
    writer.publish();
    writer.apply(upsert(records()));
    let snapshot = writer.publish();
    let key =
        Key::new("fuzz-key", Algorithm::HmacSha256, b"0123456789abcdef").expect("a valid key");
    let loopback = "127.0.0.0/8".parse().expect("a network");
    Handler {
        snapshot: Arc::new(ArcSwap::new(snapshot)),
        // Never contacted: pending forwards are dropped unsent.
        forwarder: Some(Arc::new(Forwarder::new(
            vec!["127.0.0.1:9".parse().expect("an address")],
            Duration::from_secs(1),
            64,
        ))),
        allow_recursion: vec![loopback],
        transfers: Arc::new(Settings {
            allow: vec![Rule {
                net: Some(loopback),
                key: None,
            }],
            notify: Vec::new(),
            keys: Arc::new(Keyring::new(vec![key])),
            ixfr_journal: 4,
        }),
        rrl: None,
    }
});

fuzz_target!(|packet: &[u8]| {
    let handler = &*HANDLER;
    let snapshot = handler.snapshot.load_full();
    let mut buf = Vec::new();
    for (transport, client) in [
        (Transport::Udp, LOOPBACK),
        (Transport::Tcp, LOOPBACK),
        (Transport::Udp, STRANGER),
    ] {
        match handler.respond(&snapshot, packet, || Some(client), transport, &mut buf) {
            Action::Reply(len) => {
                assert!(len <= buf.len(), "reply length {len} past the buffer");
                check_reply(packet, &buf[..len], transport);
            }
            Action::Transfer(messages) => {
                assert_eq!(transport, Transport::Tcp, "a transfer over UDP");
                for message in &messages {
                    check_reply(packet, message, transport);
                }
            }
            Action::Forward(pending) => drop(pending),
            Action::Drop => {}
        }
    }
});

fn check_reply(packet: &[u8], reply: &[u8], transport: Transport) {
    let message = match Message::from_vec(reply) {
        Ok(message) => message,
        Err(error) => panic!("berth sent a reply hickory cannot read: {error}\n{reply:02x?}"),
    };
    assert_eq!(reply.get(..2), packet.get(..2), "the ID is not echoed");
    assert!(reply[2] & 0x80 != 0, "QR is not set");
    let limit = match parse_query(packet) {
        Ok(query) => size_limit(&query, transport),
        Err(_) => 512,
    };
    assert!(
        reply.len() <= limit,
        "a {}-byte reply over {transport:?} past the client's {limit}",
        reply.len()
    );
    if let (Some(asked), Ok(query)) = (message.queries.first(), Message::from_vec(packet)) {
        let sent = query
            .queries
            .first()
            .expect("a reply with a question had one asked");
        assert_eq!(
            asked.name().to_ascii(),
            sent.name().to_ascii(),
            "the question's case changed"
        );
        assert_eq!(asked.query_type(), sent.query_type());
    }
}
