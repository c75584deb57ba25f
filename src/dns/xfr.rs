//! Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995), written from
//! one published zone, so a transfer is one consistent version whatever is
//! published while it is sent.
//!
//! Each message holds as many records as fit in 64 KiB (less room for a
//! TSIG record), repeats the question (RFC 5936 §2.2.1 allows it, and it
//! gives every owner name the zone's apex to point at), and compresses
//! owner names against the names already in that message. RDATA is copied
//! as published, uncompressed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::registry::journal::{self, Diff};
use crate::registry::name::Labels;
use crate::registry::snapshot::Zone;

use super::message::{self, Transport};
use super::message::{FLAG_AA, FLAG_QR, FLAG_RD, HEADER_LEN};
use super::notify;
use super::tsig::{self, Keyring, Signer, Verified};
use super::wire::Query;
use crate::iana::{Rcode, Rtype};
use crate::registry::Snapshot;
/// Versions of a zone kept for IXFR unless `--ixfr-journal` says otherwise.
pub const DEFAULT_JOURNAL: usize = 100;
/// The largest DNS message over TCP.
const MAX_MESSAGE: usize = u16::MAX as usize;

/// Everything about secondaries: who may transfer, whom to NOTIFY, the
/// keys both are signed with, and how much history IXFR keeps.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub allow: Vec<Rule>,
    pub notify: Vec<notify::Target>,
    pub keys: Arc<Keyring>,
    pub ixfr_journal: usize,
}

/// One `--allow-transfer`: the client's address in `net`, and a request
/// signed with `key`; a part left out is not asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub net: Option<IpNet>,
    /// The key's name, lower-cased, without the final dot.
    pub key: Option<String>,
}

impl Settings {
    /// Whether `client`, whose request was signed with `key` (already
    /// verified), may transfer. No rule: nobody may.
    pub fn allows(&self, client: IpAddr, key: Option<&str>) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        self.allow.iter().any(|rule| {
            rule.net.is_none_or(|net| net.contains(&client))
                && rule.key.as_deref().is_none_or(|wanted| key == Some(wanted))
        })
    }
}

/// What the handler sends for a transfer request.
pub enum Answer {
    /// One message, in the handler's buffer, this long.
    Reply(usize),
    /// The messages of a transfer, in order (TCP only).
    Messages(Vec<Vec<u8>>),
}

/// Answers an AXFR or IXFR for `query` (RFC 5936, RFC 1995): the zone must
/// be one berth is authoritative for, named by its apex, and the client
/// allowed by `--allow-transfer`; `verified` is the request's TSIG key,
/// which then signs every message sent.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    snapshot: &Snapshot,
    query: &Query<'_>,
    client: Option<IpAddr>,
    transport: Transport,
    settings: &Settings,
    verified: Option<&Verified>,
    buf: &mut Vec<u8>,
) -> Answer {
    let qname = query.qname.as_bytes();
    let zone = snapshot.zone(qname).filter(|zone| zone.is_authoritative());
    let key = verified.map(|v| v.key.text.as_str());
    let code = match zone {
        // Not a zone apex of berth's: "not authoritative" (RFC 5936 §2.2.1),
        // as BIND and Knot answer.
        None => Some(Rcode::NOTAUTH),
        Some(_) if !client.is_some_and(|ip| settings.allows(ip, key)) => Some(Rcode::REFUSED),
        // AXFR has no UDP form (RFC 5936 §4.2); BIND answers FORMERR.
        Some(_) if transport == Transport::Udp && query.ixfr_serial.is_none() => {
            Some(Rcode::FORMERR)
        }
        Some(_) => None,
    };
    let signer = || verified.map(Signer::new);
    let request = Request {
        id: query.id,
        flags: query.flags,
        question: query.question,
        qname,
    };
    let (Some(zone), None) = (zone, code) else {
        let len = message::reply_with_rcode(query, buf, code.unwrap_or(Rcode::REFUSED), false);
        buf.truncate(len);
        if let Some(mut signer) = signer() {
            signer.sign(buf, 0, &[]);
        }
        return Answer::Reply(buf.len());
    };
    let kind = match query.ixfr_serial {
        Some(serial) => Kind::Ixfr { serial },
        None => Kind::Axfr,
    };
    if transport == Transport::Udp {
        *buf = soa_only(zone, &request, signer());
        return Answer::Reply(buf.len());
    }
    let (messages, sent) = transfer(zone, &request, kind, signer());
    tracing::info!(
        zone = %crate::registry::name::to_text(qname),
        client = ?client,
        ?kind,
        ?sent,
        messages = messages.len(),
        bytes = messages.iter().map(Vec::len).sum::<usize>(),
        "transfer"
    );
    Answer::Messages(messages)
}

