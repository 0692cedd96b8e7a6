//! The Genesys Cloud source connector (`class: genesys-cloud`).
//!
//! Streams `v2.routing.queues.{id}.conversations` from the Notification API WebSocket into Kafka,
//! keeps each channel alive with application-level pings, detects its death in seconds, replaces
//! it (reusing the channel when only the socket died), rolls channels over make-before-break, and
//! tracks, per queue, a coverage watermark: the time up to which every event of the queue is
//! known to be in Kafka. Gaps are backfilled from the Analytics API.
//!
//! Offsets: one source partition per queue, `{"queue_id": "<id>"}`; its offset
//! `{"watermark_ms": <epoch ms>}` is the queue's coverage watermark (see [`coverage`]).

pub mod api;
pub mod auth;
pub mod backfill;
pub mod check;
mod clients;
pub mod config;
pub mod coverage;
pub mod dedup;
pub mod frame;
pub mod http;
pub mod net;
pub mod notification;
mod paging;
pub mod queues;
pub mod rechecks;
pub mod record;
pub mod region;
pub mod rest;
pub mod sentinels;
pub mod shard;
pub mod simulated;
pub mod socket;
pub mod task;
mod throttle;

use std::sync::Arc;

use tributary_connector_api::{Checks, ConfigIssue, Connector, ConnectorContext, ConnectorError, Output, SourceTask};

pub use config::GenesysConfig;
pub use simulated::{SimulatedOrg, SimulatedOrgs};

/// The `genesys-cloud` connector plugin.
#[derive(Clone, Default)]
pub struct GenesysCloud {
    simulated: Option<Arc<dyn SimulatedOrgs>>,
}

impl GenesysCloud {
    /// The connector for real orgs only: `environment: simulator` is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connector with `environment: simulator` served by `orgs`.
    pub fn with_simulator(orgs: Arc<dyn SimulatedOrgs>) -> Self {
        Self { simulated: Some(orgs) }
    }
}

impl std::fmt::Debug for GenesysCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysCloud").field("simulator", &self.simulated.is_some()).finish()
    }
}

impl Connector for GenesysCloud {
    type Config = GenesysConfig;

    fn class(&self) -> &'static str {
        "genesys-cloud"
    }

    fn description(&self) -> &'static str {
        "Genesys Cloud queue conversation events (Notification API), gaps backfilled from Analytics"
    }

    fn validate(&self, config: &GenesysConfig) -> Vec<ConfigIssue> {
        let mut issues = config.issues();
        if config.environment == config::Environment::Simulator && self.simulated.is_none() {
            issues.push(ConfigIssue::new("environment", "this build has no simulator"));
        }
        issues
    }

    fn outputs(&self, config: &GenesysConfig) -> Vec<Output> {
        vec![Output { topic: config.topic.clone(), value_schema: record::SCHEMA_NAME.to_owned() }]
    }

    /// Connects to the org as the task would: see [`check`] for what each check answers.
    fn check(&self, config: GenesysConfig) -> Checks {
        Box::pin(check::run(config, self.simulated.clone()))
    }

    fn create_tasks(
        &self,
        ctx: &ConnectorContext,
        config: GenesysConfig,
    ) -> Result<Vec<Box<dyn SourceTask>>, ConnectorError> {
        Ok(vec![Box::new(task::GenesysTask { name: ctx.name.to_string(), config, simulated: self.simulated.clone() })])
    }
}
