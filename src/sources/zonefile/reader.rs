//! Reads one zone: a master file and whatever it `$INCLUDE`s, record by
//! record, each error naming the file and line it is on. Includes are read
//! through the [`Confinement`], nested at most [`MAX_INCLUDE_DEPTH`] deep,
//! and every file read is listed so the watcher can notice edits to any.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::confine::{Confinement, Fingerprint};
use super::lexer::{Entry, Lexer};
use super::rdata;
use crate::registry::Record;

/// How deep `$INCLUDE`s may nest (the zone file itself is depth 0). Knot's
/// zone scanner stops at the same depth.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// `$INCLUDE`s read for one zone, counted each time: a fan-out of tiny
/// files stays cheap in bytes but not in opens.
pub const MAX_INCLUDES: usize = 10_000;

/// An error and where it is: the file, and the line when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ReadError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

/// What a zone's files hold.
pub struct ZoneText {
    /// The origin in effect at the zone file's first record or `$INCLUDE`:
    /// its `$ORIGIN`, else the one it was read with.
    pub origin: Name,
    pub records: Vec<Record>,
    /// Where each record was written, by index: an index into the files
    /// read, and the line.
    pub positions: Vec<(u32, u32)>,
}

/// Every file a read looked at, with what it was then, so that a change to
/// any of them (or one appearing) triggers a new read.
pub type FilesRead = Vec<(PathBuf, Option<Fingerprint>)>;

/// Reads the zone file `path` with `origin` as the initial origin (berth
/// uses the file's name). Returns the records, or the first error; either
/// way, the files it read.
pub fn read_zone(
    path: &Path,
    origin: Name,
    confinement: &Confinement,
) -> (Result<ZoneText, ReadError>, FilesRead) {
    let mut reader = Reader {
        confinement,
        files: Vec::new(),
        stack: Vec::new(),
        zone_bytes: 0,
        includes: 0,
        zone_origin: None,
        records: Vec::new(),
        positions: Vec::new(),
    };
    let mut state = State {
        origin,
        owner: None,
        default_ttl: None,
        last_ttl: None,
    };
    let result = reader.read_file(path, &mut state, None).and_then(|()| {
        let origin = reader.zone_origin.take().unwrap_or(state.origin);
        reader.check_cnames(&origin)?;
        // What comments, blank lines and directives left unused of the room
        // made per line.
        reader.records.shrink_to_fit();
        reader.positions.shrink_to_fit();
        Ok(ZoneText {
            origin,
            records: std::mem::take(&mut reader.records),
            positions: std::mem::take(&mut reader.positions),
        })
    });
    (result, reader.files)
}

/// What an entry depends on from the ones before it.
#[derive(Clone)]
struct State {
    origin: Name,
    /// The last owner written, for entries that start with a blank.
    owner: Option<Name>,
    /// `$TTL` (RFC 2308).
    default_ttl: Option<u32>,
    /// The last TTL written, used without a `$TTL` (RFC 1035).
    last_ttl: Option<u32>,
}

struct Reader<'c> {
    confinement: &'c Confinement,
    files: FilesRead,
    /// The files being read, outermost first, to report cycles.
    stack: Vec<PathBuf>,
    zone_bytes: u64,
    includes: usize,
    zone_origin: Option<Name>,
    records: Vec<Record>,
    /// Where each record was written: an index into `files`, and the line.
    positions: Vec<(u32, u32)>,
}

