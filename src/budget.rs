//! File handles, which every socket, zone file and Docker connection draws
//! on: berth raises its soft limit to the hard one at start, keeps
//! [`RESERVED`] of them out of reach of client connections, and backs off
//! when accept fails (out of handles, usually) instead of spinning on a
//! listener that stays readable.

use std::io;
use std::time::{Duration, Instant};

use rlimit::Resource;

/// Handles no client connection may take: the zone directory and its files,
/// the Docker connection, upstream sockets, UDP sockets, the runtime's own.
pub const RESERVED: u64 = 128;

/// RLIMIT_NOFILE as berth found it and as it left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handles {
    pub soft_before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft limit on open files to the hard limit.
pub fn raise_nofile() -> io::Result<Handles> {
    let (soft_before, hard) = rlimit::getrlimit(Resource::NOFILE)?;
    if soft_before < hard {
        rlimit::setrlimit(Resource::NOFILE, hard, hard)?;
    }
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE)?;
    Ok(Handles {
        soft_before,
        soft,
        hard,
    })
}

/// Connection limits that fit in `soft` handles with [`RESERVED`] kept
/// back: `(dns_tcp, http)`, lowered only when the two given do not fit,
/// HTTP to at most an eighth of what is left.
pub fn fit(soft: u64, dns_tcp: usize, http: usize) -> (usize, usize) {
    let room = usize::try_from(soft.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    if dns_tcp.saturating_add(http) <= room {
        return (dns_tcp, http);
    }
    let http = http.min(room / 8).max(1);
    let dns_tcp = dns_tcp.min(room.saturating_sub(http)).max(1);
    (dns_tcp, http)
}

/// Shortest and longest pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
/// At most one log line per this long, however many accepts fail.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// What an accept loop does when accept fails: waits, longer each time
/// in a row, and says so at most once a second, with how many failed.
pub struct AcceptErrors {
    what: &'static str,
    pause: Duration,
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl AcceptErrors {
    /// `what`: the listener, as the log line names it ("dns tcp", "http").
    pub fn new(what: &'static str) -> Self {
        AcceptErrors {
            what,
            pause: FIRST_PAUSE,
            unlogged: 0,
            last_logged: None,
        }
    }

    /// An accept succeeded: the next failure waits the shortest pause.
    pub fn succeeded(&mut self) {
        self.pause = FIRST_PAUSE;
    }

    /// An accept failed: logs if a second has passed since the last line,
    /// then waits before the caller accepts again.
    pub async fn failed(&mut self, error: &io::Error) {
        if let Some(failures) = self.count(Instant::now()) {
            tracing::warn!(
                listener = self.what,
                %error,
                failures,
                pause_ms = self.pause.as_millis() as u64,
                "accept failed; pausing before the next"
            );
        }
        tokio::time::sleep(self.next_pause()).await;
    }

    /// The pause to take now; the next one is twice as long, up to a second.
    fn next_pause(&mut self) -> Duration {
        let pause = self.pause;
        self.pause = (pause * 2).min(LONGEST_PAUSE);
        pause
    }

    /// Counts one failure at `now`; the failures to report, if it is time
    /// to log.
    fn count(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last_logged
            .is_none_or(|last| now.duration_since(last) >= LOG_EVERY);
        if !due {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_once_a_second_with_their_count() {
        let mut errors = AcceptErrors::new("test");
        let start = Instant::now();
        assert_eq!(errors.count(start), Some(1));
        let logged: Vec<Option<u64>> = (1..=99)
            .map(|ms| errors.count(start + Duration::from_millis(ms * 10)))
            .collect();
        assert!(logged.iter().all(Option::is_none));
        assert_eq!(errors.count(start + LOG_EVERY), Some(100));
    }

    #[test]
    fn the_pause_grows_to_a_second_and_resets() {
        let mut errors = AcceptErrors::new("test");
        let pauses: Vec<Duration> = (0..9).map(|_| errors.next_pause()).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert_eq!(pauses[8], LONGEST_PAUSE);
        errors.succeeded();
        assert_eq!(errors.next_pause(), FIRST_PAUSE);
    }

    #[test]
    fn connections_fit_the_handles_left() {
        assert_eq!(fit(20_000, 512, 64), (512, 64));
        assert_eq!(fit(256, 512, 64), (112, 16));
        assert_eq!(fit(64, 512, 64), (1, 1));
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let handles = raise_nofile().unwrap();
        assert_eq!(handles.soft, handles.hard);
        assert!(handles.soft >= handles.soft_before);
    }
}
