//! `tributary check` for a Genesys connector: connects to the configured org as `run` would and
//! answers, one [`Check`] each, whether what the connector needs works.
//!
//! In order ([`names`]):
//!
//! 1. **route**: how Genesys is reached (direct or which proxy, extra CA file); fails when the
//!    connection settings cannot be built.
//! 2. **OAuth token**: a client-credentials token from the login host. A refused client is named by
//!    its id (never its secret); an unreachable login host is named, with the proxy if any.
//! 3. **queues**: configured ids are each found among the queues the client can list; `names` /
//!    `all` say how many queues they select. With ids only, a refused listing is a warning (the
//!    connector itself never lists queues then).
//! 4. **notification channel**: one channel created and the queues' conversation topics
//!    subscribed with `PUT …/subscriptions?ignoreErrors=true`, as the connector does; rejected
//!    topics are named with their rejection reason and missing permissions.
//! 5. **notification socket**: the channel's WebSocket opened (through the proxy, if any) and the
//!    JSON ping answered.
//! 6. **cleanup**: the channel's subscriptions removed and the removal verified. The API has no
//!    channel `DELETE`; the channel expires by itself.
//! 7. **analytics** (with `backfill.enabled`): the conversation details query answers for a
//!    one-minute window; and **analytics data lake** (with `backfill.confirm_with_jobs`): the
//!    data-availability date can be read. A 403 names the permission the reference gives.
//!
//! When a step fails, the steps that depend on it are reported as failed with the cause "not
//! checked". Every step has its own time limit, so the whole check is bounded (a few minutes at
//! worst; seconds when Genesys answers). What the check creates it removes, except the channel
//! itself, which cannot be deleted: it holds one of the OAuth client's 20 channels until it
//! expires, and an unconnected channel is the first evicted when the client needs a 21st.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::timeout;
use tributary_connector_api::Check;

use crate::api::iso::iso_ms;
use crate::api::{Channel, ChannelTopic, DetailsQuery, GenesysApi, TopicState};
use crate::auth::AuthError;
use crate::clients::{Clients, clients_with};
use crate::config::GenesysConfig;
use crate::net::Egress;
use crate::rest::{Backoff, RestError};
use crate::simulated::SimulatedOrgs;
use crate::socket::{self, OpenError, SocketSettings, now_ms};

/// The names of the checks, in the order they are reported.
pub mod names {
    pub const CONFIG: &str = "genesys: config";
    pub const ROUTE: &str = "genesys: route";
    pub const TOKEN: &str = "genesys: OAuth token";
    pub const QUEUES: &str = "genesys: queues";
    pub const CHANNEL: &str = "genesys: notification channel";
    pub const SOCKET: &str = "genesys: notification socket";
    pub const CLEANUP: &str = "genesys: cleanup";
    pub const ANALYTICS: &str = "genesys: analytics";
    pub const DATA_LAKE: &str = "genesys: analytics data lake";
}
use names::*;

/// The limit of one REST step (a token, a channel, a subscription, a query).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Listing every queue of a large org takes one request per 100 queues.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests of a check are sent at most twice, and wait out at most this `Retry-After`.
const CHECK_ATTEMPTS: u32 = 2;
const CHECK_MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
const CHECK_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Topics named in one check's text, at most.
const NAMED_TOPICS: usize = 10;