impl Reader<'_> {
    /// Reads `path`; `from` is where it was included, if it was.
    fn read_file(
        &mut self,
        path: &Path,
        state: &mut State,
        from: Option<(&Path, usize)>,
    ) -> Result<(), ReadError> {
        // Errors about getting at the file belong to the $INCLUDE line.
        let at_include = |reason: String| match from {
            Some((file, line)) => ReadError {
                path: file.to_path_buf(),
                line: Some(line),
                reason,
            },
            None => ReadError {
                path: path.to_path_buf(),
                line: None,
                reason,
            },
        };
        let file_index = self.files.len() as u32;
        self.files
            .push((path.to_path_buf(), Fingerprint::current(path)));
        let bytes = self
            .confinement
            .read(path)
            .map_err(|refusal| at_include(refusal.to_string()))?;
        self.zone_bytes += bytes.len() as u64;
        let limit = self.confinement.limits.zone_bytes;
        if self.zone_bytes > limit {
            return Err(at_include(format!(
                "the zone's files come to more than --max-zone-size ({limit} bytes)"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            ReadError {
                path: path.to_path_buf(),
                line: Some(line),
                reason: "not UTF-8 (write other octets as \\DDD)".into(),
            }
        })?;
        self.stack.push(path.to_path_buf());
        // A line holds a record at most: room for them all at once, rather
        // than growing (and copying) a big zone's records a dozen times.
        let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
        self.records.reserve(lines);
        self.positions.reserve(lines);
        let mut lexer = Lexer::new(&text);
        loop {
            let entry = match lexer.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err((line, error)) => {
                    return Err(ReadError {
                        path: path.to_path_buf(),
                        line: Some(line),
                        reason: error.to_string(),
                    });
                }
            };
            let line = entry.line;
            let here = |reason: String| ReadError {
                path: path.to_path_buf(),
                line: Some(line),
                reason,
            };
            if self.zone_origin.is_none() && self.stack.len() == 1 && !is_setting(&entry) {
                self.zone_origin = Some(state.origin.clone());
            }
            match entry.tokens[0] {
                directive if directive.starts_with('$') && !entry.blank_owner => {
                    self.directive(path, &entry, state).map_err(|e| match e {
                        Nested::Here(reason) => here(reason),
                        Nested::Inner(error) => error,
                    })?;
                }
                _ => {
                    let record = record(&entry, state).map_err(here)?;
                    self.records.push(record);
                    self.positions.push((file_index, line as u32));
                }
            }
        }
        self.stack.pop();
        Ok(())
    }

    /// RFC 1034 §3.6.2 and RFC 2181 §10.1: a name with a CNAME has no
    /// other data, and one CNAME only; at the zone's apex, which always has
    /// its SOA and NS, none. The error is at the later of the two records.
    fn check_cnames(&self, origin: &Name) -> Result<(), ReadError> {
        let is_cname = |r: &Record| r.record_type() == RecordType::CNAME;
        // Beside a CNAME only its DNSSEC proofs may stand (RFC 4035 §2.5).
        let may_join = |r: &Record| matches!(r.record_type(), RecordType::RRSIG | RecordType::NSEC);
        // Names hash and compare ignoring case.
        let aliases: HashMap<&Name, usize> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| is_cname(r))
            .map(|(at, r)| (&r.name, at))
            .collect();
        if aliases.is_empty() {
            return Ok(());
        }
        let origin = origin.to_lowercase();
        for (at, record) in self.records.iter().enumerate() {
            let Some(&alias) = aliases.get(&record.name) else {
                continue;
            };
            let reason = if record.name == origin && is_cname(record) {
                format!(
                    "CNAME at the zone's apex {origin}, beside its SOA and NS (RFC 1034 §3.6.2)"
                )
            } else if at == alias || may_join(record) {
                continue;
            } else {
                format!(
                    "{} has a CNAME and other data (RFC 1034 §3.6.2, RFC 2181 §10.1)",
                    record.name
                )
            };
            let (file, line) = self.positions[at.max(alias)];
            return Err(ReadError {
                path: self.files[file as usize].0.clone(),
                line: Some(line as usize),
                reason,
            });
        }
        Ok(())
    }

    fn directive(&mut self, path: &Path, entry: &Entry, state: &mut State) -> Result<(), Nested> {
        let args = &entry.tokens[1..];
        match entry.tokens[0].to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let [origin] = args else {
                    return Err(Nested::Here("$ORIGIN takes one name".into()));
                };
                state.origin = rdata::name(origin, &state.origin).map_err(Nested::Here)?;
                state.owner = None;
            }
            "$TTL" => {
                let [ttl] = args else {
                    return Err(Nested::Here("$TTL takes one TTL".into()));
                };
                state.default_ttl = Some(rdata::ttl(ttl).map_err(Nested::Here)?);
            }
            "$INCLUDE" => {
                let (file, origin) = match args {
                    [file] => (file, None),
                    [file, origin] => (file, Some(origin)),
                    _ => {
                        return Err(Nested::Here(
                            "$INCLUDE takes a file name and an optional origin".into(),
                        ));
                    }
                };
                let file = unquote(file);
                // Relative to the including file, as the zone's files move
                // together.
                let target = match path.parent() {
                    Some(dir) => dir.join(file),
                    None => PathBuf::from(file),
                };
                if self.stack.len() > MAX_INCLUDE_DEPTH {
                    return Err(Nested::Here(format!(
                        "$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep"
                    )));
                }
                if self.stack.contains(&target) {
                    return Err(Nested::Here(format!(
                        "$INCLUDE {} includes itself",
                        target.display()
                    )));
                }
                self.includes += 1;
                if self.includes > MAX_INCLUDES {
                    return Err(Nested::Here(format!(
                        "more than {MAX_INCLUDES} $INCLUDEs in one zone"
                    )));
                }
                // The included file starts from here and gives nothing back:
                // origin and owner revert afterwards (RFC 1035 §5.1), as does
                // its $TTL.
                let mut inner = state.clone();
                if let Some(origin) = origin {
                    inner.origin = rdata::name(origin, &state.origin).map_err(Nested::Here)?;
                    inner.owner = None;
                }
                self.read_file(&target, &mut inner, Some((path, entry.line)))
                    .map_err(Nested::Inner)?;
            }
            "$GENERATE" => {
                return Err(Nested::Here(
                    "$GENERATE is BIND's extension and is not read".into(),
                ));
            }
            other => return Err(Nested::Here(format!("unknown directive {other}"))),
        }
        Ok(())
    }
}

