//! The lookup without a socket: zones published with the registry's own
//! synchronous [`Writer`], queries parsed by [`parse_query`], [`answer`]
//! called directly and its reply read back with hickory. Each test is named
//! by the RFC section it checks.

use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record as WireRecord};
use hickory_proto::serialize::txt::Parser;

use super::answer;
use crate::dns::message::Transport;
use crate::dns::message::testing::{self, rcode};
use crate::dns::wire::parse_query;
use crate::iana::{Rcode, Rtype};
use crate::registry::{Change, Entity, Record, Snapshot, SourceId, Writer, ZoneSettings};

/// RFC 4592 §2.2.1, as printed there (with SOA and SRV RDATA filled in).
const RFC4592_EXAMPLE: &str = r#"
$ORIGIN example.
example.                 3600 IN  SOA   ns.example.com. hostmaster.example. 1 3600 600 86400 300
example.                 3600     NS    ns.example.com.
example.                 3600     NS    ns.example.net.
*.example.               3600     TXT   "this is a wildcard"
*.example.               3600     MX    10 host1.example.
sub.*.example.           3600     TXT   "this is not a wildcard"
host1.example.           3600     A     192.0.2.1
_ssh._tcp.host1.example. 3600     SRV   0 10 22 host1.example.
_ssh._tcp.host2.example. 3600     SRV   0 10 22 host2.example.
subdel.example.          3600     NS    ns.example.com.
subdel.example.          3600     NS    ns.example.net.
"#;

/// A zone for the rest of the lookup: a CNAME into the zone, a name with
/// several types.
const CHASE: &str = r#"
$ORIGIN chase.test.
@    60 IN SOA ns hostmaster 1 3600 600 86400 30
@    60    NS  ns
ns   60    A   192.0.2.53
www  60    CNAME web
web  60    A   192.0.2.1
web  60    AAAA 2001:db8::1
web  60    TXT "web"
"#;

/// Publishes `text` as a zone of its own, as a master file with an SOA is.
fn publish(origin: &str, text: &str) -> Arc<Snapshot> {
    let origin = Name::from_ascii(origin).unwrap();
    let (origin, sets) = Parser::new(text, None, Some(origin)).parse().unwrap();
    let records = sets
        .values()
        .flat_map(|set| set.records_without_rrsigs())
        .map(|rr| Record::new(rr.name.clone(), rr.ttl, rr.data.clone()))
        .collect();
    let mut entity = Entity::new("test.zone", records);
    entity.declares_zone = Some(origin);
    let mut writer = Writer::new(ZoneSettings {
        ixfr_journal: 0,
        zones: Vec::new(),
        ttl: 60,
        soa_minimum: 60,
        name_servers: crate::registry::NameServer::usual(None),
        wildcard_target: None,
    });
    writer.apply(Change::Upsert {
        source: SourceId::ZoneFiles,
        entity,
    });
    writer.publish()
}

fn ask(snapshot: &Snapshot, name: &str, qtype: Rtype) -> Message {
    ask_over(snapshot, name, qtype, Transport::Udp)
}

fn ask_over(snapshot: &Snapshot, name: &str, qtype: Rtype, transport: Transport) -> Message {
    let packet = testing::query(name, qtype);
    let query = parse_query(&packet).unwrap();
    let zone = snapshot
        .zone_for(query.qname.as_bytes())
        .expect("a zone holds the name");
    let mut buf = Vec::new();
    let len = answer(zone, &query, transport, &mut buf);
    Message::from_vec(&buf[..len]).unwrap()
}

/// A section as (owner, type, RDATA) in presentation format.
fn rows(section: &[WireRecord]) -> Vec<(String, Rtype, String)> {
    section
        .iter()
        .map(|record| {
            let rtype = Rtype::from(record.record_type());
            (record.name.to_ascii(), rtype, record.data.to_string())
        })
        .collect()
}

fn row(owner: &str, rtype: Rtype, data: &str) -> (String, Rtype, String) {
    (owner.to_string(), rtype, data.to_string())
}

/// NODATA or NXDOMAIN (RFC 2308 §2): authoritative, nothing in the answer,
/// the zone's SOA in the authority section.
fn assert_negative(reply: &Message, expected: Rcode, apex: &str) {
    assert_eq!(rcode(reply), expected);
    assert!(reply.metadata.authoritative);
    assert!(reply.answers.is_empty(), "{:?}", rows(&reply.answers));
    let authority = rows(&reply.authorities);
    assert_eq!(authority.len(), 1, "{authority:?}");
    assert_eq!((&authority[0].0[..], authority[0].1), (apex, Rtype::SOA));
}

