//! Docker's free-form names made into DNS names that can only ever land
//! inside a zone.
//!
//! Container names, compose labels and `berth.names` come from whoever runs
//! `docker run`. Each label is sanitised to an RFC 1123 host-name label;
//! `berth.names` entries are relative to the zone, so nothing a container
//! says can place a name anywhere else.

use hickory_proto::rr::Name;

/// RFC 1035 §2.3.4: a label is at most 63 octets.
const MAX_LABEL: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("ends with a dot, but names are relative to the zone")]
    Absolute,
    #[error("has a label with no letter or digit")]
    EmptyLabel,
    #[error("may hold `*` only as its first label, above at least one other")]
    Wildcard,
    #[error("is longer than 255 octets under {zone}")]
    TooLong { zone: String },
    #[error("is the zone's name server")]
    Reserved,
}

/// A name relative to a zone, made of sanitised labels only. The sole way
/// out is [`Relative::under`], which appends a zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relative {
    /// Left to right, as written; each is a valid label.
    labels: Vec<String>,
    /// A leading `*`: the name owns everything below the rest (RFC 4592).
    wildcard: bool,
}

impl Relative {
    /// One label from free text, such as a container name: dots are not
    /// separators here, they become `-` like any other invalid character.
    pub fn single(text: &str) -> Option<Relative> {
        Some(Relative {
            labels: vec![label(text)?],
            wildcard: false,
        })
    }

    /// Several labels, each sanitised; `None` when any is left empty.
    pub fn of_labels(texts: &[&str]) -> Option<Relative> {
        let labels = texts.iter().map(|t| label(t)).collect::<Option<Vec<_>>>()?;
        (!labels.is_empty()).then_some(Relative {
            labels,
            wildcard: false,
        })
    }

    /// A `berth.names` entry: dot-separated labels, each sanitised, with an
    /// optional leading `*.` for a wildcard.
    pub fn parse(text: &str) -> Result<Relative, NameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.ends_with('.') {
            return Err(NameError::Absolute);
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None if text == "*" => return Err(NameError::Wildcard),
            None => (false, text),
        };
        let labels = rest
            .split('.')
            .map(|part| {
                if part == "*" {
                    Err(NameError::Wildcard)
                } else {
                    label(part).ok_or(NameError::EmptyLabel)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Relative { labels, wildcard })
    }

    /// The SRV owner `_<service>._<proto>.<self>` (RFC 2782). `service`
    /// must already be a valid label.
    pub fn service(&self, service: &str, proto: &str) -> Relative {
        let mut labels = vec![format!("_{service}"), format!("_{proto}")];
        labels.extend(self.labels.iter().cloned());
        Relative {
            labels,
            wildcard: self.wildcard,
        }
    }

    /// The SRV owner `_<service>._<proto>` directly under the zone, as
    /// registrator's users look services up. `service` must be valid.
    pub fn zone_service(service: &str, proto: &str) -> Relative {
        Relative {
            labels: vec![format!("_{service}"), format!("_{proto}")],
            wildcard: false,
        }
    }

    /// `<label>.<self>`, for registrator tags. `label` must be valid.
    pub fn child(&self, label: &str) -> Relative {
        let mut labels = vec![label.to_string()];
        labels.extend(self.labels.iter().cloned());
        Relative {
            labels,
            wildcard: self.wildcard,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The absolute name below `zone`.
    pub fn under(&self, zone: &Name) -> Result<Name, NameError> {
        let star: &[u8] = b"*";
        let labels = self
            .wildcard
            .then_some(star)
            .into_iter()
            .chain(self.labels.iter().map(|l| l.as_bytes()));
        Name::from_labels(labels)
            .and_then(|name| name.append_domain(zone))
            .map_err(|_| NameError::TooLong {
                zone: zone.to_ascii(),
            })
    }
}

impl std::fmt::Display for Relative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.labels.join("."))
    }
}

