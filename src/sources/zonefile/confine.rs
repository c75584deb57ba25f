//! Which files a zone may read, and how much of them. Everything berth reads
//! for a zone — the file itself and whatever it `$INCLUDE`s — must be a
//! regular file inside the zone directory once symlinks are resolved, and
//! no larger than the limits. A FIFO, a device or a path elsewhere is
//! refused before a byte is read, so one bad name cannot block the loader
//! or fill memory.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Bounds on what one zone may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in any one file.
    pub file_bytes: u64,
    /// Bytes in a zone's files together, an included file counted each
    /// time it is included.
    pub zone_bytes: u64,
}

/// Generous: a 1,000,000-name zone is about 40 MB of text.
pub const DEFAULT_FILE_BYTES: u64 = 512 << 20;
pub const DEFAULT_ZONE_BYTES: u64 = 2 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: DEFAULT_FILE_BYTES,
            zone_bytes: DEFAULT_ZONE_BYTES,
        }
    }
}

/// A file's identity for change detection. The inode and change time catch
/// a file replaced by rename even when its size and mtime match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    fn of(meta: &Metadata) -> Self {
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The fingerprint of what `path` names now (following symlinks), or
    /// `None` when nothing is there.
    pub fn current(path: &Path) -> Option<Self> {
        std::fs::metadata(path)
            .ok()
            .map(|meta| Fingerprint::of(&meta))
    }
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} resolves to {resolved}, outside the zone directory {root}")]
    Outside {
        path: PathBuf,
        resolved: PathBuf,
        root: PathBuf,
    },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is larger than --max-zone-file-size ({limit} bytes)")]
    TooLarge { path: PathBuf, limit: u64 },
}

/// The zone directory, resolved once, and the limits on reading under it.
#[derive(Clone, Debug)]
pub struct Confinement {
    root: PathBuf,
    pub limits: Limits,
}

impl Confinement {
    pub fn new(dir: &Path, limits: Limits) -> std::io::Result<Self> {
        Ok(Confinement {
            root: std::fs::canonicalize(dir)?,
            limits,
        })
    }

    /// Reads `path` whole if it is a regular file under the zone directory
    /// and within the per-file limit.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, Refusal> {
        let unreadable = |e: std::io::Error| Refusal::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let resolved = std::fs::canonicalize(path).map_err(unreadable)?;
        if !resolved.starts_with(&self.root) {
            return Err(Refusal::Outside {
                path: path.to_path_buf(),
                resolved,
                root: self.root.clone(),
            });
        }
        // Look before opening: opening a FIFO for reading blocks until a
        // writer appears.
        let meta = std::fs::metadata(&resolved).map_err(unreadable)?;
        self.check(path, &meta)?;
        // Non-blocking in case the file was swapped for a FIFO since, and
        // checked again on what was actually opened.
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&resolved)
            .map_err(unreadable)?;
        self.check(path, &file.metadata().map_err(unreadable)?)?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // The file may grow while it is read: never past the limit.
        file.take(self.limits.file_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() as u64 > self.limits.file_bytes {
            return Err(self.too_large(path));
        }
        Ok(bytes)
    }

    fn check(&self, path: &Path, meta: &Metadata) -> Result<(), Refusal> {
        let kind = meta.file_type();
        if !kind.is_file() {
            let kind = if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_char_device() || kind.is_block_device() {
                "a device"
            } else if kind.is_dir() {
                "a directory"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a file"
            };
            return Err(Refusal::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
        if meta.len() > self.limits.file_bytes {
            return Err(self.too_large(path));
        }
        Ok(())
    }

    fn too_large(&self, path: &Path) -> Refusal {
        Refusal::TooLarge {
            path: path.to_path_buf(),
            limit: self.limits.file_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confined(dir: &Path) -> Confinement {
        Confinement::new(dir, Limits::default()).unwrap()
    }

    #[test]
    fn reads_regular_files_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.zone"), "x").unwrap();
        assert_eq!(
            confined(dir.path())
                .read(&dir.path().join("a.zone"))
                .unwrap(),
            b"x"
        );
    }

    #[test]
    fn refuses_what_escapes_or_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(outside.path().join("secret"), &link).unwrap();
        let zones = confined(dir.path());
        assert!(matches!(zones.read(&link), Err(Refusal::Outside { .. })));
        assert!(matches!(
            zones.read(&outside.path().join("secret")),
            Err(Refusal::Outside { .. })
        ));
        assert!(matches!(
            zones.read(dir.path()),
            Err(Refusal::NotRegular {
                kind: "a directory",
                ..
            })
        ));
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        assert!(matches!(
            zones.read(&dir.path().join("zero")),
            Err(Refusal::Outside { .. })
        ));
    }

    #[test]
    fn refuses_files_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), "0123456789").unwrap();
        let limits = Limits {
            file_bytes: 9,
            zone_bytes: 100,
        };
        let zones = Confinement::new(dir.path(), limits).unwrap();
        assert!(matches!(
            zones.read(&dir.path().join("big")),
            Err(Refusal::TooLarge { limit: 9, .. })
        ));
    }
}
