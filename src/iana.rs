//! The numbers of IANA's DNS parameter registries that berth uses: record
//! types, classes, response codes. One table for the whole crate — the
//! registry encodes RRsets with them, the DNS layer parses and answers with
//! them, the tests assert with them.
//!
//! It sits at the top of the crate, not in `dns/`, because the registry needs
//! the record types too and must not depend on the DNS layer that reads its
//! snapshots. It depends on nothing, like NLnet Labs' `domain::base::iana`.
//!
//! Each type is a newtype over the wire value, not an enum: converting from
//! the wire is free, an unknown value is still a value, and a comparison
//! compiles to the same instruction as on the bare integer.

use std::fmt;

/// A resource record type (RFC 1035 §3.2.2, and the registry since).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rtype(pub u16);

impl Rtype {
    pub const A: Rtype = Rtype(1);
    pub const NS: Rtype = Rtype(2);
    pub const CNAME: Rtype = Rtype(5);
    pub const SOA: Rtype = Rtype(6);
    pub const PTR: Rtype = Rtype(12);
    pub const MX: Rtype = Rtype(15);
    pub const TXT: Rtype = Rtype(16);
    pub const AAAA: Rtype = Rtype(28);
    pub const SRV: Rtype = Rtype(33);
    pub const DNAME: Rtype = Rtype(39);
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: Rtype = Rtype(41);
    pub const DS: Rtype = Rtype(43);
    pub const RRSIG: Rtype = Rtype(46);
    pub const NSEC: Rtype = Rtype(47);
    pub const TKEY: Rtype = Rtype(249);
    pub const TSIG: Rtype = Rtype(250);
    pub const IXFR: Rtype = Rtype(251);
    pub const AXFR: Rtype = Rtype(252);
    pub const MAILB: Rtype = Rtype(253);
    pub const MAILA: Rtype = Rtype(254);
    /// `*` in a question (RFC 1035 §3.2.3; answered per RFC 8482).
    pub const ANY: Rtype = Rtype(255);

    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self {
            Rtype::A => "A",
            Rtype::NS => "NS",
            Rtype::CNAME => "CNAME",
            Rtype::SOA => "SOA",
            Rtype::PTR => "PTR",
            Rtype::MX => "MX",
            Rtype::TXT => "TXT",
            Rtype::AAAA => "AAAA",
            Rtype::SRV => "SRV",
            Rtype::OPT => "OPT",
            Rtype::DS => "DS",
            Rtype::TKEY => "TKEY",
            Rtype::TSIG => "TSIG",
            Rtype::IXFR => "IXFR",
            Rtype::AXFR => "AXFR",
            Rtype::MAILB => "MAILB",
            Rtype::MAILA => "MAILA",
            Rtype::ANY => "ANY",
            _ => return None,
        })
    }
}

/// A class (RFC 1035 §3.2.4). berth serves IN only; ANY asks for it too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

impl Class {
    pub const IN: Class = Class(1);
    pub const ANY: Class = Class(255);

    pub fn mnemonic(self) -> Option<&'static str> {
        match self {
            Class::IN => Some("IN"),
            Class::ANY => Some("ANY"),
            _ => None,
        }
    }
}

/// A response code (RFC 1035 §4.1.1), extended to 12 bits by EDNS
/// (RFC 6891 §6.1.3): the header holds the low four, the OPT record the
/// upper eight.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rcode(pub u16);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
    /// Not authoritative, or (RFC 8945 §5.2) a TSIG that did not verify.
    pub const NOTAUTH: Rcode = Rcode(9);
    /// Extended: 16, carried as 1 in the OPT's upper bits.
    pub const BADVERS: Rcode = Rcode(16);

    /// The RCODE in the low four bits of a header's flags word.
    pub fn of_header(flags: u16) -> Rcode {
        Rcode(flags & 0x0f)
    }

    /// The part that goes in the header.
    pub fn header_bits(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// The part that goes in the OPT record's extended-RCODE field.
    pub fn extended_bits(self) -> u8 {
        (self.0 >> 4) as u8
    }

    /// The mnemonic of RFC 6895 §2.3 for the codes berth sends.
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self {
            Rcode::NOERROR => "NOERROR",
            Rcode::FORMERR => "FORMERR",
            Rcode::SERVFAIL => "SERVFAIL",
            Rcode::NXDOMAIN => "NXDOMAIN",
            Rcode::NOTIMP => "NOTIMP",
            Rcode::REFUSED => "REFUSED",
            Rcode::NOTAUTH => "NOTAUTH",
            Rcode::BADVERS => "BADVERS",
            _ => return None,
        })
    }
}

// Mnemonics in test failures and logs; the number where there is none.
macro_rules! debug_by_mnemonic {
    ($($type:ident),*) => {$(
        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({})", stringify!($type), self.0),
                }
            }
        }
    )*};
}
debug_by_mnemonic!(Rtype, Class, Rcode);
