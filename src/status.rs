//! What berth is doing, for the people running it: whether Docker is
//! followed (and since when, or why not), every zone file's last reading,
//! and every container seen with what it got. The sources write it when
//! something changes; `/readyz` and the status page read it. Never on the
//! query path: a lock here is taken by a source or an HTTP request only.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Shared by the sources (writers) and the HTTP endpoints (readers).
#[derive(Debug, Default)]
pub struct Status {
    state: Mutex<State>,
}

#[derive(Clone, Debug, Default)]
pub struct State {
    pub docker: Docker,
    /// By path: the files under `--zones` as last read.
    pub zone_files: BTreeMap<PathBuf, ZoneFile>,
    /// By container ID: every container the Docker source knows of.
    pub containers: BTreeMap<String, Seen>,
    /// `None` with `--etcd off`.
    pub etcd: Option<Etcd>,
}

/// The etcd source, as the operator needs to know it.
#[derive(Clone, Debug, Default)]
pub struct Etcd {
    pub endpoints: Vec<String>,
    /// This berth's `--instance`: the last key segment of what it publishes.
    pub instance: String,
    pub connected: bool,
    /// The etcd revision berth's view of the prefix is at.
    pub revision: i64,
    /// When the prefix was last read whole.
    pub last_sync: Option<SystemTime>,
    /// Since when etcd could not be reached, and why; the last view stays
    /// served meanwhile.
    pub unreachable: Option<(SystemTime, String)>,
    /// The lease this berth's own keys hang on.
    pub lease: Option<i64>,
    /// Keys this berth has written under its lease.
    pub published: usize,
    /// Every key served from etcd (other writers' only).
    pub keys: BTreeMap<String, EtcdKey>,
}

impl Etcd {
    /// Keys served, by the instance that wrote them.
    pub fn by_instance(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for key in self.keys.values() {
            *counts.entry(key.instance.as_str()).or_default() += 1;
        }
        counts
    }
}

/// One key served from etcd.
#[derive(Clone, Debug, Default)]
pub struct EtcdKey {
    /// Who wrote it: the last key segment, less berth's `-N` suffix.
    pub instance: String,
    /// The names its records are served at (lower case, no final dot).
    pub names: Vec<String>,
}

/// The Docker source, as the operator needs to know it.
#[derive(Clone, Debug, Default)]
pub enum Docker {
    /// `--docker off`.
    #[default]
    Off,
    /// Started; the first listing is not in yet.
    Connecting { endpoint: String },
    /// Listed, and following the event stream.
    Following {
        endpoint: String,
        since: SystemTime,
        last_sync: SystemTime,
    },
    /// Cannot follow the daemon: unreachable, a call timed out, or the
    /// event stream ended.
    Unreachable {
        endpoint: String,
        since: SystemTime,
        reason: String,
        /// When the last listing was applied, if ever.
        last_sync: Option<SystemTime>,
        /// What became of the records the daemon's containers had.
        kept: Kept,
    },
}

/// The Docker records while the daemon cannot be followed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kept {
    /// There were none: berth never listed the containers, or none ran.
    #[default]
    Nothing,
    /// The last records are served with TTL 1, until `until` (`None`:
    /// `--stale-limit 0`, until the daemon is back).
    Stale { until: Option<SystemTime> },
    /// Served stale until `--stale-limit` ran out, then withdrawn.
    Withdrawn { at: SystemTime },
}

impl Docker {
    pub fn last_sync(&self) -> Option<SystemTime> {
        match self {
            Docker::Following { last_sync, .. } => Some(*last_sync),
            Docker::Unreachable { last_sync, .. } => *last_sync,
            Docker::Off | Docker::Connecting { .. } => None,
        }
    }

    /// One word for `/metrics`' `berth_docker_state`: `off`, `connecting`,
    /// `following`, `stale` (unreachable, the last records served with
    /// TTL 1) or `unreachable` (and no Docker records served).
    pub fn state_name(&self) -> &'static str {
        match self {
            Docker::Off => "off",
            Docker::Connecting { .. } => "connecting",
            Docker::Following { .. } => "following",
            Docker::Unreachable {
                kept: Kept::Stale { .. },
                ..
            } => "stale",
            Docker::Unreachable { .. } => "unreachable",
        }
    }

    /// Every value [`Docker::state_name`] takes.
    pub const STATE_NAMES: [&'static str; 5] =
        ["off", "connecting", "following", "stale", "unreachable"];
}

