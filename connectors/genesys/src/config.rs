//! `class: genesys-cloud` config.
//!
//! Defaults follow the reference's checklist (§7): JSON pings every 5 s with a 5 s pong deadline
//! (a half-open socket is detected within 10 s), a 40 s watchdog on any frame (heartbeats come
//! every 30 s), channel and subscription checks every 30 s, at most 1,000 topics per channel and
//! 20 channels per OAuth client, a channel reused at most 10 times, rollover 1 h before the 24 h
//! expiry, and 240 requests per minute (Genesys allows 300 per token).

use std::path::PathBuf;

use serde::Deserialize;
use tributary_connector_api::{ConfigIssue, Duration, Secret};

use crate::net::{Egress, ProxyUrl};
use crate::region;

/// Where the org is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// A real Genesys Cloud org, by `region` or explicit base URLs.
    #[default]
    Cloud,
    /// A simulated org started in-process (see `simulator:`); for trying things out and tests.
    Simulator,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesysConfig {
    /// The Kafka topic records go to.
    pub topic: String,
    /// Written into every record's `tenant` field; defaults to the connector's name.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub environment: Environment,
    /// A Genesys region such as `us-east-1` or `eu-west-1` (sets both base URLs).
    #[serde(default)]
    pub region: Option<String>,
    /// Overrides the API host, e.g. for a proxy.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Overrides the login host.
    #[serde(default)]
    pub login_base_url: Option<String>,
    /// OAuth client-credentials client; required for `environment: cloud`.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// An HTTP proxy for every Genesys host (login, API, streaming):
    /// `http://[user:password@]host:port`. Without it the `HTTPS_PROXY` / `HTTP_PROXY` /
    /// `NO_PROXY` environment variables apply (see [`crate::net`]). Its credentials are
    /// redacted wherever it is shown.
    #[serde(default)]
    pub proxy: Option<ProxyUrl>,
    /// A PEM file of CA certificates trusted besides the system roots, for REST and `wss://`
    /// (a TLS-inspecting proxy's CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub queues: QueueSelection,
    #[serde(default)]
    pub keepalive: KeepAlive,
    #[serde(default)]
    pub channels: ChannelSettings,
    #[serde(default)]
    pub rest: RestSettings,
    #[serde(default)]
    pub backfill: BackfillSettings,
    #[serde(default)]
    pub dedup: DedupSettings,
    /// The simulated org's own config (see the simulator's README) for `environment: simulator`.
    #[serde(default)]
    pub simulator: Option<serde_json::Value>,
}

/// Which queues to follow: explicit ids, and/or all queues or those whose names match patterns,
/// re-read from `/api/v2/routing/queues` every `refresh_interval` so new queues are picked up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSelection {
    pub ids: Vec<String>,
    /// Every queue of the org.
    pub all: bool,
    /// Name patterns; `*` matches any run of characters (case-insensitive).
    pub names: Vec<String>,
    pub refresh_interval: Duration,
}

impl Default for QueueSelection {
    fn default() -> Self {
        Self { ids: Vec::new(), all: false, names: Vec::new(), refresh_interval: Duration::from_secs(300) }
    }
}

impl QueueSelection {
    /// Whether queues must be discovered through the API.
    pub fn needs_discovery(&self) -> bool {
        self.all || !self.names.is_empty()
    }

    /// Whether a discovered queue named `name` is selected by `all`/`names`.
    pub fn selects_name(&self, name: &str) -> bool {
        self.all || self.names.iter().any(|p| glob_match(p, name))
    }
}

/// Case-insensitive match with `*` wildcards.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            let Some(stripped) = rest.strip_prefix(part) else { return false };
            rest = stripped;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// Keeping a socket alive and noticing when it is not.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeepAlive {
    /// How often `{"message":"ping"}` is sent.
    pub ping_interval: Duration,
    /// A ping not answered within this is a dead socket.
    pub pong_timeout: Duration,
    /// No frame of any kind for this long is a dead socket.
    pub watchdog: Duration,
    /// How often the channel (`HEAD`) and its subscriptions (`GET`) are checked: heartbeats prove
    /// the socket, not the subscription.
    pub verify_interval: Duration,
    /// Time allowed to open a socket and see its first pong.
    pub connect_timeout: Duration,
    /// Frames larger than this are refused (and counted).
    pub max_frame_bytes: usize,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(5),
            pong_timeout: Duration::from_secs(5),
            watchdog: Duration::from_secs(40),
            verify_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_frame_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Channel budget and replacement policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelSettings {
    /// Topics per channel (Genesys allows 1,000).
    pub max_topics: usize,
    /// Channels per OAuth client (Genesys allows 20; the 21st evicts one). One is kept spare for
    /// make-before-break rollovers.
    pub max_channels: usize,
    /// Reconnects to the same channel before a new one is created (Genesys's own client uses 10).
    pub max_reuses: u32,
    /// Roll a channel over this long before it expires (capped at a tenth of its lifetime).
    pub rollover_before_expiry: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            max_topics: 1000,
            max_channels: 20,
            max_reuses: 10,
            rollover_before_expiry: Duration::from_secs(3600),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(90),
        }
    }
}