/// A directive's error: about its own line, or from inside an included file.
enum Nested {
    Here(String),
    Inner(ReadError),
}

/// `$ORIGIN` and `$TTL` set up what follows; the zone's origin is the one in
/// effect at the first entry that is not one of them.
fn is_setting(entry: &Entry) -> bool {
    !entry.blank_owner
        && ["$ORIGIN", "$TTL"]
            .iter()
            .any(|d| entry.tokens[0].eq_ignore_ascii_case(d))
}

/// `<owner> [<TTL>] [<class>] <type> <RDATA>`, TTL and class in either order.
fn record(entry: &Entry, state: &mut State) -> Result<Record, String> {
    let mut tokens = entry.tokens;
    if !entry.blank_owner {
        state.owner = Some(rdata::name(tokens[0], &state.origin)?);
        tokens = &tokens[1..];
    }
    let owner = state
        .owner
        .clone()
        .ok_or("the first record has no owner name")?;
    let mut ttl = None;
    let mut rtype = None;
    while let Some((&token, rest)) = tokens.split_first() {
        tokens = rest;
        if token.starts_with(|c: char| c.is_ascii_digit()) {
            if ttl.is_some() {
                return Err(format!("a second TTL {token:?}"));
            }
            ttl = Some(rdata::ttl(token)?);
        } else if let Some(class) = class(token) {
            if class != DNSClass::IN {
                return Err(format!("class {token}: only class IN is served"));
            }
        } else {
            rtype = Some(record_type(token)?);
            break;
        }
    }
    let rtype = rtype.ok_or("no record type")?;
    let ttl = match ttl {
        Some(ttl) => {
            state.last_ttl = Some(ttl);
            ttl
        }
        None => state
            .default_ttl
            .or(state.last_ttl)
            .ok_or("no TTL: give one, or a $TTL before")?,
    };
    let data = rdata::parse(rtype, tokens, &state.origin)?;
    Ok(Record::new(owner, ttl, data))
}

/// A type in any case; hickory reads upper case only.
fn record_type(token: &str) -> Result<RecordType, String> {
    let unknown = || format!("{token:?} is not a record type berth knows");
    let parsed = if token.bytes().any(|b| b.is_ascii_lowercase()) {
        token.to_ascii_uppercase().parse::<RecordType>()
    } else {
        token.parse::<RecordType>()
    };
    parsed.map_err(|_| unknown())
}

fn class(token: &str) -> Option<DNSClass> {
    ["IN", "CH", "HS", "CS", "NONE", "ANY"]
        .iter()
        .find(|c| token.eq_ignore_ascii_case(c))
        .map(|c| match *c {
            "IN" => DNSClass::IN,
            "CH" => DNSClass::CH,
            "HS" => DNSClass::HS,
            "NONE" => DNSClass::NONE,
            _ => DNSClass::ANY,
        })
}

