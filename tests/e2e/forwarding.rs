//! berth forwarding to a real upstream: Knot on loopback serving test zones.
//! What the upstream says reaches the client unchanged; TC brings TCP; a
//! dead upstream is skipped; the cache spares the upstream repeats and
//! lets go by TTL; only allowed clients may use any of it.

use std::net::UdpSocket;

use crate::support::dig::{self, Answer};
use crate::support::peers::{self, Knot};
use crate::support::{Berth, free_port, require, wait_until};

const FORWARD_TEST: &str = "$ORIGIN forward.test.\n$TTL 60\n\
@ IN SOA ns hostmaster 1 3600 600 86400 30\n\
@ IN NS ns\n\
ns IN A 127.0.0.1\n\
www IN A 192.0.2.80\n\
www IN AAAA 2001:db8::80\n";

/// Records with a TTL, and a negative TTL, short enough to watch expire.
const SHORT_TEST: &str = "$ORIGIN short.test.\n$TTL 2\n\
@ IN SOA ns hostmaster 1 3600 600 86400 2\n\
@ IN NS ns\n\
ns IN A 127.0.0.1\n\
www IN A 192.0.2.81\n";

fn big_zone() -> String {
    // About 3 KB of TXT: more than a UDP answer to a 1232-byte client holds.
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 60\n@ IN SOA ns hostmaster 1 3600 600 86400 30\n\
         @ IN NS ns\nns IN A 127.0.0.1\n",
    );
    for i in 0..30 {
        zone.push_str(&format!(
            "txt IN TXT \"record {i:02} {}\"\n",
            "x".repeat(80)
        ));
    }
    zone
}

fn knot() -> Knot {
    Knot::start(
        &[
            ("forward.test", FORWARD_TEST),
            ("short.test", SHORT_TEST),
            ("big.test", &big_zone()),
        ],
        &["broken.test"],
    )
}

fn berth_before(upstreams: &[std::net::SocketAddr], extra: &[&str]) -> Berth {
    let upstreams: Vec<String> = upstreams.iter().map(|u| u.to_string()).collect();
    let mut args: Vec<&str> = Vec::new();
    for upstream in &upstreams {
        args.extend(["--upstream", upstream]);
    }
    args.extend_from_slice(extra);
    Berth::start(&args)
}

fn tools() -> bool {
    require("dig") && require("knotd") && require("knotc")
}

/// What must reach the client unchanged: RCODE, AA, every record.
fn assert_relayed(direct: &Answer, relayed: &Answer, what: &str) {
    assert_eq!(
        relayed.status, direct.status,
        "{what}: rcode\n{}",
        relayed.raw
    );
    assert_eq!(relayed.has_flag("aa"), direct.has_flag("aa"), "{what}: AA");
    assert_eq!(relayed.answer, direct.answer, "{what}: answer");
    assert_eq!(relayed.authority, direct.authority, "{what}: authority");
    assert_eq!(relayed.additional, direct.additional, "{what}: additional");
}

#[test]
fn upstream_rcodes_and_records_pass_through_unchanged() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &[]);
    let cases = [
        ("www.forward.test", "A", "NOERROR"),
        ("www.forward.test", "AAAA", "NOERROR"),
        ("www.forward.test", "MX", "NOERROR"),
        ("nothing.forward.test", "A", "NXDOMAIN"),
        ("x.broken.test", "A", "SERVFAIL"),
        ("elsewhere.example", "A", "REFUSED"),
    ];
    for (name, rtype, status) in cases {
        let direct = dig::dig(knot.addr(), &[name, rtype]);
        assert_eq!(
            direct.status, status,
            "knot's own answer for {name} {rtype}"
        );
        let relayed = berth.dig(&[name, rtype]);
        assert_relayed(&direct, &relayed, &format!("{name} {rtype}"));
    }
}

#[test]
fn the_clients_id_and_question_case_come_back() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &[]);
    for _ in 0..2 {
        // The first answer is fetched, the second comes from the cache.
        let answer = berth.dig(&["WwW.FoRwArD.tEsT", "A", "+question"]);
        assert_eq!(answer.rdata("A"), ["192.0.2.80"]);
        assert!(
            answer.raw.contains(";WwW.FoRwArD.tEsT."),
            "question as sent:\n{}",
            answer.raw
        );
    }
}

#[test]
fn a_truncated_upstream_answer_is_fetched_again_over_tcp() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &[]);
    let over_udp = dig::dig(
        knot.addr(),
        &["txt.big.test", "TXT", "+bufsize=1232", "+ignore"],
    );
    assert!(over_udp.has_flag("tc"), "the test answer must not fit UDP");
    let whole = dig::dig(knot.addr(), &["txt.big.test", "TXT", "+tcp"]);
    assert_eq!(whole.rdata("TXT").len(), 30);

    // A TCP client gets the whole answer, which berth had to fetch by TCP.
    let relayed = berth.dig(&["txt.big.test", "TXT", "+tcp"]);
    assert_relayed(&whole, &relayed, "big TXT over TCP");
    // A UDP client gets TC, then the whole answer (from the cache) over TCP.
    let cut = berth.dig(&["txt.big.test", "TXT", "+bufsize=1232", "+ignore"]);
    assert!(cut.has_flag("tc"), "TC to a UDP client:\n{}", cut.raw);
    assert_eq!(cut.status, "NOERROR");
    let retried = berth.dig(&["txt.big.test", "TXT", "+bufsize=1232"]);
    assert_eq!(retried.rdata("TXT"), whole.rdata("TXT"));
}

/// A UDP socket that takes queries and never answers: a dead upstream.
fn silent_upstream() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind")
}

