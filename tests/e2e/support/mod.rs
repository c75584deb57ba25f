//! Real parts for the end-to-end tests: the `berth` binary on a port the
//! kernel picks, `dig`/`kdig` as clients, BIND as an oracle. Every process
//! started here is stopped by PID when its guard is dropped.

#![allow(dead_code)]

pub mod dig;
pub mod docker;
pub mod etcd;
pub mod fake_upstream;
pub mod image;
pub mod metrics;
pub mod named;
pub mod peers;
pub mod proxy;
pub mod raw;
pub mod secondary;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for a process to come up or a condition to hold.
/// Generous: CI runs on two busy cores. Tests never assert durations.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Whether a missing tool must fail the run (CI) rather than skip a test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// True when `program` can be run. Outside CI a missing program skips the
/// calling test with a loud message; in CI it is a failure.
pub fn require(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!in_ci(), "{program} is required in CI but is not installed");
        eprintln!("SKIPPING: {program} is not installed (CI=true makes this a failure)");
    }
    found
}

/// The real berth binary, started on 127.0.0.1 port 0.
pub struct Berth {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    _workdir: tempfile::TempDir,
}

impl Berth {
    /// Starts berth with `args`. Unless given, it listens on 127.0.0.1:0 and
    /// has Docker and forwarding off; it runs in an empty directory, so no
    /// `./zones` is picked up by accident.
    pub fn start(args: &[&str]) -> Berth {
        Berth::start_wrapped(&[], args)
    }

    /// [`Berth::start`] through `wrapper`, a command that runs the one
    /// after it in the same process (`prlimit --nofile=…`, say).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Berth {
        let workdir = tempfile::tempdir().expect("temp dir");
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let has = |flag: &str| args.contains(&flag);
        if !has("--listen") {
            all.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        if !has("--docker") {
            all.extend(["--docker".into(), "off".into()]);
        }
        if !has("--upstream") {
            all.extend(["--upstream".into(), "off".into()]);
        }
        if !has("--http") {
            all.extend(["--http".into(), "127.0.0.1:0".into()]);
        }
        let berth = env!("CARGO_BIN_EXE_berth");
        let (program, before) = match wrapper.split_first() {
            Some((program, rest)) => (*program, [rest, &[berth]].concat()),
            None => (berth, Vec::new()),
        };
        let mut child = Command::new(program)
            .args(&before)
            .args(&all)
            .current_dir(workdir.path())
            .env("RUST_LOG", "info")
            .env_remove("BERTH_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_address(&line, "dns listening") {
                    let _ = tx.send(addr);
                }
                let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match rx.recv_timeout(DEADLINE) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = log.lock().map(|l| l.clone()).unwrap_or_default();
                panic!("berth did not report a listening address; log:\n{log}");
            }
        };
        Berth {
            child,
            addr,
            log,
            _workdir: workdir,
        }
    }

    /// Starts berth with `apps.local.zone` holding `zone` in a directory
    /// of its own (`--zones`), plus `extra` flags. The directory lives as
    /// long as the returned guard; `apps.local.zone` in it can be rewritten.
    pub fn with_zone_file(zone: &str, extra: &[&str]) -> (Berth, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("apps.local.zone"), zone).expect("write zone file");
        let zones = dir.path().to_str().expect("utf-8 temp path");
        let mut args = vec!["--zones", zones];
        args.extend_from_slice(extra);
        (Berth::start(&args), dir)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything berth has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let found = wait_until(|| self.log().contains(needle));
        assert!(found, "berth never logged {needle:?}; log:\n{}", self.log());
    }

    /// Sends SIGHUP, berth's reload signal.
    pub fn reload(&self) {
        signal(self.pid(), "HUP");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The HTTP address berth logged, if it serves HTTP.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.log()
            .lines()
            .find_map(|line| listening_address(line, "http listening"))
    }

    /// Queries berth with dig.
    pub fn dig(&self, args: &[&str]) -> dig::Answer {
        dig::dig(self.addr, args)
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        signal(self.pid(), "TERM");
        let stopped = wait_until_for(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The address in berth's "dns listening address=…" (or "http listening")
/// log line.
fn listening_address(line: &str, what: &str) -> Option<SocketAddr> {
    if !line.contains(what) {
        return None;
    }
    let rest = &line[line.find("address=")? + "address=".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// Polls `condition` until it holds or [`DEADLINE`] passes.
pub fn wait_until(condition: impl FnMut() -> bool) -> bool {
    wait_until_for(DEADLINE, condition)
}

pub fn wait_until_for(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port free for both UDP and TCP right now, for programs that
/// cannot bind port 0 and report it. Chosen at random below the kernel's
/// ephemeral range (32768 and up), so that the port-0 binds of the berths
/// and clients running beside this test cannot take it before the program
/// binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let mut state = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
        ^ SEQUENCE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    for _ in 0..1000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let port = 20_000 + (state % 12_000) as u16;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(addr).is_ok() && UdpSocket::bind(addr).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path.to_string_lossy().into_owned()
}

/// A GET to berth's HTTP endpoint: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to http");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read http");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
