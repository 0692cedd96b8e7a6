//! `probe`: a test connector whose behaviour its config controls (rate, failing, degraded, a
//! credential it carelessly quotes), for the REST, metrics, reload and secrets tests.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary::api::{
    ConfigIssue, Connector, ConnectorContext, ConnectorError, Health, Output, RecordValue, Secret, SourceOffset,
    SourcePartition, SourceRecord, SourceTask, TaskContext, TaskError, async_trait,
};
use tributary::plugins::Plugins;

/// The name of the Avro schema the probe connector writes.
pub const PROBE_SCHEMA: &str = "tributary.test.Probe";
/// The probe's schema, for a `schemas_dir`.
pub const PROBE_AVSC: &str = r#"{"type":"record","name":"Probe","namespace":"tributary.test",
 "fields":[{"name":"n","type":"long"},{"name":"tag","type":"string"}]}"#;

/// `probe`: a test connector. One task, one source partition `{"probe": "0"}`, offset `{"n": n}`.
/// `fail` makes the task fail for good with that message; `degraded` makes it report itself
/// degraded; `client_secret` is a credential it (carelessly) quotes in its detail and failures.
pub struct Probe;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    pub topic: String,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub fail: Option<String>,
    #[serde(default)]
    pub degraded: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
}

#[derive(Serialize)]
struct ProbeRecord {
    n: i64,
    tag: String,
}

impl Connector for Probe {
    type Config = ProbeConfig;

    fn class(&self) -> &'static str {
        "probe"
    }

    fn description(&self) -> &'static str {
        "A test connector whose behaviour its config controls"
    }

    fn validate(&self, config: &ProbeConfig) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if config.rate.is_some_and(|r| r <= 0.0) {
            issues.push(ConfigIssue::new("rate", "must be positive"));
        }
        issues
    }

    fn outputs(&self, config: &ProbeConfig) -> Vec<Output> {
        vec![Output { topic: config.topic.clone(), value_schema: PROBE_SCHEMA.into() }]
    }

    fn create_tasks(
        &self,
        _ctx: &ConnectorContext,
        config: ProbeConfig,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        Ok(vec![Box::new(ProbeTask(config))])
    }
}

struct ProbeTask(ProbeConfig);

#[async_trait]
impl SourceTask for ProbeTask {
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError> {
        let config = self.0;
        let secret = config.client_secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
        // A careless connector: its detail and its failure quote its credential. The runtime must
        // keep it out of the API and the logs anyway.
        ctx.status().set_detail(json!({"login": format!("client secret {secret}"), "topic": config.topic}));
        if let Some(message) = &config.fail {
            return Err(TaskError::Fatal(format!("{message} (tried client secret {secret})")));
        }
        match &config.degraded {
            Some(reason) => ctx.status().set_health(Health::Degraded(reason.clone())),
            None => ctx.status().set_health(Health::Healthy),
        }
        let partition = SourcePartition::single("probe", "0");
        let mut n = ctx.stored_offset(&partition).and_then(|o| o.get_i64("n")).map_or(0, |n| n + 1);
        let period = Duration::from_secs_f64(1.0 / config.rate.unwrap_or(50.0));
        let schema: Arc<str> = PROBE_SCHEMA.into();
        let topic: Arc<str> = config.topic.as_str().into();
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                _ = tokio::time::sleep(period) => {}
            }
            let record = SourceRecord {
                partition: partition.clone(),
                offset: SourceOffset::single_i64("n", n),
                topic: topic.clone(),
                key: Some(n.to_string().into_bytes()),
                timestamp_ms: None,
                value: RecordValue::new(schema.clone(), ProbeRecord { n, tag: "probe".into() }),
                headers: Vec::new(),
            };
            if ctx.emitter().send(record).await.is_err() {
                return Ok(());
            }
            n += 1;
        }
    }
}

/// Plugins holding `datagen` and `probe`.
pub fn probe_plugins() -> Plugins {
    let mut plugins = Plugins::new();
    plugins.register(tributary::datagen::Datagen);
    plugins.register(Probe);
    plugins
}
