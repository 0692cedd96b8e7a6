//! Starting the runtime from a config: embedded services when asked for, schemas, the offsets
//! topic, and the supervisor with every configured connector.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::avro::{EncoderOptions, SchemaError, Schemas, SubjectNameStrategy};
use crate::clients::{client_config, registry_client};
use crate::cluster::{Cluster, ClusterError};
use crate::config::{self, Config, KafkaConfig};
use crate::instance::Environment;
use crate::kafka::{EmbeddedError, EmbeddedKafka, TopicError, ensure_compacted_topic};
use crate::offsets::OffsetsReader;
use crate::plugins::Plugins;
use crate::reload::{ConfigSource, ReloadError, ReloadReport, Reloader};
use crate::rest::{AppState, BindError, RestServer};
use crate::schema_registry::{EmbeddedRegistry, EmbeddedRegistryConfig, EmbeddedRegistryHandle, RegistryError};
use crate::supervisor::{Backoff, Supervisor};
use crate::telemetry;

/// How long one read of the offsets topic may take.
const OFFSETS_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot load schemas from {dir}: {source}")]
    Schemas { dir: PathBuf, source: SchemaError },
    #[error(transparent)]
    EmbeddedKafka(#[from] EmbeddedError),
    #[error("cannot start the embedded schema registry: {0}")]
    EmbeddedRegistry(String),
    #[error("schema registry client: {0}")]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    OffsetsTopic(#[from] TopicError),
    #[error("invalid kafka property: {0}")]
    Kafka(String),
    #[error(transparent)]
    Api(#[from] BindError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// How to start a runtime beyond its config.
#[derive(Clone, Default)]
pub struct StartOptions {
    /// Restart backoff of every connector.
    pub backoff: Backoff,
    /// The file the config was read from: reloads (SIGHUP, `POST /reload`) re-read it. Without
    /// one, a reload answers that there is nothing to re-read.
    pub source: Option<ConfigSource>,
}

impl StartOptions {
    /// Options for a config read from `path`, with `${env:…}` resolved through `env`.
    pub fn from_file(path: impl Into<PathBuf>, env: Arc<dyn config::Env + Send + Sync>) -> Self {
        Self { backoff: Backoff::default(), source: Some(ConfigSource { path: path.into(), env }) }
    }
}

/// A started runtime: embedded services (if any), the supervisor running the connectors, and the
/// REST API (when `api.enabled`).
pub struct Runtime {
    pub supervisor: Arc<Supervisor>,
    pub embedded_kafka: Option<Arc<EmbeddedKafka>>,
    pub embedded_registry: Option<EmbeddedRegistryHandle>,
    pub bootstrap_servers: String,
    pub registry_url: String,
    /// Where the REST API listens, when it is enabled (the bound address: `api.listen` with port
    /// 0 gets a free port).
    pub rest_addr: Option<SocketAddr>,
    rest: Option<RestServer>,
    reloader: Arc<Reloader>,
    /// This replica's group membership, in cluster mode.
    cluster: Option<Cluster>,
}

/// The encoder's subject naming for the config's `subject_name_strategy`.
pub(crate) fn strategy(s: config::SubjectNameStrategy) -> SubjectNameStrategy {
    match s {
        config::SubjectNameStrategy::TopicName => SubjectNameStrategy::TopicName,
        config::SubjectNameStrategy::RecordName => SubjectNameStrategy::RecordName,
        config::SubjectNameStrategy::TopicRecordName => SubjectNameStrategy::TopicRecordName,
    }
}

impl Runtime {
    /// Starts embedded services as configured, checks the offsets topic, and starts every
    /// connector. Notices about embedded services are logged (and printed by the binary).
    pub async fn start(config: &Config, plugins: Plugins) -> Result<Self, StartError> {
        Self::start_with(config, plugins, Backoff::default()).await
    }

    pub async fn start_with(config: &Config, plugins: Plugins, backoff: Backoff) -> Result<Self, StartError> {
        Self::start_with_options(config, plugins, StartOptions { backoff, ..StartOptions::default() }).await
    }

    /// Starts the runtime: the metrics recorder, the REST API's listener (first, so a taken port
    /// fails before anything else starts), embedded services, the offsets topic check, then every
    /// connector.
    pub async fn start_with_options(
        config: &Config,
        plugins: Plugins,
        options: StartOptions,
    ) -> Result<Self, StartError> {
        telemetry::install();
        let listener = if config.api.enabled { Some(RestServer::bind(config.api.listen).await?) } else { None };
        let schemas = Schemas::load_dir(&config.schemas_dir)
            .map_err(|source| StartError::Schemas { dir: config.schemas_dir.clone(), source })?;

        let (embedded_kafka, bootstrap_servers) = start_kafka(&config.kafka).await?;

        let (embedded_registry, registry_url) = if config.schema_registry.is_embedded() {
            let addr = SocketAddr::from(([127, 0, 0, 1], config.schema_registry.embedded_port));
            let handle = EmbeddedRegistry::start_with(EmbeddedRegistryConfig::new(addr))
                .await
                .map_err(|e| StartError::EmbeddedRegistry(e.to_string()))?;
            tracing::warn!("{}", handle.notice());
            let url = handle.url();
            (Some(handle), url)
        } else {
            (None, config.schema_registry.url.clone())
        };
        let registry = registry_client(&config.schema_registry, &registry_url)?;

        let env = Environment {
            bootstrap_servers: bootstrap_servers.clone(),
            producer: config.kafka.producer.clone(),
            producers: config.kafka.share_producers.then(Default::default),
            buffer_memory: config.kafka.buffer_memory,
            connector_buffer_memory: config.kafka.connector_buffer_memory,
            consumer: client_config(&bootstrap_servers, &config.kafka.consumer),
            offsets_topic: config.kafka.offsets.topic.clone(),
            offsets: OffsetsReader::new(
                client_config(&bootstrap_servers, &config.kafka.consumer),
                config.kafka.offsets.topic.clone(),
                OFFSETS_READ_TIMEOUT,
            ),
            flush_interval: config.kafka.offsets.flush_interval.get(),
            registry,
            schemas: Arc::new(schemas),
            encoder_options: EncoderOptions {
                subject_strategy: strategy(config.schema_registry.subject_name_strategy),
                auto_register: config.schema_registry.auto_register,
            },
            embedded: embedded_kafka.clone(),
            embedded_partitions: config.kafka.embedded_partitions,
            transactional_id_prefix: config.exactly_once().then(|| config.cluster.transactional_id_prefix()),
            plugins: plugins.clone(),
        };
        let supervisor = Arc::new(Supervisor::new(env, options.backoff));
        let reloader = Arc::new(Reloader::new(options.source, plugins.clone(), supervisor.clone(), config.clone()));
        let rest_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let cluster = match &config.cluster.group_id {
            Some(_) => {
                let replica = replica_id(config.cluster.replica_id.as_deref(), rest_addr);
                let consumer = client_config(&bootstrap_servers, &config.kafka.consumer);
                Some(Cluster::join(&config.cluster, &consumer, &config.connectors, replica, supervisor.clone()).await?)
            }
            None => {
                for entry in &config.connectors {
                    supervisor.start(entry.clone());
                }
                None
            }
        };
        let rest = match listener {
            Some(listener) => {
                let state = AppState {
                    supervisor: supervisor.clone(),
                    reloader: reloader.clone(),
                    plugins,
                    token: config.api.token.clone(),
                    worker_id: "".into(),
                    cluster: cluster.as_ref().map(Cluster::watch),
                };
                Some(RestServer::serve(listener, state)?)
            }
            None => None,
        };
        Ok(Self {
            supervisor,
            embedded_kafka,
            embedded_registry,
            bootstrap_servers,
            registry_url,
            rest_addr: rest.as_ref().map(RestServer::addr),
            rest,
            reloader,
            cluster,
        })
    }

    /// Re-reads the config file and applies it; see [`crate::reload`]. Waits for a reload in
    /// progress to finish first.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        self.reloader.reload().await
    }

    /// Stops the REST API, every connector (flushing offsets), then the embedded services.
    pub async fn shutdown(self) {
        if let Some(rest) = self.rest {
            rest.shutdown().await;
        }
        if let Some(cluster) = self.cluster {
            cluster.leave().await;
        }
        self.supervisor.shutdown().await;
        if let Some(registry) = self.embedded_registry {
            let _ = registry.shutdown().await;
        }
        if let Some(kafka) = self.embedded_kafka {
            // The cluster thread joins on drop; keep that off the async workers.
            let _ = tokio::task::spawn_blocking(move || drop(kafka)).await;
        }
    }
}

/// How this replica names itself in its group: `cluster.replica_id`, else `<host>:<REST port>`,
/// else `<host>-<pid>`.
fn replica_id(configured: Option<&str>, rest: Option<SocketAddr>) -> String {
    if let Some(id) = configured {
        return id.to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "tributary".into());
    match rest {
        Some(addr) => format!("{host}:{}", addr.port()),
        None => format!("{host}-{}", std::process::id()),
    }
}

/// Starts the embedded cluster or checks the real one; either way the offsets topic exists
/// afterwards (compacted where the broker lets us check).
async fn start_kafka(kafka: &KafkaConfig) -> Result<(Option<Arc<EmbeddedKafka>>, String), StartError> {
    let offsets = &kafka.offsets;
    if kafka.is_embedded() {
        let cluster = tokio::task::spawn_blocking(|| EmbeddedKafka::start(1))
            .await
            .map_err(|e| EmbeddedError::Start(e.to_string()))??;
        tracing::warn!("{}", cluster.notice());
        cluster.create_topic(&offsets.topic, offsets.partitions.min(kafka.embedded_partitions.max(1)))?;
        let bootstrap = cluster.bootstrap_servers().to_owned();
        return Ok((Some(Arc::new(cluster)), bootstrap));
    }
    let admin = client_config(&kafka.bootstrap_servers, &kafka.producer);
    let check = ensure_compacted_topic(
        &admin,
        &offsets.topic,
        offsets.partitions,
        offsets.replication_factor,
        Duration::from_secs(10),
    )
    .await?;
    tracing::info!(topic = %offsets.topic, check = ?check, "offsets topic ready");
    Ok((None, kafka.bootstrap_servers.clone()))
}
