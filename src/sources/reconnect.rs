//! How a source that keeps a session to a daemon (Docker, etcd) waits
//! between attempts: a doubling pause, reset by a session that stayed up
//! long enough to count as healthy, and cut short by shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// First wait after a failed session.
const FIRST: Duration = Duration::from_millis(100);
/// Longest wait between attempts: how stale berth can stay after the daemon
/// comes back.
const LONGEST: Duration = Duration::from_secs(5);
/// A session that lasted this long was healthy: the next attempt starts
/// again from [`FIRST`]. Shorter ones keep backing off, so a daemon that
/// drops every session at once is not asked in a tight loop.
const HEALTHY_SESSION: Duration = Duration::from_secs(5);

pub struct Backoff {
    delay: Duration,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff { delay: FIRST }
    }

    /// Starts again from the first pause.
    pub fn reset(&mut self) {
        self.delay = FIRST;
    }

    /// A session ended after `live_for` (`None`: it never got going).
    pub fn session_ended(&mut self, live_for: Option<Duration>) {
        if live_for.is_some_and(|d| d >= HEALTHY_SESSION) {
            self.reset();
        }
    }

    /// The pause the next [`wait`](Self::wait) takes.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Sleeps the current pause and doubles the next; false when `shutdown`
    /// came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(self.delay) => {}
        }
        self.delay = (self.delay * 2).min(LONGEST);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_longest_and_a_healthy_session_resets_it() {
        let mut backoff = Backoff::new();
        for _ in 0..10 {
            backoff.delay = (backoff.delay * 2).min(LONGEST);
        }
        assert_eq!(backoff.delay(), LONGEST);
        backoff.session_ended(Some(Duration::from_secs(1)));
        assert_eq!(backoff.delay(), LONGEST);
        backoff.session_ended(Some(HEALTHY_SESSION));
        assert_eq!(backoff.delay(), FIRST);
    }
}
