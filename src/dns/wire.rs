//! Reading queries off the wire. Only what answering needs is parsed — the
//! header, the one question, and the OPT record — with every length checked,
//! so no packet can make the parser read out of bounds or panic. A query is
//! parsed once, by the handler; everything after it takes the [`Query`].

use crate::iana::{Class, Rtype};

use super::message::{EDNS_FLAG_DO, FLAG_QR, HEADER_LEN, OPCODE_MASK};

const MAX_NAME_LEN: usize = 255;

/// EDNS(0) as the client asked for it (RFC 6891 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A query that parsed cleanly.
pub struct Query<'p> {
    /// The whole message as it came, for a forward to send on.
    pub packet: &'p [u8],
    pub id: u16,
    pub flags: u16,
    /// The question exactly as the client sent it, case included (0x20).
    pub question: &'p [u8],
    /// The question name, lower-cased, uncompressed wire format.
    pub qname: NameBuf,
    pub qtype: Rtype,
    pub qclass: Class,
    pub edns: Option<Edns>,
    /// Where a TSIG record starts, when the query is signed (RFC 8945).
    pub tsig: Option<usize>,
    /// The client's serial, from the SOA in an IXFR's authority section.
    pub ixfr_serial: Option<u32>,
}

impl Query<'_> {
    pub fn opcode(&self) -> u8 {
        opcode(self.flags)
    }

    /// The same query owning its bytes, to outlive the receive buffer.
    pub fn to_owned(&self) -> OwnedQuery {
        OwnedQuery {
            packet: self.packet.into(),
            question_end: HEADER_LEN + self.question.len(),
            id: self.id,
            flags: self.flags,
            qname: self.qname.clone(),
            qtype: self.qtype,
            qclass: self.qclass,
            edns: self.edns,
            tsig: self.tsig,
            ixfr_serial: self.ixfr_serial,
        }
    }
}

/// A parsed query that owns its packet: the form a forward keeps while it
/// waits on an upstream, so that nothing after the await parses again.
pub struct OwnedQuery {
    packet: Box<[u8]>,
    question_end: usize,
    id: u16,
    flags: u16,
    qname: NameBuf,
    qtype: Rtype,
    qclass: Class,
    edns: Option<Edns>,
    tsig: Option<usize>,
    ixfr_serial: Option<u32>,
}

impl OwnedQuery {
    pub fn query(&self) -> Query<'_> {
        Query {
            packet: &self.packet,
            id: self.id,
            flags: self.flags,
            question: &self.packet[HEADER_LEN..self.question_end],
            qname: self.qname.clone(),
            qtype: self.qtype,
            qclass: self.qclass,
            edns: self.edns,
            tsig: self.tsig,
            ixfr_serial: self.ixfr_serial,
        }
    }
}

/// Opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_NOTIFY: u8 = 4;
pub const OPCODE_UPDATE: u8 = 5;

pub fn opcode(flags: u16) -> u8 {
    ((flags & OPCODE_MASK) >> 11) as u8
}

/// A name in a fixed buffer, so that parsing a query allocates nothing.
#[derive(Clone)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl NameBuf {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Why a packet could not be answered normally.
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not worth a reply: shorter than a header, or itself a response
    /// (answering responses invites reflection loops).
    Drop,
    /// The header is readable: reply FORMERR with its ID and opcode.
    FormErr { id: u16, flags: u16 },
    /// A well-formed header with an opcode berth does not implement.
    NotImp { id: u16, flags: u16 },
}

