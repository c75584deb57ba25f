//! TSIG (RFC 8945): shared-key signatures on zone transfers and NOTIFY.
//!
//! A request's TSIG record is checked against the keys berth was given;
//! a good one makes every message of the answer signed with the same key,
//! each MAC chained to the one before (§5.3.1). A bad one gets NOTAUTH with
//! the TSIG error BIND, Knot and NSD send: BADKEY (unsigned), BADSIG
//! (unsigned) or BADTIME (signed, carrying berth's clock).
//!
//! The HMAC is ring's: a maintained, constant-time implementation that was
//! already in berth's lock file, so no new code is compiled from outside.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::hmac;

use super::message::HEADER_LEN;
use super::wire::{self, be16};
use crate::iana::{Class, Rcode, Rtype};

/// Seconds of clock difference accepted (RFC 8945 §10 recommends 300).
pub const FUDGE: u16 = 300;

/// The TSIG error field (RFC 8945 §3, the IANA RCODE registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsigError {
    BadSig = 16,
    BadKey = 17,
    BadTime = 18,
}

/// The HMAC algorithms berth signs with (RFC 8945 §6), by their TSIG names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    const ALL: [Algorithm; 4] = [
        Algorithm::HmacSha1,
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    pub fn text(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    pub fn from_text(text: &str) -> Option<Self> {
        let text = text.trim_end_matches('.').to_ascii_lowercase();
        Self::ALL.into_iter().find(|a| a.text() == text)
    }

    /// The algorithm name in wire format (one label, then the root).
    fn wire(self) -> Vec<u8> {
        let text = self.text().as_bytes();
        let mut wire = Vec::with_capacity(text.len() + 2);
        wire.push(text.len() as u8);
        wire.extend_from_slice(text);
        wire.push(0);
        wire
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }
}

/// One shared secret, as `--tsig-key` gave it.
pub struct Key {
    /// Lower-cased wire format: how requests name it, case aside.
    name: Box<[u8]>,
    pub text: String,
    pub algorithm: Algorithm,
    secret: hmac::Key,
}

impl std::fmt::Debug for Key {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} {})", self.text, self.algorithm.text())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("{0:?} is not NAME:ALGORITHM:BASE64")]
    Shape(String),
    #[error("{0:?} is not a domain name")]
    Name(String),
    #[error("{0:?} is not one of hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512")]
    Algorithm(String),
    #[error("the secret of {0} is not base64")]
    Secret(String),
    #[error("no key in {0}: expected NAME:ALGORITHM:BASE64 lines or tsig-keygen output")]
    Empty(String),
}

impl Key {
    pub fn new(name: &str, algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let text = name.trim_end_matches('.').to_ascii_lowercase();
        let wire = text_to_wire(&text).ok_or_else(|| KeyError::Name(name.to_string()))?;
        Ok(Key {
            name: wire.into_boxed_slice(),
            text,
            algorithm,
            secret: hmac::Key::new(algorithm.ring(), secret),
        })
    }

    /// `NAME:ALGORITHM:BASE64`, the `--tsig-key` form.
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut parts = spec.splitn(3, ':');
        let (Some(name), Some(algorithm), Some(secret)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Shape(spec.to_string()));
        };
        let algorithm =
            Algorithm::from_text(algorithm).ok_or_else(|| KeyError::Algorithm(algorithm.into()))?;
        let secret = data_encoding::BASE64
            .decode(secret.trim().as_bytes())
            .map_err(|_| KeyError::Secret(name.to_string()))?;
        Key::new(name, algorithm, &secret)
    }

    /// The keys in a file: `NAME:ALGORITHM:BASE64` lines, or BIND's
    /// `key "NAME" { algorithm A; secret "S"; };` blocks as `tsig-keygen`
    /// writes them, so one file can serve named and berth.
    pub fn parse_file(text: &str, origin: &str) -> Result<Vec<Key>, KeyError> {
        let mut keys = Vec::new();
        if text.contains('{') {
            for block in text.split("key").skip(1) {
                let name = block.split('"').nth(1).unwrap_or_default();
                let field = |field: &str| {
                    block
                        .split(';')
                        .find_map(|s| s.rsplit('{').next()?.trim().strip_prefix(field))
                        .map(|v| v.trim().trim_matches('"').to_string())
                };
                let (Some(algorithm), Some(secret)) = (field("algorithm"), field("secret")) else {
                    continue;
                };
                keys.push(Key::parse(&format!("{name}:{algorithm}:{secret}"))?);
            }
        } else {
            for line in text.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') {
                    keys.push(Key::parse(line)?);
                }
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Empty(origin.to_string()));
        }
        Ok(keys)
    }

    fn context(&self) -> hmac::Context {
        hmac::Context::with_key(&self.secret)
    }
}