/// What the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Axfr,
    /// IXFR from the serial in the client's SOA (RFC 1995 §3).
    Ixfr {
        serial: u32,
    },
}

/// The query a transfer answers: its ID and flags, the question as sent.
pub struct Request<'q> {
    pub id: u16,
    pub flags: u16,
    pub question: &'q [u8],
    /// The question name lower-cased: the zone's apex.
    pub qname: &'q [u8],
}

/// How a transfer went out, for the log and the counters.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// The whole zone.
    Full,
    /// Differences from the journal, this many versions.
    Incremental(usize),
    /// One SOA: the client is up to date (or was told to use TCP).
    UpToDate,
}

/// The messages answering `request` for `zone`, signed when `signer` is.
pub fn transfer(
    zone: &Zone,
    request: &Request<'_>,
    kind: Kind,
    signer: Option<Signer>,
) -> (Vec<Vec<u8>>, Sent) {
    let Some((apex_owner, soa)) = apex_soa(zone) else {
        return (Vec::new(), Sent::UpToDate);
    };
    let mut out = Messages::new(request, signer);
    let current = journal::soa_serial(soa).unwrap_or(0);
    let sent = match kind {
        Kind::Ixfr { serial } if !journal::serial_lt(serial, current) => {
            out.push(apex_owner, soa);
            Sent::UpToDate
        }
        Kind::Ixfr { serial } => match zone.journal.since(serial) {
            Some(diffs) => {
                out.push(apex_owner, soa);
                for diff in diffs {
                    incremental(&mut out, apex_owner, diff);
                }
                out.push(apex_owner, soa);
                Sent::Incremental(diffs.len())
            }
            None => full(&mut out, zone, apex_owner, soa),
        },
        Kind::Axfr => full(&mut out, zone, apex_owner, soa),
    };
    (out.finish(), sent)
}

/// The single-SOA answer to an IXFR over UDP (RFC 1995 §2): "up to date",
/// or "ask again over TCP" — the client tells which by the serial.
pub fn soa_only(zone: &Zone, request: &Request<'_>, signer: Option<Signer>) -> Vec<u8> {
    let mut out = Messages::new(request, signer);
    if let Some((owner, soa)) = apex_soa(zone) {
        out.push(owner, soa);
    }
    out.finish().into_iter().next().unwrap_or_default()
}

/// The apex owner as published and its SOA record.
fn apex_soa(zone: &Zone) -> Option<(&[u8], &[u8])> {
    let apex = zone.node(&zone.apex)?;
    let soa = apex.get(Rtype::SOA)?.records().next()?;
    Some((&apex.owner, soa))
}

fn full(out: &mut Messages<'_>, zone: &Zone, apex_owner: &[u8], soa: &[u8]) -> Sent {
    out.push(apex_owner, soa);
    for node in zone.nodes.values() {
        for set in node.rrsets.iter().filter(|set| set.rtype != Rtype::SOA) {
            for record in set.records() {
                out.push(&node.owner, record);
            }
        }
    }
    out.push(apex_owner, soa);
    Sent::Full
}

/// One version's difference: old SOA, what went, new SOA, what came.
fn incremental(out: &mut Messages<'_>, apex_owner: &[u8], diff: &Diff) {
    out.push(apex_owner, &diff.old_soa);
    for gone in &diff.removed {
        out.push(&gone.owner, &gone.record);
    }
    out.push(apex_owner, &diff.new_soa);
    for came in &diff.added {
        out.push(&came.owner, &came.record);
    }
}

