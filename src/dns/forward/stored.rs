//! An upstream's answer read once and kept in a form that can be served
//! again: to clients whose identical query waited on it, and from the cache.
//! Serving it rewrites the ID, the question's case, RD, the TTLs (less the
//! time it was held) and the OPT record — nothing else of what the upstream
//! said.

use crate::dns::answer::{self, rcode};
use crate::dns::response::write_opt;
use crate::dns::wire::{self, FLAG_RD, FLAG_TC, HEADER_LEN, Query, TYPE_OPT, be16};

/// Longest any answer is kept, whatever its TTLs say (unbound's and BIND's
/// default ceiling).
const MAX_LIFETIME: u32 = 86_400;
/// How long a SERVFAIL is kept: long enough that a failing name does not
/// send every client's retry upstream (RFC 9520 §3.2), short enough that a
/// recovered upstream is used again within seconds.
pub const SERVFAIL_LIFETIME: u32 = 5;
const TYPE_SOA: u16 = 6;

/// Why an upstream answer cannot be served again.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unstorable {
    #[error("answer has no question")]
    NoQuestion,
    #[error("a record runs past the end of the answer")]
    Truncated,
    #[error("OPT record is not the last record")]
    OptNotLast,
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
    /// Reads an upstream answer (already known to answer our question).
    pub fn parse(answer: &[u8]) -> Result<Stored, Unstorable> {
        let count = |at| be16(answer, at).unwrap_or(0);
        if answer.len() < HEADER_LEN || count(4) != 1 {
            return Err(Unstorable::NoQuestion);
        }
        let question_end = wire::skip_name(answer, HEADER_LEN)
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
            at = record.end;
            if record.rtype == TYPE_OPT {
                // Cutting anything else out would break compression
                // pointers into what follows it.
                if record.end != answer.len() {
                    return Err(Unstorable::OptNotLast);
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
                record.ttl
            };
            min_ttl = min_ttl.min(ttl);
            let in_authority =
                (u32::from(answers)..u32::from(answers) + u32::from(authority)).contains(&i);
            if in_authority && record.rtype == TYPE_SOA && soa.is_none() {
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

        let flags = be16(answer, 2).unwrap_or(0);
        let code = (flags & 0x0f) as u8;
        let negative = code == rcode::NXDOMAIN || (code == rcode::NOERROR && answers == 0);
        let lifetime = if flags & FLAG_TC != 0 || extended_rcode != 0 {
            None
        } else if code == rcode::SERVFAIL {
            Some(SERVFAIL_LIFETIME)
        } else if negative {
            // Without an SOA there is no negative TTL: not cached (RFC 2308 §5).
            soa.map(|(soa_ttl_at, negative_ttl)| {
                // Downstream caches read the negative TTL from the SOA's own
                // TTL; make it the one this answer is kept for.
                message[soa_ttl_at..soa_ttl_at + 4].copy_from_slice(&negative_ttl.to_be_bytes());
                min_ttl.min(negative_ttl)
            })
        } else if code == rcode::NOERROR {
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
                .map(|seconds| seconds.min(MAX_LIFETIME))
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
    pub fn reply(
        &self,
        packet: &[u8],
        query: &Query<'_>,
        age: u32,
        limit: usize,
        buf: &mut Vec<u8>,
    ) {
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
            write_opt(
                buf,
                answer::MAX_UDP_PAYLOAD,
                self.extended_rcode,
                edns.dnssec_ok,
            );
            let additional = be16(buf, 10).unwrap_or(0).saturating_add(1);
            buf[10..12].copy_from_slice(&additional.to_be_bytes());
        }
        fit(buf, packet, limit);
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
pub fn fit(answer: &mut Vec<u8>, packet: &[u8], limit: usize) {
    if answer.len() <= limit {
        return;
    }
    let flags = be16(answer, 2).unwrap_or(0);
    let mut cut = Vec::new();
    if let answer::Outcome::Reply(len) =
        answer::reply_with_rcode(packet, &mut cut, (flags & 0x0f) as u8, true)
    {
        cut.truncate(len);
        cut[2..4].copy_from_slice(&(flags | FLAG_TC).to_be_bytes());
        *answer = cut;
    }
}

fn wire_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([field[0], field[1], field[2], field[3]]))
}