pub fn be16(packet: &[u8], at: usize) -> Option<u16> {
    let bytes = packet.get(at..at + 2)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Parses a query. Every failure says how to reply, or not to.
pub fn parse_query(packet: &[u8]) -> Result<Query<'_>, Malformed> {
    let (Some(id), Some(flags)) = (be16(packet, 0), be16(packet, 2)) else {
        return Err(Malformed::Drop);
    };
    if packet.len() < HEADER_LEN || flags & FLAG_QR != 0 {
        return Err(Malformed::Drop);
    }
    let count = |at| be16(packet, at).unwrap_or(0);
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
    match opcode(flags) {
        OPCODE_QUERY => {}
        // A NOTIFY or UPDATE names exactly one zone in its question (RFC
        // 1996 §3.7, RFC 2136 §3.1.1): without one it is malformed before
        // it is unimplemented, as BIND and Knot answer.
        OPCODE_NOTIFY | OPCODE_UPDATE if qdcount != 1 => {
            return Err(Malformed::FormErr { id, flags });
        }
        _ => return Err(Malformed::NotImp { id, flags }),
    }
    let formerr = Malformed::FormErr { id, flags };
    if qdcount != 1 || ancount != 0 || nscount > 1 {
        return Err(formerr);
    }

    let mut qname = NameBuf {
        bytes: [0; MAX_NAME_LEN],
        len: 0,
    };
    let mut at = HEADER_LEN;
    loop {
        let Some(&len) = packet.get(at) else {
            return Err(formerr);
        };
        // No compression in a question: there is nothing before it to point at.
        if len & 0xc0 != 0 {
            return Err(formerr);
        }
        let label = packet
            .get(at..at + 1 + len as usize)
            .ok_or(Malformed::FormErr { id, flags })?;
        if qname.len + label.len() > MAX_NAME_LEN {
            return Err(formerr);
        }
        qname.bytes[qname.len..qname.len + label.len()].copy_from_slice(label);
        qname.len += label.len();
        at += label.len();
        if len == 0 {
            break;
        }
    }
    qname.bytes[..qname.len].make_ascii_lowercase();
    let (Some(qtype), Some(qclass)) = (be16(packet, at), be16(packet, at + 2)) else {
        return Err(formerr);
    };
    let (qtype, qclass) = (Rtype(qtype), Class(qclass));
    at += 4;
    let question = &packet[HEADER_LEN..at];

    // An IXFR carries the client's SOA in the authority section (RFC 1995
    // §3); no other query has one.
    let mut ixfr_serial = None;
    if nscount == 1 {
        let record = read_record(packet, at).ok_or(Malformed::FormErr { id, flags })?;
        if qtype != Rtype::IXFR || record.rtype != Rtype::SOA {
            return Err(formerr);
        }
        let serial = soa_serial(packet, record.end - record.rdata.len());
        ixfr_serial = Some(serial.ok_or(Malformed::FormErr { id, flags })?);
        at = record.end;
    }

    let mut edns = None;
    let mut tsig = None;
    for i in 0..arcount {
        let record = read_record(packet, at).ok_or(Malformed::FormErr { id, flags })?;
        if record.rtype == Rtype::OPT {
            // One OPT, owned by the root (RFC 6891 §6.1.1).
            if edns.is_some() || packet.get(at) != Some(&0) {
                return Err(formerr);
            }
            if !options_well_formed(record.rdata) {
                return Err(formerr);
            }
            edns = Some(Edns {
                payload: record.class,
                version: (record.ttl >> 16) as u8,
                dnssec_ok: record.ttl & u32::from(EDNS_FLAG_DO) != 0,
            });
        }
        // The TSIG record comes last (RFC 8945 §5.1).
        if record.rtype == Rtype::TSIG {
            if i + 1 != arcount || record.end != packet.len() {
                return Err(formerr);
            }
            tsig = Some(at);
        }
        at = record.end;
    }

    Ok(Query {
        packet,
        id,
        flags,
        question,
        qname,
        qtype,
        qclass,
        edns,
        tsig,
        ixfr_serial,
    })
}

/// The SERIAL of the SOA RDATA at `at`: after two names, which a client
/// may have compressed.
fn soa_serial(packet: &[u8], at: usize) -> Option<u32> {
    let at = skip_name(packet, skip_name(packet, at)?)?;
    let high = be16(packet, at)?;
    let low = be16(packet, at + 2)?;
    Some(u32::from(high) << 16 | u32::from(low))
}

/// One resource record where it sits in a message.
pub struct Record<'p> {
    pub rtype: Rtype,
    pub class: u16,
    pub ttl: u32,
    /// Where the TTL field is, so that it can be rewritten in place.
    pub ttl_at: usize,
    pub rdata: &'p [u8],
    /// Where the record starts (its owner name) and where the next one does.
    pub start: usize,
    pub end: usize,
}

