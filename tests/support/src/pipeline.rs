//! The whole pipeline in one process: simulated org → Genesys connector → runtime → Avro →
//! Kafka (embedded, or a real broker), judged by the org's ground truth read back from Kafka.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use genesys_cloud_sim::{ObservedRecord, SimConfig, SimHandle, VerifyOptions, VerifyReport, verify};
use serde_json::Value;
use tributary::runtime::Runtime;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::genesys::{NAME, TOPIC, connector_entry, genesys_plugins, reconnects};
use crate::runtime::{config, fast_backoff};
use crate::simulator::start_sim;
use crate::truth::read_observed;
use crate::wait::{EVERY, poll};

/// A config file's text: `kafka` and `schema_registry` sections given, one connector entry.
pub fn config_text(kafka: &str, registry: &str, entry: &Value) -> String {
    format!(
        "kafka:\n{kafka}\nschema_registry:\n{registry}\napi:\n  enabled: false\nconnectors:\n  - {entry}\n",
        entry = serde_json::to_string(entry).unwrap_or_default()
    )
}

/// Which Kafka a [`Stack`] writes to.
pub enum Kafka<'a> {
    /// The in-process mock cluster.
    Embedded,
    /// A real broker: the records topic is created there with the stack's partitions.
    Broker(&'a Broker),
}

/// Simulator + runtime (embedded registry, embedded or real broker) + the Genesys connector.
pub struct Stack {
    pub sim: Arc<SimHandle>,
    pub runtime: Option<Runtime>,
    pub bootstrap: String,
    pub registry_url: String,
}

impl Stack {
    pub async fn start(sim: SimConfig, partitions: i32, tweak: impl FnOnce(&mut Value)) -> Self {
        Self::start_on(Kafka::Embedded, sim, partitions, tweak).await
    }

    pub async fn start_on(kafka: Kafka<'_>, sim: SimConfig, partitions: i32, tweak: impl FnOnce(&mut Value)) -> Self {
        let sim = start_sim(sim).await;
        let mut entry = connector_entry(&sim);
        tweak(&mut entry);
        let kafka_section = match kafka {
            Kafka::Embedded => format!(
                "  bootstrap_servers: embedded\n  embedded_partitions: {partitions}\n  offsets:\n    flush_interval: 1s"
            ),
            Kafka::Broker(broker) => {
                broker.create_topic(TOPIC, partitions, &[]).await;
                format!("  bootstrap_servers: {}\n  offsets:\n    flush_interval: 1s", broker.bootstrap())
            }
        };
        let text = config_text(&kafka_section, "  url: embedded", &entry);
        let config = config(&text);
        let runtime = Runtime::start_with(&config, genesys_plugins(), fast_backoff()).await.expect("runtime starts");
        let bootstrap = runtime.bootstrap_servers.clone();
        let registry_url = runtime.registry_url.clone();
        Self { sim, runtime: Some(runtime), bootstrap, registry_url }
    }

    pub fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("running")
    }

    /// The connector task's status detail.
    pub fn detail(&self) -> Value {
        self.runtime()
            .supervisor
            .status(NAME)
            .ok()
            .and_then(|s| s.tasks.first().map(|t| t.detail.clone()))
            .unwrap_or(Value::Null)
    }

    pub fn healthy(&self) -> bool {
        self.runtime().supervisor.status(NAME).ok().and_then(|s| s.tasks.first().map(|t| t.health.clone()))
            == Some(tributary::api::Health::Healthy)
    }

    /// Waits until `cond` holds, up to `timeout`; panics with `what` and the connector's status
    /// otherwise.
    pub async fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&Self) -> bool) {
        if poll(timeout, EVERY, || std::future::ready(cond(self).then_some(()))).await.is_none() {
            panic!(
                "timed out waiting for {what}; status: {:#}",
                serde_json::to_value(self.runtime().supervisor.status(NAME).ok()).unwrap_or_default()
            );
        }
    }

    /// Reconnect counts by cause, over all channels.
    pub fn reconnects(&self) -> BTreeMap<String, u64> {
        reconnects(&self.detail())
    }

    pub async fn shutdown(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown().await;
        }
    }

    /// Stops traffic, waits for every conversation to end, for the connector to have no gap
    /// left, and for the records to be acknowledged; then reads the topic back and verifies it.
    pub async fn settle_and_verify(
        &self,
        from_ms: i64,
        settle_timeout: Duration,
    ) -> (VerifyReport, Vec<ObservedRecord>) {
        self.sim.pause_traffic(true);
        let to_ms = now_ms();
        self.wait_for("every conversation to end", settle_timeout, |s| {
            s.sim.truth().conversations().values().all(|c| c.end_ms.is_some())
        })
        .await;
        self.wait_for("backfill to finish", settle_timeout, |s| {
            s.detail()["gaps"].as_array().is_some_and(Vec::is_empty) && s.healthy()
        })
        .await;
        // The last snapshots travel the socket, and Kafka acknowledges every record (after a
        // broker outage librdkafka reconnects with a backoff of up to 10 s).
        tokio::time::sleep(Duration::from_millis(2000)).await;
        self.wait_for("Kafka to acknowledge every record", settle_timeout, |s| {
            s.runtime().supervisor.snapshot(NAME).is_ok_and(|st| st.records_in_flight == 0)
        })
        .await;
        let observed = read_observed(&self.bootstrap, &self.registry_url).await;
        let options = VerifyOptions::new(self.sim.queue_ids(), from_ms, to_ms);
        (verify(&self.sim.truth(), &observed, &options), observed)
    }
}
