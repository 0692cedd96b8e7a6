//! Async analytics jobs (§4.2): the submitted jobs of every client and the state each is in.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::models::AnalyticsConversation;
use crate::query::Compiled;

/// One submitted job: its query, when it is ready, and its results once computed.
#[derive(Debug)]
pub(crate) struct Job {
    pub client_id: String,
    pub query: Compiled,
    pub submitted_ms: i64,
    pub ready: Instant,
    pub ready_ms: i64,
    pub cancelled: bool,
    pub results: Option<(i64, Vec<AnalyticsConversation>)>,
}

/// Submitted async jobs.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    pub jobs: HashMap<String, Job>,
}

/// The job's state now: CANCELLED, FULFILLED, or QUEUED for the first half of `delay`, then
/// PENDING.
pub(crate) fn job_state(job: &Job, now: Instant, delay: Duration) -> &'static str {
    if job.cancelled {
        "CANCELLED"
    } else if now >= job.ready {
        "FULFILLED"
    } else if job.ready.saturating_duration_since(now) > delay / 2 {
        "QUEUED"
    } else {
        "PENDING"
    }
}
