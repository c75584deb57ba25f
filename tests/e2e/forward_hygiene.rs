//! Forwarding against an upstream that misbehaves (a fake, for what no real
//! server sends) and a real one behind it (Knot): what reaches a client has
//! been read and checked to the end, echoes berth's random-case question,
//! carries no option of anyone else's, and no TTL past `--max-ttl`.

use std::net::SocketAddr;
use std::time::Duration;

use berth::iana::{Rcode, Rtype};

use crate::support::fake_upstream::{self, FakeUpstream};
use crate::support::peers::Knot;
use crate::support::{Berth, raw, require};

const HOSTILE_TEST: &str = "$ORIGIN hostile.test.\n$TTL 60\n\
@ IN SOA ns hostmaster 1 3600 600 86400 30\n\
@ IN NS ns\n\
ns IN A 127.0.0.1\n\
www IN A 192.0.2.99\n";

fn berth_before(upstreams: &[SocketAddr], extra: &[&str]) -> Berth {
    let upstreams: Vec<String> = upstreams.iter().map(|u| u.to_string()).collect();
    let mut args = vec!["--upstream-timeout", "500ms"];
    for upstream in &upstreams {
        args.extend(["--upstream", upstream]);
    }
    args.extend_from_slice(extra);
    Berth::start(&args)
}

fn ask(berth: &Berth, packet: &[u8]) -> Vec<u8> {
    raw::udp_exchange(berth.addr, packet, Duration::from_secs(5)).expect("an answer from berth")
}

/// Makes a broken answer to a query.
type Breaker = fn(&[u8]) -> Vec<u8>;

/// The ways an upstream answer can be broken, each answering `query`.
fn broken_answers() -> Vec<(&'static str, Breaker)> {
    vec![
        ("cut inside a record", |query| {
            let mut answer = fake_upstream::answer(
                query,
                1,
                &fake_upstream::record(Rtype::A, 60, &[192, 0, 2, 1]),
            );
            answer.truncate(answer.len() - 2);
            answer
        }),
        ("a CNAME pointing at itself", |query| {
            // The RDATA starts after the question, the owner pointer (2)
            // and the fixed fields (10): point there.
            let at = fake_upstream::question_end(query) + 12;
            let target = (0xc000 | at as u16).to_be_bytes();
            fake_upstream::answer(query, 1, &fake_upstream::record(Rtype::CNAME, 60, &target))
        }),
        ("the question in another case", |query| {
            let mut answer = fake_upstream::answer(
                query,
                1,
                &fake_upstream::record(Rtype::A, 60, &[192, 0, 2, 1]),
            );
            let end = fake_upstream::question_end(query);
            for byte in &mut answer[12..end - 4] {
                if byte.is_ascii_alphabetic() {
                    *byte ^= 0x20;
                }
            }
            answer
        }),
    ]
}

#[test]
fn a_broken_upstream_answer_is_never_relayed() {
    for (what, broken) in broken_answers() {
        let fake = FakeUpstream::start(broken);
        let berth = berth_before(&[fake.addr], &[]);
        let reply = ask(&berth, &raw::query(7, "www.hostile.test", Rtype::A));
        assert_eq!(raw::id(&reply), 7, "{what}");
        assert_eq!(raw::rcode(&reply), Rcode::SERVFAIL, "{what}: {reply:?}");
        assert_eq!(raw::ancount(&reply), 0, "{what}");
        assert!(!fake.queries().is_empty(), "{what}: the fake was asked");
    }
}

#[test]
fn a_broken_upstream_answer_sends_berth_to_the_next_upstream() {
    if !(require("knotd") && require("knotc")) {
        return;
    }
    let knot = Knot::start(&[("hostile.test", HOSTILE_TEST)], &[]);
    for (what, broken) in broken_answers() {
        let fake = FakeUpstream::start(broken);
        let berth = berth_before(&[fake.addr, knot.addr()], &[]);
        let reply = ask(&berth, &raw::query(8, "www.hostile.test", Rtype::A));
        assert_eq!(raw::rcode(&reply), Rcode::NOERROR, "{what}");
        assert!(
            reply.ends_with(&[0, 4, 192, 0, 2, 99]),
            "{what}: Knot's answer: {reply:?}"
        );
        assert_eq!(fake.queries().len(), 1, "{what}: the fake was asked first");
    }
}

