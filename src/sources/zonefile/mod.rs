//! Static records from RFC 1035 master files: every `*.zone` in the zone
//! directory. A file whose origin is a `--zone` adds records to it; any other
//! origin is a zone of its own. A file that fails to parse keeps its last
//! good records, and the log says which file, which line and why.
//!
//! Files are read on a thread of their own, never on the runtime that
//! serves TCP and HTTP: a large zone takes seconds to read, and the DNS
//! path must not wait on it. Each file's records reach the registry as one
//! change, so readers see the old version or the new one, never a part.

pub mod confine;
mod lexer;
mod rdata;
mod reader;

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};
use tokio::sync::oneshot;

pub use confine::Limits;
use confine::{Confinement, Fingerprint};
use reader::{FilesRead, ReadError, ZoneText, read_zone};

use crate::registry::{Change, Entity, Record, RegistryHandle, SourceId};
use crate::status::{Places, PlacesBuilder, Status, ZoneFile};

/// How often the files are checked for changes.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ZoneFileError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{path}: {reason}")]
    Content { path: PathBuf, reason: String },
}

/// One zone file as loaded.
#[derive(Debug)]
pub struct Loaded {
    pub entity: Entity,
    /// Records the files hold, not counting the PTRs derived from them.
    pub written: usize,
    /// Each owner name and the file and line that first gives it records,
    /// for the status page.
    pub places: Places,
}

/// What the next reading of a file is compared with: the records are in
/// the registry, and holding a second copy here to compare would double a
/// big zone's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Of the records whatever their order, so that moving a line is not a
    /// change to publish.
    digest: u128,
    written: usize,
}

impl Loaded {
    pub fn summary(&self) -> Summary {
        Summary {
            digest: digest(&self.entity),
            written: self.written,
        }
    }
}

/// 128 bits over the entity's records as a multiset: each record hashed
/// once, and two sums of those hashes, one of them remixed so that the
/// halves differ. Two readings with the same digest are taken as the same
/// records: a miss takes two records' 64-bit hashes colliding, a 2^-64
/// chance per edit, for files an operator writes.
fn digest(entity: &Entity) -> u128 {
    let hasher = foldhash::quality::FixedState::with_seed(0x7a6f_6e65_6669_6c65);
    let (mut plain, mut remixed) = (0u64, 0u64);
    for record in &entity.records {
        let hash = hasher.hash_one((&record.name, record.ttl, &record.data));
        plain = plain.wrapping_add(hash);
        remixed = remixed.wrapping_add(remix(hash));
    }
    let zone = hasher.hash_one(&entity.declares_zone);
    (u128::from(plain ^ zone) << 64) | u128::from(remixed)
}

/// SplitMix64's finalizer: a bijection that scatters every bit.
fn remix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What berth knows of one `*.zone` file.
struct Tracked {
    /// Every file the last read looked at (the zone file and its includes)
    /// as it was then; a change to any of them means reading again.
    files: FilesRead,
    /// The last good reading, whose records stay served while the file is
    /// broken.
    loaded: Option<Summary>,
}

/// The zone directory as last read.
pub struct ZoneDir {
    dir: PathBuf,
    confinement: Confinement,
    /// The `--zone`s; a file for one of them adds to it instead of
    /// declaring a zone of its own.
    configured: Vec<Name>,
    /// TTL for the PTR records derived from addresses in `--zone` files.
    ttl: u32,
    tracked: BTreeMap<PathBuf, Tracked>,
    /// Where each file's last reading is shown to the operator.
    status: Arc<Status>,
}

impl ZoneDir {
    pub fn new(
        dir: PathBuf,
        configured: Vec<Name>,
        ttl: u32,
        limits: Limits,
    ) -> std::io::Result<Self> {
        Ok(ZoneDir {
            confinement: Confinement::new(&dir, limits)?,
            dir,
            configured,
            ttl,
            tracked: BTreeMap::new(),
            status: Arc::default(),
        })
    }

    /// Shows each file's last reading in `status` (`/readyz`, the status
    /// page).
    pub fn reporting_to(mut self, status: Arc<Status>) -> Self {
        self.status = status;
        self
    }

