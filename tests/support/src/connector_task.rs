//! The Genesys connector's task run against the simulated org without a runtime or Kafka: what
//! it emits is collected in order, and every record counts as acknowledged the moment it is
//! emitted.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use genesys_cloud_sim::{ObservedRecord, SimConfig, SimHandle, VerifyOptions, VerifyReport, verify};
use serde_json::Value;
use tokio::task::JoinHandle;
use tributary_connector_api::{
    CancellationToken, Connector, ConnectorContext, Emit, Emitter, NoAcknowledgements, SourceOffset, SourcePartition,
    StatusHandle, TaskContext, TaskError, TaskStatus,
};
use tributary_genesys::GenesysCloud;

use crate::genesys::{NAME, connector_config, reconnects};
use crate::simulator::start_sim;
use crate::truth::place;

/// One emitted item, in emit order.
#[derive(Debug, Clone)]
pub enum Emitted {
    Record { queue_id: String, watermark_ms: i64, value: Value },
    Offset { queue_id: String, watermark_ms: i64 },
}

/// One task of the connector, running.
pub struct Harness {
    pub sim: Arc<SimHandle>,
    pub emitted: Arc<Mutex<Vec<Emitted>>>,
    pub status: StatusHandle,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), TaskError>>>,
    drain: Option<JoinHandle<()>>,
    pub config: Value,
}

impl Harness {
    /// Starts an org from `sim_cfg` and the connector on it, its config changed by `tweak`.
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
                place(&mut v, 0, i as i64);
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
    pub fn reconnects(&self) -> BTreeMap<String, u64> {
        reconnects(&self.status().detail)
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
