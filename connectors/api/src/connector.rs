//! The connector and task traits, and the erased form the runtime's registry holds.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::check::{Check, Checks};
use crate::config::ConfigIssue;
use crate::context::TaskContext;

/// A topic a connector writes, with the Avro schema (full name, from `schemas/`) of its values.
/// The runtime registers (or looks up) each one before the tasks start, so that an incompatible
/// schema fails the connector at start-up rather than on its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub topic: String,
    pub value_schema: String,
}

/// What the runtime tells a connector when it creates tasks.
#[derive(Debug, Clone)]
pub struct ConnectorContext {
    /// The instance name (the `name:` of its config entry).
    pub name: Arc<str>,
}

/// The connector could not create its tasks.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectorError(pub String);

/// Why a task stopped without being asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// Needs an operator (bad credentials, a revoked permission, an invalid schema): the connector
    /// goes FAILED with this reason and is not restarted until its config changes or it is
    /// restarted by hand.
    #[error("{0}")]
    Fatal(String),
    /// May clear up by itself: the runtime restarts the task with backoff.
    #[error("{0}")]
    Retriable(String),
}

/// A source task: produces records until cancelled.
#[async_trait::async_trait]
pub trait SourceTask: Send + 'static {
    /// Runs the task. Returns `Ok(())` only after cancellation; an error stops the task (see
    /// [`TaskError`]). The context carries the stored offsets to resume from.
    async fn run(self: Box<Self>, ctx: TaskContext) -> Result<(), TaskError>;
}

/// A source connector plugin, typed by its config.
///
/// The config is the connector's entry in the YAML minus the runtime's own keys (`name`, `class`,
/// `producer`). Use `#[serde(deny_unknown_fields)]` so that a typo is an error that names the key.
pub trait Connector: Send + Sync + 'static {
    type Config: DeserializeOwned + Send + 'static;

    /// The `class:` name the connector is registered under.
    fn class(&self) -> &'static str;

    /// One line for `GET /connector-plugins`.
    fn description(&self) -> &'static str;

    /// Checks beyond deserialization, reporting every problem at once. Runs offline: it must not
    /// touch the network (`tributary validate` calls it).
    fn validate(&self, _config: &Self::Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// The topics this instance writes and their value schemas.
    fn outputs(&self, config: &Self::Config) -> Vec<Output>;

    /// Connects to the source as `tributary check` asks: every credential, permission and limit
    /// `run` will need, each as one [`Check`], leaving nothing behind (what a check creates, it
    /// removes). Bounded in time. The default has nothing to check.
    fn check(&self, _config: Self::Config) -> Checks {
        Box::pin(async { Vec::new() })
    }

    /// Creates the instance's tasks. Called on every (re)start; must be cheap and must not block.
    fn create_tasks(
        &self,
        ctx: &ConnectorContext,
        config: Self::Config,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError>;
}

/// The object-safe twin of [`Connector`], taking configs as JSON. Every `Connector` is one.
pub trait DynConnector: Send + Sync {
    fn class(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// Deserializes and validates `config`; on success, the outputs it will write.
    fn validate(&self, config: &Value) -> Result<Vec<Output>, Vec<ConfigIssue>>;
    fn create_tasks(&self, ctx: &ConnectorContext, config: &Value) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError>;
    /// See [`Connector::check`]; a config that does not deserialize is one failed check.
    fn check(&self, config: &Value) -> Checks;
}

fn typed<C: DeserializeOwned>(config: &Value) -> Result<C, ConfigIssue> {
    serde_path_to_error::deserialize(config).map_err(ConfigIssue::from_serde)
}

impl<T: Connector> DynConnector for T {
    fn class(&self) -> &'static str {
        Connector::class(self)
    }

    fn description(&self) -> &'static str {
        Connector::description(self)
    }

    fn validate(&self, config: &Value) -> Result<Vec<Output>, Vec<ConfigIssue>> {
        let config: T::Config = typed(config).map_err(|issue| vec![issue])?;
        let issues = Connector::validate(self, &config);
        if issues.is_empty() { Ok(self.outputs(&config)) } else { Err(issues) }
    }

    fn create_tasks(&self, ctx: &ConnectorContext, config: &Value) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        let config: T::Config = typed(config).map_err(|issue| ConnectorError(format!("invalid config: {issue}")))?;
        Connector::create_tasks(self, ctx, config)
    }

    fn check(&self, config: &Value) -> Checks {
        match typed::<T::Config>(config) {
            Ok(config) => Connector::check(self, config),
            Err(issue) => {
                let failed = Check::fail("config", issue.to_string(), "run `tributary validate` and fix the config");
                Box::pin(async move { vec![failed] })
            }
        }
    }
}
