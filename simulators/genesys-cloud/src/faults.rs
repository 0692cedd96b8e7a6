//! Fault kinds, their schedule, and the fault log.
//!
//! A [`Fault`] can come from three places, all logged the same way in the truth's fault log with
//! its wall time ([`FaultRecord`]): the YAML schedule (`faults.schedule`, each entry `at` a protocol
//! duration after start), a seeded random generator (`faults.random.rates_per_hour`), or
//! [`crate::SimHandle::inject`] (applied immediately).
//!
//! What each kind looks like to a client, and where the behaviour comes from:
//!
//! | kind | on the wire | source |
//! |---|---|---|
//! | `half_open` | server stops writing (no heartbeat, event, pong), TCP stays open, no close frame | field reports, §2.4, §7 |
//! | `tcp_reset` | TCP RST (SO_LINGER 0), no close frame | "no close frame drops", §2.4 |
//! | `close` | close frame with `code` then FIN; code 1006 (or 1005) = FIN without any close frame, since those codes never travel in a frame (RFC 6455 §7.4.1) | 1001 seen, §2.4 |
//! | `socket_closing` | `v2.system.socket_closing`, then close 1001 after `grace` (default 1 min) unless the client left | §2.3 |
//! | `channel_expiry` | channel dies now: HEAD 404, events stop, `subscribe` frame → `{"result":"404"}`; socket stays up with heartbeats | §1, §2.2 |
//! | `eviction` | as if a 21st channel was created: `v2.system.no_longer_subscribed.{id}` then close | §1, §2.5 |
//! | `token_revocation` | tokens revoked: REST 401, their channels die, sockets get `v2.system.token_revoked.{id}` then close | §2.5, §5 |
//! | `rate_limit_burst` | 429 + `Retry-After` + `inin-ratelimit-*` for `count` requests or `duration` | §4.5 |
//! | `server_error_burst` | 5xx `ErrorBody` for `count` requests or `duration` | §4.5 (.NET retry set) |
//! | `slow_responses` | every matching REST response delayed by `delay` | [INF] |
//! | `analytics_delay_spike` | data landing during `duration` becomes visible `extra_delay` later | §4.1 caveats |
//! | `bad_frame` | invalid JSON, an unknown topic name, an oversized (default 1 MiB) or a binary frame | [INF] robustness |

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which sockets / channels / tokens a fault hits. YAML: `all`, `{channel: <id>}`, `{client: <id>}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every channel (with a connected socket, for socket faults).
    #[default]
    All,
    /// One channel id.
    Channel(String),
    /// Every channel of one OAuth client.
    Client(String),
}

impl Serialize for Target {
    /// Always the plain forms above (never YAML tags), so a serialized config reads back.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (key, id) = match self {
            Target::All => return s.serialize_str("all"),
            Target::Channel(id) => ("channel", id),
            Target::Client(id) => ("client", id),
        };
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(key, id)?;
        m.end()
    }
}

/// A class of REST endpoint a burst can be limited to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum EndpointClass {
    /// `POST /oauth/token`.
    Token,
    /// `POST /api/v2/notifications/channels`.
    ChannelCreate,
    /// `GET` / `HEAD` channels.
    Channels,
    /// `…/channels/{id}/subscriptions`.
    Subscriptions,
    /// `/api/v2/analytics/…`.
    Analytics,
    /// `GET /api/v2/conversations/{id}`.
    Conversations,
    /// `GET /api/v2/routing/queues`.
    Queues,
    /// Anything else under `/api/v2`.
    Other,
}

/// What a `bad_frame` fault sends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum BadFrameKind {
    /// A text frame that is not JSON.
    #[default]
    InvalidJson,
    /// A well-formed envelope on a topic nobody subscribed to and no client knows.
    UnknownTopic,
    /// A valid envelope padded to `size` bytes (default 1 MiB).
    Oversized,
    /// A binary frame (Genesys sends text only).
    Binary,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_close_code() -> u16 {
    1006
}

fn default_error_status() -> u16 {
    503
}

fn default_retry_after() -> Duration {
    Duration::from_secs(3)
}

/// One fault. YAML: `{kind: <snake_case kind>, ...params}`; durations are protocol time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The server goes silent on the socket and keeps TCP open.
    HalfOpen {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
    },
    /// TCP reset without a close frame.
    TcpReset {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
    },
    /// Close with `code`; 1006/1005 drop TCP (FIN) without a close frame.
    Close {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
        #[serde(default = "default_close_code")]
        code: u16,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// `v2.system.socket_closing`, then a close (1001) after `grace` (default 1 minute, §2.3).
    SocketClosing {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
        #[serde(default, with = "crate::duration::option", skip_serializing_if = "Option::is_none")]
        grace: Option<Duration>,
    },
    /// The channel expires now.
    ChannelExpiry {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
    },
    /// The channel is evicted as if a 21st channel had been created.
    Eviction {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
    },
    /// Tokens are revoked: for `channel`, the token that created it; for `client`, all its tokens.
    TokenRevocation {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
    },
    /// 429s for the next `count` matching requests or for `duration`.
    RateLimitBurst {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(default, with = "crate::duration::option", skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endpoints: Vec<EndpointClass>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        #[serde(default = "default_retry_after", with = "crate::duration")]
        retry_after: Duration,
    },
    /// 5xx (`status`, default 503) for the next `count` matching requests or for `duration`.
    ServerErrorBurst {
        #[serde(default = "default_error_status")]
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(default, with = "crate::duration::option", skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endpoints: Vec<EndpointClass>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Matching responses are delayed by `delay`.
    SlowResponses {
        #[serde(with = "crate::duration")]
        delay: Duration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(default, with = "crate::duration::option", skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        endpoints: Vec<EndpointClass>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Data generated during `duration` lands in analytics `extra_delay` later than usual.
    AnalyticsDelaySpike {
        #[serde(with = "crate::duration")]
        extra_delay: Duration,
        #[serde(with = "crate::duration")]
        duration: Duration,
    },
    /// One malformed or unexpected frame.
    BadFrame {
        #[serde(default, skip_serializing_if = "is_default")]
        target: Target,
        #[serde(default)]
        frame: BadFrameKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<usize>,
    },
}

/// The name of a fault kind, as used in `rates_per_hour`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    HalfOpen,
    TcpReset,
    Close,
    SocketClosing,
    ChannelExpiry,
    Eviction,
    TokenRevocation,
    RateLimitBurst,
    ServerErrorBurst,
    SlowResponses,
    AnalyticsDelaySpike,
    BadFrame,
}

impl Fault {
    /// This fault's kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::HalfOpen { .. } => FaultKind::HalfOpen,
            Fault::TcpReset { .. } => FaultKind::TcpReset,
            Fault::Close { .. } => FaultKind::Close,
            Fault::SocketClosing { .. } => FaultKind::SocketClosing,
            Fault::ChannelExpiry { .. } => FaultKind::ChannelExpiry,
            Fault::Eviction { .. } => FaultKind::Eviction,
            Fault::TokenRevocation { .. } => FaultKind::TokenRevocation,
            Fault::RateLimitBurst { .. } => FaultKind::RateLimitBurst,
            Fault::ServerErrorBurst { .. } => FaultKind::ServerErrorBurst,
            Fault::SlowResponses { .. } => FaultKind::SlowResponses,
            Fault::AnalyticsDelaySpike { .. } => FaultKind::AnalyticsDelaySpike,
            Fault::BadFrame { .. } => FaultKind::BadFrame,
        }
    }

    /// Shorthand: a half-open socket on `target`.
    pub fn half_open(target: Target) -> Self {
        Fault::HalfOpen { target }
    }

    /// Shorthand: close `target` with `code`.
    pub fn close(target: Target, code: u16) -> Self {
        Fault::Close { target, code, reason: String::new() }
    }
}

/// A scheduled fault: `{at: 2m, kind: half_open, ...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduledFault {
    /// Protocol time after start.
    #[serde(with = "crate::duration")]
    pub at: Duration,
    #[serde(flatten)]
    pub fault: Fault,
}

/// Random faults: a Poisson process per kind (protocol time), seeded from `SimConfig::seed`.
/// Random socket faults hit one random connected channel; bursts hit every client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RandomFaults {
    pub rates_per_hour: BTreeMap<FaultKind, f64>,
}