/// Fills messages one after another.
struct Messages<'q> {
    request: &'q Request<'q>,
    signer: Option<Signer>,
    /// Room kept free in each message for its TSIG record.
    limit: usize,
    done: Vec<Vec<u8>>,
    current: Vec<u8>,
    answers: u16,
    /// Lower-cased names already in `current`, and where.
    names: HashMap<Box<[u8]>, u16>,
    lowered: Vec<u8>,
}

impl<'q> Messages<'q> {
    fn new(request: &'q Request<'q>, signer: Option<Signer>) -> Self {
        let room = signer.as_ref().map_or(0, |s| tsig::space(s.key()));
        let mut messages = Messages {
            request,
            signer,
            limit: MAX_MESSAGE - room,
            done: Vec::new(),
            current: Vec::with_capacity(16 * 1024),
            answers: 0,
            names: HashMap::new(),
            lowered: Vec::with_capacity(255),
        };
        messages.start();
        messages
    }

    fn start(&mut self) {
        let request = self.request;
        self.current.clear();
        self.names.clear();
        self.answers = 0;
        let flags = FLAG_QR | FLAG_AA | (request.flags & FLAG_RD);
        self.current.extend_from_slice(&request.id.to_be_bytes());
        self.current.extend_from_slice(&flags.to_be_bytes());
        self.current.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        self.current.extend_from_slice(request.question);
        self.names.insert(request.qname.into(), HEADER_LEN as u16);
    }

    /// Appends one record, opening a new message when it might not fit
    /// (the owner counted uncompressed).
    fn push(&mut self, owner: &[u8], record: &[u8]) {
        if self.current.len() + owner.len() + record.len() > self.limit && self.answers > 0 {
            self.flush();
        }
        self.write_owner(owner);
        self.current.extend_from_slice(record);
        self.answers += 1;
    }

    /// Writes `owner` as its labels up to the longest suffix already in the
    /// message, then a pointer to that; remembers where the labels written
    /// out start, for the owners after it.
    fn write_owner(&mut self, owner: &[u8]) {
        self.lowered.clear();
        self.lowered.extend_from_slice(owner);
        self.lowered.make_ascii_lowercase();
        let labels = Labels::of(owner);
        let start = self.current.len();
        let known = (0..labels.count()).find_map(|i| {
            let at = labels.offset(i, owner);
            self.names
                .get(&self.lowered[at..])
                .map(|&pointer| (i, at, pointer))
        });
        let literal = match known {
            Some((i, at, pointer)) => {
                self.current.extend_from_slice(&owner[..at]);
                self.current
                    .extend_from_slice(&(0xc000 | pointer).to_be_bytes());
                i
            }
            None => {
                self.current.extend_from_slice(owner);
                labels.count()
            }
        };
        for i in 0..literal {
            let at = labels.offset(i, owner);
            let offset = start + at;
            if offset >= 0x3fff {
                break;
            }
            let suffix: Box<[u8]> = self.lowered[at..].into();
            self.names.entry(suffix).or_insert(offset as u16);
        }
    }

    fn flush(&mut self) {
        self.current[6..8].copy_from_slice(&self.answers.to_be_bytes());
        let mut message = std::mem::take(&mut self.current);
        if let Some(signer) = &mut self.signer {
            signer.sign(&mut message, 0, &[]);
        }
        self.done.push(message);
        self.current = Vec::with_capacity(16 * 1024);
        self.start();
    }

