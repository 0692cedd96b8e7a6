//! Runs the connector's task against the simulator, collecting what it emits (no Kafka: every
//! record counts as acknowledged the moment it is emitted).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use genesys_cloud_sim::{ObservedRecord, SimConfig, SimHandle, Simulator, VerifyOptions, VerifyReport, verify};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tributary_connector_api::{
    CancellationToken, Connector, ConnectorContext, Emit, Emitter, NoAcknowledgements, SourceOffset, SourcePartition,
    StatusHandle, TaskContext, TaskError, TaskStatus,
};
use tributary_genesys::GenesysCloud;

pub const NAME: &str = "acme";

/// One emitted item, in emit order.
#[derive(Debug, Clone)]
pub enum Emitted {
    Record { queue_id: String, watermark_ms: i64, value: Value },
    Offset { queue_id: String, watermark_ms: i64 },
}

pub struct Harness {
    pub sim: Arc<SimHandle>,
    pub emitted: Arc<Mutex<Vec<Emitted>>>,
    pub status: StatusHandle,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), TaskError>>>,
    drain: Option<JoinHandle<()>>,
    pub config: Value,
}

/// A simulator at `time_scale` with quick analytics and data lake, and no random faults.
pub fn sim_config(time_scale: f64, queues: usize, arrivals_per_minute: f64) -> SimConfig {
    let mut cfg = SimConfig { time_scale, seed: 7, ..SimConfig::default() };
    cfg.queues.count = queues;
    cfg.traffic.arrivals_per_minute = arrivals_per_minute;
    cfg.analytics.data_lake_lag = Duration::from_secs(300);
    cfg
}

/// A simulated org, shared between the test and the connector.
pub async fn start_sim(cfg: SimConfig) -> Arc<SimHandle> {
    Arc::new(Simulator::start(cfg).await.expect("simulator starts"))
}

/// Connector config for `sim`: fast keep-alive, generous budget (budgets are real time, the
/// simulator's protocol is scaled), backfill sized for seconds-long tests.
pub fn connector_config(sim: &SimHandle) -> Value {
    let creds = sim.credentials();
    json!({
        "topic": "genesys.conversations",
        "api_base_url": sim.api_base_url(),
        "login_base_url": sim.login_base_url(),
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "queues": {"ids": sim.queue_ids()},
        "keepalive": {
            "ping_interval": "200ms", "pong_timeout": "500ms", "watchdog": "2s",
            "verify_interval": "500ms", "connect_timeout": "3s"
        },
        "channels": {"backoff_initial": "100ms", "backoff_max": "1s"},
        "rest": {"requests_per_minute": 20000, "request_timeout": "5s"},
        "backfill": {"safety_margin": "2s", "settle": "1500ms", "max_wait": "30s", "page_size": 100}
    })
}

impl Harness {
    pub async fn start(sim_cfg: SimConfig, tweak: impl FnOnce(&mut Value)) -> Self {
        Self::start_on(start_sim(sim_cfg).await, HashMap::new(), tweak).await
    }