/// One master file's last reading.
#[derive(Clone, Debug, Default)]
pub struct ZoneFile {
    /// The names its last good reading gave, shared: every HTTP request
    /// copies the state, and a big zone has millions of them.
    pub names: Arc<Places>,
    /// Set while the file on disk fails to load (its last good records, if
    /// any, are still served).
    pub rejected: Option<String>,
}

/// The names a zone file gives (lower case, no final dot), each with the
/// file and line that first gives it records. All the names are one text
/// with a small entry apiece, not two `String`s a name. They are ordered
/// by a hash of the name, then the name: a million names sort in a
/// fraction of the time, and a lookup is still a binary search.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Places {
    /// The zone file and the files it includes, as the entries number them.
    files: Vec<PathBuf>,
    /// Every name, back to back.
    text: String,
    /// One per name, in the order of `text`.
    entries: Vec<Place>,
}

/// The order of [`Places`]: fixed, so that it does not depend on the run.
fn order_of(name: &str) -> (u64, &str) {
    let hasher = foldhash::fast::FixedState::with_seed(0x706c_6163_6573);
    (hasher.hash_one(name), name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    /// Where the name ends in `text`; it starts where the one before ends.
    end: u32,
    file: u32,
    line: u32,
}

/// Where a name is written: `zones/x.zone:3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub path: &'a Path,
    pub line: u32,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

impl Places {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `name` (lower case, no final dot) is first given records.
    pub fn get(&self, name: &str) -> Option<Location<'_>> {
        let wanted = order_of(name);
        let (mut low, mut high) = (0, self.entries.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match order_of(self.name_at(middle)).cmp(&wanted) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Some(self.location_at(middle)),
            }
        }
        None
    }

    /// Every name and where it is first given records, in no useful order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Location<'_>)> {
        (0..self.entries.len()).map(|at| (self.name_at(at), self.location_at(at)))
    }

    fn name_at(&self, at: usize) -> &str {
        let start = match at {
            0 => 0,
            _ => self.entries[at - 1].end as usize,
        };
        &self.text[start..self.entries[at].end as usize]
    }

    fn location_at(&self, at: usize) -> Location<'_> {
        let entry = self.entries[at];
        Location {
            path: &self.files[entry.file as usize],
            line: entry.line,
        }
    }
}

/// Gathers names in the order the files give them; [`PlacesBuilder::build`]
/// orders them and keeps the first place of each.
#[derive(Debug, Default)]
pub struct PlacesBuilder {
    files: Vec<PathBuf>,
    text: String,
    /// Each name's span of `text`, file and line, in the order added.
    added: Vec<(u32, Place)>,
}

impl PlacesBuilder {
    /// `files` are the paths the entries' file indices refer to; about
    /// `names` will be added.
    pub fn new(files: Vec<PathBuf>, names: usize) -> Self {
        PlacesBuilder {
            files,
            text: String::new(),
            added: Vec::with_capacity(names),
        }
    }

    /// Adds the name `write` appends to the text (lower case, no final
    /// dot), written in `files[file]` at `line`.
    pub fn add(&mut self, file: u32, line: u32, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        // Offsets are 32 bits: past 4 GiB of names, the rest go unlisted
        // (a zone that size is refused long before, by --max-zone-size).
        let Ok(end) = u32::try_from(self.text.len()) else {
            self.text.truncate(start);
            return;
        };
        // A name's records mostly follow each other: only its first counts.
        if let Some((last_start, last)) = self.added.last()
            && self.text[*last_start as usize..last.end as usize] == self.text[start..]
        {
            self.text.truncate(start);
            return;
        }
        let place = Place { end, file, line };
        self.added.push((start as u32, place));
    }

    pub fn build(self) -> Places {
        let PlacesBuilder { files, text, added } = self;
        let name = |start: u32, place: &Place| &text[start as usize..place.end as usize];
        let mut keyed: Vec<(u64, u32, Place)> = added
            .into_iter()
            .map(|(start, place)| (order_of(name(start, &place)).0, start, place))
            .collect();
        // By hash alone first, as comparing names is most of the cost; then
        // the runs of one hash (one name, or names that collide) by name.
        // Of equal names, the first added (the lowest start) comes first.
        keyed.sort_unstable_by_key(|&(hash, start, _)| (hash, start));
        for run in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_by(|a, b| name(a.1, &a.2).cmp(name(b.1, &b.2)).then(a.1.cmp(&b.1)));
            }
        }
        keyed.dedup_by(|later, first| {
            later.0 == first.0 && name(later.1, &later.2) == name(first.1, &first.2)
        });
        let mut sorted = String::with_capacity(keyed.iter().map(|k| name(k.1, &k.2).len()).sum());
        let entries = keyed
            .iter()
            .map(|(_, start, place)| {
                sorted.push_str(name(*start, place));
                Place {
                    end: sorted.len() as u32,
                    ..*place
                }
            })
            .collect();
        Places {
            files,
            text: sorted,
            entries,
        }
    }
}

