//! RDATA in master-file text → record data. The types zone files are mostly
//! made of (A, AAAA, NS, CNAME, PTR, MX, SRV, SOA) are read here directly,
//! with relative names completed from the current origin; the rest go
//! through hickory's text parsers.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, ANAME, CNAME, HTTPS, MX, NS, PTR, SOA, SRV};
use hickory_proto::rr::{Label, Name, RData, RecordType};
use hickory_proto::serialize::txt::parse_ttl;

/// Reads a domain name as written in a zone file: `@` is the origin, a name
/// without a final dot is relative to it. Case is kept.
pub fn name(token: &str, origin: &Name) -> Result<Name, String> {
    if token == "@" {
        return Ok(origin.clone());
    }
    if let Some(name) = plain_name(token, origin) {
        return Ok(name);
    }
    let parsed = if token.is_ascii() {
        Name::from_ascii(token)
    } else {
        // IDNA for names written in Unicode.
        Name::from_utf8(token)
    };
    let name = parsed.map_err(|e| format!("{token:?} is not a domain name: {e}"))?;
    if name.is_fqdn() {
        return Ok(name);
    }
    name.append_domain(origin)
        .map_err(|e| format!("{token:?} under {origin} is too long: {e}"))
}

/// The names zone files are mostly made of (letters, digits, `-`, `_`),
/// built label by label: hickory's general parser goes through a `String`
/// character by character, which is most of the time a big zone takes to
/// read. `None` for anything else or anything wrong, left to that parser,
/// which also words the error.
fn plain_name(token: &str, origin: &Name) -> Option<Name> {
    let (labels, absolute) = match token.strip_suffix('.') {
        Some(labels) => (labels, true),
        None => (token, false),
    };
    let mut name = Name::new();
    for label in labels.split('.') {
        // As hickory's `Label::from_ascii` accepts them, bar the wildcard.
        let plain = label.len() <= 63
            && !label.starts_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return None;
        }
        name = name
            .append_label(Label::from_raw_bytes(label.as_bytes()).ok()?)
            .ok()?;
    }
    if absolute {
        name.set_fqdn(true);
        Some(name)
    } else {
        name.append_domain(origin).ok()
    }
}

/// Parses the RDATA `tokens` of a record of type `rtype`.
pub fn parse(rtype: RecordType, tokens: &[&str], origin: &Name) -> Result<RData, String> {
    let exactly = |n: usize| {
        if tokens.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{rtype} takes {n} field{}, found {}",
                if n == 1 { "" } else { "s" },
                tokens.len()
            ))
        }
    };
    let data = match rtype {
        RecordType::A => {
            exactly(1)?;
            RData::A(A(tokens[0].parse::<Ipv4Addr>().map_err(|_| {
                format!("{:?} is not an IPv4 address", tokens[0])
            })?))
        }
        RecordType::AAAA => {
            exactly(1)?;
            RData::AAAA(AAAA(
                tokens[0]
                    .parse::<Ipv6Addr>()
                    .map_err(|_| format!("{:?} is not an IPv6 address", tokens[0]))?,
            ))
        }
        RecordType::NS | RecordType::CNAME | RecordType::PTR | RecordType::ANAME => {
            exactly(1)?;
            let target = name(tokens[0], origin)?;
            match rtype {
                RecordType::NS => RData::NS(NS(target)),
                RecordType::CNAME => RData::CNAME(CNAME(target)),
                RecordType::PTR => RData::PTR(PTR(target)),
                _ => RData::ANAME(ANAME(target)),
            }
        }
        RecordType::MX => {
            exactly(2)?;
            RData::MX(MX::new(number(tokens[0])?, name(tokens[1], origin)?))
        }
        RecordType::SRV => {
            exactly(4)?;
            RData::SRV(SRV::new(
                number(tokens[0])?,
                number(tokens[1])?,
                number(tokens[2])?,
                name(tokens[3], origin)?,
            ))
        }
        RecordType::SOA => {
            exactly(7)?;
            RData::SOA(SOA::new(
                name(tokens[0], origin)?,
                name(tokens[1], origin)?,
                number(tokens[2])?,
                timer(tokens[3])?,
                timer(tokens[4])?,
                timer(tokens[5])?,
                ttl(tokens[6])?,
            ))
        }
        _ => other(rtype, tokens, origin)?,
    };
    Ok(data)
}

