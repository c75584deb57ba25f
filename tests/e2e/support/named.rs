//! BIND's `named` as an authoritative oracle on a loopback port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::{DEADLINE, free_port, signal, wait_until_for, write_file};

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
        let running = wait_until_for(DEADLINE, || {
            log.lock()
                .is_ok_and(|l| l.contains("running") || l.contains("exiting"))
        });
        let text = log.lock().map(|l| l.clone()).unwrap_or_default();
        if !running || text.contains("exiting") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("named did not start; log:\n{text}");
        }
        Named {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        signal(self.child.id(), "TERM");
        let stopped = wait_until_for(std::time::Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
