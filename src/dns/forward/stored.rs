//! An upstream's answer read once and kept in a form that can be served
//! again: to clients whose identical query waited on it, and from the cache.
//! Serving it rewrites the ID, the question's case, RD, the TTLs (less the
//! time it was held) and the OPT record — nothing else of what the upstream
//! said.

use crate::dns::message::{FLAG_RD, FLAG_TC, HEADER_LEN, MAX_UDP_PAYLOAD, reply_with_rcode};
use crate::dns::response::write_opt;
use crate::dns::wire::{self, Query, be16};
use crate::iana::{Rcode, Rtype};

/// Longest TTL a client is given, and the longest any answer is kept,
/// whatever the upstream says, unless `--max-ttl` says otherwise (unbound's
/// and BIND's default ceiling).
pub const DEFAULT_MAX_TTL: u32 = 86_400;
/// How long a SERVFAIL is kept: long enough that a failing name does not
/// send every client's retry upstream (RFC 9520 §3.2), short enough that a
/// recovered upstream is used again within seconds.
pub const SERVFAIL_LIFETIME: u32 = 5;

/// Why an upstream answer cannot be served again.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unstorable {
    #[error("answer has no question")]
    NoQuestion,
    #[error("a record runs past the end of the answer")]
    Truncated,
    #[error("OPT record is not the last record")]
    OptNotLast,
    #[error("OPT record outside the additional section")]
    OptOutsideAdditional,
    #[error("a name is malformed (label out of bounds, or a pointer that loops)")]
    BadName,
    #[error("bytes after the last record")]
    TrailingBytes,
}

/// An answer ready to be served again.
#[derive(Debug)]
pub struct Stored {
    /// The message without its OPT record; its options (cookies, padding)
    /// belonged to the exchange that fetched it, and each client gets an OPT
    /// of its own.
    message: Box<[u8]>,
    question_end: usize,
    /// Where each TTL field is, OPT excluded.
    ttls: Box<[u16]>,
    /// The upper eight bits of a 12-bit RCODE, from the upstream's OPT.
    extended_rcode: u8,
    /// How long the cache may serve it, in seconds; `None` when it may not.
    lifetime: Option<u32>,
}

impl Stored {
    /// Reads an upstream answer (already known to answer our question),
    /// with the default TTL ceiling.
    #[cfg(test)]
    pub fn parse(answer: &[u8]) -> Result<Stored, Unstorable> {
        Self::parse_capped(answer, DEFAULT_MAX_TTL)
    }

