//! [`SimConfig`]: everything the simulated org is made of, loadable from YAML.
//!
//! All durations are protocol time (see [`crate::clock`]); write them as `30s`, `5m`, `24h`.
//! Unknown keys are rejected, so a typo does not silently fall back to a default.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::faults::FaultsConfig;

/// The whole simulator configuration. `SimConfig::default()` is a working org: one OAuth client
/// `tributary-sim` / `sim-secret`, three queues, six conversations a minute, real time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Protocol seconds per real second (see [`crate::clock`]). 1.0 = real time.
    pub time_scale: f64,
    /// Seed for traffic, ids and random faults.
    pub seed: u64,
    /// The organisation id put into system messages.
    pub org_id: String,
    /// Listen addresses.
    pub listen: ListenConfig,
    /// OAuth clients (client-credentials grant).
    pub clients: Vec<ClientConfig>,
    /// Queues that exist at start.
    pub queues: QueuesConfig,
    /// The conversation generator.
    pub traffic: TrafficConfig,
    /// Channels and WebSocket behaviour.
    pub notifications: NotificationsConfig,
    /// Analytics data delay, paging and jobs.
    pub analytics: AnalyticsConfig,
    /// What the ground truth keeps.
    pub truth: TruthConfig,
    /// Scheduled and random faults.
    pub faults: FaultsConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            time_scale: 1.0,
            seed: 1,
            org_id: "5e0c8d6a-55c5-4f7e-9c53-0b6d1f2c9a10".into(),
            listen: ListenConfig::default(),
            clients: vec![ClientConfig::default()],
            queues: QueuesConfig::default(),
            traffic: TrafficConfig::default(),
            notifications: NotificationsConfig::default(),
            analytics: AnalyticsConfig::default(),
            truth: TruthConfig::default(),
            faults: FaultsConfig::default(),
        }
    }
}

/// Where to listen. Port 0 = ephemeral. The login host, API host and streaming host are three
/// listeners, as `login.{domain}`, `api.{domain}` and `streaming.{domain}` are three hosts (§5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    pub host: String,
    pub login_port: u16,
    pub api_port: u16,
    pub streaming_port: u16,
    /// The host name written into the URLs the org hands out (the handle's base URLs and every
    /// channel's `connectUri`) instead of the listen address, with the listeners' ports: for
    /// clients that reach the org through a proxy or a NAT that knows that name. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertised_host: Option<String>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig { host: "127.0.0.1".into(), login_port: 0, api_port: 0, streaming_port: 0, advertised_host: None }
    }
}

/// One OAuth client with its own secret, budgets and permissions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Token lifetime; Genesys allows 300 s to 172800 s per client (§5). The default is [UNK] in
    /// the reference; 24 h is used.
    #[serde(with = "crate::duration")]
    pub token_lifetime: Duration,
    /// Channels per client before the oldest is evicted (20, §1).
    pub max_channels: usize,
    /// Requests per minute (protocol time) before 429 (300 per token, §4.5; kept per client here).
    pub requests_per_minute: u32,
    /// Queue ids whose conversation topics this client may not subscribe to (403 / `Rejected`).
    pub forbidden_queue_ids: Vec<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            client_id: "tributary-sim".into(),
            client_secret: "sim-secret".into(),
            token_lifetime: Duration::from_secs(86_400),
            max_channels: 20,
            requests_per_minute: 300,
            forbidden_queue_ids: Vec::new(),
        }
    }
}

/// A queue given by name (and optionally id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Queues at start: the `named` ones, then generated `Queue N` up to `count` in total.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueuesConfig {
    pub count: usize,
    pub named: Vec<QueueSpec>,
}

impl Default for QueuesConfig {
    fn default() -> Self {
        QueuesConfig { count: 3, named: Vec::new() }
    }
}

/// A uniform range of protocol durations.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DurationRange {
    #[serde(with = "crate::duration")]
    pub min: Duration,
    #[serde(with = "crate::duration")]
    pub max: Duration,
}

impl DurationRange {
    /// A range from `min` to `max` seconds.
    pub const fn secs(min: u64, max: u64) -> Self {
        DurationRange { min: Duration::from_secs(min), max: Duration::from_secs(max) }
    }
}

