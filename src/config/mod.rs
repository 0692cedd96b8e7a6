//! The YAML config file: parsing, `${…}` substitution, typed runtime sections, and errors that
//! name the key path and line.
//!
//! Loading never stops at the first problem: every section and every connector entry is checked,
//! and all errors are returned together ([`ConfigErrors`]). Connector-specific keys are checked by
//! the connector itself (see [`crate::registry::ConnectorRegistry::validate`]); this module owns the
//! runtime's keys (`kafka`, `schema_registry`, `api`, `logging`, `schemas_dir`, and each
//! connector's `name`, `class`, `producer`).

mod error;
mod lines;
mod redact;
mod substitute;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use error::{ConfigError, ConfigErrors};
pub use lines::LineIndex;
pub use redact::{Scrubber, is_sensitive_key, redact};
pub use substitute::{Env, ProcessEnv};

use crate::api::{Duration, Secret};

/// The whole file, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub cluster: ClusterConfig,
    pub schema_registry: RegistryConfig,
    /// Directory of `*.avsc` files, relative to the config file.
    pub schemas_dir: PathBuf,
    pub api: ApiConfig,
    pub logging: LoggingConfig,
    pub connectors: Vec<ConnectorConfig>,
}

/// `kafka:`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port,…`, or `embedded` for an in-process mock cluster that keeps nothing.
    pub bootstrap_servers: String,
    /// librdkafka producer properties applied to every connector's producer.
    #[serde(default)]
    pub producer: Properties,
    /// librdkafka consumer properties for reading the offsets topic and `tail`.
    #[serde(default)]
    pub consumer: Properties,
    #[serde(default)]
    pub offsets: OffsetsConfig,
    /// Partitions of topics the embedded cluster creates.
    #[serde(default = "default_embedded_partitions")]
    pub embedded_partitions: i32,
    /// Each connector's records and the offsets that cover them are written in one Kafka
    /// transaction per flush, so a `read_committed` reader sees every record once across
    /// restarts (Kafka Connect's exactly-once source semantics). Needs a broker with
    /// transactions. Absent: on in cluster mode (`cluster.group_id`), off otherwise; see
    /// [`Config::exactly_once`].
    #[serde(default)]
    pub exactly_once: Option<bool>,
    /// Connectors whose effective producer properties are the same write through one producer
    /// (each within its own `connector_buffer_memory`). `false`: a producer per connector.
    /// Exactly-once connectors always have their own (see `crate::instance::producers`).
    #[serde(default = "yes")]
    pub share_producers: bool,
    /// Bytes of records one producer holds before they are acknowledged (librdkafka's
    /// `queue.buffering.max.kbytes`, and `queue.buffering.max.messages` at one per 512 bytes,
    /// unless `producer` sets them). When full, connectors wait: nothing is dropped.
    #[serde(default = "default_buffer_memory")]
    pub buffer_memory: u64,
    /// Bytes of records one connector holds in flight (key, value and headers, plus 512 per
    /// record): a connector whose records stall waits at this bound, not the others.
    #[serde(default = "default_connector_buffer_memory")]
    pub connector_buffer_memory: u64,
}

fn default_embedded_partitions() -> i32 {
    3
}

/// 64 MiB.
pub const DEFAULT_BUFFER_MEMORY: u64 = 64 << 20;

fn default_buffer_memory() -> u64 {
    DEFAULT_BUFFER_MEMORY
}

fn default_connector_buffer_memory() -> u64 {
    16 << 20
}

/// `cluster:` several replicas on one config, sharing the connectors through a Kafka consumer
/// group. Without `group_id` the process runs every connector itself (standalone).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The consumer group the replicas join. Absent: standalone.
    pub group_id: Option<String>,
    /// The coordination topic whose partitions are the connector slots (one per connector, in
    /// the order of their names). Default: `<group_id>.slots`. Nothing is written to it.
    pub topic: Option<String>,
    /// A replica that sends no heartbeat for this long loses its connectors to the others.
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// How long a rebalance waits for a replica to stop the connectors it gives up.
    pub rebalance_timeout: Duration,
    /// Each connector's `transactional.id` is this prefix and its name: a process that starts
    /// the connector with the same prefix fences the one that ran it before. Default: see
    /// [`Self::transactional_id_prefix`].
    pub transactional_id_prefix: Option<String>,
    /// How this replica names itself in the group and in status answers. Default: the REST
    /// API's address, or `<host>-<pid>` without the API.
    pub replica_id: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            group_id: None,
            topic: None,
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(60),
            transactional_id_prefix: None,
            replica_id: None,
        }
    }
}