/// The per-tenant REST budget and retry policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestSettings {
    pub requests_per_minute: u32,
    /// Fraction of the budget that channel and queue requests leave to backfill while it waits.
    pub backfill_share: f64,
    pub request_timeout: Duration,
    /// A `Retry-After` longer than this is not waited out: the call fails (retriable).
    pub max_retry_after: Duration,
    pub max_attempts: u32,
    /// A response body longer than this, in bytes, is not read (the request fails, named).
    pub max_response_bytes: usize,
}

impl Default for RestSettings {
    fn default() -> Self {
        Self {
            requests_per_minute: 240,
            backfill_share: 0.5,
            request_timeout: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(180),
            max_attempts: 6,
            max_response_bytes: crate::rest::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Filling gaps from the Analytics API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackfillSettings {
    pub enabled: bool,
    /// Backfill starts this long before a gap's start (clock skew, delivery delay).
    pub safety_margin: Duration,
    /// First start without stored offsets: backfill this far back (0 = none).
    pub initial_window: Duration,
    /// A longer gap is backfilled only for its last `max_gap`, and reported loudly.
    pub max_gap: Duration,
    /// Long windows are queried in pieces of this size.
    pub split: Duration,
    pub page_size: u32,
    /// Pages one query of a backfill window may take (details query, job results) before the
    /// window's step fails (and is retried later).
    pub max_pages: u32,
    /// A conversation seen live at least this long after a window's end must show up in
    /// Analytics before the window's quick pass is considered complete.
    pub settle: Duration,
    /// Give up waiting for Analytics to catch up after this long (the window is then closed by
    /// the data-lake pass, or with a warning).
    pub max_wait: Duration,
    /// Confirm each window with an async details job once `dataAvailabilityDate` passes its end
    /// (the data lake is complete there); the watermark moves past a gap only then.
    pub confirm_with_jobs: bool,
    /// Waiting longer than this for the data lake closes a window on the quick passes alone (an
    /// error is logged and counted).
    pub lake_max_wait: Duration,
}

impl Default for BackfillSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            safety_margin: Duration::from_secs(120),
            initial_window: Duration::from_secs(0),
            max_gap: Duration::from_secs(24 * 3600),
            split: Duration::from_secs(3600),
            page_size: 100,
            max_pages: 1000,
            settle: Duration::from_secs(60),
            max_wait: Duration::from_secs(1800),
            confirm_with_jobs: true,
            lake_max_wait: Duration::from_secs(6 * 3600),
        }
    }
}

/// What the connector remembers to suppress repeats and stale states (bounded memory: about 100
/// bytes per event id and 300 per conversation at most).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupSettings {
    /// Event ids remembered, at most.
    pub event_capacity: usize,
    /// How long an event id is remembered: longer than a channel overlap and a backfill's passes.
    pub event_ttl: Duration,
    /// Conversations whose newest state is remembered, at most.
    pub conversation_capacity: usize,
    /// How long an ended conversation's state is remembered: longer than the analytics delay,
    /// including the data-lake confirmation, so that a late backfilled row is recognised as stale.
    pub conversation_ttl: Duration,
}

impl Default for DedupSettings {
    fn default() -> Self {
        Self {
            event_capacity: 200_000,
            event_ttl: Duration::from_secs(6 * 3600),
            conversation_capacity: 100_000,
            conversation_ttl: Duration::from_secs(6 * 3600),
        }
    }
}

