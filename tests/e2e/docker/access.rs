//! A socket berth may not open: the log says which socket, who berth runs
//! as, and what to do — not hyper's "client error (Connect)". No daemon is
//! needed: the socket is the test's own, listening, with mode 600. Tests
//! run as root, whom no mode stops, so berth is run as `nobody` there.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

use crate::support::{Berth, require};

/// Whether this process is root (uid 0), read from /proc like berth does.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

#[test]
fn permission_denied_names_the_socket_the_user_and_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    // nobody must reach the socket to be refused by it, not by its directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.path().join("docker.sock");
    let _listener = UnixListener::bind(&path).expect("bind socket");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let url = format!("unix://{}", path.display());

    let root = running_as_root();
    let wrapper: &[&str] = if root {
        if !require("setpriv") {
            return;
        }
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ]
    } else {
        // Mode 600 admits the owner: take that away too.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        &[]
    };
    let berth = Berth::start_wrapped(wrapper, &["--docker", &url]);
    berth.wait_for_log("docker: daemon unavailable");
    let log = berth.log();
    let line = log
        .lines()
        .find(|l| l.contains("docker: daemon unavailable"))
        .unwrap_or_default();
    assert!(line.contains("permission denied"), "{line}");
    assert!(line.contains(&path.display().to_string()), "{line}");
    assert!(line.contains("usermod -aG docker"), "{line}");
    assert!(line.contains("SupplementaryGroups=docker"), "{line}");
    if root {
        assert!(line.contains("uid 65534 (nobody)"), "{line}");
        assert!(line.contains("owner root, group root, mode 600"), "{line}");
    }
    assert!(!line.contains("client error (Connect)"), "{line}");
}