/// The first A record's TTL in a reply to a query for one name.
fn first_ttl(reply: &[u8]) -> u32 {
    let at = fake_upstream::question_end(reply) + 2 + 4;
    u32::from_be_bytes(reply[at..at + 4].try_into().unwrap())
}

#[test]
fn ttls_are_capped_at_max_ttl() {
    // 2³¹−1 is a valid TTL (RFC 2181 §8), and 68 years long.
    let fake = FakeUpstream::start(|query| {
        fake_upstream::answer(
            query,
            1,
            &fake_upstream::record(Rtype::A, i32::MAX as u32, &[192, 0, 2, 1]),
        )
    });
    let query = raw::query(9, "www.hostile.test", Rtype::A);
    let default = berth_before(&[fake.addr], &[]);
    assert_eq!(first_ttl(&ask(&default, &query)), 86_400);
    let capped = berth_before(&[fake.addr], &["--max-ttl", "300"]);
    // Fetched, then from the cache.
    assert_eq!(first_ttl(&ask(&capped, &query)), 300);
    assert!(first_ttl(&ask(&capped, &query)) <= 300);
}

/// An OPT record with DO clear, a 4096-byte payload and `options`.
fn opt(options: &[u8]) -> Vec<u8> {
    let mut opt = vec![0, 0, 41, 0x10, 0, 0, 0, 0, 0];
    opt.extend_from_slice(&(options.len() as u16).to_be_bytes());
    opt.extend_from_slice(options);
    opt
}

/// EDNS Client Subnet 192.0.2.0/24 (RFC 7871), then a client cookie
/// (RFC 7873).
const CLIENT_OPTIONS: &[u8] = &[
    0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2, //
    0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

/// The options in the OPT record that ends `packet` (berth and the fake
/// both put it last).
fn trailing_options(packet: &[u8]) -> Vec<u8> {
    let mut at = packet.len();
    // Walk back: an OPT with options of length n ends with them.
    for start in (0..packet.len().saturating_sub(10)).rev() {
        if packet[start..start + 3] == [0, 0, 41] {
            let len = u16::from_be_bytes([packet[start + 9], packet[start + 10]]) as usize;
            if start + 11 + len == packet.len() {
                at = start + 11;
                break;
            }
        }
    }
    packet[at..].to_vec()
}

#[test]
fn client_subnet_and_cookies_are_never_forwarded() {
    // The fake answers with options of its own: a server cookie and a
    // subnet scope, which belong to its exchange with berth.
    let fake = FakeUpstream::start(|query| {
        let mut answer = fake_upstream::answer(
            query,
            1,
            &fake_upstream::record(Rtype::A, 60, &[192, 0, 2, 1]),
        );
        answer[10..12].copy_from_slice(&[0, 1]);
        answer.extend_from_slice(&opt(&[
            0, 8, 0, 7, 0, 1, 24, 24, 192, 0, 2, //
            0, 10, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9,
        ]));
        answer
    });
    let berth = berth_before(&[fake.addr], &[]);
    let mut query = raw::query(10, "www.hostile.test", Rtype::A);
    query[10..12].copy_from_slice(&[0, 1]);
    query.extend_from_slice(&opt(CLIENT_OPTIONS));
    let reply = ask(&berth, &query);
    assert_eq!(raw::rcode(&reply), Rcode::NOERROR, "{reply:?}");

    let sent = fake.queries();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].ends_with(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]),
        "berth's own OPT, no options: {:?}",
        sent[0]
    );
    assert_eq!(trailing_options(&sent[0]), Vec::<u8>::new());
    assert!(reply.ends_with(&[0, 0]), "no options back: {reply:?}");
    assert_eq!(trailing_options(&reply), Vec::<u8>::new());
}