    /// Starts the connector on an existing simulated org, with stored offsets.
    pub async fn start_on(sim: Arc<SimHandle>, stored: HashMap<String, i64>, tweak: impl FnOnce(&mut Value)) -> Self {
        let mut config = connector_config(&sim);
        tweak(&mut config);
        let connector = GenesysCloud::new();
        let issues = tributary_connector_api::DynConnector::validate(&connector, &config);
        assert!(issues.is_ok(), "config invalid: {issues:?}");
        let ctx = ConnectorContext { name: NAME.into() };
        let typed = serde_json::from_value(config.clone()).expect("config deserializes");
        let mut tasks = connector.create_tasks(&ctx, typed).expect("tasks");
        assert_eq!(tasks.len(), 1);
        let task = tasks.remove(0);

        let (emitter, mut rx) = Emitter::channel(1024);
        let emitted = Arc::new(Mutex::new(Vec::new()));
        let sink = emitted.clone();
        let drain = tokio::spawn(async move {
            while let Some(emit) = rx.recv().await {
                let item = match emit {
                    Emit::Record(r) => Emitted::Record {
                        queue_id: r.partition.get_str("queue_id").unwrap_or_default().to_owned(),
                        watermark_ms: r.offset.get_i64("watermark_ms").unwrap_or(-1),
                        value: serde_json::to_value(&r.value.body).expect("record body serializes"),
                    },
                    Emit::Offset { partition, offset } => Emitted::Offset {
                        queue_id: partition.get_str("queue_id").unwrap_or_default().to_owned(),
                        watermark_ms: offset.get_i64("watermark_ms").unwrap_or(-1),
                    },
                };
                sink.lock().expect("lock").push(item);
            }
        });
        let stored = stored
            .into_iter()
            .map(|(q, w)| (SourcePartition::single("queue_id", q), SourceOffset::single_i64("watermark_ms", w)))
            .collect();
        let status = StatusHandle::new();
        let stop = CancellationToken::new();
        let ctx = TaskContext::new(
            NAME.into(),
            0,
            stored,
            emitter,
            Arc::new(NoAcknowledgements),
            status.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(task.run(ctx));
        Self { sim, emitted, status, stop, task: Some(task), drain: Some(drain), config }
    }

    pub fn status(&self) -> TaskStatus {
        self.status.get()
    }

    pub fn records(&self) -> Vec<Value> {
        self.emitted
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|e| match e {
                Emitted::Record { value, .. } => Some(value.clone()),
                Emitted::Offset { .. } => None,
            })
            .collect()
    }

    /// The latest watermark emitted (with a record or alone) for `queue_id`.
    pub fn watermark(&self, queue_id: &str) -> Option<i64> {
        self.emitted.lock().expect("lock").iter().rev().find_map(|e| match e {
            Emitted::Record { queue_id: q, watermark_ms, .. } | Emitted::Offset { queue_id: q, watermark_ms }
                if q == queue_id =>
            {
                Some(*watermark_ms)
            }
            _ => None,
        })
    }

    /// Records as the verifier sees them: one Kafka partition, in emit order.
    pub fn observed(&self) -> Vec<ObservedRecord> {
        self.records()
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("kafka_partition".into(), json!(0));
                    obj.insert("kafka_offset".into(), json!(i));
                }
                ObservedRecord::from_json(&v).expect("record has the verifier's fields")
            })
            .collect()
    }

    /// Verifies against the truth for every conversation that started between `from_ms` and
    /// `to_ms`.
    pub fn verify(&self, from_ms: i64, to_ms: i64) -> VerifyReport {
        let truth = self.sim.truth();
        let options = VerifyOptions::new(self.sim.queue_ids(), from_ms, to_ms);
        verify(&truth, &self.observed(), &options)
    }

    /// Waits until `cond` holds, up to `timeout`; panics with `what` and the status otherwise.
    pub async fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !cond(self) {
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what}; status: {:#?}", self.status());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn channel_ids(&self) -> Vec<String> {
        let detail = self.status().detail;
        detail["channels"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["channel_id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Reconnect counts by cause, over all shards.
    pub fn reconnects(&self) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for c in self.status().detail["channels"].as_array().cloned().unwrap_or_default() {
            if let Some(map) = c["reconnects"].as_object() {
                for (k, v) in map {
                    *out.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
                }
            }
        }
        out
    }

    pub fn pending_gaps(&self) -> usize {
        self.status().detail["gaps"].as_array().map(Vec::len).unwrap_or(0)
    }

    /// Stops the task; returns its result.
    pub async fn stop(&mut self) -> Result<(), TaskError> {
        self.stop.cancel();
        let result = match self.task.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("task stops within 10 s")
                .expect("task does not panic"),
            None => Ok(()),
        };
        if let Some(drain) = self.drain.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        }
        result
    }

    /// Whether the task ended by itself (e.g. failed).
    pub fn finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    pub async fn join(&mut self) -> Result<(), TaskError> {
        match self.task.take() {
            Some(task) => {
                tokio::time::timeout(Duration::from_secs(30), task).await.expect("task ends").expect("no panic")
            }
            None => Ok(()),
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Runs `f` with a hard time limit so a hung test fails instead of hanging.
pub async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, f: F) {
    tokio::time::timeout(limit, f).await.expect("test finished within its time limit");
}