    /// Reads and checks an upstream answer (already known to answer our
    /// question): every record and every name in it as a client will read
    /// them, nothing after the last. TTLs above `max_ttl` are lowered to it,
    /// and those with the top bit set become 0 (RFC 2181 §8), in what
    /// clients are given.
    pub fn parse_capped(answer: &[u8], max_ttl: u32) -> Result<Stored, Unstorable> {
        let count = |at| be16(answer, at).unwrap_or(0);
        if answer.len() < HEADER_LEN || count(4) != 1 {
            return Err(Unstorable::NoQuestion);
        }
        let question_end = wire::check_name(answer, HEADER_LEN)
            .map(|at| at + 4)
            .filter(|&end| end <= answer.len())
            .ok_or(Unstorable::Truncated)?;
        let (answers, authority, additional) = (count(6), count(8), count(10));
        let mut message = answer.to_vec();
        let mut ttls = Vec::new();
        let mut extended_rcode = 0;
        let mut min_ttl = u32::MAX;
        // The SOA of a negative answer: where its TTL is, and the negative
        // TTL of RFC 2308 §5, min(SOA TTL, SOA MINIMUM).
        let mut soa = None;
        let mut at = question_end;
        let total = u32::from(answers) + u32::from(authority) + u32::from(additional);
        for i in 0..total {
            let record = wire::read_record(answer, at).ok_or(Unstorable::Truncated)?;
            if !names_well_formed(answer, &record, &ttls) {
                return Err(Unstorable::BadName);
            }
            at = record.end;
            if record.rtype == Rtype::OPT {
                // RFC 6891 §6.1.1: OPT belongs in the additional section.
                if i < u32::from(answers) + u32::from(authority) {
                    return Err(Unstorable::OptOutsideAdditional);
                }
                // Cutting anything else out would break compression
                // pointers into what follows it.
                if record.end != answer.len() {
                    return Err(Unstorable::OptNotLast);
                }
                // The header counts records after it that are not there.
                if i + 1 != total {
                    return Err(Unstorable::Truncated);
                }
                extended_rcode = (record.ttl >> 24) as u8;
                message.truncate(record.start);
                message[10..12].copy_from_slice(&(additional - 1).to_be_bytes());
                break;
            }
            // RFC 2181 §8: a TTL with the top bit set means zero.
            let ttl = if record.ttl > i32::MAX as u32 {
                0
            } else {
                record.ttl.min(max_ttl)
            };
            if ttl != record.ttl {
                message[record.ttl_at..record.ttl_at + 4].copy_from_slice(&ttl.to_be_bytes());
            }
            min_ttl = min_ttl.min(ttl);
            let in_authority =
                (u32::from(answers)..u32::from(answers) + u32::from(authority)).contains(&i);
            if in_authority && record.rtype == Rtype::SOA && soa.is_none() {
                let minimum = record
                    .rdata
                    .len()
                    .checked_sub(4)
                    .and_then(|from| wire_u32(record.rdata, from))
                    .ok_or(Unstorable::Truncated)?;
                soa = Some((record.ttl_at, ttl.min(minimum)));
            }
            // Offsets fit: a DNS message is at most 65535 bytes long.
            ttls.push(record.ttl_at as u16);
        }

        if at != answer.len() {
            return Err(Unstorable::TrailingBytes);
        }
        let flags = be16(answer, 2).unwrap_or(0);
        let code = Rcode::of_header(flags);
        let negative = code == Rcode::NXDOMAIN || (code == Rcode::NOERROR && answers == 0);
        let lifetime = if flags & FLAG_TC != 0 || extended_rcode != 0 {
            None
        } else if code == Rcode::SERVFAIL {
            Some(SERVFAIL_LIFETIME)
        } else if negative {
            // Without an SOA there is no negative TTL: not cached (RFC 2308 §5).
            soa.map(|(soa_ttl_at, negative_ttl)| {
                // Downstream caches read the negative TTL from the SOA's own
                // TTL; make it the one this answer is kept for.
                message[soa_ttl_at..soa_ttl_at + 4].copy_from_slice(&negative_ttl.to_be_bytes());
                min_ttl.min(negative_ttl)
            })
        } else if code == Rcode::NOERROR {
            Some(min_ttl)
        } else {
            // REFUSED, FORMERR, NOTIMP: about this exchange, not the name.
            None
        };
        Ok(Stored {
            message: message.into_boxed_slice(),
            question_end,
            ttls: ttls.into_boxed_slice(),
            extended_rcode,
            lifetime: lifetime
                .map(|seconds| seconds.min(max_ttl))
                .filter(|&seconds| seconds > 0),
        })
    }

    /// Seconds the cache may serve this answer for; `None`: not at all.
    pub fn lifetime(&self) -> Option<u32> {
        self.lifetime
    }

    /// Bytes held, for the cache's bound.
    pub fn len(&self) -> usize {
        self.message.len()
    }

    /// Writes the answer for `query` into `buf`, `age` seconds after it was
    /// fetched, cut to `limit` bytes with TC when it does not fit.
    pub fn reply(&self, query: &Query<'_>, age: u32, limit: usize, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&self.message);
        buf[..2].copy_from_slice(&query.id.to_be_bytes());
        let flags = be16(buf, 2).unwrap_or(0) & !FLAG_RD | query.flags & FLAG_RD;
        buf[2..4].copy_from_slice(&flags.to_be_bytes());
        restore_question(buf, self.question_end, query.question);
        for &at in self.ttls.iter() {
            let at = usize::from(at);
            if let Some(ttl) = wire_u32(buf, at) {
                buf[at..at + 4].copy_from_slice(&ttl.saturating_sub(age).to_be_bytes());
            }
        }
        if let Some(edns) = query.edns {
            write_opt(buf, MAX_UDP_PAYLOAD, self.extended_rcode, edns.dnssec_ok);
            let additional = be16(buf, 10).unwrap_or(0).saturating_add(1);
            buf[10..12].copy_from_slice(&additional.to_be_bytes());
        }
        fit(buf, query, limit);
    }
}

