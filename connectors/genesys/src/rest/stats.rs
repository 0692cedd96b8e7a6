//! Request counters: plain atomics for [`super::RestClient::stats`], mirrored to `metrics` with
//! a `connector` label.
//!
//! Metric names: `genesys_rest_requests_total`, `genesys_rest_rate_limited_total` (429s),
//! `genesys_rate_limit_waits_total` and the histogram `genesys_rate_limit_wait_seconds` (time
//! requests spent waiting for the tenant budget, pauses after 429 included), `genesys_rest_retries_total`
//! (label `reason`: `rate_limited`, `server_error`, `transport`, `unauthorized`),
//! `genesys_rest_server_errors_total`, `genesys_rest_transport_errors_total`; and the gauge
//! `genesys_rest_budget_requests_per_minute` (the budget in force, set by the client), against
//! which the rate of `genesys_rest_requests_total` reads as budget use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestStats {
    /// Requests sent (every attempt).
    pub requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Requests that had to wait for the budget.
    pub budget_waits: u64,
    /// Total time requests waited for the budget, in milliseconds.
    pub budget_wait_ms: u64,
    /// Attempts after the first, for any reason.
    pub retries: u64,
    /// 401s answered by replacing the token.
    pub reauthentications: u64,
    /// 5xx (and 408) answers.
    pub server_errors: u64,
    /// Timeouts and connection failures.
    pub transport_errors: u64,
}

#[derive(Debug)]
pub(super) struct Counters {
    connector: String,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    budget_waits: AtomicU64,
    budget_wait_ms: AtomicU64,
    retries: AtomicU64,
    reauthentications: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
}

/// Waits shorter than this are the bucket working normally, not throttling worth counting.
const NOTABLE_WAIT: Duration = Duration::from_millis(1);

impl Counters {
    pub fn new(connector: &str) -> Self {
        // Registered now, so that dashboards and alerts read 0 (not absent) until it happens.
        for name in ["genesys_rest_requests_total", "genesys_rest_rate_limited_total", "genesys_rate_limit_waits_total"]
        {
            metrics::counter!(name, "connector" => connector.to_owned()).increment(0);
        }
        for reason in ["rate_limited", "server_error", "transport", "unauthorized"] {
            metrics::counter!("genesys_rest_retries_total", "connector" => connector.to_owned(), "reason" => reason)
                .increment(0);
        }
        Self {
            connector: connector.to_string(),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            budget_waits: AtomicU64::new(0),
            budget_wait_ms: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            reauthentications: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
        }
    }

    fn label(&self) -> String {
        self.connector.clone()
    }

    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("genesys_rest_requests_total", "connector" => self.label()).increment(1);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("genesys_rest_rate_limited_total", "connector" => self.label()).increment(1);
    }

    pub fn waited(&self, d: Duration) {
        if d < NOTABLE_WAIT {
            return;
        }
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.budget_waits.fetch_add(1, Ordering::Relaxed);
        self.budget_wait_ms.fetch_add(ms, Ordering::Relaxed);
        metrics::counter!("genesys_rate_limit_waits_total", "connector" => self.label()).increment(1);
        metrics::histogram!("genesys_rate_limit_wait_seconds", "connector" => self.label()).record(d.as_secs_f64());
    }

    pub fn retried(&self, reason: &'static str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if reason == "unauthorized" {
            self.reauthentications.fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("genesys_rest_retries_total", "connector" => self.label(), "reason" => reason).increment(1);
    }

    pub fn server_error(&self) {
        self.server_errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("genesys_rest_server_errors_total", "connector" => self.label()).increment(1);
    }

    pub fn transport_error(&self) {
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("genesys_rest_transport_errors_total", "connector" => self.label()).increment(1);
    }

    pub fn snapshot(&self) -> RestStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RestStats {
            requests: get(&self.requests),
            rate_limited: get(&self.rate_limited),
            budget_waits: get(&self.budget_waits),
            budget_wait_ms: get(&self.budget_wait_ms),
            retries: get(&self.retries),
            reauthentications: get(&self.reauthentications),
            server_errors: get(&self.server_errors),
            transport_errors: get(&self.transport_errors),
        }
    }
}
