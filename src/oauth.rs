//! OAuth 2.0 client credentials (RFC 6749 §4.4) for the runtime's own clients: a token fetched
//! from a token endpoint, cached, and fetched again shortly before it expires or after the
//! server refused it.
//!
//! Used for bearer auth to the schema registry (Confluent Cloud, managed registries behind an
//! identity provider).

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::api::Secret;

/// Where and as whom to ask for tokens. `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub token_endpoint_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Space-separated scopes, sent when set.
    pub scope: Option<String>,
}

/// Why no token could be had. Never contains the client secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token endpoint {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("token endpoint {url} refused client `{client_id}`: HTTP {status}{detail}")]
    Refused { url: String, client_id: String, status: u16, detail: String },
    #[error("token endpoint {url} sent an answer without a usable access_token: {reason}")]
    BadAnswer { url: String, reason: String },
}

/// A token is fetched again this long before it expires.
const EARLY: Duration = Duration::from_secs(60);
/// Used when the endpoint does not say how long a token lives.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// Caches one token of a [`ClientCredentials`] grant. Concurrent callers share one fetch.
pub struct TokenCache {
    credentials: ClientCredentials,
    current: Mutex<Option<(Secret, Instant)>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").field("credentials", &self.credentials).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenCache {
    pub fn new(credentials: ClientCredentials) -> Self {
        Self { credentials, current: Mutex::new(None) }
    }

    pub fn credentials(&self) -> &ClientCredentials {
        &self.credentials
    }

    /// A token valid for at least a minute more, fetched through `http` when needed.
    pub async fn token(&self, http: &reqwest::Client) -> Result<Secret, TokenError> {
        let mut current = self.current.lock().await;
        if let Some((token, expires)) = current.as_ref()
            && Instant::now() + EARLY < *expires
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch(&self.credentials, http).await?;
        *current = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Forgets the cached token (the server refused it), so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}

/// Asks the token endpoint for a token once: the token and how long it lives.
pub async fn fetch(c: &ClientCredentials, http: &reqwest::Client) -> Result<(Secret, Duration), TokenError> {
    let url = c.token_endpoint_url.clone();
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &c.scope {
        form.push(("scope", scope.as_str()));
    }
    let response = http
        .post(&url)
        .basic_auth(&c.client_id, Some(c.client_secret.expose()))
        .form(&form)
        .send()
        .await
        .map_err(|e| TokenError::Unreachable { url: url.clone(), reason: e.without_url().to_string() })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| TokenError::Unreachable { url: url.clone(), reason: e.without_url().to_string() })?;
    if !status.is_success() {
        // An OAuth error answer carries `error` and maybe `error_description`; nothing secret.
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(|e| format!(" ({e})")))
            .unwrap_or_default();
        return Err(TokenError::Refused { url, client_id: c.client_id.clone(), status: status.as_u16(), detail });
    }
    let answer: TokenAnswer =
        serde_json::from_slice(&body).map_err(|e| TokenError::BadAnswer { url: url.clone(), reason: e.to_string() })?;
    if answer.access_token.is_empty() {
        return Err(TokenError::BadAnswer { url, reason: "access_token is empty".into() });
    }
    let lifetime = answer.expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs);
    Ok((Secret::new(answer.access_token), lifetime))
}

/// [`fetch`] for a caller that is not async (librdkafka's token refresh): on a thread of its own
/// with its own small runtime, bounded by `timeout`.
pub fn fetch_blocking(c: &ClientCredentials, timeout: Duration) -> Result<(Secret, Duration), TokenError> {
    let credentials = c.clone();
    let url = c.token_endpoint_url.clone();
    let unreachable = move |reason: String| TokenError::Unreachable { url: url.clone(), reason };
    let worker = std::thread::Builder::new()
        .name("oauth-token".into())
        .spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
            Ok::<_, String>(runtime.block_on(fetch(&credentials, &http)))
        })
        .map_err(|e| unreachable(e.to_string()))?;
    match worker.join() {
        Ok(Ok(answer)) => answer,
        Ok(Err(reason)) => Err(unreachable(reason)),
        Err(_) => Err(unreachable("the token request panicked".into())),
    }
}
