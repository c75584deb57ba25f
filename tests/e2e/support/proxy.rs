//! A unix-socket proxy in front of the Docker socket that a test can cut
//! and restore: berth loses its daemon while the daemon itself, and the
//! test's own docker CLI, carry on.

use std::collections::HashMap;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The client and daemon ends of each relayed connection, so a cut can
/// close them all.
type Live = Arc<Mutex<HashMap<u64, [UnixStream; 2]>>>;

pub struct SocketProxy {
    path: PathBuf,
    open: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    live: Live,
    _dir: tempfile::TempDir,
}

impl SocketProxy {
    /// Listens on a fresh socket and relays to `upstream` (a socket path).
    pub fn start(upstream: &str) -> SocketProxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).expect("bind proxy socket");
        let proxy = SocketProxy {
            path,
            open: Arc::new(AtomicBool::new(true)),
            stopped: Arc::new(AtomicBool::new(false)),
            live: Live::default(),
            _dir: dir,
        };
        let (open, stopped, live) = (
            proxy.open.clone(),
            proxy.stopped.clone(),
            proxy.live.clone(),
        );
        let upstream = PathBuf::from(upstream);
        std::thread::spawn(move || {
            let ids = AtomicU64::new(0);
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                // While cut, accept and hang up at once, like a dying daemon.
                let Ok(client) = client else { continue };
                if !open.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(daemon) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let id = ids.fetch_add(1, Ordering::Relaxed);
                relay(id, client, daemon, &live);
            }
        });
        proxy
    }

    /// The `--docker` URL that goes through this proxy.
    pub fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Closes every relayed connection and hangs up on new ones until
    /// [`SocketProxy::restore`].
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for (_, ends) in live.drain() {
            for end in ends {
                let _ = end.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so its thread sees `stopped` and ends.
        let _ = UnixStream::connect(&self.path);
    }
}

/// Copies both ways on two threads; when either direction ends, both ends
/// are shut down and forgotten.
fn relay(id: u64, client: UnixStream, daemon: UnixStream, live: &Live) {
    let (Ok(c2), Ok(d2), Ok(c3), Ok(d3)) = (
        client.try_clone(),
        daemon.try_clone(),
        client.try_clone(),
        daemon.try_clone(),
    ) else {
        return;
    };
    live.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, [c3, d3]);
    for (mut from, mut to) in [(client, daemon), (d2, c2)] {
        let live = live.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
    }
}
