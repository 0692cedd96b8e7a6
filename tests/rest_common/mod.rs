//! Helpers for the REST, metrics, reload and secrets tests: a runtime started from a config file
//! in a temp dir (so it can be reloaded), an HTTP client, a probe connector whose behaviour the
//! config controls, and bounded waits. Everything talks to 127.0.0.1 only.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tempfile::TempDir;
use tributary::api::{
    Connector, ConnectorContext, ConnectorError, Health, Output, RecordValue, Secret, SourceOffset, SourcePartition,
    SourceRecord, SourceTask, TaskContext, TaskError, async_trait,
};
use tributary::avro::Decoder;
use tributary::config::Env;
use tributary::plugins::Plugins;
use tributary::reload::ConfigSource;
use tributary::runtime::{Runtime, StartOptions, client_config, registry_client};
use tributary::supervisor::Backoff;
use tributary::tail::{TailOptions, tail};

/// Bound on any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(45);

/// The Avro schema the probe connector writes.
pub const PROBE_SCHEMA: &str = "tributary.test.Probe";
const PROBE_AVSC: &str = r#"{"type":"record","name":"Probe","namespace":"tributary.test",
 "fields":[{"name":"n","type":"long"},{"name":"tag","type":"string"}]}"#;

/// Variables for `${env:…}` in test configs; nothing from the real environment.
#[derive(Default, Clone)]
pub struct TestEnv(pub HashMap<String, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

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

    fn validate(&self, config: &ProbeConfig) -> Vec<tributary::api::ConfigIssue> {
        let mut issues = Vec::new();
        if config.rate.is_some_and(|r| r <= 0.0) {
            issues.push(tributary::api::ConfigIssue::new("rate", "must be positive"));
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

/// Plugins for these tests: `datagen` and `probe`.
pub fn plugins() -> Plugins {
    let mut plugins = Plugins::new();
    plugins.register(tributary::datagen::Datagen);
    plugins.register(Probe);
    plugins
}

pub fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), reset_after: Duration::from_secs(60) }
}

/// A runtime started from a config file in a temp dir, with its REST API on a free port.
pub struct Harness {
    pub runtime: Runtime,
    pub dir: TempDir,
    pub path: PathBuf,
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

/// The config file text: embedded Kafka and registry, the API on a free port, schemas copied
/// next to it, then `extra` (indented lines continue `api:`, unindented ones add sections) and
/// the connectors.
pub fn config_text(extra: &str, connectors: &str) -> String {
    format!(
        "kafka:\n  bootstrap_servers: embedded\n  offsets:\n    flush_interval: 500ms\n\
         schema_registry:\n  url: embedded\n\
         schemas_dir: schemas\n\
         api:\n  listen: 127.0.0.1:0\n{extra}\
         connectors:\n{connectors}"
    )
}

impl Harness {
    /// Writes the config, validates it like `tributary run` does, and starts the runtime.
    pub async fn start(text: &str, env: TestEnv) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let schemas = dir.path().join("schemas");
        std::fs::create_dir_all(&schemas).expect("schemas dir");
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(repo.join("schemas/datagen.avsc"), schemas.join("datagen.avsc")).expect("copy schema");
        std::fs::write(schemas.join("probe.avsc"), PROBE_AVSC).expect("probe schema");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).expect("write config");
        let loaded = match tributary::validate::validate_file(&path, &env, &plugins()) {
            Ok(loaded) => loaded,
            Err(errors) => panic!("test config is invalid: {errors}"),
        };
        let token = loaded.config.api.token.as_ref().map(|t| t.expose().to_owned());
        let options = StartOptions {
            backoff: fast_backoff(),
            source: Some(ConfigSource { path: path.clone(), env: Arc::new(env) }),
        };
        let runtime = Runtime::start_with_options(&loaded.config, plugins(), options).await.expect("runtime starts");
        let addr = runtime.rest_addr.expect("the API is enabled");
        assert!(addr.ip().is_loopback(), "the API binds 127.0.0.1: {addr}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        Self { runtime, dir, path, base: format!("http://{addr}"), http, token }
    }

    /// Replaces the config file (for a reload).
    pub fn rewrite(&self, text: &str) {
        std::fs::write(&self.path, text).expect("rewrite config");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request (with the token, if the config has one) and returns the status and the
    /// body (JSON when it parses, else a JSON string of the text).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_str().expect("metrics are text").to_owned()
    }

    /// The connector's status; panics unless 200.
    pub async fn status(&self, name: &str) -> Value {
        let (code, body) = self.get(&format!("/connectors/{name}/status")).await;
        assert_eq!(code, StatusCode::OK, "status of {name}: {body}");
        body
    }

    /// Waits until the connector's status satisfies `check`; returns that status.
    pub async fn wait_status(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let status = self.status(name).await;
            if check(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "{name}: {what} not reached within {WAIT:?}; last status: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a connector state (`RUNNING` also needs its tasks started).
    pub async fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_status(name, state, |s| {
            s["connector"]["state"] == state && (state != "RUNNING" || !s["tasks"].as_array().is_none_or(Vec::is_empty))
        })
        .await
    }

    /// Waits until the connector has committed an offset (status `runtime.offsets[0].committed`).
    pub async fn wait_committed(&self, name: &str) -> Value {
        self.wait_status(name, "a committed offset", |s| !s["runtime"]["offsets"][0]["committed"].is_null()).await
    }

    /// Every decoded value on `topic`, from the beginning, stopping once nothing new arrives.
    pub async fn consume(&self, topic: &str) -> Vec<Value> {
        let base = client_config(&self.runtime.bootstrap_servers, &Default::default());
        let section: tributary::config::RegistryConfig =
            serde_json::from_value(json!({"url": self.runtime.registry_url})).expect("registry section");
        let decoder = Decoder::new(registry_client(&section, &self.runtime.registry_url).expect("registry client"));
        let options = TailOptions {
            topic: topic.to_owned(),
            from_beginning: true,
            limit: None,
            idle_exit: Some(Duration::from_secs(3)),
        };
        let mut values = Vec::new();
        tokio::time::timeout(WAIT, tail(&base, &decoder, &options, |v| values.push(v["value"].clone())))
            .await
            .expect("consumed within the bound")
            .expect("topic consumed");
        values
    }

    pub async fn shutdown(self) {
        tokio::time::timeout(WAIT, self.runtime.shutdown()).await.expect("runtime stops");
    }
}

/// Waits until `check` yields a value.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} not reached within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of a Prometheus sample whose line starts with `prefix` (name and labels), if any.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        if metric != name {
            return None;
        }
        labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))).then(|| value.parse().ok()).flatten()
    })
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}
