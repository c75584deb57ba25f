//! Static records from RFC 1035 master files: every `*.zone` in the zone
//! directory. A file whose origin is a `--zone` adds records to it; any other
//! origin is a zone of its own. A file that fails to parse keeps its last
//! good records, and the log says which file, which line and why.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::txt::Parser;
use tokio::sync::Notify;

use crate::registry::{Change, Entity, Record, RegistryHandle, SourceId};

/// How often the directory is checked for changed files.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ZoneFileError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Content { path: PathBuf, reason: String },
}

/// A file's identity for change detection: modification time and size.
type Fingerprint = (Option<SystemTime>, u64);

/// The zone directory as last read: what each file contributed.
pub struct ZoneDir {
    dir: PathBuf,
    /// The `--zone`s; a file for one of them adds to it instead of
    /// declaring a zone of its own.
    configured: Vec<Name>,
    /// TTL for the PTR records derived from addresses in `--zone` files.
    ttl: u32,
    seen: HashMap<PathBuf, Fingerprint>,
    loaded: HashMap<PathBuf, Entity>,
}

impl ZoneDir {
    pub fn new(dir: PathBuf, configured: Vec<Name>, ttl: u32) -> Self {
        ZoneDir {
            dir,
            configured,
            ttl,
            seen: HashMap::new(),
            loaded: HashMap::new(),
        }
    }

    /// Reads files that changed since the last scan (all of them when
    /// `force`), and returns the registry changes that bring it up to date.
    /// Broken files are logged and keep their last good records.
    pub fn scan(&mut self, force: bool) -> Vec<Change> {
        let mut changes = Vec::new();
        let files = match zone_files(&self.dir) {
            Ok(files) => files,
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot read the zone directory; keeping what was loaded");
                return changes;
            }
        };
        for (path, fingerprint) in &files {
            if !force && self.seen.get(path) == Some(fingerprint) {
                continue;
            }
            self.seen.insert(path.clone(), *fingerprint);
            match load_file(path, &self.configured, self.ttl) {
                Ok(entity) => {
                    tracing::info!(file = %path.display(), records = entity.records.len(), "zone file loaded");
                    if self.loaded.get(path) != Some(&entity) {
                        self.loaded.insert(path.clone(), entity.clone());
                        changes.push(Change::Upsert {
                            source: SourceId::ZoneFiles,
                            entity,
                        });
                    }
                }
                Err(error) => {
                    let kept = self.loaded.contains_key(path);
                    tracing::error!(%error, kept_last_good = kept, "zone file rejected");
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .seen
            .keys()
            .filter(|path| !files.iter().any(|(p, _)| p == *path))
            .cloned()
            .collect();
        for path in gone {
            self.seen.remove(&path);
            if let Some(entity) = self.loaded.remove(&path) {
                tracing::info!(file = %path.display(), "zone file removed");
                changes.push(Change::Remove {
                    source: SourceId::ZoneFiles,
                    id: entity.id,
                });
            }
        }
        changes
    }

    /// Keeps the registry in step with the directory: polls for changes,
    /// and re-reads every file when `reload` is notified (SIGHUP).
    pub async fn watch(mut self, registry: RegistryHandle, reload: Arc<Notify>) {
        loop {
            let force = tokio::select! {
                _ = reload.notified() => true,
                _ = tokio::time::sleep(POLL_INTERVAL) => false,
            };
            for change in self.scan(force) {
                if registry.send(change).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn zone_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, Fingerprint)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("zone") {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            files.push((path, (meta.modified().ok(), meta.len())));
        }
    }
    files.sort();
    Ok(files)
}

/// Parses one master file into an entity.
pub fn load_file(path: &Path, configured: &[Name], ttl: u32) -> Result<Entity, ZoneFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ZoneFileError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let default_origin = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| Name::from_ascii(stem).ok())
        .map(|mut name| {
            name.set_fqdn(true);
            name
        });
    let parse =
        |text: &str| Parser::new(text, Some(path.to_path_buf()), default_origin.clone()).parse();
    let (origin, sets) = parse(&text).map_err(|error| ZoneFileError::Parse {
        path: path.to_path_buf(),
        line: locate_error(&text, &parse),
        reason: error.to_string(),
    })?;
    let content = |reason: String| ZoneFileError::Content {
        path: path.to_path_buf(),
        reason,
    };

    let origin = origin.to_lowercase();
    let is_configured = configured.contains(&origin);
    let mut records = Vec::new();
    let mut has_soa = false;
    for set in sets.values() {
        for rr in set.records_without_rrsigs() {
            if rr.dns_class != DNSClass::IN {
                return Err(content(format!("{}: only class IN is served", rr.name)));
            }
            if !origin.zone_of(&rr.name) {
                return Err(content(format!(
                    "{} is outside the origin {origin}",
                    rr.name
                )));
            }
            has_soa |= rr.record_type() == RecordType::SOA && rr.name == origin;
            records.push(Record::new(rr.name.clone(), rr.ttl, rr.data.clone()));
        }
    }
    if !is_configured && !has_soa {
        return Err(content(format!(
            "{origin} is not a --zone, so the file must have its own SOA record"
        )));
    }
    if is_configured {
        // Addresses in berth's own zones answer reverse lookups too.
        let reverse: Vec<Record> = records
            .iter()
            .filter(|r| !r.name.is_wildcard())
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(Record::reverse(a.0.into(), ttl, r.name.clone())),
                RData::AAAA(aaaa) => Some(Record::reverse(aaaa.0.into(), ttl, r.name.clone())),
                _ => None,
            })
            .collect();
        records.extend(reverse);
    }
    let mut entity = Entity::new(path.display().to_string(), records);
    entity.declares_zone = (!is_configured).then_some(origin);
    Ok(entity)
}