/// Skips the name at `at`: labels ending in a root label or a pointer.
/// Returns where the name ends.
pub fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *packet.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(at + 1),
            0x00 => at += 1 + len as usize,
            0xc0 => {
                let pointer = (be16(packet, at)? & 0x3fff) as usize;
                // A pointer must point backwards, at something already read.
                if pointer >= at {
                    return None;
                }
                return Some(at + 2);
            }
            _ => return None,
        }
    }
}

/// Checks the name at `at` the way a client will read it: every label in
/// bounds, every compression pointer pointing strictly before itself (so no
/// chain can loop) and past the header, at most 255 octets in all. Returns
/// where the name ends at `at`, like [`skip_name`].
pub fn check_name(packet: &[u8], start: usize) -> Option<usize> {
    check_name_avoiding(packet, start, |_| false)
}

/// [`check_name`], and no label read from bytes for which `avoid` says
/// true (given each label's span, length octet included): bytes the
/// caller rewrites, which would read differently afterwards.
pub fn check_name_avoiding(
    packet: &[u8],
    start: usize,
    avoid: impl Fn(std::ops::Range<usize>) -> bool,
) -> Option<usize> {
    let mut at = start;
    let mut end = None;
    let mut length = 0;
    loop {
        let len = *packet.get(at)?;
        match len & 0xc0 {
            0x00 => {
                length += 1 + len as usize;
                if length > MAX_NAME_LEN {
                    return None;
                }
                packet.get(at + 1..at + 1 + len as usize)?;
                if avoid(at..at + 1 + len as usize) {
                    return None;
                }
                if len == 0 {
                    return Some(end.unwrap_or(at + 1));
                }
                at += 1 + len as usize;
            }
            0xc0 => {
                let pointer = (be16(packet, at)? & 0x3fff) as usize;
                // The header holds no name, and what berth relays gets a
                // header of its own (ID, flags, counts): a name read from it
                // would read differently in the client's copy.
                if pointer >= at || pointer < HEADER_LEN || avoid(at..at + 2) {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = pointer;
            }
            _ => return None,
        }
    }
}

/// Reads the resource record at `at`.
pub fn read_record(packet: &[u8], start: usize) -> Option<Record<'_>> {
    let at = skip_name(packet, start)?;
    let rtype = Rtype(be16(packet, at)?);
    let class = be16(packet, at + 2)?;
    let ttl = u32::from(be16(packet, at + 4)?) << 16 | u32::from(be16(packet, at + 6)?);
    let rdlength = be16(packet, at + 8)? as usize;
    let rdata_at = at + 10;
    let rdata = packet.get(rdata_at..rdata_at + rdlength)?;
    Some(Record {
        rtype,
        class,
        ttl,
        ttl_at: at + 4,
        rdata,
        start,
        end: rdata_at + rdlength,
    })
}