/// `a.b` → `\x01a\x01b\x00`, for names typed in flags.
fn text_to_wire(text: &str) -> Option<Vec<u8>> {
    let mut wire = Vec::with_capacity(text.len() + 2);
    for label in text.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return None;
        }
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    (wire.len() <= 255).then_some(wire)
}

/// The TSIG record of a message, read where it sits (RFC 8945 §4.2).
#[derive(Clone, Debug)]
pub struct Tsig {
    /// Where the record starts: everything before it is what was signed.
    pub start: usize,
    /// The key's name, lower-cased, uncompressed.
    pub key_name: Vec<u8>,
    /// The algorithm's name, lower-cased, uncompressed.
    pub algorithm: Vec<u8>,
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// Reads the TSIG record at `start`, the last one of `packet`. None: the
/// record is malformed (FORMERR).
pub fn read(packet: &[u8], start: usize) -> Option<Tsig> {
    let record = wire::read_record(packet, start)?;
    if record.rtype != Rtype::TSIG || record.end != packet.len() {
        return None;
    }
    let key_name = read_name(packet, start)?;
    let rdata_at = record.end - record.rdata.len();
    let algorithm = read_name(packet, rdata_at)?;
    let at = wire::skip_name(packet, rdata_at)?;
    let time_signed = (u64::from(be16(packet, at)?) << 32)
        | (u64::from(be16(packet, at + 2)?) << 16)
        | u64::from(be16(packet, at + 4)?);
    let fudge = be16(packet, at + 6)?;
    let mac_len = be16(packet, at + 8)? as usize;
    let mac = packet.get(at + 10..at + 10 + mac_len)?.to_vec();
    let at = at + 10 + mac_len;
    let original_id = be16(packet, at)?;
    let error = be16(packet, at + 2)?;
    let other_len = be16(packet, at + 4)? as usize;
    let other = packet.get(at + 6..at + 6 + other_len)?.to_vec();
    if at + 6 + other_len != record.end {
        return None;
    }
    Some(Tsig {
        start,
        key_name,
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// A name at `at`, compression pointers followed, lower-cased.
fn read_name(packet: &[u8], mut at: usize) -> Option<Vec<u8>> {
    let mut name = Vec::with_capacity(32);
    let mut jumps = 0;
    loop {
        let len = *packet.get(at)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                name.push(0);
                name.make_ascii_lowercase();
                return (name.len() <= 255).then_some(name);
            }
            0x00 => {
                name.extend_from_slice(packet.get(at..at + 1 + len as usize)?);
                at += 1 + len as usize;
            }
            0xc0 => {
                let pointer = (be16(packet, at)? & 0x3fff) as usize;
                jumps += 1;
                if pointer >= at || jumps > 64 {
                    return None;
                }
                at = pointer;
            }
            _ => return None,
        }
        if name.len() > 255 {
            return None;
        }
    }
}

/// The keys berth knows.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<Arc<Key>>,
}

/// A request whose signature checked out: what signing the answer needs.
#[derive(Clone, Debug)]
pub struct Verified {
    pub key: Arc<Key>,
    pub request_mac: Vec<u8>,
}

/// A request whose signature did not: the error to answer with.
#[derive(Clone, Debug)]
pub struct Rejected {
    pub error: TsigError,
    pub tsig: Tsig,
    /// BADTIME answers are signed (RFC 8945 §5.2.3); the others are not.
    pub key: Option<Arc<Key>>,
}

impl Keyring {
    pub fn new(keys: Vec<Key>) -> Self {
        Keyring {
            keys: keys.into_iter().map(Arc::new).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' names, for `--check` (never their secrets).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.text.as_str())
    }

    pub fn find(&self, name: &str) -> Option<&Arc<Key>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.keys.iter().find(|k| k.text == name)
    }

    /// Checks the signature of `packet`, whose TSIG record is `tsig`
    /// (RFC 8945 §5.2): known key and algorithm, then the MAC, then the time.
    pub fn verify(&self, packet: &[u8], tsig: &Tsig, now: u64) -> Result<Verified, Box<Rejected>> {
        let reject = |error, key: Option<&Arc<Key>>| {
            Box::new(Rejected {
                error,
                tsig: tsig.clone(),
                key: key.cloned(),
            })
        };
        let Some(key) = self
            .keys
            .iter()
            .find(|k| *k.name == *tsig.key_name && k.algorithm.wire() == tsig.algorithm)
        else {
            return Err(reject(TsigError::BadKey, None));
        };
        // A truncated MAC (§5.2.2.1) is not accepted, as BIND does by default.
        if !constant_time_eq(signed_digest(key, &[], packet, tsig).as_ref(), &tsig.mac) {
            return Err(reject(TsigError::BadSig, None));
        }
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return Err(reject(TsigError::BadTime, Some(key)));
        }
        Ok(Verified {
            key: key.clone(),
            request_mac: tsig.mac.clone(),
        })
    }
}

