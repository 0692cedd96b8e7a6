//! Notification channels and their subscriptions (reference §1).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::GenesysApi;
use super::iso::parse_iso_ms;
use crate::rest::{Request, RestError, path_segment};

const CHANNELS: &str = "/api/v2/notifications/channels";

/// Documented channel lifetime, used when a channel comes without a readable `expires`.
const CHANNEL_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// A channel this token created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: String,
    /// The WebSocket URI; it is the credential for the socket.
    #[serde(skip)]
    pub connect_uri: String,
    /// Epoch ms at which Genesys expires the channel.
    pub expires_ms: i64,
    /// The generation of the token that created it (see [`crate::auth::Token::generation`]):
    /// the channel dies with that token.
    pub token_generation: u64,
}

/// A channel in a listing. Channels of other tokens are listed without id and URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedChannel {
    pub id: Option<String>,
    pub connect_uri: Option<String>,
    pub expires_ms: Option<i64>,
}

/// Which channels `GET /channels` lists (`includechannels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelScope {
    /// Channels of the current token (the API's default).
    #[default]
    Token,
    /// Every channel of the OAuth client; other tokens' channels without their ids.
    OauthClient,
}

/// Whether a subscription took. Serialises as Genesys spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    Permitted,
    Rejected,
    /// Anything else Genesys may send (empty when the field is absent).
    Other(String),
}

impl TopicState {
    pub fn as_str(&self) -> &str {
        match self {
            TopicState::Permitted => "Permitted",
            TopicState::Rejected => "Rejected",
            TopicState::Other(s) => s,
        }
    }
}

impl Serialize for TopicState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One entry of a channel's subscription list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelTopic {
    /// The topic name, e.g. `v2.routing.queues.{id}.conversations`.
    pub id: String,
    pub state: TopicState,
    pub rejection_reason: Option<String>,
    pub missing_permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawChannel {
    id: Option<String>,
    connect_uri: Option<String>,
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Entities<T> {
    #[serde(default = "Vec::new")]
    entities: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTopic {
    id: String,
    state: Option<String>,
    rejection_reason: Option<String>,
    #[serde(default)]
    missing_permissions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAvailableTopic {
    id: String,
    #[serde(default)]
    requires_permissions: Option<Vec<String>>,
}

/// The permissions a topic template requires (`AvailableTopic.requiresPermissions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPermissions {
    /// e.g. `v2.routing.queues.{id}.conversations`.
    pub template: String,
    pub permissions: Vec<String>,
}

impl TopicPermissions {
    /// Whether `topic` is an instance of the template: `{…}` matches one dot-free segment.
    pub fn matches(&self, topic: &str) -> bool {
        let template: Vec<&str> = self.template.split('.').collect();
        let topic: Vec<&str> = topic.split('.').collect();
        template.len() == topic.len()
            && template
                .iter()
                .zip(&topic)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
    }
}

#[derive(serde::Serialize)]
struct TopicRef<'a> {
    id: &'a str,
}

impl From<RawTopic> for ChannelTopic {
    fn from(t: RawTopic) -> Self {
        let state = match t.state.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("permitted") => TopicState::Permitted,
            Some(s) if s.eq_ignore_ascii_case("rejected") => TopicState::Rejected,
            other => TopicState::Other(other.unwrap_or_default().to_string()),
        };
        ChannelTopic {
            id: t.id,
            state,
            rejection_reason: t.rejection_reason,
            missing_permissions: t.missing_permissions.unwrap_or_default(),
        }
    }
}

