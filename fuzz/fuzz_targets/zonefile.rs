//! The zone-file reader: bytes as `fuzz.test.zone` in a zone directory of
//! its own (beside `inc.zone`, for `$INCLUDE`), read by berth's own
//! `load_file` as the zone-file source does, then published.
//!
//! Invariants: no panic; an error names the file, and a line within the
//! input when it gives one; records read are all inside the zone, and the
//! registry's writer publishes them.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use berth::registry::{Change, NameServer, SourceId, Writer, ZoneSettings};
use berth::sources::zonefile::confine::{Confinement, Limits};
use berth::sources::zonefile::{ZoneFileError, load_file};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

struct Dir {
    /// Kept for the process's life: the directory goes when it drops.
    _dir: tempfile::TempDir,
    zone: PathBuf,
    confinement: Confinement,
}

static DIR: LazyLock<Dir> = LazyLock::new(|| {
    // In memory where there is a tmpfs: a file on disk is written back
    // every few hundred inputs, and the fuzzer waits for the disk.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory");
    std::fs::write(
        dir.path().join("inc.zone"),
        "inc 60 IN A 192.0.2.3\n@ 60 IN TXT \"included\"\n",
    )
    .expect("the included file is written");
    let limits = Limits {
        file_bytes: 1 << 20,
        zone_bytes: 4 << 20,
    };
    let confinement = Confinement::new(dir.path(), limits).expect("the directory resolves");
    Dir {
        zone: dir.path().join("fuzz.test.zone"),
        _dir: dir,
        confinement,
    }
});

fuzz_target!(|data: &[u8]| {
    let dir = &*DIR;
    std::fs::write(&dir.zone, data).expect("the zone file is written");
    let zone = Name::from_ascii("fuzz.test.").expect("a name");
    let (loaded, _files) = load_file(&dir.zone, std::slice::from_ref(&zone), 60, &dir.confinement);
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            let text = error.to_string();
            assert!(text.contains(".zone"), "an error without its file: {text}");
            if let ZoneFileError::Read(read) = &error
                && let Some(line) = read.line
                && read.path == dir.zone
            {
                let lines = data.split(|&b| b == b'\n').count();
                assert!(line >= 1 && line <= lines, "line {line} of {lines}: {text}");
            }
            return;
        }
    };
    let mut writer = Writer::new(ZoneSettings {
        zones: vec![zone],
        ttl: 60,
        soa_minimum: 30,
        name_servers: NameServer::usual(None),
        wildcard_target: None,
        ixfr_journal: 0,
    });
    writer.apply(Change::Upsert {
        source: SourceId::ZoneFiles,
        entity: loaded.entity,
    });
    writer.publish();
});