/// Runs every check of `config` (see the module docs). Never returns a secret in any text.
pub async fn run(config: GenesysConfig, simulated: Option<Arc<dyn SimulatedOrgs>>) -> Vec<Check> {
    let issues = config.issues();
    if !issues.is_empty() {
        let listed: Vec<String> = issues.iter().map(ToString::to_string).collect();
        return vec![Check::fail(CONFIG, listed.join("; "), "fix the config (`tributary validate` lists every issue)")];
    }
    let mut checks = Vec::new();
    let tune = |auth: &mut crate::auth::AuthConfig, rest: &mut crate::rest::RestConfig| {
        let request_timeout = rest.request_timeout.min(CHECK_REQUEST_TIMEOUT);
        auth.request_timeout = request_timeout;
        auth.backoff = Backoff { max_attempts: CHECK_ATTEMPTS, ..auth.backoff };
        auth.retry_after_ceiling = CHECK_MAX_RETRY_AFTER;
        rest.request_timeout = request_timeout;
        rest.backoff = Backoff { max_attempts: CHECK_ATTEMPTS, ..rest.backoff };
        rest.retry_after_ceiling = CHECK_MAX_RETRY_AFTER;
        rest.max_rate_limited = CHECK_ATTEMPTS;
    };
    let clients =
        match timeout(STEP_TIMEOUT, clients_with("tributary-check", &config, simulated.as_deref(), tune)).await {
            Ok(Ok(clients)) => clients,
            Ok(Err(e)) => {
                checks.push(Check::fail(
                    ROUTE,
                    e.to_string(),
                    "fix the connection settings: region or api_base_url/login_base_url, proxy, ca_file",
                ));
                return checks;
            }
            Err(_) => {
                checks.push(Check::fail(ROUTE, format!("not ready within {STEP_TIMEOUT:?}"), "run the check again"));
                return checks;
            }
        };
    checks.push(Check::ok(
        ROUTE,
        format!("login {} and API {}: {}", clients.login_base_url, clients.api_base_url, clients.egress.describe()),
    ));

    let token = token(&clients).await;
    let has_token = !token.failed();
    checks.push(token);
    if !has_token {
        for name in [QUEUES, CHANNEL, SOCKET, CLEANUP, ANALYTICS] {
            checks.push(not_checked(name, "no OAuth token", TOKEN));
        }
        return checks;
    }

    let (queues_check, wanted) = queues(&clients.api, &config, &clients.explicit_queues).await;
    checks.push(queues_check);
    checks.extend(channel(&clients, &config, &wanted).await);
    checks.extend(analytics(&clients.api, &config, &wanted).await);
    checks
}

fn not_checked(name: &str, why: &str, first: &str) -> Check {
    Check::fail(name, format!("not checked: {why}"), format!("fix `{first}` first"))
}

async fn token(clients: &Clients) -> Check {
    let login = &clients.login_base_url;
    let via = clients.egress.proxy_for_url(login).map(|p| format!(" through proxy {p}")).unwrap_or_default();
    let reach = format!(
        "check region / login_base_url, DNS and the firewall for {login}{via}; behind a corporate proxy set `proxy` or HTTPS_PROXY"
    );
    match timeout(STEP_TIMEOUT, clients.auth.current()).await {
        Ok(Ok(token)) => {
            let valid_for = token.expires_at.saturating_duration_since(tokio::time::Instant::now()).as_secs();
            Check::ok(
                TOKEN,
                format!(
                    "oauth client `{}` got a token from {login}{via} (valid for {valid_for} s)",
                    clients.auth.client_id()
                ),
            )
        }
        Ok(Err(e)) => {
            let fix = match &e {
                AuthError::InvalidClient { .. } => {
                    "set the client_id and current client_secret of an OAuth client of this org's region that uses \
                     the Client Credentials grant"
                        .to_string()
                }
                AuthError::Refused { .. } => "check region / login_base_url (the token endpoint is \
                                              https://login.{domain}/oauth/token) and the OAuth client's grant type"
                    .to_string(),
                AuthError::Proxy { .. } => {
                    "give the proxy's credentials: `proxy: http://user:password@host:port` (or in HTTPS_PROXY)"
                        .to_string()
                }
                AuthError::Unavailable { .. } => reach,
                AuthError::Config { .. } => "fix the connection settings (proxy, ca_file)".to_string(),
            };
            Check::fail(TOKEN, e.to_string(), fix)
        }
        Err(_) => Check::fail(TOKEN, format!("no token from {login}{via} within {STEP_TIMEOUT:?}"), reach),
    }
}

