//! The three ways the README deploys berth, each run for real: the image
//! `deploy/container/build.sh` builds, `deploy/compose.yaml` under
//! docker-compose, and `deploy/systemd/berth.service` checked by
//! `systemd-analyze verify`. Published ports are bound to 127.0.0.1 only,
//! on ports Docker picks; everything created is removed on drop.

mod compose;
mod container;
mod systemd;

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

use crate::support::docker::{Image, endpoint};
use crate::support::{dig, wait_until};

/// The repository's `deploy/` directory.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The image `deploy/container/build.sh` builds, under a tag of this test
/// run's own; shared by the tests running at the same time and removed
/// when the last of them drops it.
fn berth_image() -> Arc<Image> {
    static SHARED: Mutex<Weak<Image>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(image) = slot.upgrade() {
        return image;
    }
    let image = Arc::new(Image {
        name: format!("berth-e2e-{}-image:latest", std::process::id()),
    });
    let output = Command::new(deploy_dir().join("container/build.sh"))
        .arg(&image.name)
        .output()
        .expect("run deploy/container/build.sh");
    assert!(
        output.status.success(),
        "build.sh failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    *slot = Arc::downgrade(&image);
    image
}

/// The Docker socket on this host and the group that may use it: what
/// the README tells an operator to mount and `--group-add`.
fn docker_socket() -> (String, String) {
    let url = endpoint();
    let path = url
        .strip_prefix("unix://")
        .unwrap_or_else(|| panic!("the deploy tests mount a unix socket; DOCKER_HOST is {url}"))
        .to_string();
    let gid = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .gid();
    (path, gid.to_string())
}

/// `127.0.0.1:PORT` as `docker port` or `docker-compose port` prints it.
fn published(text: &str) -> SocketAddr {
    text.lines()
        .find_map(|line| line.trim().parse::<SocketAddr>().ok())
        .filter(|addr| addr.ip().is_loopback())
        .unwrap_or_else(|| panic!("no loopback address in {text:?}"))
}

/// Polls berth at `server` until `name` has exactly the A record `ip`;
/// `context` is shown on failure (the container's log).
fn eventually_resolves(server: SocketAddr, name: &str, ip: &str, context: impl Fn() -> String) {
    let mut last = Vec::new();
    let held = wait_until(|| {
        last = dig::dig(server, &[name, "A"]).rdata("A");
        last == [ip]
    });
    assert!(
        held,
        "{name}: wanted {ip}, berth at {server} answered {last:?}; its log:\n{}",
        context()
    );
}