    fn finish(mut self) -> Vec<Vec<u8>> {
        if self.answers > 0 {
            self.flush();
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Change, Entity, Record, SourceId, Writer, ZoneSettings};
    use hickory_proto::op::Message;
    use hickory_proto::rr::{Name, RecordType};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn writer() -> Writer {
        Writer::new(ZoneSettings {
            zones: vec![name("apps.local.")],
            ttl: 5,
            soa_minimum: 5,
            name_servers: crate::registry::NameServer::usual(Some("127.0.0.1".parse().unwrap())),
            wildcard_target: None,
            ixfr_journal: 10,
        })
    }

    fn container(i: u32) -> Change {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        Change::Upsert {
            source: SourceId::Docker,
            entity: Entity::new(
                format!("c{i}"),
                vec![Record::address(
                    name(&format!("Web-{i}.apps.local.")),
                    5,
                    ip.into(),
                )],
            ),
        }
    }

    const QUESTION: &[u8] = b"\x04apps\x05local\x00\x00\xfc\x00\x01";

    fn run(writer: &mut Writer, kind: Kind) -> (Vec<Message>, Sent) {
        let snapshot = writer.publish();
        let zone = snapshot.zone(b"\x04apps\x05local\x00").unwrap();
        let request = Request {
            id: 7,
            flags: 0,
            question: QUESTION,
            qname: b"\x04apps\x05local\x00",
        };
        let (messages, sent) = transfer(zone, &request, kind, None);
        for message in &messages {
            assert!(message.len() <= MAX_MESSAGE);
        }
        let parsed = messages
            .iter()
            .map(|m| Message::from_vec(m).expect("a well-formed message"))
            .collect();
        (parsed, sent)
    }

    fn answers(messages: &[Message]) -> Vec<(String, RecordType)> {
        messages
            .iter()
            .flat_map(|m| m.answers.iter())
            .map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type()))
            .collect()
    }

    #[test]
    fn axfr_is_the_zone_between_two_soas_in_as_many_messages_as_needed() {
        let mut writer = writer();
        for i in 0..5000 {
            writer.apply(container(i));
        }
        let (messages, sent) = run(&mut writer, Kind::Axfr);
        assert_eq!(sent, Sent::Full);
        assert!(messages.len() > 1, "5000 names do not fit one message");
        let records = answers(&messages);
        // SOA, NS, ns A, 5000 A, SOA.
        assert_eq!(records.len(), 5004);
        assert_eq!(records[0], ("apps.local.".into(), RecordType::SOA));
        assert_eq!(records[5003], ("apps.local.".into(), RecordType::SOA));
        assert!(records.contains(&("web-4999.apps.local.".into(), RecordType::A)));
        for message in &messages {
            assert_eq!(message.id, 7);
            assert!(message.authoritative);
            assert_eq!(message.queries.len(), 1);
        }
    }

    #[test]
    fn ixfr_sends_the_differences_or_the_zone_or_one_soa() {
        let mut writer = writer();
        for i in 0..50 {
            writer.apply(container(i));
        }
        let first = writer
            .publish()
            .zone(b"\x04apps\x05local\x00")
            .unwrap()
            .serial;
        writer.apply(container(60));
        writer.apply(Change::Remove {
            source: SourceId::Docker,
            id: "c3".into(),
        });
        let (messages, sent) = run(&mut writer, Kind::Ixfr { serial: first });
        assert_eq!(sent, Sent::Incremental(1));
        let records = answers(&messages);
        let soa = ("apps.local.".to_string(), RecordType::SOA);
        let expected = vec![
            soa.clone(),
            soa.clone(),
            ("web-3.apps.local.".into(), RecordType::A),
            soa.clone(),
            ("web-60.apps.local.".into(), RecordType::A),
            soa.clone(),
        ];
        assert_eq!(records, expected);

        let current = writer
            .publish()
            .zone(b"\x04apps\x05local\x00")
            .unwrap()
            .serial;
        let (messages, sent) = run(&mut writer, Kind::Ixfr { serial: current });
        assert_eq!(sent, Sent::UpToDate);
        assert_eq!(answers(&messages), vec![soa]);

        let (_, sent) = run(
            &mut writer,
            Kind::Ixfr {
                serial: first - 1000,
            },
        );
        assert_eq!(sent, Sent::Full);
    }

    #[test]
    fn owner_names_are_compressed() {
        let mut writer = writer();
        for i in 0..100 {
            writer.apply(container(i));
        }
        let snapshot = writer.publish();
        let zone = snapshot.zone(b"\x04apps\x05local\x00").unwrap();
        let request = Request {
            id: 1,
            flags: 0,
            question: QUESTION,
            qname: b"\x04apps\x05local\x00",
        };
        let (messages, _) = transfer(zone, &request, Kind::Axfr, None);
        // Each A record: "web-NN" (7-8 bytes) + pointer (2) + 14.
        assert!(messages[0].len() < 100 * 25 + 200, "{}", messages[0].len());
    }
}