impl ClusterConfig {
    /// The configured prefix; else `<group_id>.` in cluster mode (two clusters on one Kafka
    /// cluster never fence each other's connectors), `tributary-` standalone.
    pub fn transactional_id_prefix(&self) -> String {
        match (&self.transactional_id_prefix, &self.group_id) {
            (Some(prefix), _) => prefix.clone(),
            (None, Some(group)) => format!("{group}."),
            (None, None) => "tributary-".to_owned(),
        }
    }

    /// The coordination topic, when in cluster mode.
    pub fn slots_topic(&self) -> Option<String> {
        let group = self.group_id.as_ref()?;
        Some(self.topic.clone().unwrap_or_else(|| format!("{group}.slots")))
    }
}

impl KafkaConfig {
    pub fn is_embedded(&self) -> bool {
        self.bootstrap_servers == EMBEDDED
    }
}

/// The value of `bootstrap_servers` / `url` that selects an in-process development service.
pub const EMBEDDED: &str = "embedded";

/// `kafka.offsets:` where and how often offsets are committed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffsetsConfig {
    pub topic: String,
    pub flush_interval: Duration,
    /// Used when the topic has to be created.
    pub partitions: i32,
    /// Used when the topic has to be created; -1 takes the broker's default.
    pub replication_factor: i32,
}

impl Default for OffsetsConfig {
    fn default() -> Self {
        Self {
            topic: "tributary-offsets".into(),
            flush_interval: Duration::from_secs(5),
            partitions: 25,
            replication_factor: -1,
        }
    }
}

/// librdkafka properties. Values may be written as strings, numbers or booleans.
pub type Properties = BTreeMap<String, PropertyValue>;

/// A librdkafka property value; librdkafka takes them all as strings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl std::fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `schema_registry:`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Base URL, or `embedded` for an in-process registry that keeps nothing.
    pub url: String,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub bearer_auth: Option<BearerAuth>,
    /// CA certificates (PEM) trusted besides the system's, for an https registry.
    #[serde(default, rename = "ssl.ca.location")]
    pub ssl_ca_location: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; goes with `ssl.key.location`.
    #[serde(default, rename = "ssl.certificate.location")]
    pub ssl_certificate_location: Option<PathBuf>,
    /// The client certificate's unencrypted PKCS#8 PEM key.
    #[serde(default, rename = "ssl.key.location")]
    pub ssl_key_location: Option<PathBuf>,
    /// An http(s) proxy URL for every registry request (`NO_PROXY` applies). Without it the
    /// `HTTPS_PROXY`/`NO_PROXY` environment variables are honoured.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Bound on one request, connection included.
    #[serde(default = "registry_request_timeout")]
    pub request_timeout: Duration,
    /// Bound on establishing a connection.
    #[serde(default = "registry_connect_timeout")]
    pub connect_timeout: Duration,
    /// Attempts per call (first included) while the registry is unreachable or answers 5xx/429.
    #[serde(default = "registry_max_attempts")]
    pub max_attempts: u32,
    #[serde(default)]
    pub subject_name_strategy: SubjectNameStrategy,
    /// Register schemas that are missing; when false, look them up and fail if absent.
    #[serde(default = "yes")]
    pub auto_register: bool,
    /// Port of the embedded registry (0 = any free port).
    #[serde(default)]
    pub embedded_port: u16,
}

fn yes() -> bool {
    true
}

fn registry_request_timeout() -> Duration {
    Duration::from_secs(10)
}

fn registry_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn registry_max_attempts() -> u32 {
    4
}