#[test]
fn rfc4592_2_2_1_host3_mx_synthesised() {
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "host3.example.", Rtype::MX);
    assert_eq!(rcode(&reply), Rcode::NOERROR);
    assert!(reply.metadata.authoritative);
    assert_eq!(
        rows(&reply.answers),
        [row("host3.example.", Rtype::MX, "10 host1.example.")]
    );
    // The exchange's address rides along (RFC 1035 §3.3.9).
    assert_eq!(
        rows(&reply.additionals),
        [row("host1.example.", Rtype::A, "192.0.2.1")]
    );
}

#[test]
fn rfc4592_2_2_1_host3_a_nodata() {
    // The wildcard matches, but owns no A RRset.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "host3.example.", Rtype::A);
    assert_negative(&reply, Rcode::NOERROR, "example.");
}

#[test]
fn rfc4592_2_2_1_foo_bar_txt_synthesised() {
    // bar.example. does not exist, so the closest encloser is example.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "foo.bar.example.", Rtype::TXT);
    assert_eq!(rcode(&reply), Rcode::NOERROR);
    assert_eq!(
        rows(&reply.answers),
        [row("foo.bar.example.", Rtype::TXT, "this is a wildcard")]
    );
}

#[test]
fn rfc4592_2_2_1_host1_mx_nodata_the_name_exists() {
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "host1.example.", Rtype::MX);
    assert_negative(&reply, Rcode::NOERROR, "example.");
}

#[test]
fn rfc4592_2_2_1_sub_star_mx_nodata_the_name_exists() {
    // sub.*.example. is a name like any other: the "*" in it is no wildcard.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "sub.*.example.", Rtype::MX);
    assert_negative(&reply, Rcode::NOERROR, "example.");
}

#[test]
fn rfc4592_2_2_1_telnet_tcp_host1_srv_nxdomain_empty_non_terminal() {
    // _tcp.host1.example. exists (empty, above _ssh): it is the closest
    // encloser, and it has no wildcard child.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "_telnet._tcp.host1.example.", Rtype::SRV);
    assert_negative(&reply, Rcode::NXDOMAIN, "example.");
}

#[test]
fn rfc4592_2_2_1_host_subdel_a_referral() {
    // subdel.example. is a zone cut: a referral, not the wildcard.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "host.subdel.example.", Rtype::A);
    assert_eq!(rcode(&reply), Rcode::NOERROR);
    assert!(
        !reply.metadata.authoritative,
        "a referral is not authoritative"
    );
    assert!(reply.answers.is_empty());
    let mut authority = rows(&reply.authorities);
    authority.sort();
    assert_eq!(
        authority,
        [
            row("subdel.example.", Rtype::NS, "ns.example.com."),
            row("subdel.example.", Rtype::NS, "ns.example.net."),
        ]
    );
}

#[test]
fn rfc4592_2_2_1_ghost_star_mx_nxdomain() {
    // The closest encloser is *.example. itself, which has no wildcard child.
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "ghost.*.example.", Rtype::MX);
    assert_negative(&reply, Rcode::NXDOMAIN, "example.");
}

#[test]
fn rfc2308_3_negative_answers_carry_the_soa_at_its_minimum_ttl() {
    let zone = publish("example.", RFC4592_EXAMPLE);
    let reply = ask(&zone, "_telnet._tcp.host1.example.", Rtype::SRV);
    assert_eq!(reply.authorities[0].ttl, 300, "min(SOA TTL, SOA MINIMUM)");
}

#[test]
fn rfc1034_4_3_2_step_3a_a_cname_is_followed_within_the_zone() {
    let zone = publish("chase.test.", CHASE);
    let reply = ask(&zone, "www.chase.test.", Rtype::A);
    assert_eq!(rcode(&reply), Rcode::NOERROR);
    assert_eq!(
        rows(&reply.answers),
        [
            row("www.chase.test.", Rtype::CNAME, "web.chase.test."),
            row("web.chase.test.", Rtype::A, "192.0.2.1"),
        ]
    );
}

#[test]
fn rfc4343_4_1_the_question_comes_back_in_the_case_it_was_asked() {
    let zone = publish("chase.test.", CHASE);
    let reply = ask(&zone, "WeB.Chase.TEST.", Rtype::A);
    assert_eq!(reply.queries[0].name().to_ascii(), "WeB.Chase.TEST.");
    assert_eq!(reply.answers[0].name.to_ascii(), "WeB.Chase.TEST.");
}

#[test]
fn rfc8482_4_1_any_over_udp_gets_one_rrset_over_tcp_all() {
    let zone = publish("chase.test.", CHASE);
    let udp = ask_over(&zone, "web.chase.test.", Rtype::ANY, Transport::Udp);
    assert_eq!(rcode(&udp), Rcode::NOERROR);
    assert_eq!(rows(&udp.answers).len(), 1);
    let tcp = ask_over(&zone, "web.chase.test.", Rtype::ANY, Transport::Tcp);
    let mut types: Vec<Rtype> = rows(&tcp.answers).into_iter().map(|r| r.1).collect();
    types.sort();
    assert_eq!(types, [Rtype::A, Rtype::TXT, Rtype::AAAA]);
}