/// One container the Docker source saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Its Docker name, without the leading `/`.
    pub name: String,
    /// The names it is served under; empty when hidden.
    pub names: Vec<String>,
    /// Why it is not served (`unhealthy`, `berth.enable=false`, …).
    pub hidden: Option<String>,
    /// Names and labels that could not be served, with the reason.
    pub skipped: Vec<String>,
}

impl Status {
    /// A copy of the whole state, for a page or a probe to render at leisure.
    pub fn state(&self) -> State {
        self.lock().clone()
    }

    /// Runs `change` on the state. Writers only; keep it short.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A writer that panicked left whole values behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` once berth serves everything it was asked to: the first Docker
    /// listing is in (or Docker is off), the daemon is reachable, and every
    /// zone file loaded. Otherwise the first reason, in one line.
    pub fn readiness(&self) -> Result<(), String> {
        let state = self.lock();
        match &state.docker {
            Docker::Off | Docker::Following { .. } => {}
            Docker::Connecting { endpoint } => {
                return Err(format!(
                    "docker: first listing from {endpoint} not done yet"
                ));
            }
            Docker::Unreachable {
                endpoint,
                since,
                reason,
                kept,
                ..
            } => {
                let kept = match kept {
                    Kept::Nothing => String::new(),
                    Kept::Stale { until: None } => {
                        "; serving the last records with TTL 1".to_string()
                    }
                    Kept::Stale { until: Some(until) } => format!(
                        "; serving the last records with TTL 1 until {}",
                        rfc3339(*until)
                    ),
                    Kept::Withdrawn { at } => {
                        format!("; its records withdrawn at {}", rfc3339(*at))
                    }
                };
                return Err(format!(
                    "docker: {endpoint} unreachable since {}: {reason}{kept}",
                    rfc3339(*since)
                ));
            }
        }
        for (path, file) in &state.zone_files {
            if let Some(reason) = &file.rejected {
                return Err(format!("zone file {} rejected: {reason}", path.display()));
            }
        }
        Ok(())
    }
}

/// `2026-12-02T10:22:48Z`: UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_docker_synced_and_files_loaded() {
        let status = Status::default();
        assert_eq!(status.readiness(), Ok(()));
        status.update(|s| {
            s.docker = Docker::Connecting {
                endpoint: "unix:///x".into(),
            }
        });
        assert!(status.readiness().unwrap_err().contains("first listing"));
        let now = SystemTime::now();
        status.update(|s| {
            s.docker = Docker::Following {
                endpoint: "unix:///x".into(),
                since: now,
                last_sync: now,
            }
        });
        assert_eq!(status.readiness(), Ok(()));
        status.update(|s| {
            s.zone_files.insert(
                "z/a.zone".into(),
                ZoneFile {
                    names: Arc::default(),
                    rejected: Some("z/a.zone:3: bad".into()),
                },
            )
        });
        let reason = status.readiness().unwrap_err();
        assert!(reason.contains("z/a.zone rejected"), "{reason}");
    }

    #[test]
    fn places_are_sorted_and_keep_the_first_line_of_each_name() {
        let mut builder = PlacesBuilder::new(vec!["z/a.zone".into(), "z/hosts".into()], 4);
        for (file, line, name) in [(0, 3, "web"), (1, 1, "db"), (0, 9, "web"), (0, 4, "")] {
            builder.add(file, line, |text| text.push_str(name));
        }
        let places = builder.build();
        let mut listed: Vec<(&str, String)> = places
            .iter()
            .map(|(name, at)| (name, at.to_string()))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                ("", "z/a.zone:4".to_string()),
                ("db", "z/hosts:1".into()),
                ("web", "z/a.zone:3".into()),
            ]
        );
        assert_eq!(places.get("web").unwrap().to_string(), "z/a.zone:3");
        assert_eq!(places.get("db").unwrap().line, 1);
        assert!(places.get("www").is_none() && places.get("a").is_none());
        assert_eq!(places.get("").unwrap().line, 4);
    }
}