    /// Reads files that changed since the last scan, or whose includes did
    /// (all of them when `force`), and returns the registry changes that
    /// bring it up to date. Broken files are logged and keep their last
    /// good records.
    pub fn scan(&mut self, force: bool) -> Vec<Change> {
        let mut changes = Vec::new();
        let paths = match zone_files(&self.dir) {
            Ok(paths) => paths,
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot read the zone directory; keeping what was loaded");
                return changes;
            }
        };
        for path in &paths {
            let changed = self.tracked.get(path).is_none_or(|tracked| {
                tracked
                    .files
                    .iter()
                    .any(|(file, seen)| Fingerprint::current(file) != *seen)
            });
            if !force && !changed {
                continue;
            }
            let (result, files) = load_file(path, &self.configured, self.ttl, &self.confinement);
            let tracked = self.tracked.entry(path.clone()).or_insert(Tracked {
                files: Vec::new(),
                loaded: None,
            });
            tracked.files = files;
            match result {
                Ok(loaded) => {
                    let summary = loaded.summary();
                    log_loaded(path, tracked.loaded.as_ref(), &summary);
                    report(&self.status, path, Ok(loaded.places));
                    if tracked.loaded != Some(summary) {
                        changes.push(Change::Upsert {
                            source: SourceId::ZoneFiles,
                            entity: loaded.entity,
                        });
                        tracked.loaded = Some(summary);
                    }
                }
                Err(error) => {
                    let kept = tracked.loaded.is_some();
                    tracing::error!(%error, kept_last_good = kept, "zone file rejected");
                    report(&self.status, path, Err(error.to_string()));
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .tracked
            .keys()
            .filter(|path| !paths.contains(path))
            .cloned()
            .collect();
        for path in gone {
            self.status.update(|state| state.zone_files.remove(&path));
            if let Some(loaded) = self.tracked.remove(&path).and_then(|t| t.loaded) {
                tracing::warn!(file = %path.display(), withdrawn = loaded.written, "zone file removed; its records are no longer served");
                changes.push(Change::Remove {
                    source: SourceId::ZoneFiles,
                    id: entity_id(&path),
                });
            }
        }
        changes
    }

    /// Starts the thread that keeps the registry in step with the files:
    /// a first reading of every file, then a poll each second and a full
    /// re-read on each message from `reload` (SIGHUP). The returned
    /// receiver completes once the first reading is published.
    pub fn spawn(
        mut self,
        registry: RegistryHandle,
        reload: Receiver<()>,
    ) -> std::io::Result<oneshot::Receiver<()>> {
        let (ready, first_read) = oneshot::channel();
        std::thread::Builder::new()
            .name("zone-files".into())
            .spawn(move || {
                let send_all = |changes: Vec<Change>| {
                    changes
                        .into_iter()
                        .try_for_each(|change| registry.blocking_send(change))
                };
                if send_all(self.scan(true)).is_err() || registry.blocking_flush().is_err() {
                    return;
                }
                let _ = ready.send(());
                loop {
                    let force = match reload.recv_timeout(POLL_INTERVAL) {
                        Ok(()) => {
                            // Several signals while reading count as one.
                            while reload.try_recv().is_ok() {}
                            true
                        }
                        Err(RecvTimeoutError::Timeout) => false,
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    if send_all(self.scan(force)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(first_read)
    }
}

/// Shows a file's latest reading: the names it gives, or why it was
/// rejected beside the names it still gives from its last good one.
fn report(status: &Status, path: &Path, reading: Result<Places, String>) {
    status.update(|state| {
        let file = state.zone_files.entry(path.to_path_buf()).or_default();
        match reading {
            Ok(places) => {
                *file = ZoneFile {
                    names: Arc::new(places),
                    rejected: None,
                };
            }
            Err(reason) => file.rejected = Some(reason),
        }
    });
}

/// INFO for a load, WARN when a file that served records now has none or
/// has lost more than half of them: applied all the same, as the operator
/// may mean it, but said loudly.
fn log_loaded(path: &Path, before: Option<&Summary>, after: &Summary) {
    let file = path.display();
    let records = after.written;
    match before.map(|b| b.written) {
        Some(before) if before > 0 && records * 2 < before => {
            tracing::warn!(%file, before, after = records, "zone file lost most of its records; serving what it holds now");
        }
        _ => tracing::info!(%file, records, "zone file loaded"),
    }
}

/// The `*.zone` entries of the directory, whatever they are: one that is
/// not a regular file is refused when read, and said so.
fn zone_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("zone") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one zone file (and its includes) into an entity. Returns the files
/// it read either way.
pub fn load_file(
    path: &Path,
    configured: &[Name],
    ttl: u32,
    confinement: &Confinement,
) -> (Result<Loaded, ZoneFileError>, FilesRead) {
    let default_origin = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| Name::from_ascii(stem).ok())
        .map(|mut name| {
            name.set_fqdn(true);
            name
        })
        .unwrap_or_else(Name::root);
    let (text, files) = read_zone(path, default_origin, confinement);
    let result = text.map_err(ZoneFileError::from).and_then(|text| {
        let places = places(&text, &files);
        let mut loaded = entity(path, configured, ttl, text.origin, text.records)?;
        loaded.places = places;
        Ok(loaded)
    });
    (result, files)
}

/// The ID a zone file's entity has in the registry.
fn entity_id(path: &Path) -> String {
    path.display().to_string()
}

/// Each owner name and where it is first given records.
fn places(text: &ZoneText, files: &FilesRead) -> Places {
    let paths = files.iter().map(|(path, _)| path.clone()).collect();
    let mut places = PlacesBuilder::new(paths, text.records.len());
    for (record, &(file, line)) in text.records.iter().zip(&text.positions) {
        places.add(file, line, |out| write_lowercase(&record.name, out));
    }
    places.build()
}

/// `name` as the status page lists it: lower case, without the final dot.
fn write_lowercase(name: &Name, out: &mut String) {
    let start = out.len();
    for (at, label) in name.iter().enumerate() {
        let plain = label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*'));
        if !plain {
            // Escapes and the like, as hickory writes them.
            out.truncate(start);
            let ascii = name.to_ascii();
            out.push_str(
                &ascii
                    .strip_suffix('.')
                    .unwrap_or(&ascii)
                    .to_ascii_lowercase(),
            );
            return;
        }
        if at > 0 {
            out.push('.');
        }
        // Checked just above: every byte is ASCII.
        out.push_str(std::str::from_utf8(label).unwrap_or_default());
    }
    out[start..].make_ascii_lowercase();
}

fn entity(
    path: &Path,
    configured: &[Name],
    ttl: u32,
    origin: Name,
    mut records: Vec<Record>,
) -> Result<Loaded, ZoneFileError> {
    let content = |reason: String| ZoneFileError::Content {
        path: path.to_path_buf(),
        reason,
    };
    let origin = origin.to_lowercase();
    let is_configured = configured.contains(&origin);
    let mut soas = 0;
    for record in &records {
        if !origin.zone_of(&record.name) {
            return Err(content(format!(
                "{} is outside the origin {origin}",
                record.name
            )));
        }
        if record.record_type() == RecordType::SOA && record.name == origin {
            soas += 1;
        }
    }
    if soas > 1 {
        return Err(content(format!("{origin} has {soas} SOA records")));
    }
    if !is_configured && soas == 0 {
        return Err(content(format!(
            "{origin} is not a --zone, so the file must have its own SOA record"
        )));
    }
    let written = records.len();
    if is_configured {
        // Addresses in berth's own zones answer reverse lookups too.
        let address = |r: &Record| match &r.data {
            _ if r.name.is_wildcard() => None,
            RData::A(a) => Some(IpAddr::from(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::from(aaaa.0)),
            _ => None,
        };
        // Counted first: growing a big zone's records twice over would
        // copy them all.
        let count = records.iter().filter(|r| address(r).is_some()).count();
        records.reserve_exact(count);
        for at in 0..written {
            if let Some(ip) = address(&records[at]) {
                let ptr = Record::reverse(ip, ttl, records[at].name.clone());
                records.push(ptr);
            }
        }
    }
    let mut entity = Entity::new(entity_id(path), records);
    entity.declares_zone = (!is_configured).then_some(origin);
    Ok(Loaded {
        entity,
        written,
        places: Places::default(),
    })
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

    fn load(dir: &Path, path: &Path) -> Result<Loaded, ZoneFileError> {
        let confinement = Confinement::new(dir, Limits::default()).unwrap();
        load_file(path, &zone(), 5, &confinement).0
    }

    #[test]
    fn each_name_knows_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "hosts", "; hosts\ndb IN A 192.0.2.5\n");
        let path = write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\n\nWeb IN A 192.0.2.1\n$INCLUDE hosts\nweb IN A 192.0.2.2\n",
        );
        let loaded = load(dir.path(), &path).unwrap();
        let place = |name: &str| loaded.places.get(name).unwrap().to_string();
        assert_eq!(place("web.apps.local"), format!("{}:3", path.display()));
        let hosts = dir.path().join("hosts");
        assert_eq!(place("db.apps.local"), format!("{}:2", hosts.display()));
        // Moved, not changed: nothing to publish.
        let moved = write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nWeb IN A 192.0.2.1\n$INCLUDE hosts\n\nweb IN A 192.0.2.2\n",
        );
        assert_eq!(
            load(dir.path(), &moved).unwrap().summary(),
            loaded.summary()
        );
        let changed = write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nWeb IN A 192.0.2.1\n$INCLUDE hosts\n\nweb IN A 192.0.2.3\n",
        );
        assert_ne!(
            load(dir.path(), &changed).unwrap().summary(),
            loaded.summary()
        );
    }

    fn zone_dir(dir: &Path) -> ZoneDir {
        ZoneDir::new(dir.to_path_buf(), zone(), 5, Limits::default()).unwrap()
    }

    #[test]
    fn configured_zone_file_adds_records_and_ptrs() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "apps.local.zone",
            "$TTL 60\nweb IN A 192.0.2.7\n*.x IN A 192.0.2.8\n",
        );
        let loaded = load(dir.path(), &path).unwrap();
        assert!(loaded.entity.declares_zone.is_none());
        assert_eq!(loaded.written, 2);
        let ptrs: Vec<_> = loaded
            .entity
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
            load(dir.path(), &path),
            Err(ZoneFileError::Content { .. })
        ));
        let soa = "$TTL 60\n@ IN SOA ns hostmaster (1 2 3 4 5)\n@ IN NS ns\nns IN A 192.0.2.1\n";
        let path = write(dir.path(), "example.test.zone", soa);
        let loaded = load(dir.path(), &path).unwrap();
        assert_eq!(
            loaded.entity.declares_zone.unwrap().to_ascii(),
            "example.test."
        );
    }

    #[test]
    fn errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "$TTL 60\n@ IN SOA ns hostmaster (\n 1 2 3\n 4 5 )\nok IN A 192.0.2.1\nbad IN A 300.1.1.1\nlater IN A 192.0.2.3\n";
        let path = write(dir.path(), "example.test.zone", text);
        match load(dir.path(), &path) {
            Err(ZoneFileError::Read(error)) => assert_eq!(error.line, Some(6)),
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
        let mut zones = zone_dir(dir.path());
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

    #[test]
    fn an_edited_include_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "apps.local.zone", "$TTL 60\n$INCLUDE hosts\n");
        write(dir.path(), "hosts", "web A 192.0.2.7\n");
        let mut zones = zone_dir(dir.path());
        assert_eq!(zones.scan(false).len(), 1);
        assert!(zones.scan(false).is_empty(), "nothing changed");
        write(dir.path(), "hosts", "web A 192.0.2.7\nweb2 A 192.0.2.8\n");
        match zones.scan(false).as_slice() {
            [Change::Upsert { entity, .. }] => assert_eq!(entity.records.len(), 4),
            other => panic!("expected one upsert, got {other:?}"),
        }
    }
}
