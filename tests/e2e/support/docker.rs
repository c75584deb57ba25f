//! The real dockerd for the e2e tests. No registry is reachable, so the
//! image is built on the spot: `docker import` of a tar holding the host's
//! `/bin/sleep` and `/bin/sh` (healthchecks run through a shell) and the
//! libraries `ldd` lists for them. Everything a test creates carries its
//! scope's label and is removed when the scope is dropped, pass or fail.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::{dig, image, in_ci};

/// The label every test object carries, valued with its scope's prefix.
const SCOPE_LABEL: &str = "berth-e2e";
/// What the test image runs: sleep as PID 1, which ignores SIGTERM, so
/// containers are stopped with SIGKILL and `docker stop` returns at once.
const SLEEP: [&str; 2] = ["/bin/sleep", "infinity"];

/// The endpoint berth and the CLI share: `$DOCKER_HOST` or the default.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// True when dockerd answers. Outside CI a missing daemon skips the calling
/// test loudly; with CI=true it fails the test.
pub fn require_docker() -> bool {
    let up = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !up {
        assert!(
            !in_ci(),
            "dockerd is required in CI but `docker info` fails"
        );
        eprintln!("SKIPPING: no Docker daemon (`docker info` fails; CI=true makes this a failure)");
    }
    up && super::require("dig")
}

/// Runs the docker CLI; `Err` carries its stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Like [`docker`], but a failure fails the test.
pub fn must(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

/// The test image, shared by the tests running at the same time and
/// removed when the last of them drops it.
pub struct Image {
    pub name: String,
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.name]);
    }
}

fn shared_image() -> Arc<Image> {
    static SHARED: Mutex<Weak<Image>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(image) = slot.upgrade() {
        return image;
    }
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "berth-e2e-{}-{}:latest",
        std::process::id(),
        BUILDS.fetch_add(1, Ordering::Relaxed)
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = image::rootfs_tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    must(&["import", &tar.to_string_lossy(), &name]);
    let image = Arc::new(Image { name });
    *slot = Arc::downgrade(&image);
    image
}

/// One test's Docker objects: names start with a prefix unique to the test
/// run, and everything is removed on drop.
pub struct Scope {
    pub prefix: String,
    image: Arc<Image>,
}

impl Scope {
    /// `test` is a short word naming the test, part of every name.
    pub fn new(test: &str) -> Scope {
        Scope {
            prefix: format!("e2e{}-{test}", std::process::id()),
            image: shared_image(),
        }
    }

    /// `<prefix>-<suffix>`, the name of a container or network.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    fn label(&self) -> String {
        format!("{SCOPE_LABEL}={}", self.prefix)
    }

    /// `docker run -d` of the test image as `name`, with extra `docker run`
    /// options; returns the container ID.
    pub fn run(&self, name: &str, options: &[&str]) -> String {
        self.try_run(name, options)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_run(&self, name: &str, options: &[&str]) -> Result<String, String> {
        self.run_image(name, options, &self.image.name, &SLEEP)
    }

    /// `docker run -d` of `image` as `name` with `command` (empty: the
    /// image's own), labelled as this scope's; returns the container ID.
    pub fn run_image(
        &self,
        name: &str,
        options: &[&str],
        image: &str,
        command: &[&str],
    ) -> Result<String, String> {
        let label = self.label();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            name,
            "--label",
            &label,
            "--stop-signal",
            "KILL",
        ];
        args.extend_from_slice(options);
        args.push(image);
        args.extend_from_slice(command);
        docker(&args)
    }

    /// A user-defined network, removed with the scope.
    pub fn network(&self, suffix: &str) -> String {
        self.network_with(suffix, &[])
    }

    /// A network with extra `docker network create` options.
    pub fn network_with(&self, suffix: &str, options: &[&str]) -> String {
        let name = self.name(suffix);
        let label = self.label();
        let mut args = vec!["network", "create", "--label", &label];
        args.extend_from_slice(options);
        args.push(&name);
        must(&args);
        name
    }

    /// The container's global IPv6 address on `network`.
    pub fn ipv6(&self, container: &str, network: &str) -> String {
        let template =
            format!("{{{{(index .NetworkSettings.Networks \"{network}\").GlobalIPv6Address}}}}");
        must(&["inspect", "-f", &template, container])
    }

    /// The container's IPv4 address on `network`, as Docker reports it.
    pub fn ip(&self, container: &str, network: &str) -> String {
        let template = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        must(&["inspect", "-f", &template, container])
    }

    /// Names of this scope's running containers, as `docker ps` shows them.
    pub fn running(&self) -> Vec<String> {
        let filter = format!("label={}", self.label());
        let out = must(&["ps", "--filter", &filter, "--format", "{{.Names}}"]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    /// Name → IPv4 address on the default bridge of every running
    /// container in this scope.
    pub fn running_addresses(&self) -> BTreeMap<String, String> {
        let names = self.running();
        if names.is_empty() {
            return BTreeMap::new();
        }
        let mut args = vec!["inspect", "-f", "{{.Name}} {{.NetworkSettings.IPAddress}}"];
        args.extend(names.iter().map(String::as_str));
        // A container removed since `ps` fails the whole inspect: retry.
        let out = match docker(&args) {
            Ok(out) => out,
            Err(_) => return self.running_addresses(),
        };
        out.lines()
            .filter_map(|line| {
                let (name, ip) = line.split_once(' ')?;
                Some((name.trim_start_matches('/').to_string(), ip.to_string()))
            })
            .collect()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let filter = format!("label={}", self.label());
        if let Ok(ids) = docker(&["ps", "-aq", "--filter", &filter]) {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            for chunk in ids.chunks(50) {
                let mut args = vec!["rm", "-f"];
                args.extend_from_slice(chunk);
                let _ = docker(&args);
            }
        }
        if let Ok(networks) = docker(&["network", "ls", "-q", "--filter", &filter]) {
            for network in networks.split_whitespace() {
                let _ = docker(&["network", "rm", network]);
            }
        }
    }
}

/// Answers for many A queries in one `dig` run: name → addresses, empty
/// for NXDOMAIN or NODATA. Names are lower-cased, without the final dot.
pub fn resolve_many(server: SocketAddr, names: &[String]) -> HashMap<String, Vec<String>> {
    let mut args: Vec<String> = vec![
        format!("@{}", server.ip()),
        "-p".into(),
        server.port().to_string(),
        "+noall".into(),
        "+comments".into(),
        "+question".into(),
        "+answer".into(),
        "+nocookie".into(),
        "+tries=1".into(),
        "+time=5".into(),
    ];
    for name in names {
        args.push(name.clone());
        args.push("A".into());
    }
    let output = Command::new("dig").args(&args).output().expect("run dig");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut found = HashMap::new();
    for block in text.split(";; Got answer:").skip(1) {
        // The line after ";; QUESTION SECTION:" is ";name. IN A".
        let question = block
            .lines()
            .skip_while(|l| !l.starts_with(";; QUESTION SECTION:"))
            .nth(1)
            .and_then(|l| l.strip_prefix(';')?.split_whitespace().next())
            .map(|q| q.trim_end_matches('.').to_ascii_lowercase());
        let Some(question) = question else {
            continue;
        };
        found.insert(question, dig::parse(block).rdata("A"));
    }
    found
}