/// The queues check, and the queue ids the connector would subscribe to. `ids` are the explicit
/// ids: the config's, or the simulated org's with `environment: simulator`.
async fn queues(api: &GenesysApi, config: &GenesysConfig, ids: &[String]) -> (Check, Vec<String>) {
    let selection = &config.queues;
    let listed = match timeout(LIST_TIMEOUT, api.list_queues(None)).await {
        Ok(Ok(listed)) => listed,
        Ok(Err(e)) => {
            let refused = e.is_fatal();
            let check = if selection.needs_discovery() {
                let fix = if refused {
                    "grant the OAuth client's role the permission to view queues (Genesys's message above names it)"
                } else {
                    "run the check again; if it persists, see the Genesys status page"
                };
                Check::fail(QUEUES, format!("cannot list queues to apply `queues.names`/`queues.all`: {e}"), fix)
            } else {
                Check::warn(
                    QUEUES,
                    format!(
                        "cannot list queues to confirm the {} configured id(s): {e}; with ids only the connector never \
                         lists queues, so `{CHANNEL}` below is what counts",
                        ids.len()
                    ),
                )
            };
            return (check, ids.to_vec());
        }
        Err(_) => {
            let check = Check::fail(
                QUEUES,
                format!("listing the org's queues took longer than {LIST_TIMEOUT:?}"),
                "run the check again; if it persists, see the Genesys status page",
            );
            return (check, ids.to_vec());
        }
    };
    let known: std::collections::BTreeSet<&str> = listed.iter().map(|q| q.id.as_str()).collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !known.contains(id.as_str())).collect();
    let mut wanted: Vec<String> = ids.to_vec();
    let mut found = Vec::new();
    if !ids.is_empty() {
        found.push(format!("{} of {} configured queue id(s) found", ids.len() - missing.len(), ids.len()));
    }
    if selection.needs_discovery() {
        let selected: Vec<&str> =
            listed.iter().filter(|q| selection.selects_name(&q.name)).map(|q| q.id.as_str()).collect();
        let how =
            if selection.all { "`queues.all`".to_string() } else { format!("`queues.names` {:?}", selection.names) };
        found.push(format!("{how} selects {} of the org's {} queues", selected.len(), listed.len()));
        for id in selected {
            if !wanted.iter().any(|w| w == id) {
                wanted.push(id.to_string());
            }
        }
    }
    let detail = found.join("; ");
    let check = if !missing.is_empty() {
        let named: Vec<&str> = missing.iter().take(NAMED_TOPICS).map(|s| s.as_str()).collect();
        let more = missing.len().saturating_sub(NAMED_TOPICS);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        Check::fail(
            QUEUES,
            format!(
                "queue id(s) not found among the {} queues this client can list: {}{more} ({detail})",
                listed.len(),
                named.join(", ")
            ),
            "check `queues.ids` against Admin > Routing > Queues; a queue in a division the OAuth client's role does \
             not cover is invisible to it",
        )
    } else if wanted.is_empty() {
        Check::warn(
            QUEUES,
            format!(
                "{}nothing to follow yet (new matching queues are picked up every `queues.refresh_interval`)",
                if detail.is_empty() { String::new() } else { format!("{detail}: ") }
            ),
        )
    } else {
        Check::ok(QUEUES, detail)
    };
    (check, wanted)
}

fn queue_topic(id: &str) -> String {
    format!("v2.routing.queues.{id}.conversations")
}

/// Channel, socket and cleanup checks.
async fn channel(clients: &Clients, config: &GenesysConfig, wanted: &[String]) -> Vec<Check> {
    let api = &clients.api;
    let channel = match timeout(STEP_TIMEOUT, api.create_channel()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => {
            let fix = rest_fix(
                &e,
                "Genesys documents no permission for creating a channel: check the OAuth client's roles and the org's notification settings",
            );
            return vec![
                Check::fail(CHANNEL, format!("cannot create a notification channel: {e}"), fix),
                not_checked(SOCKET, "no channel", CHANNEL),
                Check::ok(CLEANUP, "nothing to clean up: no channel was created"),
            ];
        }
        Err(_) => {
            return vec![
                Check::fail(
                    CHANNEL,
                    format!("no channel created within {STEP_TIMEOUT:?}"),
                    "run the check again; if it persists, see the Genesys status page",
                ),
                not_checked(SOCKET, "no channel", CHANNEL),
                Check::warn(
                    CLEANUP,
                    "the channel request timed out: a channel may have been created; it has no subscriptions and \
                     expires by itself",
                ),
            ];
        }
    };
    let mut checks = vec![subscribe(api, &channel, config, wanted).await];
    checks.push(open_socket(clients, config, &channel).await);
    checks.push(cleanup(api, &channel).await);
    checks
}