/// `faults:` in the config, or a whole `--faults` file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    pub schedule: Vec<ScheduledFault>,
    pub random: RandomFaults,
}

/// Where a logged fault came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultSource {
    Scheduled,
    Random,
    Injected,
}

/// One applied fault, as logged in the truth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRecord {
    /// Wall-clock time it was applied (ms since epoch).
    pub wall_ms: i64,
    pub source: FaultSource,
    pub fault: Fault,
    /// Channel ids (socket/channel faults) or client ids (token/burst faults) it hit.
    pub affected: Vec<String>,
    /// Free text: why nothing was hit, or what was done.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_schedule_round_trip() {
        let yaml = r#"
schedule:
  - at: 2m
    kind: half_open
  - at: 3m
    kind: close
    code: 4000
    target: {channel: streaming-0-abc}
  - at: 4m
    kind: rate_limit_burst
    count: 5
    endpoints: [channel_create]
    retry_after: 2s
  - at: 5m
    kind: bad_frame
    frame: oversized
random:
  rates_per_hour: {tcp_reset: 2.5}
"#;
        let parsed: Result<FaultsConfig, _> = serde_yaml_ng::from_str(yaml);
        let cfg = match parsed {
            Ok(c) => c,
            Err(e) => panic!("parse failed: {e}"),
        };
        assert_eq!(cfg.schedule.len(), 4);
        assert_eq!(cfg.schedule[0].fault, Fault::HalfOpen { target: Target::All });
        assert_eq!(
            cfg.schedule[1].fault,
            Fault::Close { target: Target::Channel("streaming-0-abc".into()), code: 4000, reason: String::new() }
        );
        assert_eq!(cfg.random.rates_per_hour.get(&FaultKind::TcpReset), Some(&2.5));
        let again = serde_yaml_ng::to_string(&cfg).unwrap_or_default();
        let back: Result<FaultsConfig, _> = serde_yaml_ng::from_str(&again);
        assert!(matches!(back, Ok(ref b) if *b == cfg), "{again}\n{back:?}");
    }

    #[test]
    fn unknown_fault_field_is_rejected() {
        let r: Result<Fault, _> = serde_yaml_ng::from_str("kind: half_open\ntarget: all\nbogus: 1\n");
        assert!(r.is_err());
    }
}
