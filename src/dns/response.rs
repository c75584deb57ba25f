//! Writing a response into a reused buffer: header, the client's question,
//! then whole RRsets copied from their pre-encoded form. An RRset that does
//! not fit is left out entirely and the caller decides whether that is TC.

use crate::iana::{Rcode, Rtype};

use super::message::{EDNS_FLAG_DO, FLAG_CD, FLAG_QR, FLAG_RD, HEADER_LEN, OPCODE_MASK};

/// Offset of the question name, the target of answer owner pointers.
const QUESTION_POINTER: [u8; 2] = [0xc0, HEADER_LEN as u8];
/// Bytes an OPT record without options takes.
pub const OPT_LEN: usize = 11;
const COMPRESSION_SLOTS: usize = 16;

/// Where an answer section is in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// The owner name to write in front of a record.
#[derive(Clone, Copy)]
pub enum Owner<'s> {
    /// The question name: written as a pointer to it, so the client's case
    /// comes back as sent.
    Question,
    /// Another name: `key` (lower-cased) to match earlier copies of it,
    /// `wire` as the source wrote it.
    Name { key: &'s [u8], wire: &'s [u8] },
}

/// The RRset did not fit in the size the client can take.
#[derive(Debug)]
pub struct Full;

pub struct Response<'b, 's> {
    buf: &'b mut Vec<u8>,
    limit: usize,
    counts: [u16; 3],
    /// Names already written, for compression pointers to them.
    names: [(&'s [u8], u16); COMPRESSION_SLOTS],
    named: usize,
}

impl<'b, 's> Response<'b, 's> {
    /// Starts a response to `id` with the client's question copied over.
    /// `limit` is the size the message may grow to, OPT included.
    pub fn new(
        buf: &'b mut Vec<u8>,
        id: u16,
        query_flags: u16,
        question: &[u8],
        limit: usize,
    ) -> Self {
        buf.clear();
        let flags = FLAG_QR | (query_flags & (FLAG_RD | FLAG_CD | OPCODE_MASK));
        let qdcount: u16 = if question.is_empty() { 0 } else { 1 };
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&qdcount.to_be_bytes());
        buf.extend_from_slice(&[0; 6]);
        buf.extend_from_slice(question);
        Response {
            buf,
            limit,
            counts: [0; 3],
            names: [(&[], 0); COMPRESSION_SLOTS],
            named: 0,
        }
    }

    pub fn set_flags(&mut self, flags: u16) {
        let current = u16::from_be_bytes([self.buf[2], self.buf[3]]);
        self.buf[2..4].copy_from_slice(&(current | flags).to_be_bytes());
    }

    pub fn clear_flags(&mut self, flags: u16) {
        let current = u16::from_be_bytes([self.buf[2], self.buf[3]]);
        self.buf[2..4].copy_from_slice(&(current & !flags).to_be_bytes());
    }

    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.buf[3] = (self.buf[3] & 0xf0) | rcode.header_bits();
    }

    /// Appends every record of an RRset, or none of them.
    pub fn push_rrset(
        &mut self,
        section: Section,
        owner: Owner<'s>,
        records: &[u8],
        count: u16,
    ) -> Result<(), Full> {
        let mark = self.buf.len();
        let named = self.named;
        let mut at = 0usize;
        for _ in 0..count {
            let Some(header) = records.get(at..at + 10) else {
                break;
            };
            let len = 10 + u16::from_be_bytes([header[8], header[9]]) as usize;
            let Some(record) = records.get(at..at + len) else {
                break;
            };
            self.write_owner(owner);
            self.buf.extend_from_slice(record);
            at += len;
            if self.buf.len() > self.limit {
                self.buf.truncate(mark);
                self.named = named;
                return Err(Full);
            }
        }
        self.counts[section as usize] += count;
        Ok(())
    }

    fn write_owner(&mut self, owner: Owner<'s>) {
        match owner {
            Owner::Question => self.buf.extend_from_slice(&QUESTION_POINTER),
            Owner::Name { key, wire } => {
                let known = self.names[..self.named]
                    .iter()
                    .find(|(name, _)| *name == key);
                if let Some(&(_, offset)) = known {
                    self.buf.extend_from_slice(&(0xc000 | offset).to_be_bytes());
                    return;
                }
                let offset = self.buf.len();
                // Pointers reach 14 bits; later names are written in full.
                if offset < 0x3fff && self.named < COMPRESSION_SLOTS {
                    self.names[self.named] = (key, offset as u16);
                    self.named += 1;
                }
                self.buf.extend_from_slice(wire);
            }
        }
    }

    /// Adds the OPT record (RFC 6891 §6.1.3): our payload size, an extended
    /// RCODE, version 0, and the DO bit echoed.
    pub fn push_opt(&mut self, payload: u16, extended_rcode: u8, dnssec_ok: bool) {
        write_opt(self.buf, payload, extended_rcode, dnssec_ok);
        self.counts[Section::Additional as usize] += 1;
    }

    /// Writes the section counts into the header; returns the length.
    pub fn finish(self) -> usize {
        for (i, count) in self.counts.iter().enumerate() {
            let at = 6 + 2 * i;
            self.buf[at..at + 2].copy_from_slice(&count.to_be_bytes());
        }
        self.buf.len()
    }
}

/// Appends an OPT record without options; the caller counts it.
pub fn write_opt(buf: &mut Vec<u8>, payload: u16, extended_rcode: u8, dnssec_ok: bool) {
    let flags: u16 = if dnssec_ok { EDNS_FLAG_DO } else { 0 };
    buf.push(0);
    buf.extend_from_slice(&Rtype::OPT.0.to_be_bytes());
    buf.extend_from_slice(&payload.to_be_bytes());
    buf.extend_from_slice(&[extended_rcode, 0]);
    buf.extend_from_slice(&flags.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
}