/// Whether the owner name of `record`, and the names inside its RDATA for
/// the types that may compress them (RFC 3597 §4) plus SRV, read as a
/// client will read them, with nothing left over in the RDATA. No name
/// may be read from a TTL field (`ttls`, the earlier records', in order,
/// and this one's): berth rewrites TTLs in what it serves, and the name
/// would read differently in the client's copy.
fn names_well_formed(message: &[u8], record: &wire::Record<'_>, ttls: &[u16]) -> bool {
    let in_a_ttl = |span: std::ops::Range<usize>| {
        // The last TTL field starting before the span ends, if it
        // reaches into the span.
        let before = ttls.partition_point(|&ttl| usize::from(ttl) < span.end);
        let last = ttls[..before].last().map(|&ttl| usize::from(ttl));
        [last, Some(record.ttl_at).filter(|&ttl| ttl < span.end)]
            .into_iter()
            .flatten()
            .any(|ttl| ttl + 4 > span.start)
    };
    let check = |at| wire::check_name_avoiding(message, at, in_a_ttl);
    if check(record.start).is_none() {
        return false;
    }
    // Where the RDATA starts in the message, and which of its parts are names.
    let rdata_at = record.end - record.rdata.len();
    let names_then = |before: usize, names: usize, after: usize| {
        let mut at = rdata_at + before;
        if at > record.end {
            return false;
        }
        for _ in 0..names {
            match check(at) {
                Some(end) if end <= record.end => at = end,
                _ => return false,
            }
        }
        at + after == record.end
    };
    match record.rtype {
        Rtype::NS | Rtype::CNAME | Rtype::PTR | Rtype::DNAME => names_then(0, 1, 0),
        Rtype::SOA => names_then(0, 2, 20),
        Rtype::MX => names_then(2, 1, 0),
        Rtype::SRV => names_then(6, 1, 0),
        _ => true,
    }
}

/// Puts the client's question back in an answer to it (same name, perhaps
/// in another case), so a client checking 0x20 case sees what it sent.
pub fn restore_question(answer: &mut [u8], question_end: usize, question: &[u8]) {
    if be16(answer, 4) != Some(1) {
        return;
    }
    if let Some(ours) = answer.get_mut(HEADER_LEN..question_end)
        && ours.len() == question.len()
    {
        ours.copy_from_slice(question);
    }
}

/// Cuts an answer that does not fit the client's UDP size down to its
/// header and question (and OPT), with TC set so the client asks again
/// over TCP (RFC 1035 §4.2.1, RFC 6891 §7).
pub fn fit(answer: &mut Vec<u8>, query: &Query<'_>, limit: usize) {
    if answer.len() <= limit {
        return;
    }
    let flags = be16(answer, 2).unwrap_or(0);
    let mut cut = Vec::new();
    reply_with_rcode(query, &mut cut, Rcode::of_header(flags), true);
    cut[2..4].copy_from_slice(&(flags | FLAG_TC).to_be_bytes());
    *answer = cut;
}

