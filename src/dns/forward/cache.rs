//! The cache of forwarded answers. It is `quick_cache`'s sharded, lock-per-
//! shard map: lookups are synchronous, so the UDP threads answer hits
//! without handing anything to the async runtime, and eviction (CLOCK-Pro)
//! keeps popular names through a scan of one-off ones. Expiry is by each
//! answer's own TTLs, checked on lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::{DefaultHashBuilder, Equivalent, Lifecycle, Weighter};

use super::stored::Stored;
use crate::dns::message::{FLAG_CD, FLAG_RD};
use crate::dns::wire::Query;
use crate::iana::{Class, Rtype};

/// One unit of `--cache-size` holds an answer of up to this many bytes; a
/// larger one takes a unit per started KiB, so the bound is on memory too.
const UNIT_BYTES: usize = 1024;

/// What makes two queries the same question to an upstream: the name
/// (lower-cased), type and class, and the header and EDNS bits that change
/// the answer — DO and CD (DNSSEC records and checking) and RD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    name: Box<[u8]>,
    qtype: Rtype,
    qclass: Class,
    bits: u8,
}

/// A [`Key`] borrowed from a query, so that a lookup allocates nothing.
/// Hashes exactly as the owned key does (same fields, same order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef<'q> {
    name: &'q [u8],
    qtype: Rtype,
    qclass: Class,
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

/// Counts the answers pushed out to make room (not those that expired).
#[derive(Clone, Default)]
struct CountEvictions(Arc<AtomicU64>);

impl Lifecycle<Key, Entry> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _: Key, _: Entry) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The cache's size and churn, for `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheStats {
    pub entries: usize,
    pub evictions: u64,
}

pub struct Cache {
    entries: quick_cache::sync::Cache<Key, Entry, BySize, DefaultHashBuilder, CountEvictions>,
    evictions: CountEvictions,
}

impl Cache {
    /// A cache of `size` units; `None` for 0, which turns caching off.
    pub fn new(size: usize) -> Option<Cache> {
        let evictions = CountEvictions::default();
        (size > 0).then(|| Cache {
            entries: quick_cache::sync::Cache::with(
                size,
                size as u64,
                BySize,
                DefaultHashBuilder::default(),
                evictions.clone(),
            ),
            evictions,
        })
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            evictions: self.evictions.0.load(Ordering::Relaxed),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::forward::stored::tests::{Rec, answer, query};
    use crate::dns::wire::parse_query;
    use crate::iana::Rcode;

    const NAME: &[u8] = b"\x03www\x07example\x00";

    fn stored(ttl: u32) -> Arc<Stored> {
        let packet = answer(
            Rcode::NOERROR,
            &[(0, b"\xc0\x0c", Rtype::A, ttl, &[192, 0, 2, 1])],
            false,
        );
        Arc::new(Stored::parse(&packet).unwrap())
    }

    #[test]
    fn hits_age_and_expire() {
        let cache = Cache::new(10).unwrap();
        let packet = query(1, NAME, false);
        let q = parse_query(&packet).unwrap();
        let now = Instant::now();
        cache.insert(KeyRef::of(&q), stored(60), now);

        // Another case of the same name is the same question.
        let other = query(2, b"\x03WWW\x07example\x00", false);
        let (_, age) = cache
            .get(
                KeyRef::of(&parse_query(&other).unwrap()),
                now + Duration::from_millis(10_500),
            )
            .expect("hit");
        assert_eq!(age, 10);
        assert!(
            cache
                .get(KeyRef::of(&q), now + Duration::from_secs(60))
                .is_none()
        );
        assert!(
            cache.get(KeyRef::of(&q), now).is_none(),
            "removed once expired"
        );
    }

    #[test]
    fn dnssec_bits_and_recursion_make_another_question() {
        let cache = Cache::new(10).unwrap();
        let now = Instant::now();
        let packet = query(1, NAME, true);
        cache.insert(KeyRef::of(&parse_query(&packet).unwrap()), stored(60), now);
        let mut with_do = packet.clone();
        let last = with_do.len() - 4;
        with_do[last] = 0x80; // DO
        assert!(
            cache
                .get(KeyRef::of(&parse_query(&with_do).unwrap()), now)
                .is_none()
        );
        let mut with_cd = packet.clone();
        with_cd[3] |= 0x10;
        assert!(
            cache
                .get(KeyRef::of(&parse_query(&with_cd).unwrap()), now)
                .is_none()
        );
        assert!(
            cache
                .get(KeyRef::of(&parse_query(&packet).unwrap()), now)
                .is_some()
        );

        // An answer to a query without RD is about the upstream's own data.
        let mut norec = query(1, b"\x05other\x00", false);
        norec[2] = 0;
        cache.insert(KeyRef::of(&parse_query(&norec).unwrap()), stored(60), now);
        assert!(
            cache
                .get(KeyRef::of(&parse_query(&norec).unwrap()), now)
                .is_none()
        );
    }

    #[test]
    fn counts_evictions_not_expiry() {
        let cache = Cache::new(1).unwrap();
        let now = Instant::now();
        for (id, name) in [b"\x01a\x00", b"\x01b\x00", b"\x01c\x00"]
            .iter()
            .enumerate()
        {
            let packet = query(id as u16, *name, false);
            cache.insert(KeyRef::of(&parse_query(&packet).unwrap()), stored(60), now);
        }
        let stats = cache.stats();
        assert_eq!(stats.entries, 1);
        assert!(stats.evictions >= 2, "{stats:?}");
    }

    #[test]
    fn size_zero_is_no_cache_and_large_answers_weigh_more() {
        assert!(Cache::new(0).is_none());
        let small = stored(60);
        let weight = |answer: &Arc<Stored>| {
            let entry = Entry {
                answer: answer.clone(),
                fetched: Instant::now(),
                expires: Instant::now(),
            };
            BySize.weight(
                &KeyRef::of(&parse_query(&query(1, NAME, false)).unwrap()).to_owned(),
                &entry,
            )
        };
        assert_eq!(weight(&small), 1);
        let big = [0u8; 250];
        let records: Vec<Rec<'_>> = (0..10)
            .map(|_| (0, b"\xc0\x0c" as &[u8], Rtype::TXT, 60, &big[..]))
            .collect();
        let large = Arc::new(Stored::parse(&answer(Rcode::NOERROR, &records, false)).unwrap());
        assert_eq!(weight(&large), large.len().div_ceil(UNIT_BYTES) as u64);
        assert!(weight(&large) > 1);
    }
}
