//! A unix-socket proxy in front of the Docker socket that a test can cut,
//! stall and restore: berth loses its daemon, or part of it, while the
//! daemon itself, and the test's own docker CLI, carry on.
//!
//! - [`SocketProxy::cut`]: every connection closed, new ones hung up on.
//! - [`SocketProxy::stall_events`]: event streams are answered and stay
//!   open but carry nothing more, while listings and inspections pass: the
//!   silent stall only a reconciliation can notice.
//! - [`SocketProxy::wedge`]: nothing answers any more, on open connections
//!   or new ones, and nothing is closed: a hung daemon.
//! - [`SocketProxy::sent`]: what berth asked the daemon, to tell which API
//!   calls it made.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One relayed connection.
#[derive(Default)]
struct Relayed {
    /// It carries `GET /events`: a stream that stays open.
    events: AtomicBool,
    /// The daemon's response headers have passed: a stalled stream is an
    /// open one, answered and then silent.
    answered: AtomicBool,
    /// Nothing is passed either way any more.
    wedged: AtomicBool,
    /// A request arrived while wedged, and got no answer.
    unanswered: AtomicBool,
}

/// What the proxy is told, shared with its threads.
#[derive(Default)]
struct Switches {
    closed: AtomicBool,
    stopped: AtomicBool,
    stall_events: AtomicBool,
    wedged: AtomicBool,
    /// Wedged connections the client closed after sending a request that
    /// got no answer: berth giving up on a call.
    abandoned: AtomicUsize,
    /// Every byte clients sent the daemon, in arrival order per connection.
    sent: Mutex<Vec<u8>>,
}

/// The client and daemon ends of each relayed connection, so a cut can
/// close them all.
type Live = Arc<Mutex<HashMap<u64, ([UnixStream; 2], Arc<Relayed>)>>>;

pub struct SocketProxy {
    path: PathBuf,
    switches: Arc<Switches>,
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
            switches: Arc::default(),
            live: Live::default(),
            _dir: dir,
        };
        let (switches, live) = (proxy.switches.clone(), proxy.live.clone());
        let upstream = PathBuf::from(upstream);
        std::thread::spawn(move || {
            let ids = AtomicU64::new(0);
            for client in listener.incoming() {
                if switches.stopped.load(Ordering::SeqCst) {
                    return;
                }
                // While cut, accept and hang up at once, like a dying daemon.
                let Ok(client) = client else { continue };
                if switches.closed.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(daemon) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let id = ids.fetch_add(1, Ordering::Relaxed);
                relay(id, client, daemon, &live, &switches);
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
        self.switches.closed.store(true, Ordering::SeqCst);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for (_, (ends, _)) in live.drain() {
            for end in ends {
                let _ = end.shutdown(Shutdown::Both);
            }
        }
    }

    /// Event streams, open or opened later, pass nothing more from the
    /// daemon; everything else still passes.
    pub fn stall_events(&self) {
        self.switches.stall_events.store(true, Ordering::SeqCst);
    }

    /// Every connection, open or opened later, passes nothing more either
    /// way and is kept open. Connections wedged stay so after
    /// [`SocketProxy::restore`]; new ones then pass again.
    pub fn wedge(&self) {
        self.switches.wedged.store(true, Ordering::SeqCst);
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for (_, relayed) in live.values() {
            relayed.wedged.store(true, Ordering::SeqCst);
        }
    }

    /// How many wedged connections the client closed with a request
    /// unanswered.
    pub fn abandoned(&self) -> usize {
        self.switches.abandoned.load(Ordering::SeqCst)
    }

    /// What clients have sent the daemon so far: HTTP requests, as text.
    pub fn sent(&self) -> String {
        let sent = self.switches.sent.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&sent).into_owned()
    }

    /// New connections pass again, event streams included.
    pub fn restore(&self) {
        self.switches.closed.store(false, Ordering::SeqCst);
        self.switches.stall_events.store(false, Ordering::SeqCst);
        self.switches.wedged.store(false, Ordering::SeqCst);
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so its thread sees `stopped` and ends.
        let _ = UnixStream::connect(&self.path);
    }
}

/// Copies both ways on two threads, each chunk subject to the switches;
/// when either direction ends, both ends are shut down and forgotten.
fn relay(id: u64, client: UnixStream, daemon: UnixStream, live: &Live, switches: &Arc<Switches>) {
    let (Ok(c2), Ok(d2), Ok(c3), Ok(d3)) = (
        client.try_clone(),
        daemon.try_clone(),
        client.try_clone(),
        daemon.try_clone(),
    ) else {
        return;
    };
    let relayed = Arc::new(Relayed::default());
    relayed
        .wedged
        .store(switches.wedged.load(Ordering::SeqCst), Ordering::SeqCst);
    live.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, ([c3, d3], relayed.clone()));
    for (from, to, upward) in [(client, daemon, true), (d2, c2, false)] {
        let (live, switches, relayed) = (live.clone(), switches.clone(), relayed.clone());
        std::thread::spawn(move || {
            copy(from, &to, upward, &relayed, &switches);
            let _ = to.shutdown(Shutdown::Both);
            live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
    }
}

/// Copies `from` to `to` until either ends. `upward`: client to daemon.
fn copy(
    mut from: UnixStream,
    mut to: &UnixStream,
    upward: bool,
    relayed: &Relayed,
    switches: &Switches,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if relayed.wedged.load(Ordering::SeqCst) {
            if upward {
                relayed.unanswered.store(true, Ordering::SeqCst);
            }
            continue;
        }
        if upward && is_events_request(chunk) {
            relayed.events.store(true, Ordering::SeqCst);
        }
        if upward {
            let mut sent = switches.sent.lock().unwrap_or_else(|e| e.into_inner());
            sent.extend_from_slice(chunk);
        }
        let stalled = !upward
            && relayed.events.load(Ordering::SeqCst)
            && relayed.answered.load(Ordering::SeqCst)
            && switches.stall_events.load(Ordering::SeqCst);
        if stalled {
            continue;
        }
        if !upward && chunk.windows(4).any(|w| w == b"\r\n\r\n") {
            relayed.answered.store(true, Ordering::SeqCst);
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    if upward && relayed.unanswered.load(Ordering::SeqCst) {
        switches.abandoned.fetch_add(1, Ordering::SeqCst);
    }
    let _ = from.shutdown(Shutdown::Both);
}

/// `GET /v1.41/events?…` (or without the version) at the start of a chunk:
/// a request line. A stream, once started, never returns its connection
/// for another request, so the mark stays right.
fn is_events_request(chunk: &[u8]) -> bool {
    let line = chunk.split(|b| *b == b'\n').next().unwrap_or_default();
    let Some(target) = line.strip_prefix(b"GET ") else {
        return false;
    };
    let path = target
        .split(|b| *b == b'?' || *b == b' ')
        .next()
        .unwrap_or_default();
    path.ends_with(b"/events")
}