async fn subscribe(api: &GenesysApi, channel: &Channel, config: &GenesysConfig, wanted: &[String]) -> Check {
    let created = format!("channel {} created (expires {})", channel.id, iso_ms(channel.expires_ms));
    if wanted.is_empty() {
        return Check::warn(CHANNEL, format!("{created}; no queue to subscribe"));
    }
    let max = config.channels.max_topics.max(1);
    let topics: Vec<String> = wanted.iter().take(max).map(|q| queue_topic(q)).collect();
    let sharded = if wanted.len() > max {
        format!(
            " (the first {max} of {} queues: the connector spreads them over {} channels)",
            wanted.len(),
            wanted.len().div_ceil(max)
        )
    } else {
        String::new()
    };
    let answer = match timeout(STEP_TIMEOUT, api.put_subscriptions(&channel.id, &topics)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let fix = rest_fix(&e, "grant the OAuth client's role the permissions the message names");
            return Check::fail(CHANNEL, format!("{created}, but subscribing failed: {e}"), fix);
        }
        Err(_) => {
            return Check::fail(
                CHANNEL,
                format!("{created}, but the subscription request took longer than {STEP_TIMEOUT:?}"),
                "run the check again; if it persists, see the Genesys status page",
            );
        }
    };
    let rejected: Vec<&ChannelTopic> = answer.iter().filter(|t| t.state == TopicState::Rejected).collect();
    let permitted: std::collections::BTreeSet<&str> =
        answer.iter().filter(|t| t.state == TopicState::Permitted).map(|t| t.id.as_str()).collect();
    let unconfirmed: Vec<&String> =
        topics.iter().filter(|t| !permitted.contains(t.as_str()) && !rejected.iter().any(|r| &r.id == *t)).collect();
    if !rejected.is_empty() {
        let required = if rejected.iter().any(|t| t.missing_permissions.is_empty()) {
            timeout(STEP_TIMEOUT, api.topic_permissions()).await.ok().and_then(Result::ok).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut permissions = std::collections::BTreeSet::new();
        let named: Vec<String> = rejected
            .iter()
            .take(NAMED_TOPICS)
            .map(|t| {
                let reason = t.rejection_reason.as_deref().unwrap_or("rejected");
                let mut missing = t.missing_permissions.clone();
                if missing.is_empty() {
                    missing =
                        required.iter().find(|r| r.matches(&t.id)).map(|r| r.permissions.clone()).unwrap_or_default();
                }
                permissions.extend(missing.iter().cloned());
                if missing.is_empty() {
                    format!("{} ({reason})", t.id)
                } else {
                    format!("{} ({reason}; missing permission {})", t.id, missing.join(", "))
                }
            })
            .collect();
        for t in rejected.iter().skip(NAMED_TOPICS) {
            permissions.extend(t.missing_permissions.iter().cloned());
        }
        let more = rejected.len().saturating_sub(NAMED_TOPICS);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let grant = if permissions.is_empty() {
            "grant the OAuth client's role the permissions to see these queues (and their divisions)".to_string()
        } else {
            format!(
                "grant the OAuth client's role {} (for the queues' divisions)",
                permissions.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        return Check::fail(
            CHANNEL,
            format!(
                "{created}; Genesys rejected {} of {} topic(s): {}{more}",
                rejected.len(),
                topics.len(),
                named.join("; ")
            ),
            format!(
                "{grant}, or remove those queues from the config; the connector covers the other queues and reports these as rejected"
            ),
        );
    }
    if !unconfirmed.is_empty() {
        let named: Vec<&str> = unconfirmed.iter().take(NAMED_TOPICS).map(|s| s.as_str()).collect();
        return Check::warn(
            CHANNEL,
            format!(
                "{created}; {} of {} topic(s) were neither permitted nor rejected in Genesys's answer: {}",
                unconfirmed.len(),
                topics.len(),
                named.join(", ")
            ),
        );
    }
    Check::ok(
        CHANNEL,
        format!(
            "{created}; {} queue topic(s) subscribed with PUT ?ignoreErrors=true, all Permitted{sharded}",
            topics.len()
        ),
    )
}

async fn open_socket(clients: &Clients, config: &GenesysConfig, channel: &Channel) -> Check {
    let k = &config.keepalive;
    let settings = SocketSettings {
        ping_interval: k.ping_interval.get(),
        pong_timeout: k.pong_timeout.get(),
        watchdog: k.watchdog.get(),
        connect_timeout: k.connect_timeout.get(),
        max_frame_bytes: k.max_frame_bytes,
        buffer: 64,
        connector: "tributary-check".into(),
        egress: clients.egress.clone(),
    };
    let host = streaming_host(&channel.connect_uri);
    let via = proxy_note(&clients.egress, &channel.connect_uri);
    // `open` is bounded by twice the connect timeout; the margin only guards against a bug.
    let limit = settings.connect_timeout * 2 + Duration::from_secs(5);
    let started = std::time::Instant::now();
    let reach = format!(
        "allow outbound WebSocket connections to {host}{via}; a proxy must allow CONNECT to it (set `proxy` or \
         HTTPS_PROXY when one is required)"
    );
    match timeout(limit, socket::open(&channel.connect_uri, &settings)).await {
        Ok(Ok(socket)) => {
            let elapsed = started.elapsed().as_millis();
            socket.close();
            Check::ok(SOCKET, format!("connected to {host}{via} and answered the JSON ping in {elapsed} ms"))
        }
        Ok(Err(e)) => {
            let fix = match &e {
                OpenError::Proxy(p) if p.status() == Some(407) => {
                    "give the proxy's credentials: `proxy: http://user:password@host:port` (or in HTTPS_PROXY)"
                        .to_string()
                }
                OpenError::Refused(_) => {
                    "the channel was gone before its socket connected (token or channel expired); run the check again"
                        .to_string()
                }
                OpenError::NoPong(_) | OpenError::Died(_) => format!(
                    "the socket opened but the JSON ping went unanswered: a proxy or firewall that buffers or blocks \
                     WebSocket frames? {reach}"
                ),
                _ => reach,
            };
            Check::fail(SOCKET, e.to_string(), fix)
        }
        Err(_) => Check::fail(SOCKET, format!("no pong from {host}{via} within {limit:?}"), reach),
    }
}

/// `wss://host[:port]` of a connect URI, without the channel path (the URI is a credential).
fn streaming_host(uri: &str) -> String {
    match reqwest::Url::parse(uri) {
        Ok(url) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or("?"))
        }
        Err(_) => "the channel's streaming host".to_string(),
    }
}

