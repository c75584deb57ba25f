//! `--state-dir`: what berth keeps across restarts. Today that is each
//! `--zone`'s last SOA serial, in `serials` (`apps.local. 1764671000`, one
//! zone a line). A serial is `max(serial + 1, unix time)`; in memory only,
//! a restart within the second of a change, or after a burst of changes
//! that ran ahead of the clock, would serve a serial a secondary already
//! has for different data, or a lower one it ignores (RFC 1982). With the
//! file, the first serial of a run is above the last of the one before.
//!
//! The file is rewritten (a new file renamed over the old) after every
//! publish that moved a serial, by a task off the query path. A crash
//! between a publish and its rewrite loses at most that last move.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::registry::name::{self, to_text};
use crate::registry::{SnapshotCell, ZoneKind};

const SERIALS: &str = "serials";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("--state-dir {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The state directory, once checked.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Creates `dir` if need be and checks that berth can write there, so a
    /// mistake shows at start-up, not at the first change.
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        let io = |source| StateError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let probe = dir.join(".berth-write-test");
        std::fs::write(&probe, b"").map_err(io)?;
        std::fs::remove_file(&probe).map_err(io)?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The serials the last run left, by apex key; none if there is no
    /// file yet. A line that does not read is skipped with a warning.
    pub fn serials(&self) -> HashMap<Box<[u8]>, u32> {
        let path = self.dir.join(SERIALS);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "state: cannot read the serials; starting from the clock");
                return HashMap::new();
            }
        };
        parse(&text, &path)
    }

    /// Rewrites the serials file whenever a publish moves a configured
    /// zone's serial, until `stop` (and once more then).
    pub async fn keep_serials(
        self,
        snapshots: SnapshotCell,
        mut published: watch::Receiver<()>,
        stop: CancellationToken,
    ) {
        let mut written = BTreeMap::new();
        let mut last = false;
        loop {
            let serials = current(&snapshots);
            if serials != written {
                match self.write(&serials) {
                    Ok(()) => written = serials,
                    Err(error) => tracing::warn!(
                        dir = %self.dir.display(),
                        %error,
                        "state: cannot save the zones' serials"
                    ),
                }
            }
            if last {
                return;
            }
            // Stopping, write once more: a change published just before
            // is not lost.
            tokio::select! {
                changed = published.changed() => last = changed.is_err(),
                () = stop.cancelled() => last = true,
            }
        }
    }

    fn write(&self, serials: &BTreeMap<String, u32>) -> std::io::Result<()> {
        let path = self.dir.join(SERIALS);
        let partial = self.dir.join(format!("{SERIALS}.new"));
        let mut file = std::fs::File::create(&partial)?;
        for (zone, serial) in serials {
            writeln!(file, "{zone} {serial}")?;
        }
        file.sync_all()?;
        std::fs::rename(&partial, &path)
    }
}

/// Each `--zone`'s serial as published now (zone files' own zones carry
/// the serial their file gives).
fn current(snapshots: &SnapshotCell) -> BTreeMap<String, u32> {
    snapshots
        .load()
        .zones
        .iter()
        .filter(|zone| zone.kind == ZoneKind::Configured)
        .map(|zone| (to_text(&zone.apex), zone.serial))
        .collect()
}

fn parse(text: &str, path: &Path) -> HashMap<Box<[u8]>, u32> {
    let mut serials = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let entry = (|| {
            let zone = Name::from_ascii(fields.next()?).ok()?;
            let serial: u32 = fields.next()?.parse().ok()?;
            fields
                .next()
                .is_none()
                .then_some((name::key(&zone), serial))
        })();
        match entry {
            Some((key, serial)) => {
                serials.insert(key, serial);
            }
            None => tracing::warn!(
                "state: {}:{}: not `ZONE SERIAL`; skipped",
                path.display(),
                number + 1
            ),
        }
    }
    serials
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("sub")).unwrap();
        let serials = BTreeMap::from([("apps.local.".to_string(), 4_000_000_000)]);
        state.write(&serials).unwrap();
        let read = state.serials();
        let apex = name::key(&Name::from_ascii("Apps.Local.").unwrap());
        assert_eq!(read.get(&apex), Some(&4_000_000_000));
        assert_eq!(read.len(), 1);

        let text = "# comment\napps.local. x\nb.test. 5 6\nc.test. 7\n";
        let parsed = parse(text, Path::new("serials"));
        assert_eq!(parsed.len(), 1);
    }

    #[test]
    fn a_directory_berth_cannot_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let error = StateDir::open(&file.join("state")).unwrap_err();
        assert!(error.to_string().starts_with("--state-dir "), "{error}");
    }
}