/// A TTL or SOA timer: seconds, or BIND's units (`1h30m`, `2w`).
pub fn ttl(token: &str) -> Result<u32, String> {
    parse_ttl(token).map_err(|_| format!("{token:?} is not a TTL"))
}

fn timer(token: &str) -> Result<i32, String> {
    i32::try_from(ttl(token)?).map_err(|_| format!("{token:?} is larger than 2147483647"))
}

fn number<T: std::str::FromStr>(token: &str) -> Result<T, String> {
    token.parse().map_err(|_| {
        format!(
            "{token:?} is not a number in range for {}",
            std::any::type_name::<T>()
        )
    })
}

/// The less common types, through hickory's parsers (which read relative
/// names without an origin, so they are completed here).
fn other(rtype: RecordType, tokens: &[&str], origin: &Name) -> Result<RData, String> {
    let text = tokens.join(" ");
    let data = RData::try_from_str(rtype, &text).map_err(|e| format!("{rtype}: {e}"))?;
    let complete = |name: Name| -> Result<Name, String> {
        if name.is_fqdn() {
            Ok(name)
        } else {
            let text = name.to_string();
            name.append_domain(origin)
                .map_err(|e| format!("{text} under {origin} is too long: {e}"))
        }
    };
    Ok(match data {
        RData::NAPTR(mut naptr) => {
            naptr.replacement = complete(naptr.replacement)?;
            RData::NAPTR(naptr)
        }
        RData::SVCB(mut svcb) => {
            svcb.target_name = complete(svcb.target_name)?;
            RData::SVCB(svcb)
        }
        RData::HTTPS(HTTPS(mut svcb)) => {
            svcb.target_name = complete(svcb.target_name)?;
            RData::HTTPS(HTTPS(svcb))
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.test.").unwrap()
    }

    #[test]
    fn relative_names_take_the_origin_and_keep_their_case() {
        let data = parse(RecordType::SRV, &["0", "10", "80", "Web"], &origin()).unwrap();
        let RData::SRV(srv) = data else {
            panic!("not SRV")
        };
        assert_eq!(srv.target.to_ascii(), "Web.example.test.");
        let RData::CNAME(cname) = parse(RecordType::CNAME, &["@"], &origin()).unwrap() else {
            panic!("not CNAME")
        };
        assert_eq!(cname.0, origin());
    }

    #[test]
    fn plain_names_read_as_hickory_reads_them() {
        let tokens = [
            "www",
            "Www.Sub",
            "_http._tcp.svc1",
            "a-b",
            "x.example.",
            "a..b",
            "-a",
            "a.",
            ".",
            "*.x",
            "a\\.b",
            "caf\u{e9}",
            "x\\065",
            "",
        ];
        let long = "a".repeat(64);
        let too_long = vec!["b".repeat(63); 4].join(".");
        for token in tokens
            .iter()
            .copied()
            .chain([long.as_str(), too_long.as_str()])
        {
            let general = Name::from_ascii(token).and_then(|n| {
                if n.is_fqdn() {
                    Ok(n)
                } else {
                    n.append_domain(&origin())
                }
            });
            match (plain_name(token, &origin()), general) {
                (Some(plain), Ok(general)) => {
                    assert!(plain.eq_case(&general), "{token}: {plain} vs {general}");
                    assert_eq!(plain.is_fqdn(), general.is_fqdn(), "{token}");
                }
                (Some(plain), Err(e)) => panic!("{token}: {plain}, but hickory says {e}"),
                (None, _) => {}
            }
        }
        assert!(plain_name("www", &origin()).is_some());
        assert!(plain_name("_http._tcp.svc1", &origin()).is_some());
        assert!(plain_name("x.example.", &origin()).is_some());
    }

    #[test]
    fn soa_timers_take_units() {
        let tokens = ["ns", "hostmaster", "7", "1h", "15m", "1w", "5m"];
        let RData::SOA(soa) = parse(RecordType::SOA, &tokens, &origin()).unwrap() else {
            panic!("not SOA")
        };
        assert_eq!((soa.serial, soa.refresh, soa.minimum), (7, 3600, 300));
    }

    #[test]
    fn other_types_go_through_hickory() {
        let data = parse(RecordType::TXT, &["\"a b\"", "c"], &origin()).unwrap();
        assert_eq!(data.record_type(), RecordType::TXT);
        assert!(parse(RecordType::A, &["300.1.1.1"], &origin()).is_err());
        assert!(parse(RecordType::MX, &["10"], &origin()).is_err());
    }
}
