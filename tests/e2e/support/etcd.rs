//! A real etcd cluster for the e2e tests: Debian's `etcd` members on
//! loopback ports, data directories in a temporary directory, each member
//! stopped by PID (the whole cluster when the guard drops). `etcdctl`
//! writes and reads keys as an operator (or registrator) would.

use std::fs::File;
use std::process::{Child, Command, Stdio};

use super::{free_port, in_ci, require, wait_until};

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

pub struct Cluster {
    members: Vec<Member>,
    token: String,
    dir: tempfile::TempDir,
}

/// True when etcd and etcdctl are installed; outside CI a missing one
/// skips the calling test loudly, with CI=true it fails it.
pub fn require_etcd() -> bool {
    let found = require("etcd") && require("etcdctl");
    assert!(found || !in_ci(), "etcd is required in CI");
    found && require("dig")
}

impl Cluster {
    /// Starts `size` members and waits until the cluster takes writes.
    pub fn start(size: usize) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let members = (0..size)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                child: None,
            })
            .collect();
        let mut cluster = Cluster {
            members,
            token: format!("berth-e2e-{}-{}", std::process::id(), free_port()),
            dir,
        };
        for i in 0..size {
            cluster.start_member(i);
        }
        cluster.wait_healthy();
        cluster
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// `--etcd URL` for each member, for berth's command line.
    pub fn berth_args(&self) -> Vec<String> {
        self.endpoints()
            .into_iter()
            .flat_map(|e| ["--etcd".to_string(), e])
            .collect()
    }

    /// Starts member `i` (again): with its data directory in place it
    /// rejoins the cluster it was in.
    pub fn start_member(&mut self, i: usize) {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        let member = &self.members[i];
        let client = format!("http://127.0.0.1:{}", member.client_port);
        let peer = format!("http://127.0.0.1:{}", member.peer_port);
        let data = self.dir.path().join(&member.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", member.name)))
            .expect("etcd log file");
        let child = Command::new("etcd")
            .args(["--name", &member.name])
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.token])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        self.members[i].child = Some(child);
    }

    /// Stops member `i` with SIGKILL: a crash, not a goodbye.
    pub fn stop_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stop_all(&mut self) {
        for i in 0..self.members.len() {
            self.stop_member(i);
        }
    }

    pub fn start_all(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_none() {
                self.start_member(i);
            }
        }
        self.wait_healthy();
    }

    /// Waits until a write through the running members succeeds.
    pub fn wait_healthy(&self) {
        let healthy = wait_until(|| self.etcdctl(&["put", "/berth-e2e/health", "ok"]).is_ok());
        assert!(healthy, "etcd never took a write; logs:\n{}", self.logs());
    }

    /// Runs etcdctl against the running members.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect();
        let output = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["--command-timeout=5s", "--dial-timeout=2s"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run etcdctl: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    pub fn put(&self, key: &str, value: &str) {
        self.must(&["put", key, value]);
    }

    pub fn delete(&self, key: &str) {
        self.must(&["del", key]);
    }

    /// Runs etcdctl until it succeeds: right after a member stops, the
    /// cluster refuses writes until it has elected a new leader.
    fn must(&self, args: &[&str]) {
        let mut last = String::new();
        let done = wait_until(|| match self.etcdctl(args) {
            Ok(_) => true,
            Err(e) => {
                last = e;
                false
            }
        });
        assert!(done, "etcdctl {args:?}: {last}\nlogs:\n{}", self.logs());
    }

    /// Every key under `prefix` with its value.
    pub fn get_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let out = self
            .etcdctl(&["get", "--prefix", prefix])
            .unwrap_or_else(|e| panic!("etcdctl get {prefix}: {e}"));
        let lines: Vec<&str> = out.lines().collect();
        lines
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| (pair[0].to_string(), pair[1].to_string()))
            .collect()
    }

    /// The members' logs, for a failure message.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for member in &self.members {
            let path = self.dir.path().join(format!("{}.log", member.name));
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            all.push_str(&format!("--- {}\n", member.name));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