/// hickory's parser reports what went wrong but not where. The failing line
/// is the first one at which a prefix of the file stops parsing; prefixes
/// are cut only where no parenthesised record is left open.
fn locate_error<T, E>(text: &str, parse: &dyn Fn(&str) -> Result<T, E>) -> usize {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut ends = Vec::with_capacity(lines.len());
    let (mut depth, mut offset) = (0i32, 0usize);
    for line in &lines {
        depth += paren_balance(line);
        offset += line.len();
        ends.push((offset, depth <= 0));
    }
    let fails = |k: usize| {
        // Extend an open record to the line that closes it.
        let end = ends[k - 1..]
            .iter()
            .find(|(_, closed)| *closed)
            .map_or(text.len(), |(end, _)| *end);
        parse(&text[..end]).is_err()
    };
    let (mut lo, mut hi) = (1usize, lines.len().max(1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

/// Opening minus closing parentheses outside comments and quoted strings.
fn paren_balance(line: &str) -> i32 {
    let (mut balance, mut quoted, mut escaped) = (0, false, false);
    for c in line.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => break,
            '(' if !quoted => balance += 1,
            ')' if !quoted => balance -= 1,
            _ => {}
        }
    }
    balance
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn zone() -> Vec<Name> {
        vec![Name::from_ascii("apps.local.").unwrap()]
    }

    #[test]
    fn configured_zone_file_adds_records_and_ptrs() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nweb IN A 192.0.2.7\n*.x IN A 192.0.2.8\n",
        );
        let entity = load_file(&path, &zone(), 5).unwrap();
        assert!(entity.declares_zone.is_none());
        let ptrs: Vec<_> = entity
            .records
            .iter()
            .filter(|r| r.record_type() == RecordType::PTR)
            .collect();
        assert_eq!(ptrs.len(), 1);
        assert_eq!(ptrs[0].name.to_ascii(), "7.2.0.192.in-addr.arpa.");
    }

    #[test]
    fn other_origins_need_a_soa() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "example.test.zone",
            "$TTL 60\nwww IN A 192.0.2.1\n",
        );
        assert!(matches!(
            load_file(&path, &zone(), 5),
            Err(ZoneFileError::Content { .. })
        ));
        let soa = "$TTL 60\n@ IN SOA ns hostmaster (1 2 3 4 5)\n@ IN NS ns\nns IN A 192.0.2.1\n";
        let path = write(dir.path(), "example.test.zone", soa);
        let entity = load_file(&path, &zone(), 5).unwrap();
        assert_eq!(entity.declares_zone.unwrap().to_ascii(), "example.test.");
    }

    #[test]
    fn errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "$TTL 60\n@ IN SOA ns hostmaster (\n 1 2 3\n 4 5 )\nok IN A 192.0.2.1\nbad IN A 300.1.1.1\nlater IN A 192.0.2.3\n";
        let path = write(dir.path(), "example.test.zone", text);
        match load_file(&path, &zone(), 5) {
            Err(ZoneFileError::Parse { line, .. }) => assert_eq!(line, 6),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn a_broken_file_keeps_its_last_good_records() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nweb IN A 192.0.2.7\n",
        );
        let mut zones = ZoneDir::new(dir.path().to_path_buf(), zone(), 5);
        assert_eq!(zones.scan(false).len(), 1);
        write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nweb IN A not-an-address\n",
        );
        assert!(zones.scan(true).is_empty());
        std::fs::remove_file(dir.path().join("apps.local.zone")).unwrap();
        assert!(matches!(
            zones.scan(false).as_slice(),
            [Change::Remove { .. }]
        ));
    }
}
