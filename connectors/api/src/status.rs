//! A task's own account of its health, shown by the runtime's status API.

use std::sync::Arc;

use serde::Serialize;
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