impl RegistryConfig {
    pub fn is_embedded(&self) -> bool {
        self.url == EMBEDDED
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// `schema_registry.bearer_auth`: a fixed `token`, or OAuth client credentials
/// (`client_id`, `client_secret`, `token_endpoint_url`, optional `scope`). Confluent Cloud also
/// wants `logical_cluster` and `identity_pool_id`, sent as headers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BearerAuth {
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub token_endpoint_url: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub logical_cluster: Option<String>,
    #[serde(default)]
    pub identity_pool_id: Option<String>,
}

/// How a value schema's registry subject is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNameStrategy {
    /// `<topic>-value` (Confluent's default).
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

/// `api:` the REST API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// When set, every request but `/health` needs `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { enabled: true, listen: SocketAddr::from(([127, 0, 0, 1], 8083)), token: None }
    }
}

/// `logging:`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,tributary=debug`; `RUST_LOG` wins when set.
    pub level: String,
    /// How often `tributary run` logs a summary line per connector when stderr is not a
    /// terminal (on a terminal it draws a live view instead); `off` never. Default 30 s.
    #[serde(deserialize_with = "interval_or_off")]
    pub summary_interval: Option<Duration>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self { format: LogFormat::Human, level: "info".into(), summary_interval: Some(Duration::from_secs(30)) }
    }
}

/// A duration, or `off` (also `0s`) for never.
fn interval_or_off<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Off(bool),
        Text(String),
    }
    match Written::deserialize(deserializer) {
        Ok(Written::Off(false)) => Ok(None),
        Ok(Written::Text(t)) if t.trim() == "off" => Ok(None),
        Ok(Written::Text(t)) => {
            let d: Duration = t.parse().map_err(serde::de::Error::custom)?;
            Ok((!d.get().is_zero()).then_some(d))
        }
        _ => Err(serde::de::Error::custom("expected a duration such as `30s`, or `off`")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// One entry under `connectors:`. Its `Debug` shows the redacted entry, never the resolved one.
#[derive(Clone, PartialEq)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    /// librdkafka producer properties for this connector only, over `kafka.producer`.
    pub producer: Properties,
    /// Everything else in the entry, after substitution: the connector's own config.
    pub config: Value,
    /// The entry as written, before substitution (placeholders kept), with literal secrets
    /// redacted: what the REST API shows.
    pub shown: Value,
    /// Where the entry sits in the file, e.g. `connectors[2]`.
    pub path: String,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("class", &self.class)
            .field("entry", &self.shown)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig {
    /// A scrubber for this entry's secrets (resolved values under sensitive keys, in the
    /// connector's config and its producer properties), for text about this connector.
    pub fn scrubber(&self) -> Scrubber {
        let mut scrubber = Scrubber::for_value(&self.config);
        for (key, value) in &self.producer {
            if is_sensitive_key(key) {
                scrubber.add(&value.to_string());
            }
        }
        scrubber
    }
}

impl Config {
    /// Whether records and offsets are written in transactions: `kafka.exactly_once`, or in
    /// cluster mode by default (its fencing needs transactional producers).
    pub fn exactly_once(&self) -> bool {
        self.kafka.exactly_once.unwrap_or(self.cluster.group_id.is_some())
    }

    /// A scrubber for every secret in the file: the runtime's (registry password, API token,
    /// sensitive Kafka properties) and every connector's.
    pub fn scrubber(&self) -> Scrubber {
        let mut scrubber = Scrubber::default();
        if let Some(auth) = &self.schema_registry.basic_auth {
            scrubber.add(auth.password.expose());
        }
        if let Some(bearer) = &self.schema_registry.bearer_auth {
            for secret in bearer.token.iter().chain(&bearer.client_secret) {
                scrubber.add(secret.expose());
            }
        }
        if let Some(token) = &self.api.token {
            scrubber.add(token.expose());
        }
        for (key, value) in self.kafka.producer.iter().chain(&self.kafka.consumer) {
            if is_sensitive_key(key) {
                scrubber.add(&value.to_string());
            }
        }
        for entry in &self.connectors {
            scrubber.add_value(&entry.config);
            for (key, value) in &entry.producer {
                if is_sensitive_key(key) {
                    scrubber.add(&value.to_string());
                }
            }
        }
        scrubber
    }
}

/// The runtime's own keys in a connector entry.
const RUNTIME_CONNECTOR_KEYS: [&str; 3] = ["name", "class", "producer"];

/// A loaded file: the typed config plus what error reporting needs.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub file: String,
    pub lines: LineIndex,
}

impl Loaded {
    /// Attaches lines to errors found after loading (e.g. by connectors) and wraps them.
    pub fn errors(&self, errors: Vec<ConfigError>) -> ConfigErrors {
        located(&self.file, &self.lines, errors)
    }
}

/// Wraps errors for `file`, filling in each one's line from `lines` where it is missing.
fn located(file: &str, lines: &LineIndex, mut errors: Vec<ConfigError>) -> ConfigErrors {
    for e in &mut errors {
        if e.line.is_none() {
            e.line = lines.line_of(&line_path(e));
        }
    }
    ConfigErrors { file: file.to_owned(), errors }
}

/// Reads and checks `path`. Every error is reported, each with its key path and line.
pub fn load(path: &Path, env: &dyn Env) -> Result<Loaded, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        errors: vec![ConfigError::new("", format!("cannot read the config file: {e}"))],
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &file, &base, env)
}

