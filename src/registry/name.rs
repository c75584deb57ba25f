//! Domain names as the registry and the DNS hot path see them: uncompressed
//! wire format, lower-cased, so that a query name parsed from a packet can be
//! looked up directly and every parent name is just a suffix slice.

use hickory_proto::rr::Name;

/// Maximum number of labels in a name (255 octets, each label at least 2).
pub const MAX_LABELS: usize = 128;

/// A lower-cased, uncompressed wire-format name, used as a map key.
pub type NameKey = Box<[u8]>;

/// Encodes `name` in uncompressed wire format, preserving its case.
/// Label by label: each name of a large zone file passes through here, and
/// hickory's encoder would clone the name and check it for compression
/// first.
pub fn wire(name: &Name) -> Vec<u8> {
    let mut buf = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        // A `Name`'s labels are 1 to 63 octets.
        buf.push(label.len() as u8);
        buf.extend_from_slice(label);
    }
    buf.push(0);
    buf
}

/// The lookup key of `name`: its wire format, lower-cased.
pub fn key(name: &Name) -> NameKey {
    let mut buf = wire(name);
    buf.make_ascii_lowercase();
    buf.into_boxed_slice()
}

/// Offsets of each label in a wire-format name: `offsets[0] == 0`, and the
/// suffix `name[offsets[i]..]` is the name with its first `i` labels removed.
/// The root label (the final zero octet) is not counted.
#[derive(Clone)]
pub struct Labels {
    offsets: [u8; MAX_LABELS],
    count: usize,
}

impl Labels {
    /// Splits a well-formed wire name. Names built by this crate or checked by
    /// the query parser are well-formed; anything else yields zero labels.
    pub fn of(name: &[u8]) -> Self {
        let mut labels = Labels {
            offsets: [0; MAX_LABELS],
            count: 0,
        };
        let mut at = 0usize;
        while let Some(&len) = name.get(at) {
            if len == 0 || labels.count == MAX_LABELS || at > u8::MAX as usize {
                break;
            }
            labels.offsets[labels.count] = at as u8;
            labels.count += 1;
            at += 1 + len as usize;
        }
        labels
    }

    /// Number of labels, not counting the root.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The offset at which the name with its first `i` labels removed starts.
    pub fn offset(&self, i: usize, name: &[u8]) -> usize {
        if i >= self.count {
            name.len().saturating_sub(1)
        } else {
            self.offsets[i] as usize
        }
    }
}

/// True when `name` equals `zone` or lies below it (both lower-cased wire).
pub fn is_within(name: &[u8], zone: &[u8]) -> bool {
    if name.len() < zone.len() {
        return false;
    }
    let cut = name.len() - zone.len();
    if &name[cut..] != zone {
        return false;
    }
    // The match must start on a label boundary: walk the labels to it
    // (this runs for every query, so no offset table is built).
    let mut at = 0usize;
    while at < cut {
        match name.get(at) {
            Some(&len) if len != 0 => at += 1 + len as usize,
            _ => return false,
        }
    }
    at == cut
}

/// Renders a wire-format name as text, for logs and JSON.
pub fn to_text(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut at = 0usize;
    while let Some(&len) = name.get(at) {
        if len == 0 {
            break;
        }
        let label = name.get(at + 1..at + 1 + len as usize).unwrap_or_default();
        for &b in label {
            match b {
                b'.' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x21..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
        at += 1 + len as usize;
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_keeps_case_and_ends_at_the_root() {
        let name = Name::from_ascii("Web.Apps.LOCAL").unwrap();
        assert_eq!(wire(&name), b"\x03Web\x04Apps\x05LOCAL\x00");
        assert_eq!(wire(&Name::root()), b"\x00");
    }

    #[test]
    fn keys_are_lowercase_wire() {
        let name = Name::from_ascii("Web.Apps.LOCAL.").unwrap();
        assert_eq!(&*key(&name), b"\x03web\x04apps\x05local\x00");
    }

    #[test]
    fn labels_give_parent_suffixes() {
        let k = key(&Name::from_ascii("a.b.c.").unwrap());
        let labels = Labels::of(&k);
        assert_eq!(labels.count(), 3);
        assert_eq!(&k[labels.offset(1, &k)..], b"\x01b\x01c\x00");
        assert_eq!(&k[labels.offset(3, &k)..], b"\x00");
    }

    #[test]
    fn within_respects_label_boundaries() {
        let zone = key(&Name::from_ascii("apps.local.").unwrap());
        let inside = key(&Name::from_ascii("x.apps.local.").unwrap());
        let outside = key(&Name::from_ascii("xapps.local.").unwrap());
        assert!(is_within(&inside, &zone));
        assert!(is_within(&zone, &zone));
        assert!(!is_within(&outside, &zone));
    }

    #[test]
    fn text_round_trip() {
        let k = key(&Name::from_ascii("a.b.").unwrap());
        assert_eq!(to_text(&k), "a.b.");
        assert_eq!(to_text(b"\x00"), ".");
    }
}