impl GenesysConfig {
    /// Every problem, offline.
    pub fn issues(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let mut issue = |path: &str, message: String| issues.push(ConfigIssue::new(path, message));
        if self.topic.trim().is_empty() {
            issue("topic", "must not be empty".into());
        }
        match self.environment {
            Environment::Cloud => {
                match (&self.region, &self.api_base_url, &self.login_base_url) {
                    (Some(r), _, _) => {
                        if let Err(e) = region::hosts(r) {
                            issue("region", e.to_string());
                        }
                    }
                    (None, Some(_), Some(_)) => {}
                    (None, _, _) => issue("region", "set `region`, or both `api_base_url` and `login_base_url`".into()),
                }
                if self.client_id.as_deref().is_none_or(str::is_empty) {
                    issue("client_id", "required (an OAuth client-credentials client)".into());
                }
                if self.client_secret.as_ref().is_none_or(Secret::is_empty) {
                    issue("client_secret", "required; use `${env:NAME}` or `${file:/path}`".into());
                }
                if self.simulator.is_some() {
                    issue("simulator", "only used with `environment: simulator`".into());
                }
            }
            Environment::Simulator => {}
        }
        for (path, url) in [("api_base_url", &self.api_base_url), ("login_base_url", &self.login_base_url)] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                issue(path, format!("`{url}` is not an http(s) URL"));
            }
        }
        if let Some(path) = &self.ca_file
            && let Err(e) = Egress::with_env(None, Some(path), |_| None)
        {
            issue("ca_file", e.to_string());
        }
        if self.queues.ids.is_empty() && !self.queues.needs_discovery() && self.environment == Environment::Cloud {
            issue("queues", "select queues with `ids`, `names` or `all: true`".into());
        }
        if self.queues.ids.iter().any(|id| id.trim().is_empty() || id.contains('.')) {
            issue("queues.ids", "queue ids must be non-empty and contain no `.`".into());
        }
        let k = &self.keepalive;
        for (path, d) in [
            ("keepalive.ping_interval", k.ping_interval),
            ("keepalive.pong_timeout", k.pong_timeout),
            ("keepalive.watchdog", k.watchdog),
            ("keepalive.verify_interval", k.verify_interval),
            ("keepalive.connect_timeout", k.connect_timeout),
            ("queues.refresh_interval", self.queues.refresh_interval),
        ] {
            if d.get().is_zero() {
                issue(path, "must be greater than zero".into());
            }
        }
        if k.watchdog.get() <= k.ping_interval.get() {
            issue("keepalive.watchdog", "must be longer than keepalive.ping_interval".into());
        }
        let c = &self.channels;
        if c.max_topics == 0 || c.max_topics > 1000 {
            issue("channels.max_topics", "must be between 1 and 1000 (Genesys's limit per channel)".into());
        }
        if c.max_channels < 2 || c.max_channels > 20 {
            issue("channels.max_channels", "must be between 2 and 20 (one is kept spare for rollovers)".into());
        }
        if !self.queues.ids.is_empty() && c.max_topics > 0 {
            let needed = self.queues.ids.len().div_ceil(c.max_topics);
            if needed + 1 > c.max_channels {
                issue(
                    "queues.ids",
                    format!(
                        "{} queues need {needed} channels of {} topics plus one spare, more than channels.max_channels ({})",
                        self.queues.ids.len(),
                        c.max_topics,
                        c.max_channels
                    ),
                );
            }
        }
        if self.rest.requests_per_minute == 0 {
            issue("rest.requests_per_minute", "must be at least 1".into());
        }
        if !(0.0..=0.9).contains(&self.rest.backfill_share) {
            issue("rest.backfill_share", "must be between 0 and 0.9".into());
        }
        if self.backfill.max_pages == 0 {
            issue("backfill.max_pages", "must be at least 1".into());
        }
        if self.rest.max_response_bytes < 64 * 1024 {
            issue("rest.max_response_bytes", "must be at least 65536 (64 KiB)".into());
        }
        if self.backfill.page_size == 0 || self.backfill.page_size > 200 {
            issue("backfill.page_size", "must be between 1 and 200".into());
        }
        if self.backfill.split.get().is_zero() {
            issue("backfill.split", "must be greater than zero".into());
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("support*", "Support EMEA"));
        assert!(glob_match("*emea", "Support EMEA"));
        assert!(glob_match("s*t*a", "Support EMEA"));
        assert!(glob_match("Sales", "sales"));
        assert!(!glob_match("Sales", "Sales 2"));
        assert!(!glob_match("*x*", "Support"));
    }

    #[test]
    fn cloud_needs_credentials_region_and_queues() {
        let config: GenesysConfig =
            serde_json::from_value(serde_json::json!({"topic": "t"})).expect("minimal config parses");
        let issues: Vec<String> = config.issues().iter().map(ToString::to_string).collect();
        assert!(issues.iter().any(|i| i.starts_with("region:")), "{issues:?}");
        assert!(issues.iter().any(|i| i.starts_with("client_id:")), "{issues:?}");
        assert!(issues.iter().any(|i| i.starts_with("client_secret:")), "{issues:?}");
        assert!(issues.iter().any(|i| i.starts_with("queues:")), "{issues:?}");
    }

    #[test]
    fn too_many_queues_for_the_channel_budget() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("q{i}")).collect();
        let config: GenesysConfig = serde_json::from_value(serde_json::json!({
            "topic": "t", "environment": "simulator", "queues": {"ids": ids}
        }))
        .expect("parses");
        assert!(config.issues().iter().any(|i| i.path == "queues.ids" && i.message.contains("need 20 channels")));
    }

    #[test]
    fn proxy_and_ca_file_keys() {
        let config: GenesysConfig = serde_json::from_value(serde_json::json!({
            "topic": "t", "environment": "simulator",
            "proxy": "http://alice:s3cret@egress.corp:3128", "ca_file": "/nonexistent/corp-ca.pem"
        }))
        .expect("parses");
        assert_eq!(config.proxy.as_ref().map(ToString::to_string).as_deref(), Some("http://egress.corp:3128"));
        assert!(!format!("{config:?}").contains("s3cret"));
        let issues: Vec<String> = config.issues().iter().map(ToString::to_string).collect();
        assert!(
            issues.iter().any(|i| i.starts_with("ca_file:") && i.contains("/nonexistent/corp-ca.pem")),
            "{issues:?}"
        );
        let err = serde_json::from_value::<GenesysConfig>(
            serde_json::json!({"topic": "t", "proxy": "https://bob:hunter2@p:1"}),
        )
        .expect_err("https proxy");
        assert!(err.to_string().contains("only http://") && !err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            serde_json::from_value::<GenesysConfig>(serde_json::json!({"topic": "t", "keepalive": {"pingg": "1s"}}))
                .expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `pingg`"), "{err}");
    }
}