fn subscriptions_path(channel_id: &str) -> String {
    format!("{CHANNELS}/{}/subscriptions", path_segment(channel_id))
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl GenesysApi {
    /// `POST /api/v2/notifications/channels`. The 21st channel of an OAuth client evicts the
    /// least recently used one, so callers keep their own count. Without a readable `expires` the
    /// documented 24 h lifetime from now is assumed (and logged).
    pub async fn create_channel(&self) -> Result<Channel, RestError> {
        let req = Request::new(Method::POST, CHANNELS);
        let resp = self.rest.send(&req).await?;
        let raw: RawChannel = crate::rest::decode(&req, &resp)?;
        let missing = |what: &str| RestError::Decode {
            method: "POST".into(),
            path: CHANNELS.into(),
            detail: format!("channel without {what}"),
        };
        let id = raw.id.ok_or_else(|| missing("id"))?;
        let connect_uri = raw.connect_uri.ok_or_else(|| missing("connectUri"))?;
        let expires_ms = match raw.expires.as_deref().and_then(parse_iso_ms) {
            Some(ms) => ms,
            None => {
                tracing::warn!(channel = %id, expires = ?raw.expires, "channel has no readable expiry; assuming 24 h");
                now_ms() + CHANNEL_LIFETIME_MS
            }
        };
        Ok(Channel { id, connect_uri, expires_ms, token_generation: resp.token_generation })
    }

    /// `HEAD /api/v2/notifications/channels/{id}`: `true` while the channel exists and is valid,
    /// `false` on 404 (expired, evicted, or its token is gone).
    pub async fn channel_exists(&self, channel_id: &str) -> Result<bool, RestError> {
        let req = Request::new(Method::HEAD, format!("{CHANNELS}/{}", path_segment(channel_id)));
        match self.rest.send(&req).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v2/notifications/channels?includechannels=…`.
    pub async fn list_channels(&self, scope: ChannelScope) -> Result<Vec<ListedChannel>, RestError> {
        let value = match scope {
            ChannelScope::Token => "token",
            ChannelScope::OauthClient => "oauthclient",
        };
        let req = Request::new(Method::GET, CHANNELS).query("includechannels", value);
        let listing: Entities<RawChannel> = self.rest.get_json(req).await?;
        Ok(listing
            .entities
            .into_iter()
            .map(|c| ListedChannel {
                id: c.id,
                connect_uri: c.connect_uri,
                expires_ms: c.expires.as_deref().and_then(parse_iso_ms),
            })
            .collect())
    }

    /// `PUT …/channels/{id}/subscriptions?ignoreErrors=true`: replaces the channel's topics with
    /// `topics`. Topics the client may not see come back `Rejected` with their missing
    /// permissions instead of failing the whole request. A PUT replaces, so one writer per
    /// channel. More than 1,000 topics is a 400 ([`RestError::Rejected`]).
    pub async fn put_subscriptions(&self, channel_id: &str, topics: &[String]) -> Result<Vec<ChannelTopic>, RestError> {
        let body: Vec<TopicRef<'_>> = topics.iter().map(|t| TopicRef { id: t }).collect();
        let req =
            Request::new(Method::PUT, subscriptions_path(channel_id)).query("ignoreErrors", "true").json(&body)?;
        let listing: Entities<RawTopic> = self.rest.send_json(req).await?;
        Ok(listing.entities.into_iter().map(ChannelTopic::from).collect())
    }

    /// `DELETE …/channels/{id}/subscriptions`: removes every subscription of the channel. The
    /// channel itself stays until it expires: the API has no channel `DELETE`.
    pub async fn delete_subscriptions(&self, channel_id: &str) -> Result<(), RestError> {
        self.rest.send(&Request::new(Method::DELETE, subscriptions_path(channel_id))).await.map(|_| ())
    }

    /// `GET /api/v2/notifications/availabletopics?expand=requiresPermissions`: the permissions
    /// each topic template (e.g. `v2.routing.queues.{id}.conversations`) requires, as Genesys
    /// lists them. Templates without a list are left out.
    pub async fn topic_permissions(&self) -> Result<Vec<TopicPermissions>, RestError> {
        let req =
            Request::new(Method::GET, "/api/v2/notifications/availabletopics").query("expand", "requiresPermissions");
        let listing: Entities<RawAvailableTopic> = self.rest.get_json(req).await?;
        Ok(listing
            .entities
            .into_iter()
            .filter_map(|t| {
                let permissions = t.requires_permissions.filter(|p| !p.is_empty())?;
                Some(TopicPermissions { template: t.id, permissions })
            })
            .collect())
    }

    /// `GET …/channels/{id}/subscriptions`: the topics the channel is subscribed to now.
    pub async fn get_subscriptions(&self, channel_id: &str) -> Result<Vec<ChannelTopic>, RestError> {
        let req = Request::new(Method::GET, subscriptions_path(channel_id));
        let listing: Entities<RawTopic> = self.rest.get_json(req).await?;
        Ok(listing.entities.into_iter().map(ChannelTopic::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_states() {
        let parse = |json: &str| serde_json::from_str::<RawTopic>(json).map(ChannelTopic::from).ok();
        let t = parse(
            r#"{"id":"a","state":"Rejected","rejectionReason":"Permission denied","missingPermissions":["x:y:z"],"extra":1}"#,
        );
        assert_eq!(
            t,
            Some(ChannelTopic {
                id: "a".into(),
                state: TopicState::Rejected,
                rejection_reason: Some("Permission denied".into()),
                missing_permissions: vec!["x:y:z".into()],
            })
        );
        assert_eq!(parse(r#"{"id":"a","state":"Permitted"}"#).map(|t| t.state), Some(TopicState::Permitted));
        assert_eq!(parse(r#"{"id":"a"}"#).map(|t| t.state), Some(TopicState::Other(String::new())));
    }

    #[test]
    fn topic_templates() {
        let t = TopicPermissions {
            template: "v2.routing.queues.{id}.conversations".into(),
            permissions: vec!["routing:queue:view".into()],
        };
        assert!(t.matches("v2.routing.queues.0c57879e-fc96-440c-9e0b-e1973f88c0ef.conversations"));
        assert!(!t.matches("v2.routing.queues.q1.conversations.calls"));
        assert!(!t.matches("v2.users.q1.conversations"));
        let raw: Entities<RawAvailableTopic> = serde_json::from_str(
            r#"{"entities":[{"id":"v2.routing.queues.{id}.conversations","requiresPermissions":["a:b:c"]},{"id":"x"}]}"#,
        )
        .expect("listing parses");
        assert_eq!(raw.entities[0].requires_permissions.as_deref(), Some(&["a:b:c".to_string()][..]));
        assert!(raw.entities[1].requires_permissions.is_none());
    }
}