#[test]
fn a_dead_upstream_is_skipped() {
    if !tools() {
        return;
    }
    let knot = knot();
    let dead = silent_upstream();
    let refused = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let berth = berth_before(
        &[dead.local_addr().unwrap(), refused, knot.addr()],
        &["--upstream-timeout", "500ms"],
    );
    let answer = berth.dig(&["www.forward.test", "A"]);
    assert_eq!(answer.status, "NOERROR", "{}", answer.raw);
    assert_eq!(answer.rdata("A"), ["192.0.2.80"]);
    // The upstream that answered is asked first from then on.
    let again = berth.dig(&["www.forward.test", "AAAA"]);
    assert_eq!(again.rdata("AAAA"), ["2001:db8::80"]);
}

#[test]
fn servfail_when_every_upstream_is_dead() {
    if !require("dig") {
        return;
    }
    let (first, second) = (silent_upstream(), silent_upstream());
    let berth = berth_before(
        &[first.local_addr().unwrap(), second.local_addr().unwrap()],
        &["--upstream-timeout", "300ms"],
    );
    let answer = berth.dig(&["www.forward.test", "A"]);
    assert_eq!(answer.status, "SERVFAIL", "{}", answer.raw);
    assert!(answer.has_flag("ra"));
    // berth's own zone is still answered.
    assert_eq!(berth.dig(&["apps.local", "SOA"]).status, "NOERROR");
}

#[test]
fn clients_outside_allow_recursion_are_refused() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &["--allow-recursion", "127.0.0.2/32"]);
    let outside = berth.dig(&["www.forward.test", "A"]);
    assert_eq!(outside.status, "REFUSED", "{}", outside.raw);
    assert!(!outside.has_flag("ra"));
    let own_zone = berth.dig(&["apps.local", "SOA"]);
    assert_eq!(own_zone.status, "NOERROR", "berth's zones answer everyone");
    let inside = berth.dig(&["-b", "127.0.0.2", "www.forward.test", "A"]);
    assert_eq!(inside.rdata("A"), ["192.0.2.80"], "{}", inside.raw);
}

#[test]
fn the_cache_answers_repeats_without_asking_the_upstream() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &[]);
    for (name, rtype, status) in [
        ("www.forward.test", "A", "NOERROR"),
        ("nothing.forward.test", "A", "NXDOMAIN"),
        ("www.forward.test", "MX", "NOERROR"),
    ] {
        let before = knot.queries();
        let first = berth.dig(&[name, rtype]);
        assert_eq!(first.status, status);
        assert_eq!(
            knot.queries(),
            before + 1,
            "{name} {rtype} went upstream once"
        );
        // Ask until the TTLs served have gone down, which shows the answer
        // is the cached one; the upstream must not have been asked again.
        let ttl = |answer: &Answer| {
            answer
                .answer
                .iter()
                .chain(&answer.authority)
                .map(|rr| rr.ttl)
                .min()
        };
        let mut repeat = Answer::default();
        let aged = wait_until(|| {
            repeat = berth.dig(&[name, rtype]);
            ttl(&repeat) < ttl(&first)
        });
        assert!(aged, "TTLs of the cached {name} {rtype} never went down");
        assert_eq!(repeat.status, status);
        assert_eq!(
            knot.queries(),
            before + 1,
            "{name} {rtype} came from the cache"
        );
    }
}

#[test]
fn cached_answers_expire_by_their_ttl() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &[]);
    // A positive answer (TTL 2) and a negative one (SOA minimum 2, RFC 2308).
    for (name, status) in [
        ("www.short.test", "NOERROR"),
        ("nothing.short.test", "NXDOMAIN"),
    ] {
        let before = knot.queries();
        assert_eq!(berth.dig(&[name, "A"]).status, status);
        let asked_again = wait_until(|| {
            assert_eq!(berth.dig(&[name, "A"]).status, status);
            knot.queries() > before + 1
        });
        assert!(asked_again, "{name} was never fetched again");
    }
}

#[test]
fn cache_size_zero_turns_the_cache_off() {
    if !tools() {
        return;
    }
    let knot = knot();
    let berth = berth_before(&[knot.addr()], &["--cache-size", "0"]);
    let before = knot.queries();
    for _ in 0..3 {
        assert_eq!(berth.dig(&["www.forward.test", "A"]).status, "NOERROR");
    }
    assert_eq!(knot.queries(), before + 3);
}

#[test]
fn a_query_that_comes_back_to_berth_ends_in_servfail() {
    if !(require("dig") && require("dnsmasq")) {
        return;
    }
    // dnsmasq is berth's upstream and sends the container network's reverse
    // zone to berth, as deploy/dnsmasq suggests: a PTR berth does not hold
    // goes round.
    let dnsmasq_port = free_port();
    let upstream = format!("127.0.0.1:{dnsmasq_port}");
    let berth = Berth::start(&["--upstream", &upstream]);
    let conf = peers::uncomment(
        &peers::deploy_file("dnsmasq/berth.conf", berth.port()),
        "#",
        "server=/17.172",
    );
    let dnsmasq = peers::dnsmasq(&conf, dnsmasq_port);

    let answer = berth.dig(&["5.0.17.172.in-addr.arpa", "PTR", "+time=10"]);
    assert_eq!(answer.status, "SERVFAIL", "{}", answer.raw);
    berth.wait_for_log("came back to berth");
    // berth sent the query out once; dnsmasq passed it back once.
    let asked = dnsmasq.log_count("query[PTR] 5.0.17.172.in-addr.arpa");
    assert!(
        asked <= 2,
        "the query went round {asked} times:\n{}",
        dnsmasq.log()
    );
}
