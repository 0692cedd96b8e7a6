//! A task's own account of its health, shown by the runtime's status API.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

/// How a task judges itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Health {
    /// Starting up, not yet producing.
    Starting,
    /// Doing its job.
    Healthy,
    /// Running but not fully covering its source (e.g. a channel is being regenerated).
    Degraded(String),
}

/// The task's health plus connector-specific detail (for Genesys: channels, queues, gaps).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatus {
    pub health: Health,
    pub detail: Value,
}

impl Default for TaskStatus {
    fn default() -> Self {
        Self { health: Health::Starting, detail: Value::Null }
    }
}

/// Written by the task, read by the runtime. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StatusHandle {
    tx: Arc<watch::Sender<TaskStatus>>,
}

impl Default for StatusHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusHandle {
    pub fn new() -> Self {
        Self { tx: Arc::new(watch::Sender::new(TaskStatus::default())) }
    }

    pub fn set_health(&self, health: Health) {
        self.tx.send_if_modified(|s| {
            let changed = s.health != health;
            s.health = health;
            changed
        });
    }

    pub fn set_detail(&self, detail: Value) {
        self.tx.send_modify(|s| s.detail = detail);
    }

    pub fn get(&self) -> TaskStatus {
        self.tx.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<TaskStatus> {
        self.tx.subscribe()
    }
}

/// The key of [`TaskStatus::detail`] under which a task may publish its [`Summary`].
pub const SUMMARY_KEY: &str = "summary";

/// The few figures an operator watches: what a terminal view (`tributary run` on a terminal,
/// `tributary status`) and the periodic summary log line show for a task, next to what the
/// runtime knows itself (state, records acknowledged). A task publishes it as
/// `detail.summary`; every field is optional and a missing one shows as `-`.
///
/// Record counts are totals since the task started, never rates: the viewer derives rates from
/// two readings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Records emitted from the live source (a stream, a socket) since the task started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_records: Option<u64>,
    /// Records emitted to recover a gap in the live source since the task started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfilled_records: Option<u64>,
    /// Source partitions whose live source is currently complete (e.g. queues with a healthy
    /// subscription), of [`partitions_total`](Self::partitions_total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions_covered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions_total: Option<u64>,
    /// Gaps found and not yet recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_gaps: Option<u64>,
    /// How far the oldest partition's committed position (its watermark) is behind now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    /// The source connection in a few words, e.g. `2/2 channels open`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Summary {
    /// The summary in a task's status detail, if it published one that reads as a summary.
    pub fn from_detail(detail: &Value) -> Option<Self> {
        detail.get(SUMMARY_KEY).and_then(|s| serde_json::from_value(s.clone()).ok())
    }
}