fn proxy_note(egress: &Egress, url: &str) -> String {
    egress.proxy_for_url(url).map(|p| format!(" through proxy {p}")).unwrap_or_default()
}

async fn cleanup(api: &GenesysApi, channel: &Channel) -> Check {
    let expiry = format!(
        "the API has no channel DELETE, so channel {} expires by itself at {} (until then it holds one of the OAuth \
         client's 20 channels; an unconnected channel is the first evicted)",
        channel.id,
        iso_ms(channel.expires_ms)
    );
    let deleted = timeout(STEP_TIMEOUT, api.delete_subscriptions(&channel.id)).await;
    if !matches!(deleted, Ok(Ok(()))) {
        // Replacing the list with nothing has the same effect.
        let _ = timeout(STEP_TIMEOUT, api.put_subscriptions(&channel.id, &[])).await;
    }
    match timeout(STEP_TIMEOUT, api.get_subscriptions(&channel.id)).await {
        Ok(Ok(left)) if left.is_empty() => Check::ok(CLEANUP, format!("no subscription left; {expiry}")),
        Ok(Ok(left)) => {
            let named: Vec<&str> = left.iter().take(NAMED_TOPICS).map(|t| t.id.as_str()).collect();
            Check::fail(
                CLEANUP,
                format!("{} subscription(s) still on channel {}: {}", left.len(), channel.id, named.join(", ")),
                format!("they end with the channel; {expiry}"),
            )
        }
        // A channel that is already gone has nothing subscribed.
        Ok(Err(e)) if e.is_not_found() => Check::ok(CLEANUP, format!("channel {} is already gone", channel.id)),
        Ok(Err(e)) => Check::fail(
            CLEANUP,
            format!("cannot confirm that channel {} has no subscription left: {e}", channel.id),
            format!("nothing needs doing: {expiry}, with its subscriptions"),
        ),
        Err(_) => Check::fail(
            CLEANUP,
            format!("cannot confirm within {STEP_TIMEOUT:?} that channel {} has no subscription left", channel.id),
            format!("nothing needs doing: {expiry}, with its subscriptions"),
        ),
    }
}