/// Parses config text; `base` resolves relative paths (`${file:…}`, `schemas_dir`).
pub fn parse(text: &str, file: &str, base: &Path, env: &dyn Env) -> Result<Loaded, ConfigErrors> {
    if let Err((message, line)) = lines::check_bounds(text) {
        let mut err = ConfigError::new("", message);
        err.line = line;
        return Err(ConfigErrors { file: file.to_owned(), errors: vec![err] });
    }
    let lines = LineIndex::build(text);
    let fail = |errors: Vec<ConfigError>| located(file, &lines, errors);

    let yaml: serde_yaml_ng::Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let mut err = ConfigError::new("", format!("malformed YAML: {e}"));
            err.line = e.location().map(|l| l.line());
            return Err(ConfigErrors { file: file.to_owned(), errors: vec![err] });
        }
    };
    let raw: Value = match serde_json::to_value(&yaml) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(Value::Null) => return Err(fail(vec![ConfigError::new("", "the config file is empty")])),
        Ok(_) => return Err(fail(vec![ConfigError::new("", "the config file must be a mapping of sections")])),
        Err(e) => return Err(fail(vec![ConfigError::new("", format!("unsupported YAML: {e}"))])),
    };

    let mut errors = Vec::new();
    let mut resolved = raw.clone();
    substitute_tree(&mut resolved, "", env, base, &mut errors);
    // Errors may quote values (a serde type error does); none of them may quote a secret.
    let scrubber = Scrubber::for_value(&resolved);
    let fail = |mut errors: Vec<ConfigError>| {
        for e in &mut errors {
            e.message = scrubber.scrub(&e.message);
        }
        fail(errors)
    };
    let Value::Object(mut top) = resolved else { return Err(fail(errors)) };
    let Value::Object(raw_top) = raw else { return Err(fail(errors)) };

    let kafka = section::<KafkaConfig>(&mut top, "kafka", true, &mut errors);
    let schema_registry = section::<RegistryConfig>(&mut top, "schema_registry", true, &mut errors);
    let cluster = section::<ClusterConfig>(&mut top, "cluster", false, &mut errors).unwrap_or_default();
    let api = section::<ApiConfig>(&mut top, "api", false, &mut errors);
    let logging = section::<LoggingConfig>(&mut top, "logging", false, &mut errors);
    let schemas_dir = section::<PathBuf>(&mut top, "schemas_dir", false, &mut errors);
    let connectors = connectors(&mut top, raw_top.get("connectors"), &mut errors);
    for key in top.keys() {
        errors.push(ConfigError::new(
            key.clone(),
            "unknown key (known: kafka, schema_registry, cluster, schemas_dir, api, logging, connectors)",
        ));
    }

    if let Some(kafka) = &kafka {
        check_kafka(kafka, &mut errors);
        check_cluster(&cluster, kafka, &mut errors);
    }
    match (kafka, schema_registry) {
        (Some(kafka), Some(schema_registry)) if errors.is_empty() => Ok(Loaded {
            config: Config {
                kafka,
                cluster,
                schema_registry,
                schemas_dir: base.join(schemas_dir.unwrap_or_else(|| PathBuf::from("schemas"))),
                api: api.unwrap_or_default(),
                logging: logging.unwrap_or_default(),
                connectors,
            },
            file: file.to_owned(),
            lines,
        }),
        _ => Err(fail(errors)),
    }
}

