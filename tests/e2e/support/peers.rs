//! The DNS servers berth works with, each run on a loopback port of its own:
//! dnsmasq, BIND and unbound as resolvers in front of berth (configured from
//! the very files in `deploy/`), and Knot as an upstream behind it. Each is
//! stopped by PID when its guard is dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth::iana::Rtype;

use super::{free_port, raw, signal, wait_until, wait_until_for, write_file};

/// A file from `deploy/` with berth's documented port (1053), wherever it
/// appears, replaced by the one the test's berth listens on.
pub fn deploy_file(path: &str, berth_port: u16) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path);
    let text = std::fs::read_to_string(&full).expect("read deploy file");
    text.replace("1053", &berth_port.to_string())
}

/// Uncomments the lines of a deploy file that start with `prefix` after
/// the comment marker: the optional parts the file documents.
pub fn uncomment(text: &str, marker: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix(marker) {
            Some(rest) if rest.trim_start().starts_with(prefix) => rest.to_string(),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A server process, its log, and the directory it runs in.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    pub dir: tempfile::TempDir,
}

impl Daemon {
    /// Runs `command` (already configured for `port` in `dir`) and waits
    /// until it answers DNS on the port.
    fn start(name: &str, command: Command, port: u16, dir: tempfile::TempDir) -> Daemon {
        let probe = raw::query(1, ".", Rtype::SOA);
        Daemon::launch(name, command, port, dir, &probe, |_| true)
            .unwrap_or_else(|log| panic!("{name} did not start; log:\n{log}"))
    }

    /// Runs `command` and waits until it is still running and answers
    /// `probe` on `port` with a reply `ready` accepts. On failure the
    /// process is stopped and its log returned.
    pub fn launch(
        name: &str,
        mut command: Command,
        port: u16,
        dir: tempfile::TempDir,
        probe: &[u8],
        ready: impl Fn(&[u8]) -> bool,
    ) -> Result<Daemon, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut log = sink.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let mut daemon = Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            dir,
        };
        let up = wait_until(|| {
            matches!(daemon.child.try_wait(), Ok(None))
                && raw::udp_exchange(daemon.addr, probe, Duration::from_millis(200))
                    .is_some_and(|reply| ready(&reply))
        });
        if up {
            Ok(daemon)
        } else {
            // Dropping `daemon` stops the process.
            Err(daemon.log())
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many lines of the log contain `needle`, case aside (names may
    /// arrive in any case).
    pub fn log_count(&self, needle: &str) -> usize {
        let needle = needle.to_ascii_lowercase();
        self.log()
            .to_ascii_lowercase()
            .lines()
            .filter(|l| l.contains(&needle))
            .count()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let stopped = wait_until_for(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A root hints file naming only a loopback root server: a resolver that
/// tried to reach the root would stay on this machine.
fn loopback_hints(dir: &Path) -> String {
    write_file(
        dir,
        "root.hints",
        ".  3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.1\n",
    )
}

/// A trust anchor for the root that nothing is signed with: validation is
/// on, so the deploy files' DNSSEC exemptions are what makes apps.local work.
const ROOT_ANCHOR: &str = "257 3 13 \"pVGZIUuRy8p2USAzkYf+5tHAUF6rPO6ytmtKV0TI6Wbh1ehVUvvNm/5Y \
                           nbKxHMo7trESEWqrIH9iXeAxLrgu+g==\"";

/// dnsmasq with `conf` (from deploy/) as its only configuration, logging
/// every query it receives.
pub fn dnsmasq(conf: &str, port: u16) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf_path = write_file(dir.path(), "berth.conf", conf);
    let pid = dir.path().join("dnsmasq.pid");
    let mut command = Command::new("dnsmasq");
    command.args([
        "--keep-in-foreground",
        &format!("--conf-file={conf_path}"),
        &format!("--port={port}"),
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--log-queries",
        "--log-facility=-",
        &format!("--pid-file={}", pid.display()),
    ]);
    Daemon::start("dnsmasq", command, port, dir)
}

/// BIND as a validating recursive resolver, with deploy/bind's options and
/// zones included as the file says.
pub fn named(options: &str, zones: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let d = dir.path().display();
    let options_path = write_file(dir.path(), "berth-options.conf", options);
    let zones_path = write_file(dir.path(), "berth-zones.conf", zones);
    let hints = loopback_hints(dir.path());
    let conf = format!(
        "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  \
         session-keyfile \"{d}/session.key\";\n  managed-keys-directory \"{d}\";\n  \
         listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
         recursion yes;\n  allow-query {{ 127.0.0.0/8; }};\n  dnssec-validation yes;\n  \
         answer-cookie no;\n  notify no;\n  include \"{options_path}\";\n}};\n\
         controls {{ }};\n\
         trust-anchors {{ . static-key {ROOT_ANCHOR}; }};\n\
         zone \".\" {{ type hint; file \"{hints}\"; }};\n\
         include \"{zones_path}\";\n"
    );
    let conf_path = write_file(dir.path(), "named.conf", &conf);
    let mut command = Command::new("named");
    command.args(["-g", "-n", "1", "-c", &conf_path]);
    Daemon::start("named", command, port, dir)
}

/// unbound as a validating recursive resolver including deploy/unbound's
/// file.
pub fn unbound(include: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let d = dir.path().display();
    let include_path = write_file(dir.path(), "berth.conf", include);
    let hints = loopback_hints(dir.path());
    let conf = format!(
        "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  \
         username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  \
         pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  \
         access-control: 127.0.0.0/8 allow\n  root-hints: \"{hints}\"\n  \
         trust-anchor: \". DNSKEY {anchor}\"\n  \
         module-config: \"validator iterator\"\n  num-threads: 1\n\
         include: \"{include_path}\"\n",
        anchor = ROOT_ANCHOR.replace('"', ""),
    );
    let conf_path = write_file(dir.path(), "unbound.conf", &conf);
    let mut command = Command::new("unbound");
    command.args(["-d", "-c", &conf_path]);
    Daemon::start("unbound", command, port, dir)
}

/// Knot DNS serving `zones` (origin, master file text) authoritatively,
/// with its query counters on.
pub struct Knot {
    pub daemon: Daemon,
    socket: String,
}

impl Knot {
    /// `broken` names zones configured without a file: Knot answers
    /// SERVFAIL for them.
    pub fn start(zones: &[(&str, &str)], broken: &[&str]) -> Knot {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let d = dir.path().display();
        let socket = format!("{d}/knot.sock");
        let mut conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{d}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n    storage: \"{d}/db\"\n\
             control:\n    listen: \"{socket}\"\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    global-module: mod-stats\n\
             zone:\n"
        );
        for (origin, text) in zones {
            let file = write_file(dir.path(), &format!("{origin}.zone"), text);
            conf.push_str(&format!("  - domain: {origin}\n    file: \"{file}\"\n"));
        }
        for origin in broken {
            conf.push_str(&format!(
                "  - domain: {origin}\n    file: \"{d}/missing.zone\"\n"
            ));
        }
        let conf_path = write_file(dir.path(), "knot.conf", &conf);
        let mut command = Command::new("knotd");
        command.args(["-c", &conf_path]);
        Knot {
            daemon: Daemon::start("knotd", command, port, dir),
            socket,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr
    }

    /// Queries Knot has received so far (its mod-stats counter).
    pub fn queries(&self) -> u64 {
        let output = Command::new("knotc")
            .args(["-s", &self.socket, "stats", "mod-stats.server-operation"])
            .output()
            .expect("run knotc");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find(|line| line.contains("[query]"))
            .and_then(|line| line.rsplit('=').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}