/// An RFC 1123 label from free text: ASCII letters lower-cased, digits and
/// `-` kept, every other character (`_`, `.`, spaces, non-ASCII) turned into
/// `-`; at most 63 octets, no `-` at either end. `None` when nothing is left.
pub fn label(text: &str) -> Option<String> {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        // Enough characters for 63 after trimming the front; the rest is
        // dropped before it is ever allocated.
        .skip_while(|&c| c == '-')
        .take(MAX_LABEL)
        .collect();
    let trimmed = mapped.trim_end_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The IANA service name registered for a well-known port (the "Service
/// Name and Transport Protocol Port Number Registry"), used for SRV owners
/// such as `_http._tcp`. Other ports are named by their number.
pub fn iana_service(port: u16) -> Option<&'static str> {
    Some(match port {
        20 => "ftp-data",
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        53 => "domain",
        80 => "http",
        110 => "pop3",
        123 => "ntp",
        143 => "imap",
        161 => "snmp",
        389 => "ldap",
        443 => "https",
        465 => "submissions",
        514 => "syslog",
        587 => "submission",
        636 => "ldaps",
        873 => "rsync",
        993 => "imaps",
        995 => "pop3s",
        1433 => "ms-sql-s",
        1883 => "mqtt",
        3306 => "mysql",
        5432 => "postgresql",
        5672 => "amqp",
        6379 => "redis",
        11211 => "memcache",
        27017 => "mongodb",
        _ => return None,
    })
}

/// The service label for a port: its IANA name, else the number.
pub fn port_service(port: u16) -> String {
    iana_service(port).map_or_else(|| port.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("apps.local.").unwrap()
    }

    #[test]
    fn labels_are_sanitised_to_rfc1123() {
        assert_eq!(label("Web_1").as_deref(), Some("web-1"));
        assert_eq!(label("my.app").as_deref(), Some("my-app"));
        assert_eq!(label("--x--").as_deref(), Some("x"));
        assert_eq!(label("café").as_deref(), Some("caf"));
        assert_eq!(label("日本").as_deref(), None);
        assert_eq!(label("___").as_deref(), None);
        assert_eq!(label(""), None);
    }

    #[test]
    fn labels_are_at_most_63_octets_and_never_end_in_a_hyphen() {
        let long = "a".repeat(62) + "_b" + &"c".repeat(100);
        let made = label(&long).unwrap();
        assert_eq!(made, "a".repeat(62));
        assert_eq!(label(&"x".repeat(300)).unwrap().len(), 63);
    }

    #[test]
    fn relative_names_stay_inside_the_zone() {
        let name = Relative::parse("API.v2").unwrap().under(&zone()).unwrap();
        assert_eq!(name.to_ascii(), "api.v2.apps.local.");
        let wild = Relative::parse("*.preview").unwrap();
        assert!(wild.is_wildcard());
        assert_eq!(
            wild.under(&zone()).unwrap().to_ascii(),
            "*.preview.apps.local."
        );
    }

    #[test]
    fn hostile_names_are_rejected() {
        assert_eq!(Relative::parse("evil.com."), Err(NameError::Absolute));
        assert_eq!(Relative::parse(""), Err(NameError::Empty));
        assert_eq!(Relative::parse("*"), Err(NameError::Wildcard));
        assert_eq!(Relative::parse("a.*.b"), Err(NameError::Wildcard));
        assert_eq!(Relative::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Relative::parse("../etc"), Err(NameError::EmptyLabel));
        // `\.` is no escape: the backslash is just another invalid character.
        let escaped = Relative::parse("a\\.com").unwrap();
        assert_eq!(escaped.to_string(), "a.com");
        let deep = vec!["x".repeat(63); 5].join(".");
        assert!(matches!(
            Relative::parse(&deep).unwrap().under(&zone()),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn srv_owners_and_service_names() {
        let base = Relative::single("web").unwrap();
        let owner = base.service(&port_service(443), "tcp");
        assert_eq!(
            owner.under(&zone()).unwrap().to_ascii(),
            "_https._tcp.web.apps.local."
        );
        assert_eq!(port_service(8080), "8080");
        assert_eq!(port_service(5432), "postgresql");
    }
}
