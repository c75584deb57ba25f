//! The cache of forwarded answers. It is `quick_cache`'s sharded, lock-per-
//! shard map: lookups are synchronous, so the UDP threads answer hits
//! without handing anything to the async runtime, and eviction (CLOCK-Pro)
//! keeps popular names through a scan of one-off ones. Expiry is by each
//! answer's own TTLs, checked on lookup.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::{Equivalent, Weighter};

use super::stored::Stored;
use crate::dns::wire::{FLAG_CD, FLAG_RD, Query};

/// One unit of `--cache-size` holds an answer of up to this many bytes; a
/// larger one takes a unit per started KiB, so the bound is on memory too.
const UNIT_BYTES: usize = 1024;

/// What makes two queries the same question to an upstream: the name
/// (lower-cased), type and class, and the header and EDNS bits that change
/// the answer — DO and CD (DNSSEC records and checking) and RD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    name: Box<[u8]>,
    qtype: u16,
    qclass: u16,
    bits: u8,
}

/// A [`Key`] borrowed from a query, so that a lookup allocates nothing.
/// Hashes exactly as the owned key does (same fields, same order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef<'q> {
    name: &'q [u8],
    qtype: u16,
    qclass: u16,
    bits: u8,
}

impl<'q> KeyRef<'q> {
    pub fn of(query: &'q Query<'_>) -> Self {
        let mut bits = 0;
        if query.edns.is_some_and(|edns| edns.dnssec_ok) {
            bits |= 1;
        }
        if query.flags & FLAG_CD != 0 {
            bits |= 2;
        }
        if query.flags & FLAG_RD != 0 {
            bits |= 4;
        }
        KeyRef {
            name: query.qname.as_bytes(),
            qtype: query.qtype,
            qclass: query.qclass,
            bits,
        }
    }

    pub fn to_owned(self) -> Key {
        Key {
            name: self.name.into(),
            qtype: self.qtype,
            qclass: self.qclass,
            bits: self.bits,
        }
    }

    /// Whether the client asked for recursion: only such answers are
    /// cached, an RD=0 query is a question about the upstream's own data.
    fn recursive(&self) -> bool {
        self.bits & 4 != 0
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self.name == *key.name
            && self.qtype == key.qtype
            && self.qclass == key.qclass
            && self.bits == key.bits
    }
}

#[derive(Clone)]
struct Entry {
    answer: Arc<Stored>,
    fetched: Instant,
    expires: Instant,
}

#[derive(Clone)]
struct BySize;

impl Weighter<Key, Entry> for BySize {
    fn weight(&self, _key: &Key, entry: &Entry) -> u64 {
        entry.answer.len().div_ceil(UNIT_BYTES).max(1) as u64
    }
}

pub struct Cache {
    entries: quick_cache::sync::Cache<Key, Entry, BySize>,
}

impl Cache {
    /// A cache of `size` units; `None` for 0, which turns caching off.
    pub fn new(size: usize) -> Option<Cache> {
        (size > 0).then(|| Cache {
            entries: quick_cache::sync::Cache::with_weighter(size, size as u64, BySize),
        })
    }

    /// The answer for `key` and how many whole seconds it has been held,
    /// unless there is none or it has expired.
    pub fn get(&self, key: KeyRef<'_>, now: Instant) -> Option<(Arc<Stored>, u32)> {
        let entry = self.entries.get(&key)?;
        if now >= entry.expires {
            self.entries.remove_if(&key, |e| now >= e.expires);
            return None;
        }
        let age = now.saturating_duration_since(entry.fetched).as_secs();
        Some((entry.answer, u32::try_from(age).unwrap_or(u32::MAX)))
    }

    /// Keeps `answer` for its lifetime, if it has one.
    pub fn insert(&self, key: KeyRef<'_>, answer: Arc<Stored>, now: Instant) {
        let Some(lifetime) = answer.lifetime() else {
            return;
        };
        if !key.recursive() {
            return;
        }
        let entry = Entry {
            answer,
            fetched: now,
            expires: now + Duration::from_secs(lifetime.into()),
        };
        self.entries.insert(key.to_owned(), entry);
    }
}
