//! `/metrics` read the way Prometheus reads it: parsed by prometheus-parse,
//! never searched as a string, and every series checked for its HELP and
//! TYPE lines.

use std::net::SocketAddr;

use prometheus_parse::{Scrape, Value};

use super::http_get;

pub struct Metrics {
    scrape: Scrape,
    /// The exposition as served, for failure messages.
    pub text: String,
}

/// Scrapes berth's `/metrics` at `http`.
pub fn scrape(http: SocketAddr) -> Metrics {
    let (status, text) = http_get(http, "/metrics");
    assert_eq!(status, 200, "{text}");
    let lines = text.lines().map(|line| Ok(line.to_string()));
    let scrape = Scrape::parse(lines).expect("Prometheus text");
    for sample in &scrape.samples {
        assert!(
            scrape.docs.contains_key(&sample.metric),
            "{} has no HELP:\n{text}",
            sample.metric
        );
        assert!(
            !matches!(sample.value, Value::Untyped(_)),
            "{} has no TYPE:\n{text}",
            sample.metric
        );
    }
    Metrics { scrape, text }
}

impl Metrics {
    /// The sample of `metric` with exactly `labels`, if there is one.
    pub fn value(&self, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| {
                labels.len() == s.labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .find_map(|s| match s.value {
                Value::Counter(n) | Value::Gauge(n) => Some(n),
                _ => None,
            })
    }

    /// [`Metrics::value`], which must be there.
    pub fn get(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(metric, labels)
            .unwrap_or_else(|| panic!("{metric} {labels:?} missing from:\n{}", self.text))
    }

    /// Whether the exposition describes `metric` (HELP), samples or not.
    pub fn describes(&self, metric: &str) -> bool {
        self.scrape.docs.contains_key(metric)
    }
}