/// The conversation generator: Poisson arrivals spread uniformly over the queues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficConfig {
    /// Off = only conversations started through the handle.
    pub enabled: bool,
    /// Mean arrivals per protocol minute, across all queues.
    pub arrivals_per_minute: f64,
    /// Time waiting in queue before an agent is alerted.
    pub queue_wait: DurationRange,
    /// Agent alerting time.
    pub alert: DurationRange,
    /// Talk time.
    pub talk: DurationRange,
    /// After-call work until the wrap-up code is set.
    pub wrapup: DurationRange,
    /// Probability that the customer hangs up while queued.
    pub abandon_probability: f64,
    /// Probability that the agent transfers the call to another queue (at most once).
    pub transfer_probability: f64,
    /// Wrap-up codes (ids) to choose from.
    pub wrapup_codes: Vec<String>,
    /// Agents per queue to pick from.
    pub agents_per_queue: usize,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            enabled: true,
            arrivals_per_minute: 6.0,
            queue_wait: DurationRange::secs(5, 40),
            alert: DurationRange::secs(2, 8),
            talk: DurationRange::secs(30, 240),
            wrapup: DurationRange::secs(5, 30),
            abandon_probability: 0.1,
            transfer_probability: 0.2,
            wrapup_codes: vec![
                "7fb334b0-0e9e-11e4-9191-0800200c9a66".into(),
                "2a7c4f0e-3b1d-4c55-9a8e-6f1d0c2b7e31".into(),
                "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f".into(),
            ],
            agents_per_queue: 5,
        }
    }
}

/// What a socket that sends no JSON ping for `idle_timeout` experiences.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdleAction {
    /// The server goes silent and leaves TCP open (half-open), no close frame.
    #[default]
    Silent,
    /// A close frame 1001 "idle timeout" (the other field report, §2.4).
    Close1001,
}

/// Channel and WebSocket behaviour (§1, §2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// 24 h (§1).
    #[serde(with = "crate::duration")]
    pub channel_lifetime: Duration,
    /// A successful subscribe (REST POST/PUT or WebSocket) moves `expires` to now + lifetime
    /// ("resubscribe to topics", §1; whether `expires` moves is [UNK]).
    pub resubscribe_extends: bool,
    /// 1,000 topics per channel (§1).
    pub max_topics_per_channel: usize,
    /// About 30 s (§2.2).
    #[serde(with = "crate::duration")]
    pub heartbeat_interval: Duration,
    /// Cut-off for sockets that send no JSON message ([UNK] §2.4; `null` disables).
    #[serde(with = "crate::duration::option")]
    pub idle_timeout: Option<Duration>,
    /// How the idle cut-off looks.
    pub idle_action: IdleAction,
    /// Time between `socket_closing` and the close (1 minute, §2.3).
    #[serde(with = "crate::duration")]
    pub socket_closing_grace: Duration,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            channel_lifetime: Duration::from_secs(86_400),
            resubscribe_extends: true,
            max_topics_per_channel: 1000,
            heartbeat_interval: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            idle_action: IdleAction::Silent,
            socket_closing_grace: Duration::from_secs(60),
        }
    }
}

/// How `interval` selects conversations in the synchronous details query (§4.1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntervalSemantics {
    /// The documented text: conversations that started on a (UTC) day touched by the interval.
    #[default]
    DayTouched,
    /// Conversations whose start lies inside the interval.
    StartedInInterval,
}

/// Analytics behaviour (§4.1, §4.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Every conversation update lands in analytics this long after it happened…
    #[serde(with = "crate::duration")]
    pub data_delay: Duration,
    /// …plus a uniform random extra up to this, per update, so rows land out of order.
    #[serde(with = "crate::duration")]
    pub data_delay_jitter: Duration,
    pub interval_semantics: IntervalSemantics,
    /// Default 25 (§4.1).
    pub default_page_size: u32,
    /// Larger pages are a 400 ([UNK]; Genesys's blog code uses 200, §4.1).
    pub max_page_size: u32,
    /// `dataAvailabilityDate` lags now by this much (§4.2, [UNK] value).
    #[serde(with = "crate::duration")]
    pub data_lake_lag: Duration,
    /// An async job is FULFILLED this long after submission.
    #[serde(with = "crate::duration")]
    pub job_completion_delay: Duration,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            data_delay: Duration::from_secs(30),
            data_delay_jitter: Duration::from_secs(60),
            interval_semantics: IntervalSemantics::DayTouched,
            default_page_size: 25,
            max_page_size: 200,
            data_lake_lag: Duration::from_secs(2 * 3600),
            job_completion_delay: Duration::from_secs(10),
        }
    }
}

/// What the ground truth keeps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TruthConfig {
    /// Keep each snapshot's full JSON (memory grows with traffic; the summary is always kept).
    pub keep_bodies: bool,
    /// Where `run_standalone` writes the truth (JSON lines) on shutdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_path: Option<std::path::PathBuf>,
}

impl Default for TruthConfig {
    fn default() -> Self {
        TruthConfig { keep_bodies: true, dump_path: None }
    }
}