/// A file name may be quoted.
fn unquote(token: &str) -> &str {
    token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::zonefile::confine::Limits;

    fn origin() -> Name {
        Name::from_ascii("example.test.").unwrap()
    }

    fn read(dir: &Path, file: &str) -> (Result<ZoneText, ReadError>, FilesRead) {
        let confinement = Confinement::new(dir, Limits::default()).unwrap();
        read_zone(&dir.join(file), origin(), &confinement)
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn error(dir: &Path, file: &str) -> String {
        match read(dir, file).0 {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{file} was read"),
        }
    }

    #[test]
    fn owners_ttls_and_origins() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "z",
            "$TTL 60\n@ IN SOA ns hostmaster 1 2 3 4 5\n  NS ns\nwww 30 IN A 192.0.2.1\n IN 40 AAAA ::1\n\
             $ORIGIN sub\nx A 192.0.2.2\n",
        );
        let zone = read(dir.path(), "z").0.unwrap();
        assert_eq!(zone.origin, origin());
        let rows: Vec<(String, u32)> = zone
            .records
            .iter()
            .map(|r| (r.name.to_ascii(), r.ttl))
            .collect();
        assert_eq!(
            rows,
            [
                ("example.test.".to_string(), 60),
                ("example.test.".into(), 60),
                ("www.example.test.".into(), 30),
                ("www.example.test.".into(), 40),
                ("x.sub.example.test.".into(), 60),
            ]
        );
    }

    #[test]
    fn includes_restore_the_origin_and_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "z",
            "$TTL 60\n$INCLUDE inc other\nwww A 192.0.2.1\n",
        );
        write(
            dir.path(),
            "inc",
            "a A 192.0.2.2\n$ORIGIN deeper\nb A 192.0.2.3\n",
        );
        let (zone, files) = read(dir.path(), "z");
        let names: Vec<String> = zone
            .unwrap()
            .records
            .iter()
            .map(|r| r.name.to_ascii())
            .collect();
        assert_eq!(
            names,
            [
                "a.other.example.test.",
                "b.deeper.other.example.test.",
                "www.example.test."
            ]
        );
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "z", "$TTL 60\n\nok A 192.0.2.1\n$INCLUDE inc\n");
        write(dir.path(), "inc", "fine A 192.0.2.1\nbad A 999.1.1.1\n");
        let message = error(dir.path(), "z");
        assert!(message.contains("/inc:2: "), "{message}");
        write(dir.path(), "inc", "$INCLUDE z\n");
        let message = error(dir.path(), "z");
        assert!(
            message.contains("/inc:1: ") && message.contains("itself"),
            "{message}"
        );
    }

    #[test]
    fn fan_out_stops_at_the_depth_limit() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..20 {
            let next = format!("f{}", i + 1);
            write(
                dir.path(),
                &format!("f{i}"),
                &format!("$TTL 1\n$INCLUDE {next}\n$INCLUDE {next}\n"),
            );
        }
        write(dir.path(), "f20", "x A 192.0.2.1\n");
        let message = error(dir.path(), "f0");
        assert!(
            message.contains("/f8:2: ") && message.contains("deep"),
            "{message}"
        );
    }

    #[test]
    fn a_cname_beside_other_data_is_an_error_at_the_later_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "z",
            "$TTL 60\nwww A 192.0.2.1\nok A 192.0.2.2\n$INCLUDE inc\n",
        );
        write(dir.path(), "inc", "x TXT \"x\"\nWWW CNAME ok\n");
        let message = error(dir.path(), "z");
        assert!(
            message.contains("/inc:2: ") && message.contains("CNAME and other data"),
            "{message}"
        );
        write(dir.path(), "inc", "www CNAME ok\nwww CNAME x\n");
        assert!(error(dir.path(), "z").contains("/inc:2: "));
        write(dir.path(), "z", "$TTL 60\n@ CNAME elsewhere.test.\n");
        assert!(error(dir.path(), "z").contains("/z:2: "));
        write(dir.path(), "z", "$TTL 60\nwww CNAME ok\nok A 192.0.2.2\n");
        let (zone, _) = read(dir.path(), "z");
        assert!(zone.is_ok(), "a lone CNAME is fine");
    }

    #[test]
    fn refused_includes_name_the_include_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "z",
            "$TTL 60\na A 192.0.2.1\n$INCLUDE /dev/zero\n",
        );
        let message = error(dir.path(), "z");
        assert!(
            message.contains("/z:3: ") && message.contains("outside"),
            "{message}"
        );
    }
}
