//! BIND's `named` as an authoritative oracle on a loopback port.

use std::net::SocketAddr;
use std::process::Command;

use berth::iana::{Rcode, Rtype};

use super::peers::Daemon;
use super::{free_port, raw, write_file};

pub struct Named {
    /// The process; stopped by PID when this is dropped.
    _daemon: Daemon,
    pub addr: SocketAddr,
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
        let mut command = Command::new("named");
        command.args(["-g", "-n", "1", "-c", &conf_path]);
        // Up means answering on its port with the SOA of the first zone,
        // that is with the zones loaded, not just "running" in its log.
        let probe = zones.first().map_or_else(
            || raw::query(1, ".", Rtype::SOA),
            |(origin, _)| raw::query(1, origin, Rtype::SOA),
        );
        let daemon = Daemon::launch("named", command, port, dir, &probe, |reply| {
            raw::rcode(reply) == Rcode::NOERROR
        })?;
        Ok(Named {
            addr: daemon.addr,
            _daemon: daemon,
        })
    }
}