/// The path used to find an error's line: an unknown key points at the key itself.
fn line_path(e: &ConfigError) -> String {
    if let Some(rest) = e.message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let field = &rest[..end];
        return if e.path.is_empty() { field.to_owned() } else { format!("{}.{field}", e.path) };
    }
    e.path.clone()
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

fn substitute_tree(value: &mut Value, path: &str, env: &dyn Env, base: &Path, errors: &mut Vec<ConfigError>) {
    match value {
        Value::String(text) => match substitute::substitute(text, env, base) {
            Ok(substitute::Substituted::Unchanged) => {}
            Ok(substitute::Substituted::Text(t)) => *text = t,
            Ok(substitute::Substituted::Whole(t)) => *value = scalar(t),
            Err(message) => errors.push(ConfigError::new(path, message)),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_tree(item, &format!("{path}[{i}]"), env, base, errors);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                substitute_tree(item, &join(path, key), env, base, errors);
            }
        }
        _ => {}
    }
}

/// Reads a substituted value the way YAML would have read it in place: `250` is a number,
/// `true` a boolean, anything else stays text.
fn scalar(text: String) -> Value {
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
        Ok(v @ (serde_yaml_ng::Value::Number(_) | serde_yaml_ng::Value::Bool(_))) => {
            serde_json::to_value(v).unwrap_or(Value::String(text))
        }
        _ => Value::String(text),
    }
}

/// Deserializes one top-level section, recording its errors with their full paths.
fn section<T: DeserializeOwned>(
    top: &mut Map<String, Value>,
    key: &str,
    required: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    match top.remove(key) {
        None if required => {
            errors.push(ConfigError::new(key, "missing section"));
            None
        }
        None => None,
        Some(value) => typed(value, key).map_err(|e| errors.push(e)).ok(),
    }
}

fn typed<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let full = match inner.as_str() {
            "." | "" => path.to_owned(),
            p if p.starts_with('[') => format!("{path}{p}"),
            p => join(path, p),
        };
        ConfigError::new(full, e.into_inner().to_string())
    })
}

fn connectors(
    top: &mut Map<String, Value>,
    raw: Option<&Value>,
    errors: &mut Vec<ConfigError>,
) -> Vec<ConnectorConfig> {
    let items = match top.remove("connectors") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(ConfigError::new("connectors", "must be a list of connector entries"));
            return Vec::new();
        }
    };
    let raw_items = raw.and_then(Value::as_array);
    let mut out = Vec::new();
    let mut names = BTreeMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("connectors[{i}]");
        let Value::Object(mut map) = item else {
            errors.push(ConfigError::new(path, "must be a mapping with at least `name` and `class`"));
            continue;
        };
        let name = required_text(&mut map, &path, "name", errors);
        let class = required_text(&mut map, &path, "class", errors);
        let producer = match map.remove("producer") {
            None => Some(Properties::new()),
            Some(v) => typed::<Properties>(v, &join(&path, "producer")).map_err(|e| errors.push(e)).ok(),
        };
        if let Some(name) = &name {
            if let Some(first) = names.insert(name.clone(), i) {
                errors.push(ConfigError::new(
                    join(&path, "name"),
                    format!("duplicate connector name `{name}` (also connectors[{first}])"),
                ));
            }
            if !valid_name(name) {
                errors.push(ConfigError::new(
                    join(&path, "name"),
                    format!("connector name `{name}` may only contain letters, digits, `.`, `_` and `-`"),
                ));
            }
        }
        let shown = raw_items
            .and_then(|r| r.get(i))
            .map(|entry| {
                let mut entry = entry.clone();
                redact(&mut entry);
                entry
            })
            .unwrap_or(Value::Null);
        if let (Some(name), Some(class), Some(producer)) = (name, class, producer) {
            out.push(ConnectorConfig { name, class, producer, config: Value::Object(map), shown, path });
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn required_text(map: &mut Map<String, Value>, path: &str, key: &str, errors: &mut Vec<ConfigError>) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(_) => {
            errors.push(ConfigError::new(join(path, key), "must be a non-empty string"));
            None
        }
        None => {
            errors.push(ConfigError::new(path, format!("missing `{key}`")));
            None
        }
    }
}

