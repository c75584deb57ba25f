//! Each upstream's record as the operator sees it: a WARN when it starts
//! failing and one when it answers again (never one per query), its last
//! error for the status page, and its counts for `/metrics`.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use super::upstream::ExchangeError;

#[derive(Debug)]
pub struct UpstreamHealth {
    pub address: SocketAddr,
    /// Whether the last exchange with it failed.
    failing: AtomicBool,
    /// Exchanges tried, failed (any reason) and, of those, timed out.
    pub queries: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    /// Written on failures only: the path that forwards well never takes it.
    last_error: Mutex<Option<(SystemTime, String)>>,
}

/// A copy for a page to render.
#[derive(Clone, Debug)]
pub struct UpstreamReport {
    pub address: SocketAddr,
    pub failing: bool,
    pub queries: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub last_error: Option<(SystemTime, String)>,
}

impl UpstreamHealth {
    pub fn new(address: SocketAddr) -> Self {
        UpstreamHealth {
            address,
            failing: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn answered(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        // A load first: the common case writes nothing shared.
        if self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::Relaxed) {
            tracing::warn!(upstream = %self.address, "upstream answers again");
        }
    }

    pub fn failed(&self, error: &ExchangeError) {
        if matches!(error, ExchangeError::Timeout(_)) {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        self.count_failure(error);
    }

    /// An answer that does not hold together is a failure of the upstream.
    pub fn malformed(&self, error: &dyn std::fmt::Display) {
        self.count_failure(&format_args!("malformed answer: {error}"));
    }

    fn count_failure(&self, error: &dyn std::fmt::Display) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some((SystemTime::now(), error.to_string()));
        }
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(upstream = %self.address, %error, "upstream failing; trying the others until it answers again");
        } else {
            tracing::debug!(upstream = %self.address, %error, "upstream failed");
        }
    }

    pub fn report(&self) -> UpstreamReport {
        UpstreamReport {
            address: self.address,
            failing: self.failing.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|last| last.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_and_remembers_the_last_error() {
        let health = UpstreamHealth::new("127.0.0.1:53".parse().unwrap());
        health.answered();
        health.failed(&ExchangeError::Timeout(Duration::from_secs(2)));
        health.failed(&ExchangeError::Closed);
        let report = health.report();
        assert!(report.failing);
        assert_eq!(
            (report.queries, report.failures, report.timeouts),
            (3, 2, 1)
        );
        assert!(report.last_error.is_some_and(|(_, e)| e.contains("closed")));
        health.answered();
        assert!(!health.report().failing);
    }
}
