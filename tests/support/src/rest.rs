//! A runtime behind its REST API, as the REST, metrics, reload and secrets tests drive it: started
//! from a config file in a temporary folder (so it can be reloaded), an HTTP client with its
//! token, bounded waits on connector status, Prometheus samples, and plain JSON GETs against any
//! runtime's API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tributary::avro::Decoder;
use tributary::clients::{client_config, registry_client};
use tributary::config::Env;
use tributary::reload::ConfigSource;
use tributary::runtime::{Runtime, StartOptions};
use tributary::tail::{TailOptions, tail};

use crate::probe::{PROBE_AVSC, probe_plugins};
use crate::runtime::fast_backoff;
use crate::wait::wait_until;
use crate::{workspace, write_file};

/// Bound on any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(45);

/// How often a status is asked for again.
const EVERY: Duration = Duration::from_millis(100);

/// Variables for `${env:…}` in test configs; nothing from the real environment.
#[derive(Default, Clone)]
pub struct TestEnv(pub HashMap<String, String>);

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
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

/// A runtime (with the `datagen` and `probe` connectors) started from a config file in a temp
/// dir, with its REST API on a free port of 127.0.0.1.
pub struct Harness {
    pub runtime: Runtime,
    pub dir: TempDir,
    pub path: PathBuf,
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Harness {
    /// Writes the config, validates it like `tributary run` does, and starts the runtime.
    pub async fn start(text: &str, env: TestEnv) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let schemas = dir.path().join("schemas");
        std::fs::create_dir_all(&schemas).expect("schemas dir");
        std::fs::copy(workspace().join("schemas/datagen.avsc"), schemas.join("datagen.avsc")).expect("copy schema");
        write_file(&schemas, "probe.avsc", PROBE_AVSC);
        let path = write_file(dir.path(), "config.yaml", text);
        let loaded = match tributary::validate::validate_file(&path, &env, &probe_plugins()) {
            Ok(loaded) => loaded,
            Err(errors) => panic!("test config is invalid: {errors}"),
        };
        let token = loaded.config.api.token.as_ref().map(|t| t.expose().to_owned());
        let options = StartOptions {
            backoff: fast_backoff(),
            source: Some(ConfigSource { path: path.clone(), env: Arc::new(env) }),
        };
        let runtime =
            Runtime::start_with_options(&loaded.config, probe_plugins(), options).await.expect("runtime starts");
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

    /// Waits (at most [`WAIT`]) until the connector's status satisfies `check`; returns that
    /// status.
    pub async fn wait_status(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_until(WAIT, EVERY, &format!("{name}: {what}"), || self.status(name), check).await
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

/// The value of a Prometheus sample named `name` whose labels include `labels`, if any.
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

/// `GET url` as JSON (30 s at most); `null` when the request fails or the body is not JSON.
pub async fn get_json(url: &str) -> Value {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    let client = CLIENT
        .get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client"));
    match client.get(url).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// `GET http://ADDRESS/connectors/NAME/status` (see [`get_json`]).
pub async fn connector_status(address: &str, name: &str) -> Value {
    get_json(&format!("http://{address}/connectors/{name}/status")).await
}

/// Asks [`get_json`]`(url)` every 100 ms until `check` accepts the answer, and returns it; panics
/// after `timeout` naming `what`.
pub async fn wait_json(url: &str, what: &str, timeout: Duration, check: impl Fn(&Value) -> bool) -> Value {
    wait_until(timeout, EVERY, what, || get_json(url), check).await
}

/// `GET path` from `address` without an async runtime: status code and body (HTTP/1.0, so the
/// server closes when done; 5 s read timeout). `(0, "")` when nothing answers.
pub fn http_get_blocking(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return (0, String::new()) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let code = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}
