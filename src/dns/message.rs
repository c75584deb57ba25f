//! What every part of the DNS layer says about a message: the header's
//! layout and flags, the transport a query came over and the size its reply
//! may take, and the replies that carry nothing but an RCODE. Record types,
//! classes and RCODEs are in [`crate::iana`].

use crate::iana::Rcode;

use super::response::Response;
use super::wire::{Malformed, OPCODE_QUERY, Query, opcode};

pub const HEADER_LEN: usize = 12;

/// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_CD: u16 = 0x0010;
/// The opcode's four bits (RFC 1035 §4.1.1).
pub const OPCODE_MASK: u16 = 0x7800;
/// DO, "DNSSEC answer OK", in the flags of an OPT record's TTL field
/// (RFC 3225 §3).
pub const EDNS_FLAG_DO: u16 = 0x8000;

/// Largest UDP payload berth offers: fits an IPv6 minimum MTU without
/// fragmentation (the DNS flag day 2020 figure).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// RFC 1035 §4.2.1 and RFC 6891 §6.2.5: 512 bytes without EDNS, else the
/// client's size, at least 512, at most ours. TCP takes a full message.
pub fn size_limit(query: &Query<'_>, transport: Transport) -> usize {
    match (transport, query.edns) {
        (Transport::Tcp, _) => u16::MAX as usize,
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(edns)) => edns.payload.clamp(512, MAX_UDP_PAYLOAD) as usize,
    }
}

/// Writes a reply with only a header, the question and (for an EDNS
/// client) an OPT: REFUSED for queries that may not be forwarded, SERVFAIL
/// when forwarding failed, FORMERR or NOTIMP for types berth will not look
/// up. Returns its length.
pub fn reply_with_rcode(
    query: &Query<'_>,
    buf: &mut Vec<u8>,
    code: Rcode,
    recursion_available: bool,
) -> usize {
    let mut response = Response::new(buf, query.id, query.flags, query.question, usize::MAX);
    response.set_rcode(code);
    if recursion_available {
        response.set_flags(FLAG_RA);
    }
    finish_with_opt(response, query)
}

/// RFC 6891 §6.1.3: a client asking in an EDNS version berth does not
/// speak gets BADVERS, and nothing else, whatever it asked.
pub fn reply_badvers(query: &Query<'_>, buf: &mut Vec<u8>) -> usize {
    let mut response = Response::new(buf, query.id, query.flags, query.question, usize::MAX);
    let dnssec_ok = query.edns.is_some_and(|edns| edns.dnssec_ok);
    response.push_opt(MAX_UDP_PAYLOAD, Rcode::BADVERS.extended_bits(), dnssec_ok);
    response.finish()
}

/// The reply a packet that did not parse gets: the header alone with
/// FORMERR or NOTIMP, or `None` for no reply at all.
pub fn reply_to_malformed(malformed: Malformed, buf: &mut Vec<u8>) -> Option<usize> {
    let (id, flags, code) = match malformed {
        Malformed::Drop => return None,
        Malformed::FormErr { id, flags } => (id, flags, Rcode::FORMERR),
        Malformed::NotImp { id, flags } => (id, flags, Rcode::NOTIMP),
    };
    // RD and CD mean something in a query only (RFC 1035 §4.1.1, RFC 4035
    // §3.2.2); another opcode's reply carries its opcode alone, as BIND's.
    let flags = if opcode(flags) == OPCODE_QUERY {
        flags
    } else {
        flags & OPCODE_MASK
    };
    let mut response = Response::new(buf, id, flags, &[], usize::MAX);
    response.set_rcode(code);
    Some(response.finish())
}

/// Ends a response, with an OPT when the client sent one (RFC 6891 §7).
pub(super) fn finish_with_opt(mut response: Response<'_, '_>, query: &Query<'_>) -> usize {
    if let Some(edns) = query.edns {
        response.push_opt(MAX_UDP_PAYLOAD, 0, edns.dnssec_ok);
    }
    response.finish()
}

/// Queries and replies for the DNS layer's own tests, built and read with
/// hickory, so that no test trusts berth's parser to check berth's parser.
#[cfg(test)]
pub(crate) mod testing {
    use hickory_proto::op::{Message, MessageType, OpCode, Query as Question};
    use hickory_proto::rr::{Name, RecordType};

    use crate::iana::{Rcode, Rtype};

    /// A query for `name` and `qtype`, class IN, RD set, no EDNS.
    pub fn query(name: &str, qtype: Rtype) -> Vec<u8> {
        let mut message = Message::new(0x4592, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        let name = Name::from_ascii(name).expect("a valid test name");
        message.add_query(Question::query(name, RecordType::from(qtype.0)));
        message.to_vec().expect("a query hickory can write")
    }

    pub fn rcode(reply: &Message) -> Rcode {
        Rcode(reply.metadata.response_code.into())
    }
}
