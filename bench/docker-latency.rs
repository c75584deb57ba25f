//! How long berth takes to follow Docker: from the start request returning
//! (what `docker start` waits for) to berth's first positive answer for the
//! container's name, and from the stop request returning to its first
//! NXDOMAIN. Not a test: it prints
//! the median and 99th percentile over many containers.
//!
//! ```text
//! cargo build --release && cargo run --release --example docker-latency -- [CONTAINERS]
//! ```
//!
//! It starts `target/release/berth` itself on a loopback port, following
//! the daemon at `$DOCKER_HOST` (or the default socket), builds its image
//! on the spot as the e2e tests do, and removes every container and the
//! image when it ends. Queries go to berth only, one at a time over UDP,
//! each sent as soon as the previous answer arrives.
//!
//! With `BERTH_LATENCY_ETCD=URL` (an etcd member) it measures across hosts:
//! the berth following Docker publishes to etcd, and the queries go to a
//! second berth with Docker off that learns the names from etcd alone.

#[path = "../tests/e2e/support/image.rs"]
mod image;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

const DEFAULT_CONTAINERS: usize = 100;
/// Give up on one container after this long; counted as a failure.
const GIVE_UP: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("docker-latency: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let count = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => DEFAULT_CONTAINERS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return Err("usage: docker-latency [CONTAINERS]".into()),
    };
    let prefix = format!("bench{}", std::process::id());
    // Declared first, dropped last: removes what the run created, however
    // it ends.
    let cleanup = Cleanup {
        image: format!("{prefix}-image:latest"),
        label: format!("berth-bench={prefix}"),
    };
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let tar = image::rootfs_tar(dir.path())?;
    docker(&["import", &tar.to_string_lossy(), &cleanup.image])?;

    let engine = Engine::from_env()?;
    let etcd = std::env::var("BERTH_LATENCY_ETCD").ok();
    let mut follows_docker = vec!["--docker".to_string(), engine.url.clone()];
    if let Some(url) = &etcd {
        follows_docker.extend(["--etcd", url, "--instance", "latency-a"].map(String::from));
    }
    let publisher = Berth::start(&follows_docker, "docker: following container events")?;
    // Across hosts: another berth, which knows the names from etcd only.
    let reader = match &etcd {
        Some(url) => Some(Berth::start(
            &["--docker", "off", "--etcd", url, "--instance", "latency-b"].map(String::from),
            "etcd: following the prefix",
        )?),
        None => None,
    };
    let berth = reader.as_ref().unwrap_or(&publisher);
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| format!("socket: {e}"))?;

    let mut appear = Vec::with_capacity(count);
    let mut vanish = Vec::with_capacity(count);
    let mut failures = 0;
    for i in 0..count {
        let name = format!("{prefix}-c{i}");
        docker(&[
            "create",
            "--name",
            &name,
            "--label",
            &cleanup.label,
            "--stop-signal",
            "KILL",
            &cleanup.image,
            "/bin/sleep",
            "infinity",
        ])?;
        let fqdn = format!("{name}.apps.local.");
        let name_in_zone = Name::from_ascii(&fqdn).map_err(|e| format!("{fqdn}: {e}"))?;
        engine.post(&format!("/containers/{name}/start"))?;
        match time_until(&socket, berth.addr, &name_in_zone, |code, answers| {
            code == ResponseCode::NoError && answers > 0
        })? {
            Some(took) => appear.push(took),
            None => failures += 1,
        }
        engine.post(&format!("/containers/{name}/stop"))?;
        match time_until(&socket, berth.addr, &name_in_zone, |code, _| {
            code == ResponseCode::NXDomain
        })? {
            Some(took) => vanish.push(took),
            None => failures += 1,
        }
        docker(&["rm", &name])?;
    }
    drop(reader);
    drop(publisher);

    let path = if etcd.is_some() {
        "through etcd, to a second berth"
    } else {
        "one berth"
    };
    println!("berth docker latency over {count} containers, {path} ({failures} timed out)");
    report("docker start → first answer", &mut appear);
    report("docker stop  → NXDOMAIN    ", &mut vanish);
    drop(cleanup);
    Ok(())
}