/// EDNS options are (code, length, data) triples that must fill the RDATA
/// exactly; unknown codes are ignored (RFC 6891 §6.1.2).
fn options_well_formed(mut rdata: &[u8]) -> bool {
    while !rdata.is_empty() {
        let Some(len) = be16(rdata, 2) else {
            return false;
        };
        let Some(rest) = rdata.get(4 + len as usize..) else {
            return false;
        };
        rdata = rest;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        packet.extend_from_slice(&arcount.to_be_bytes());
        packet.extend_from_slice(name);
        packet.extend_from_slice(&qtype.to_be_bytes());
        packet.extend_from_slice(&[0, 1]);
        packet.extend_from_slice(extra);
        packet
    }

    #[test]
    fn parses_question_and_edns() {
        let opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];
        let packet = query(b"\x03WeB\x04apps\x05local\x00", 1, &opt, 1);
        let q = parse_query(&packet).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qname.as_bytes(), b"\x03web\x04apps\x05local\x00");
        assert_eq!(&q.question[..4], b"\x03WeB");
        assert_eq!(
            q.edns,
            Some(Edns {
                payload: 1232,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn rejects_what_is_malformed() {
        assert_eq!(parse_query(&[1, 2, 3]).err(), Some(Malformed::Drop));
        let pointer = query(b"\xc0\x0c", 1, &[], 0);
        assert!(matches!(
            parse_query(&pointer),
            Err(Malformed::FormErr { .. })
        ));
        let long_label = query(b"\x40aaaa\x00", 1, &[], 0);
        assert!(matches!(
            parse_query(&long_label),
            Err(Malformed::FormErr { .. })
        ));
        let mut truncated = query(b"\x03web\x00", 1, &[], 0);
        truncated.truncate(truncated.len() - 3);
        assert!(matches!(
            parse_query(&truncated),
            Err(Malformed::FormErr { .. })
        ));
        let two_opts = [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0];
        let doubled = query(b"\x00", 1, &[two_opts, two_opts].concat(), 2);
        assert!(matches!(
            parse_query(&doubled),
            Err(Malformed::FormErr { .. })
        ));
        let bad_option = [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0];
        let bad = query(b"\x00", 1, &bad_option, 1);
        assert!(matches!(parse_query(&bad), Err(Malformed::FormErr { .. })));
    }

    #[test]
    fn names_are_checked_through_their_pointers() {
        // Header, then "a.example" at 12, then a pointer to it at 23.
        let mut packet = vec![0; HEADER_LEN];
        packet.extend_from_slice(b"\x01a\x07example\x00\xc0\x0c");
        assert_eq!(check_name(&packet, 12), Some(23));
        assert_eq!(check_name(&packet, 23), Some(25));
        // A pointer to itself, forwards, into the void, or into the header
        // (found by the forward_reply fuzz target: a relayed reply's owner
        // read the ARCOUNT that berth rewrites).
        for pointer in [[0xc0, 23], [0xc0, 40], [0xff, 0xff], [0xc0, 11]] {
            packet[23..25].copy_from_slice(&pointer);
            assert_eq!(check_name(&packet, 23), None, "{pointer:?}");
        }
        // A pointer to a label that runs past the end.
        let mut cut = vec![0; HEADER_LEN];
        cut.extend_from_slice(b"\x3fab\xc0\x0c");
        assert_eq!(check_name(&cut, 15), None);
        // Backward pointers chained past 255 octets.
        let mut long = vec![0; HEADER_LEN];
        let mut previous = None;
        for _ in 0..5 {
            let here = long.len();
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
            match previous {
                Some(at) => long.extend_from_slice(&(0xc000u16 | at as u16).to_be_bytes()),
                None => long.push(0),
            }
            previous = Some(here);
        }
        assert_eq!(check_name(&long, previous.unwrap()), None);
    }

    #[test]
    fn long_names_are_rejected() {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(63);
            name.extend_from_slice(&[b'a'; 63]);
        }
        name.push(0);
        let packet = query(&name, 1, &[], 0);
        assert!(matches!(
            parse_query(&packet),
            Err(Malformed::FormErr { .. })
        ));
    }

    #[test]
    fn responses_and_other_opcodes() {
        let mut packet = query(b"\x00", 1, &[], 0);
        packet[2] |= 0x80;
        assert_eq!(parse_query(&packet).err(), Some(Malformed::Drop));
        packet[2] = 0x20; // opcode 4, NOTIFY
        assert!(matches!(
            parse_query(&packet),
            Err(Malformed::NotImp { .. })
        ));
        packet[2] = 0x10; // opcode 2, STATUS
        assert!(matches!(
            parse_query(&packet),
            Err(Malformed::NotImp { .. })
        ));
    }

    #[test]
    fn notify_and_update_without_a_question_are_malformed() {
        for opcode in [OPCODE_NOTIFY, OPCODE_UPDATE] {
            let mut packet = query(b"\x00", 1, &[], 0);
            packet[2] = opcode << 3;
            packet[4..6].copy_from_slice(&[0, 0]);
            packet.truncate(HEADER_LEN);
            assert!(matches!(
                parse_query(&packet),
                Err(Malformed::FormErr { .. })
            ));
        }
    }
}