const ANALYTICS_PERMISSIONS: &str = "analytics:conversationDetail:view (or analytics:agentConversationDetail:view)";

async fn analytics(api: &GenesysApi, config: &GenesysConfig, wanted: &[String]) -> Vec<Check> {
    if !config.backfill.enabled {
        return vec![Check::warn(ANALYTICS, "not checked: `backfill.enabled` is false, so gaps will not be filled")];
    }
    let mut checks = Vec::new();
    let to_ms = now_ms() - 60_000;
    let from_ms = to_ms - 60_000;
    let query = DetailsQuery::new(from_ms, to_ms).queues(wanted.iter().take(100).cloned()).page(1, 1);
    let window = format!("{}/{}", iso_ms(from_ms), iso_ms(to_ms));
    checks.push(match timeout(STEP_TIMEOUT, api.details_query(&query)).await {
        Ok(Ok(page)) => Check::ok(
            ANALYTICS,
            format!(
                "the conversation details query answered for {window} ({} conversation(s) on that day for these queues)",
                page.total_hits
            ),
        ),
        Ok(Err(e)) => {
            let fix = match &e {
                RestError::Forbidden { .. } => format!(
                    "grant the OAuth client's role {ANALYTICS_PERMISSIONS}: without it gaps cannot be backfilled (or set \
                     `backfill.enabled: false` to run without backfill)"
                ),
                other => rest_fix(other, "run the check again"),
            };
            Check::fail(ANALYTICS, format!("the conversation details query failed: {e}"), fix)
        }
        Err(_) => Check::fail(
            ANALYTICS,
            format!("the conversation details query took longer than {STEP_TIMEOUT:?}"),
            "run the check again; if it persists, see the Genesys status page",
        ),
    });
    if config.backfill.confirm_with_jobs {
        checks.push(match timeout(STEP_TIMEOUT, api.data_availability()).await {
            Ok(Ok(ms)) => Check::ok(DATA_LAKE, format!("the data lake is complete up to {}", iso_ms(ms))),
            Ok(Err(e)) => {
                let fix = match &e {
                    RestError::Forbidden { .. } => {
                        "grant the OAuth client's role analytics:conversationDetail:view, or \
                                                    set `backfill.confirm_with_jobs: false`"
                            .to_string()
                    }
                    other => rest_fix(other, "run the check again"),
                };
                Check::fail(DATA_LAKE, format!("cannot read the data lake's availability date: {e}"), fix)
            }
            Err(_) => Check::fail(
                DATA_LAKE,
                format!("no data-availability date within {STEP_TIMEOUT:?}"),
                "run the check again; if it persists, see the Genesys status page",
            ),
        });
    }
    checks
}

/// The fix for a failed REST call, by kind; `forbidden` for a 403.
fn rest_fix(e: &RestError, forbidden: &str) -> String {
    match e {
        RestError::Forbidden { .. } => forbidden.to_string(),
        RestError::Unauthorized { .. } => "the token was refused: check that the OAuth client is active".to_string(),
        RestError::Proxy { .. } => {
            "give the proxy's credentials: `proxy: http://user:password@host:port` (or in HTTPS_PROXY)".to_string()
        }
        RestError::RateLimited { .. } => {
            "the OAuth client is rate limited: wait a minute, or check what else uses this client".to_string()
        }
        RestError::Transport { .. } => {
            "check region / api_base_url, DNS and the firewall; behind a corporate proxy set `proxy` or HTTPS_PROXY"
                .to_string()
        }
        _ => "run the check again; if it persists, see the Genesys status page".to_string(),
    }
}