/// Queries `fqdn` A until `done(rcode, answer count)` holds; the time from
/// the call to that answer.
fn time_until(
    socket: &UdpSocket,
    server: SocketAddr,
    name: &Name,
    done: impl Fn(ResponseCode, usize) -> bool,
) -> Result<Option<Duration>, String> {
    let start = Instant::now();
    let mut id: u16 = 0;
    let mut buf = [0u8; 4096];
    while start.elapsed() < GIVE_UP {
        id = id.wrapping_add(1);
        let mut query = Message::new(id, MessageType::Query, OpCode::Query);
        query.add_query(Query::query(name.clone(), RecordType::A));
        let bytes = query.to_vec().map_err(|e| format!("encode: {e}"))?;
        if socket.send_to(&bytes, server).is_err() {
            continue;
        }
        let Ok(len) = socket.recv(&mut buf) else {
            continue;
        };
        let Ok(reply) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        if reply.id == id && done(reply.response_code, reply.answers.len()) {
            return Ok(Some(start.elapsed()));
        }
    }
    Ok(None)
}

fn report(what: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        println!("{what}: no samples");
        return;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    );
}

/// The release binary, started on a port the kernel picks.
struct Berth {
    child: Child,
    addr: SocketAddr,
}

impl Berth {
    /// Starts berth with `args`; ready once its log says `ready`.
    fn start(args: &[String], ready_line: &str) -> Result<Berth, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
        // target/release/examples/docker-latency → target/release/berth
        let berth = exe
            .parent()
            .and_then(|examples| examples.parent())
            .map(|release| release.join("berth"))
            .filter(|path| path.exists())
            .ok_or("no berth binary beside the example: cargo build --release")?;
        let mut child = Command::new(berth)
            .args(["--listen", "127.0.0.1:0", "--upstream", "off"])
            .args(["--http", "off"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start berth: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut addr = None;
        let mut ready = true;
        // Ready once it listens and has read what it follows.
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(at) = line.find("dns listening address=") {
                addr = line[at + 22..]
                    .split_whitespace()
                    .next()
                    .and_then(|a| a.parse().ok());
            }
            if line.contains(ready_line) {
                break;
            }
            if line.contains("docker: daemon unavailable") {
                ready = false;
                break;
            }
        }
        // Keep draining the log so berth never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        // Owned by the guard first, so that an error below still stops it.
        let mut berth = Berth {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        if !ready {
            return Err("berth cannot reach the Docker daemon".into());
        }
        berth.addr = addr.ok_or("berth did not start")?;
        Ok(berth)
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The Engine API on its unix socket. Start and stop go straight to it, so
/// the clock starts when the daemon answers, not when a CLI process has
/// also exited (which takes longer than berth does).
struct Engine {
    url: String,
    socket: PathBuf,
}

impl Engine {
    fn from_env() -> Result<Engine, String> {
        let url = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let socket = url
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .ok_or_else(|| format!("{url}: the benchmark needs a unix:// DOCKER_HOST"))?;
        Ok(Engine { url, socket })
    }

    /// `POST path` with an empty body; returns once the daemon has
    /// answered with a 2xx status.
    fn post(&self, path: &str) -> Result<(), String> {
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| format!("{}: {e}", self.socket.display()))?;
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| format!("POST {path}: {e}"))?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.split_whitespace().nth(1).unwrap_or("");
        if status.starts_with('2') {
            Ok(())
        } else {
            Err(format!(
                "POST {path}: {}",
                response.lines().next().unwrap_or("")
            ))
        }
    }
}

/// Removes the containers and the image, however the run ends.
struct Cleanup {
    image: String,
    label: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label={}", self.label);
        let ids = output(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = output(&["rm", "-f", id]);
        }
        let _ = output(&["rmi", "-f", &self.image]);
    }
}

fn output(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn docker(args: &[&str]) -> Result<(), String> {
    output(args)
        .map(drop)
        .map_err(|e| format!("docker {}: {}", args.join(" "), e.trim()))
}