fn wire_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([field[0], field[1], field[2], field[3]]))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::dns::wire::parse_query;

    const NAME: &[u8] = b"\x03www\x07example\x00";
    const ZONE: &[u8] = b"\x07example\x00";

    /// A query for www.example A from a client, with EDNS when `edns`.
    pub fn query(id: u16, name: &[u8], edns: bool) -> Vec<u8> {
        let mut packet = id.to_be_bytes().to_vec();
        packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
        packet.extend_from_slice(name);
        packet.extend_from_slice(&[0, 1, 0, 1]);
        if edns {
            packet.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        }
        packet
    }

    /// One record for [`answer`]: (section, owner, type, TTL, RDATA).
    pub type Rec<'a> = (usize, &'a [u8], Rtype, u32, &'a [u8]);

    /// An upstream answer: `rcode`, then the records, then an OPT with a
    /// cookie option when `opt`.
    pub fn answer(rcode: Rcode, records: &[Rec<'_>], opt: bool) -> Vec<u8> {
        let mut counts = [0u16; 3];
        let mut body = Vec::new();
        for &(section, owner, rtype, ttl, rdata) in records {
            counts[section] += 1;
            body.extend_from_slice(owner);
            body.extend_from_slice(&rtype.0.to_be_bytes());
            body.extend_from_slice(&[0, 1]);
            body.extend_from_slice(&ttl.to_be_bytes());
            body.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            body.extend_from_slice(rdata);
        }
        if opt {
            counts[2] += 1;
            // A server cookie: it belongs to one exchange, never re-served.
            body.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8]);
            body.extend_from_slice(&[7; 8]);
        }
        let mut packet = vec![0xab, 0xcd, 0x81, 0x80 | rcode.header_bits(), 0, 1];
        for count in counts {
            packet.extend_from_slice(&count.to_be_bytes());
        }
        packet.extend_from_slice(NAME);
        packet.extend_from_slice(&[0, 1, 0, 1]);
        packet.extend_from_slice(&body);
        packet
    }

    fn soa(ttl: u32, minimum: u32) -> (usize, &'static [u8], Rtype, u32, Vec<u8>) {
        let mut rdata = b"\x02ns\xc0\x19\x0ahostmaster\xc0\x19".to_vec();
        for field in [1u32, 3600, 600, 86400, minimum] {
            rdata.extend_from_slice(&field.to_be_bytes());
        }
        (1, ZONE, Rtype::SOA, ttl, rdata)
    }

    fn ttls(message: &[u8]) -> Vec<u32> {
        let mut at = wire::skip_name(message, HEADER_LEN).unwrap() + 4;
        let mut out = Vec::new();
        while let Some(record) = wire::read_record(message, at) {
            if record.rtype != Rtype::OPT {
                out.push(record.ttl);
            }
            at = record.end;
        }
        out
    }

    #[test]
    fn a_positive_answer_lives_as_long_as_its_shortest_ttl() {
        let upstream = answer(
            Rcode::NOERROR,
            &[
                (0, b"\xc0\x0c", Rtype::A, 300, &[192, 0, 2, 1]),
                (0, b"\xc0\x0c", Rtype::A, 60, &[192, 0, 2, 2]),
            ],
            true,
        );
        let stored = Stored::parse(&upstream).unwrap();
        assert_eq!(stored.lifetime(), Some(60));

        // Served again: the client's ID, case and RD; TTLs less the age;
        // berth's own OPT, without the upstream's cookie.
        let packet = query(0x1234, b"\x03WwW\x07eXample\x00", true);
        let client = parse_query(&packet).unwrap();
        let mut reply = Vec::new();
        stored.reply(&client, 10, 1232, &mut reply);
        assert_eq!(reply[..2], [0x12, 0x34]);
        assert_eq!(
            &reply[HEADER_LEN..HEADER_LEN + NAME.len()],
            b"\x03WwW\x07eXample\x00"
        );
        assert_eq!(ttls(&reply), [290, 50]);
        assert_eq!(be16(&reply, 10), Some(1), "one OPT");
        assert!(reply.ends_with(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]));

        // A client without EDNS gets no OPT at all (RFC 6891 §7).
        let plain = query(7, NAME, false);
        stored.reply(&parse_query(&plain).unwrap(), 0, 512, &mut reply);
        assert_eq!(be16(&reply, 10), Some(0));
    }

    #[test]
    fn rfc2308_negative_answers_live_for_the_soa_minimum() {
        let (section, owner, rtype, ttl, rdata) = soa(3600, 30);
        let upstream = answer(
            Rcode::NXDOMAIN,
            &[(section, owner, rtype, ttl, &rdata)],
            false,
        );
        let stored = Stored::parse(&upstream).unwrap();
        assert_eq!(stored.lifetime(), Some(30));
        // The SOA's own TTL is what a downstream cache reads: it must not
        // outlive the negative TTL.
        let packet = query(1, NAME, false);
        let mut reply = Vec::new();
        stored.reply(&parse_query(&packet).unwrap(), 5, 512, &mut reply);
        assert_eq!(ttls(&reply), [25]);
        assert_eq!(Rcode::of_header(reply[3].into()), Rcode::NXDOMAIN);

        let nodata = answer(
            Rcode::NOERROR,
            &[(section, owner, rtype, 10, &rdata)],
            false,
        );
        assert_eq!(Stored::parse(&nodata).unwrap().lifetime(), Some(10));
        // Without an SOA there is no negative TTL: not cached.
        let bare = answer(Rcode::NXDOMAIN, &[], false);
        assert_eq!(Stored::parse(&bare).unwrap().lifetime(), None);
    }

    #[test]
    fn what_is_cached_and_for_how_long() {
        let a: &[Rec<'_>] = &[(0, b"\xc0\x0c", Rtype::A, 60, &[192, 0, 2, 1])];
        let lifetime = |packet: Vec<u8>| Stored::parse(&packet).unwrap().lifetime();
        assert_eq!(
            lifetime(answer(Rcode::SERVFAIL, &[], true)),
            Some(SERVFAIL_LIFETIME)
        );
        assert_eq!(lifetime(answer(Rcode::REFUSED, &[], false)), None);
        assert_eq!(lifetime(answer(Rcode::FORMERR, &[], false)), None);
        let mut truncated = answer(Rcode::NOERROR, a, false);
        truncated[2] |= 0x02;
        assert_eq!(lifetime(truncated), None);
        // RFC 2181 §8: a TTL with the top bit set is zero; zero is not kept.
        assert_eq!(
            lifetime(answer(
                Rcode::NOERROR,
                &[(0, b"\xc0\x0c", Rtype::A, 0x8000_0000, &[1, 2, 3, 4])],
                false
            )),
            None
        );
        assert_eq!(
            lifetime(answer(
                Rcode::NOERROR,
                &[(0, b"\xc0\x0c", Rtype::A, u32::MAX >> 1, &[1, 2, 3, 4])],
                false
            )),
            Some(DEFAULT_MAX_TTL)
        );
    }

    #[test]
    fn broken_answers_are_not_stored() {
        let mut cut = answer(
            Rcode::NOERROR,
            &[(0, b"\xc0\x0c", Rtype::A, 60, &[192, 0, 2, 1])],
            false,
        );
        cut.truncate(cut.len() - 2);
        assert_eq!(Stored::parse(&cut).unwrap_err(), Unstorable::Truncated);
        let mut no_question = answer(Rcode::FORMERR, &[], false);
        no_question[5] = 0;
        assert_eq!(
            Stored::parse(&no_question).unwrap_err(),
            Unstorable::NoQuestion
        );
        // An OPT followed by another record cannot be cut out safely.
        let mut opt_first = answer(Rcode::NOERROR, &[], true);
        opt_first[11] += 1;
        opt_first.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        assert_eq!(
            Stored::parse(&opt_first).unwrap_err(),
            Unstorable::OptNotLast
        );
    }

    /// Found by the forward_reply fuzz target: an OPT last in the bytes
    /// ended the reading, so records the header counted after it were never
    /// looked for, and the client was relayed a header that promised
    /// 30,000 answers that were not there.
    #[test]
    fn an_opt_is_the_last_record_the_header_counts() {
        let reply = answer(
            Rcode::NOERROR,
            &[(0, b"\xc0\x0c", Rtype::A, 60, &[192, 0, 2, 1])],
            true,
        );
        let mut more_answers = reply.clone();
        more_answers[6..8].copy_from_slice(&30_000u16.to_be_bytes());
        assert_eq!(
            Stored::parse(&more_answers).unwrap_err(),
            Unstorable::OptOutsideAdditional
        );
        let mut more_additional = reply;
        more_additional[10..12].copy_from_slice(&5u16.to_be_bytes());
        assert_eq!(
            Stored::parse(&more_additional).unwrap_err(),
            Unstorable::Truncated
        );
        // An OPT counted as the only answer: taking it out of the
        // additional section's count of zero underflowed.
        let mut as_answer = answer(Rcode::NOERROR, &[], true);
        as_answer[6..8].copy_from_slice(&1u16.to_be_bytes());
        as_answer[10..12].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(
            Stored::parse(&as_answer).unwrap_err(),
            Unstorable::OptOutsideAdditional
        );
    }

    #[test]
    fn ttls_are_capped_in_what_clients_see() {
        let upstream = answer(
            Rcode::NOERROR,
            &[
                (0, b"\xc0\x0c", Rtype::A, u32::MAX >> 1, &[192, 0, 2, 1]),
                (0, b"\xc0\x0c", Rtype::A, u32::MAX, &[192, 0, 2, 2]),
                (0, b"\xc0\x0c", Rtype::A, 30, &[192, 0, 2, 3]),
            ],
            false,
        );
        let stored = Stored::parse_capped(&upstream, 300).unwrap();
        let packet = query(1, NAME, false);
        let mut reply = Vec::new();
        stored.reply(&parse_query(&packet).unwrap(), 0, 512, &mut reply);
        assert_eq!(ttls(&reply), [300, 0, 30]);
    }

    #[test]
    fn answers_with_names_a_client_cannot_read_are_refused() {
        let with = |record: Rec<'_>| Stored::parse(&answer(Rcode::NOERROR, &[record], false));
        // A CNAME whose target points at itself: 12 + 17 (question) + 12.
        assert_eq!(
            with((0, b"\xc0\x0c", Rtype::CNAME, 60, b"\xc0\x29")).unwrap_err(),
            Unstorable::BadName
        );
        // An owner pointing into the header, which the client's copy
        // gets anew: here at ARCOUNT's low octet, a root label until
        // berth's OPT makes it 1.
        assert_eq!(
            with((0, b"\xc0\x0b", Rtype::A, 60, &[192, 0, 2, 1])).unwrap_err(),
            Unstorable::BadName
        );
        // Found by the forward_reply fuzz target: a name read from a TTL
        // field. Here a CNAME target, `a` then a pointer to its own
        // record's TTL (29 + 6 = 35), 00 00 01 2c: the root label in the
        // upstream's copy, but whatever berth writes there (the TTL less
        // the time held, or capped) in the client's.
        assert_eq!(
            with((0, b"\xc0\x0c", Rtype::CNAME, 300, b"\x01a\xc0\x23")).unwrap_err(),
            Unstorable::BadName
        );
        // An owner pointing forwards, and a label running past the RDATA.
        assert_eq!(
            with((0, b"\xc0\x40", Rtype::A, 60, &[192, 0, 2, 1])).unwrap_err(),
            Unstorable::Truncated
        );
        assert_eq!(
            with((0, b"\xc0\x0c", Rtype::NS, 60, b"\x05ab\x00")).unwrap_err(),
            Unstorable::BadName
        );
        // MX and SRV: fixed fields, then exactly one name.
        assert!(with((0, b"\xc0\x0c", Rtype::MX, 60, b"\x00\x0a\xc0\x0c")).is_ok());
        assert_eq!(
            with((0, b"\xc0\x0c", Rtype::MX, 60, b"\x00\x0a\xc0\x0c\x00")).unwrap_err(),
            Unstorable::BadName
        );
        assert!(
            with((
                0,
                b"\xc0\x0c",
                Rtype::SRV,
                60,
                b"\x00\x00\x00\x0a\x00\x50\xc0\x0c"
            ))
            .is_ok()
        );
        let (section, owner, rtype, ttl, mut rdata) = soa(60, 30);
        assert!(with((section, owner, rtype, ttl, &rdata)).is_ok());
        rdata.pop();
        assert_eq!(
            with((section, owner, rtype, ttl, &rdata)).unwrap_err(),
            Unstorable::BadName
        );
        let mut trailing = answer(
            Rcode::NOERROR,
            &[(0, b"\xc0\x0c", Rtype::A, 60, &[192, 0, 2, 1])],
            false,
        );
        trailing.push(0);
        assert_eq!(
            Stored::parse(&trailing).unwrap_err(),
            Unstorable::TrailingBytes
        );
    }

    #[test]
    fn an_answer_too_large_for_the_client_is_cut_to_tc() {
        let big = [7u8; 200];
        let records: Vec<Rec<'_>> = (0..4)
            .map(|_| (0, b"\xc0\x0c" as &[u8], Rtype::TXT, 60, &big[..]))
            .collect();
        let upstream = answer(Rcode::NOERROR, &records, false);
        let packet = query(9, NAME, false);
        let mut reply = upstream.clone();
        fit(&mut reply, &parse_query(&packet).unwrap(), 512);
        assert_eq!(reply.len(), HEADER_LEN + NAME.len() + 4);
        assert_eq!(be16(&reply, 2).unwrap() & FLAG_TC, FLAG_TC);
        assert_eq!(be16(&reply, 6), Some(0));
        let mut whole = upstream.clone();
        fit(
            &mut whole,
            &parse_query(&packet).unwrap(),
            u16::MAX as usize,
        );
        assert_eq!(whole, upstream);
    }
}
