//! BIND's `named` as an authoritative oracle on a loopback port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use super::{DEADLINE, free_port, raw, signal, wait_until_for, write_file};

pub struct Named {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Named {
    /// Serves each (origin, master file) pair authoritatively, with no
    /// recursion and no NS records in the authority section of positive
    /// answers (berth's choice too; BIND's default adds them).
    pub fn start(zones: &[(&str, &str)]) -> Named {
        // A port can still be taken between choosing and binding it; named
        // then runs without listening. Try again on another port.
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start(zones) {
                Ok(named) => return named,
                Err(log) => last_log = log,
            }
        }
        panic!("named did not start; last log:\n{last_log}");
    }

    fn try_start(zones: &[(&str, &str)]) -> Result<Named, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let d = dir.path().display();
        let mut conf = format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  \
             session-keyfile \"{d}/session.key\";\n  managed-keys-directory \"{d}\";\n  \
             listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
             recursion no;\n  minimal-responses no-auth;\n  dnssec-validation no;\n  \
             notify no;\n  answer-cookie no;\n}};\ncontrols {{ }};\n"
        );
        for (origin, file) in zones {
            conf.push_str(&format!(
                "zone \"{origin}\" {{ type primary; file \"{file}\"; }};\n"
            ));
        }
        let conf_path = write_file(dir.path(), "named.conf", &conf);
        let mut child = Command::new("named")
            .args(["-g", "-n", "1", "-c", &conf_path])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn named");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let mut named = Named {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        // Up means: still running, and answering on its port (the SOA of
        // the first zone), not just "running" in its log.
        let probe = zones.first().map_or_else(
            || raw::query(1, ".", 6),
            |(origin, _)| raw::query(1, origin, 6),
        );
        let up = wait_until_for(DEADLINE, || {
            matches!(named.child.try_wait(), Ok(None))
                && raw::udp_exchange(named.addr, &probe, Duration::from_millis(200))
                    .is_some_and(|reply| raw::rcode(&reply) == 0)
        });
        if up {
            Ok(named)
        } else {
            // Dropping `named` stops the process.
            Err(named.log())
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Named {
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