fn check_kafka(kafka: &KafkaConfig, errors: &mut Vec<ConfigError>) {
    if kafka.bootstrap_servers.trim().is_empty() {
        errors.push(ConfigError::new("kafka.bootstrap_servers", "must not be empty"));
    }
    if kafka.offsets.topic.trim().is_empty() {
        errors.push(ConfigError::new("kafka.offsets.topic", "must not be empty"));
    }
    if kafka.offsets.flush_interval.get().is_zero() {
        errors.push(ConfigError::new("kafka.offsets.flush_interval", "must be greater than zero"));
    }
    if kafka.offsets.partitions < 1 {
        errors.push(ConfigError::new("kafka.offsets.partitions", "must be at least 1"));
    }
    // librdkafka takes at most 2^31-1 KiB; below 1 MiB one large record would not fit.
    if !(1 << 20..=(i32::MAX as u64) << 10).contains(&kafka.buffer_memory) {
        errors.push(ConfigError::new("kafka.buffer_memory", "must be between 1 MiB (1048576) and 2 TiB, in bytes"));
    }
    if kafka.connector_buffer_memory < 1 << 16 || kafka.connector_buffer_memory > kafka.buffer_memory {
        errors.push(ConfigError::new(
            "kafka.connector_buffer_memory",
            format!("must be between 64 KiB (65536) and kafka.buffer_memory ({}), in bytes", kafka.buffer_memory),
        ));
    }
}

fn check_cluster(cluster: &ClusterConfig, kafka: &KafkaConfig, errors: &mut Vec<ConfigError>) {
    if cluster.transactional_id_prefix.as_deref() == Some("") {
        errors.push(ConfigError::new("cluster.transactional_id_prefix", "must not be empty"));
    }
    let Some(group) = &cluster.group_id else { return };
    if group.trim().is_empty() || !valid_name(group) {
        errors.push(ConfigError::new(
            "cluster.group_id",
            "must be a non-empty name of letters, digits, `.`, `_` and `-`",
        ));
    }
    if let Some(topic) = &cluster.topic
        && !valid_name(topic)
    {
        errors.push(ConfigError::new("cluster.topic", "must be a topic name of letters, digits, `.`, `_` and `-`"));
    }
    if kafka.is_embedded() {
        errors.push(ConfigError::new(
            "cluster.group_id",
            "cluster mode needs a Kafka cluster the replicas share; the embedded one lives inside one process",
        ));
    }
    if kafka.exactly_once == Some(false) {
        errors.push(ConfigError::new(
            "kafka.exactly_once",
            "cluster mode fences a replica that lost its connectors through transactions; \
             `exactly_once: false` would let it go on writing (remove the key, or run standalone)",
        ));
    }
    let (session, heartbeat) = (cluster.session_timeout.get(), cluster.heartbeat_interval.get());
    if session < std::time::Duration::from_secs(1) {
        errors.push(ConfigError::new("cluster.session_timeout", "must be at least 1s"));
    }
    if heartbeat.is_zero() || heartbeat >= session {
        errors.push(ConfigError::new(
            "cluster.heartbeat_interval",
            "must be greater than zero and shorter than `session_timeout` (a third of it is usual)",
        ));
    }
    if cluster.rebalance_timeout.get() < std::time::Duration::from_secs(1) {
        errors.push(ConfigError::new("cluster.rebalance_timeout", "must be at least 1s"));
    }
}

/// Keys of a connector entry that belong to the runtime, not to the connector.
pub fn is_runtime_connector_key(key: &str) -> bool {
    RUNTIME_CONNECTOR_KEYS.contains(&key)
}

#[cfg(test)]
mod tests;