impl SimConfig {
    /// Parses YAML.
    pub fn from_yaml_str(yaml: &str) -> Result<Self> {
        let cfg: SimConfig = serde_yaml_ng::from_str(yaml)
            .map_err(|e| SimError::Parse { what: "simulator config".into(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a YAML file.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::Read { path: path.display().to_string(), source })?;
        Self::from_yaml_str(&text)
    }

    /// Replaces `faults` with a faults file (`schedule:` / `random:`, or a bare list of scheduled
    /// faults).
    pub fn with_faults_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::Read { path: path.display().to_string(), source })?;
        self.faults = parse_faults(&text)?;
        self.validate()?;
        Ok(self)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SimError::Config(m));
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return bad(format!("time_scale must be a positive number, got {}", self.time_scale));
        }
        if self.clients.is_empty() {
            return bad("at least one client is required".into());
        }
        if let Some(host) = &self.listen.advertised_host
            && (host.is_empty() || host.contains(['/', ':', '@', ' ']))
        {
            return bad(format!("listen.advertised_host must be a bare host name, got `{host}`"));
        }
        let mut ids = std::collections::HashSet::new();
        for c in &self.clients {
            if c.client_id.is_empty() || c.client_secret.is_empty() {
                return bad("client_id and client_secret must not be empty".into());
            }
            if !ids.insert(c.client_id.as_str()) {
                return bad(format!("duplicate client_id `{}`", c.client_id));
            }
            let secs = c.token_lifetime.as_secs();
            if !(300..=172_800).contains(&secs) {
                return bad(format!(
                    "client `{}`: token_lifetime must be 300s..172800s (Genesys range), got {secs}s",
                    c.client_id
                ));
            }
            if c.max_channels == 0 || c.requests_per_minute == 0 {
                return bad(format!("client `{}`: max_channels and requests_per_minute must be > 0", c.client_id));
            }
        }
        let t = &self.traffic;
        if !(t.arrivals_per_minute.is_finite() && t.arrivals_per_minute >= 0.0) {
            return bad("traffic.arrivals_per_minute must be >= 0".into());
        }
        for (name, p) in
            [("abandon_probability", t.abandon_probability), ("transfer_probability", t.transfer_probability)]
        {
            if !(0.0..=1.0).contains(&p) {
                return bad(format!("traffic.{name} must be within 0..1"));
            }
        }
        for (name, r) in [("queue_wait", t.queue_wait), ("alert", t.alert), ("talk", t.talk), ("wrapup", t.wrapup)] {
            if r.min > r.max {
                return bad(format!("traffic.{name}: min is above max"));
            }
        }
        if t.wrapup_codes.is_empty() || t.agents_per_queue == 0 {
            return bad("traffic.wrapup_codes and traffic.agents_per_queue must not be empty".into());
        }
        let n = &self.notifications;
        if n.heartbeat_interval.is_zero() || n.channel_lifetime.is_zero() || n.max_topics_per_channel == 0 {
            return bad(
                "notifications: heartbeat_interval, channel_lifetime, max_topics_per_channel must be > 0".into()
            );
        }
        let a = &self.analytics;
        if a.default_page_size == 0 || a.max_page_size < a.default_page_size {
            return bad("analytics: need 0 < default_page_size <= max_page_size".into());
        }
        for (kind, rate) in &self.faults.random.rates_per_hour {
            if !(rate.is_finite() && *rate >= 0.0) {
                return bad(format!("faults.random.rates_per_hour.{kind:?} must be >= 0"));
            }
        }
        Ok(())
    }
}

/// Parses a faults file: a `FaultsConfig` map, or a bare list of scheduled faults.
pub fn parse_faults(yaml: &str) -> Result<FaultsConfig> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| SimError::Parse { what: "faults file".into(), message: e.to_string() })?;
    let parsed = if value.is_sequence() {
        serde_yaml_ng::from_value(value).map(|schedule| FaultsConfig { schedule, ..FaultsConfig::default() })
    } else {
        serde_yaml_ng::from_value(value)
    };
    parsed.map_err(|e| SimError::Parse { what: "faults file".into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let cfg = SimConfig::default();
        assert!(cfg.validate().is_ok());
        let yaml = serde_yaml_ng::to_string(&cfg).unwrap_or_default();
        let back = SimConfig::from_yaml_str(&yaml);
        assert!(matches!(back, Ok(ref b) if *b == cfg), "{back:?}");
    }

    #[test]
    fn typo_is_an_error() {
        assert!(SimConfig::from_yaml_str("time_scal: 2\n").is_err());
        assert!(SimConfig::from_yaml_str("time_scale: 0\n").is_err());
    }

    #[test]
    fn example_file_parses() {
        let cfg = SimConfig::from_yaml_str(include_str!("../sim.example.yaml"));
        assert!(matches!(&cfg, Ok(c) if c.clients.len() == 2 && c.faults.schedule.len() == 6), "{cfg:?}");
    }

    #[test]
    fn bare_fault_list() {
        let f = parse_faults("- at: 1m\n  kind: tcp_reset\n");
        assert!(matches!(f, Ok(ref f) if f.schedule.len() == 1), "{f:?}");
    }
}