/// The MAC `packet` should carry in `tsig`: over the prior MAC (a reply's
/// request), the message as it was before the TSIG record was added
/// (original ID, ARCOUNT one less), and the TSIG variables.
fn signed_digest(key: &Key, prior_mac: &[u8], packet: &[u8], tsig: &Tsig) -> hmac::Tag {
    let mut context = key.context();
    if !prior_mac.is_empty() {
        context.update(&(prior_mac.len() as u16).to_be_bytes());
        context.update(prior_mac);
    }
    let mut header = [0u8; HEADER_LEN];
    if let Some(sent) = packet.get(..HEADER_LEN) {
        header.copy_from_slice(sent);
    }
    header[..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([header[10], header[11]]).saturating_sub(1);
    header[10..12].copy_from_slice(&arcount.to_be_bytes());
    context.update(&header);
    context.update(packet.get(HEADER_LEN..tsig.start).unwrap_or_default());
    update_variables(
        &mut context,
        key,
        tsig.time_signed,
        tsig.fudge,
        tsig.error,
        &tsig.other,
    );
    context.sign()
}

/// Compares MACs without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The TSIG variables of RFC 8945 §4.3.3, in canonical form.
fn update_variables(
    context: &mut hmac::Context,
    key: &Key,
    time_signed: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) {
    context.update(&key.name);
    context.update(&Class::ANY.0.to_be_bytes());
    context.update(&0u32.to_be_bytes());
    context.update(&key.algorithm.wire());
    update_timers(context, time_signed, fudge);
    context.update(&error.to_be_bytes());
    context.update(&(other.len() as u16).to_be_bytes());
    context.update(other);
}

fn update_timers(context: &mut hmac::Context, time_signed: u64, fudge: u16) {
    context.update(&time_signed.to_be_bytes()[2..]);
    context.update(&fudge.to_be_bytes());
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs the messages of one answer in turn: the first over the request's
/// MAC and all TSIG variables, each later one over the MAC before it and
/// the timers only (RFC 8945 §5.3.1).
pub struct Signer {
    key: Arc<Key>,
    prior_mac: Vec<u8>,
    first: bool,
}

/// Bytes a TSIG record with this key adds to a message, at most.
pub fn space(key: &Key) -> usize {
    key.name.len() + 10 + key.algorithm.wire().len() + 16 + 64 + 6 + 6
}

impl Signer {
    pub fn new(verified: &Verified) -> Self {
        Signer {
            key: verified.key.clone(),
            prior_mac: verified.request_mac.clone(),
            first: true,
        }
    }

    /// A signer for a request berth sends itself (NOTIFY): no prior MAC.
    pub fn for_request(key: Arc<Key>) -> Self {
        Signer {
            key,
            prior_mac: Vec::new(),
            first: true,
        }
    }

    pub fn key(&self) -> &Arc<Key> {
        &self.key
    }

    /// The MAC of the last message signed: a reply to it is checked over it.
    pub fn last_mac(&self) -> &[u8] {
        &self.prior_mac
    }

    /// Appends a TSIG record signing `message` (whose ARCOUNT it bumps).
    pub fn sign(&mut self, message: &mut Vec<u8>, error: u16, other: &[u8]) {
        self.sign_at(message, error, other, unix_now());
    }

    fn sign_at(&mut self, message: &mut Vec<u8>, error: u16, other: &[u8], now: u64) {
        let mut context = self.key.context();
        if !self.prior_mac.is_empty() {
            context.update(&(self.prior_mac.len() as u16).to_be_bytes());
            context.update(&self.prior_mac);
        }
        context.update(message);
        if self.first {
            update_variables(&mut context, &self.key, now, FUDGE, error, other);
        } else {
            update_timers(&mut context, now, FUDGE);
        }
        let mac = context.sign();
        let original_id = be16(message, 0).unwrap_or(0);
        let key_name = self.key.name.clone();
        let algorithm = self.key.algorithm.wire();
        append_record(
            message,
            &key_name,
            &algorithm,
            now,
            mac.as_ref(),
            original_id,
            error,
            other,
        );
        self.prior_mac = mac.as_ref().to_vec();
        self.first = false;
    }

    /// Checks the signature of `reply` to a request this signer signed.
    pub fn verify_reply(&self, reply: &[u8], tsig: &Tsig) -> bool {
        *self.key.name == *tsig.key_name
            && constant_time_eq(
                signed_digest(&self.key, &self.prior_mac, reply, tsig).as_ref(),
                &tsig.mac,
            )
    }
}

/// The TSIG check a signed query passes before anything else (RFC 8945
/// §5.2): its key, or the NOTAUTH reply (already in `buf`, this long).
pub fn check(
    keys: &Keyring,
    packet: &[u8],
    at: usize,
    buf: &mut Vec<u8>,
    write_reply: impl FnOnce(&mut Vec<u8>, Rcode) -> usize,
) -> Result<Verified, usize> {
    let Some(record) = read(packet, at) else {
        return Err(write_reply(buf, Rcode::FORMERR));
    };
    keys.verify(packet, &record, unix_now()).map_err(|rejected| {
        tracing::info!(key = %super::super::registry::name::to_text(&record.key_name), error = ?rejected.error, "tsig check failed");
        let len = write_reply(buf, Rcode::NOTAUTH);
        buf.truncate(len);
        append_error(buf, &rejected);
        buf.len()
    })
}

/// The NOTAUTH answer's TSIG record for a request that failed: unsigned for
/// BADKEY and BADSIG, signed with berth's time for BADTIME.
pub fn append_error(message: &mut Vec<u8>, rejected: &Rejected) {
    let tsig = &rejected.tsig;
    match (&rejected.key, rejected.error) {
        (Some(key), TsigError::BadTime) => {
            let mut signer = Signer {
                key: key.clone(),
                prior_mac: tsig.mac.clone(),
                first: true,
            };
            let now = unix_now().to_be_bytes();
            signer.sign(message, TsigError::BadTime as u16, &now[2..]);
        }
        _ => append_record(
            message,
            &tsig.key_name,
            &tsig.algorithm,
            tsig.time_signed,
            &[],
            tsig.original_id,
            rejected.error as u16,
            &[],
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn append_record(
    message: &mut Vec<u8>,
    key_name: &[u8],
    algorithm: &[u8],
    time_signed: u64,
    mac: &[u8],
    original_id: u16,
    error: u16,
    other: &[u8],
) {
    message.extend_from_slice(key_name);
    message.extend_from_slice(&Rtype::TSIG.0.to_be_bytes());
    message.extend_from_slice(&Class::ANY.0.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    let rdlength = algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
    message.extend_from_slice(&(rdlength as u16).to_be_bytes());
    message.extend_from_slice(algorithm);
    message.extend_from_slice(&time_signed.to_be_bytes()[2..]);
    message.extend_from_slice(&FUDGE.to_be_bytes());
    message.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    message.extend_from_slice(mac);
    message.extend_from_slice(&original_id.to_be_bytes());
    message.extend_from_slice(&error.to_be_bytes());
    message.extend_from_slice(&(other.len() as u16).to_be_bytes());
    message.extend_from_slice(other);
    if let Some(arcount) = be16(message, 10) {
        message[10..12].copy_from_slice(&arcount.saturating_add(1).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig -y hmac-sha256:berth-xfr:c2Vj… apps.local SOA` as dig 9.18
    /// sent it (EDNS cookie, then TSIG).
    const DIG: &str = "2b83012000010000000000020461707073056c6f63616c000006000100002904d00000\
        0000000c000a0008703bbe09498d79040962657274682d7866720000fa00ff00000000003d0b686d61632d73\
        68613235360000006b0ff66f012c00200ca4825ab43092f4a7a40fb99fe0fad6171ab77e51b10d554e60eb09\
        f68bdb4c2b8300000000";
    /// `kdig -y hmac-sha512:Berth-XFR.:c2Vj… web.apps.local A` (Knot 3.2):
    /// the key name in another case.
    const KDIG: &str = "787a01200001000000000001037765620461707073056c6f63616c00000100010962657274\
        682d7866720000fa00ff00000000005d0b686d61632d7368613531320000006b0ff670012c0040db852ccc62\
        95df4d16a1bb57f41743203050e028a0f7be0156eebe019fde04b9f65c265366271533481fcfdd582118c00c\
        3f77a51c810088805a84104a0dcf67787a00000000";
    const SECRET: &str = "c2VjcmV0LWtleS1mb3ItYmVydGgtdGVzdHM=";

    fn packet(hex: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(hex.as_bytes()).unwrap()
    }

    fn last_record(packet: &[u8]) -> usize {
        // Both captures: question, then additional records; TSIG last.
        let mut at = wire::skip_name(packet, HEADER_LEN).unwrap() + 4;
        let arcount = be16(packet, 10).unwrap();
        for _ in 1..arcount {
            at = wire::read_record(packet, at).unwrap().end;
        }
        at
    }

    fn ring(spec: &str) -> Keyring {
        Keyring::new(vec![Key::parse(spec).unwrap()])
    }

    #[test]
    fn verifies_what_dig_and_kdig_signed() {
        for (hex, spec) in [
            (DIG, format!("berth-xfr:hmac-sha256:{SECRET}")),
            (KDIG, format!("berth-xfr:hmac-sha512:{SECRET}")),
        ] {
            let packet = packet(hex);
            let tsig = read(&packet, last_record(&packet)).unwrap();
            assert_eq!(tsig.key_name, b"\x09berth-xfr\x00");
            let keys = ring(&spec);
            let verified = keys.verify(&packet, &tsig, tsig.time_signed + 10).unwrap();
            assert_eq!(verified.request_mac, tsig.mac);
        }
    }

    #[test]
    fn tells_badkey_badsig_and_badtime_apart() {
        let packet = packet(DIG);
        let tsig = read(&packet, last_record(&packet)).unwrap();
        let now = tsig.time_signed;
        let error = |keys: Keyring, now| keys.verify(&packet, &tsig, now).unwrap_err().error;
        let other_name = ring(&format!("other:hmac-sha256:{SECRET}"));
        assert_eq!(error(other_name, now), TsigError::BadKey);
        let other_algorithm = ring(&format!("berth-xfr:hmac-sha512:{SECRET}"));
        assert_eq!(error(other_algorithm, now), TsigError::BadKey);
        let other_secret = ring("berth-xfr:hmac-sha256:b3RoZXI=");
        assert_eq!(error(other_secret, now), TsigError::BadSig);
        let keys = || ring(&format!("berth-xfr:hmac-sha256:{SECRET}"));
        assert_eq!(error(keys(), now + 301), TsigError::BadTime);
        assert_eq!(error(keys(), now - 301), TsigError::BadTime);
        let mut tampered = packet.clone();
        tampered[13] ^= 0x20;
        let result = keys().verify(&tampered, &tsig, now);
        assert_eq!(result.unwrap_err().error, TsigError::BadSig);
    }

    #[test]
    fn a_chain_of_signed_messages_verifies_in_turn() {
        let key = Arc::new(Key::parse(&format!("k:hmac-sha256:{SECRET}")).unwrap());
        let mut request = packet(DIG)[..28].to_vec();
        request[10..12].copy_from_slice(&[0, 0]);
        let mut client = Signer::for_request(key.clone());
        client.sign(&mut request, 0, &[]);
        let tsig = read(&request, 28).unwrap();
        let keys = Keyring {
            keys: vec![key.clone()],
        };
        let verified = keys.verify(&request, &tsig, unix_now()).unwrap();
        let mut server = Signer::new(&verified);
        let mut reply = request[..28].to_vec();
        reply[2] |= 0x80;
        server.sign(&mut reply, 0, &[]);
        let tsig = read(&reply, 28).unwrap();
        assert!(client.verify_reply(&reply, &tsig));
        assert!(!Signer::for_request(key).verify_reply(&reply, &tsig));
    }

    #[test]
    fn keys_from_flags_and_files() {
        assert!(matches!(
            Key::parse("k:hmac-md5:AAAA"),
            Err(KeyError::Algorithm(_))
        ));
        assert!(matches!(
            Key::parse("k:hmac-sha256:!!"),
            Err(KeyError::Secret(_))
        ));
        assert!(matches!(Key::parse("k"), Err(KeyError::Shape(_))));
        let bind = "key \"berth-xfr\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n";
        let keys = Key::parse_file(bind, "f").unwrap();
        assert_eq!(keys[0].text, "berth-xfr");
        assert_eq!(keys[0].algorithm, Algorithm::HmacSha256);
        let lines = "# keys\na:hmac-sha512:c2VjcmV0\n\nb.example.:hmac-sha1:c2VjcmV0\n";
        let keys = Key::parse_file(lines, "f").unwrap();
        assert_eq!(keys[1].text, "b.example");
        assert!(Key::parse_file("", "f").is_err());
        assert_eq!(format!("{:?}", keys[0]), "Key(a hmac-sha512)");
    }
}
