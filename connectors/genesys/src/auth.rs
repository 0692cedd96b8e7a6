//! OAuth client-credentials tokens for one tenant (reference §5).
//!
//! [`TokenSource`] is the one place a tenant's token comes from. Its contract:
//!
//! - **Fetch.** `POST {login}/oauth/token` with HTTP Basic `client_id:client_secret` and the form
//!   `grant_type=client_credentials`; the answer is `{access_token, token_type, expires_in}`.
//!   There is no refresh token for this grant: "refreshing" is fetching a new token.
//! - **Cache and refresh.** A token is reused until its refresh point: `refresh_fraction` (80 %)
//!   of its lifetime, or `refresh_lead` before expiry if that comes first. Lifetimes count from
//!   when the request was sent, so network time only makes the refresh earlier. A refresh that
//!   fails transiently while the old token is still valid keeps handing out the old token and
//!   tries again after a backoff; the 20 % margin is there to ride out a token-endpoint outage.
//!   A fatal answer to an early refresh is returned at once even though the old token still
//!   works: the credentials were revoked or rotated, and the operator should know now.
//! - **Generations.** Every new token gets the next generation number (from 1) and is announced
//!   on [`TokenSource::subscribe`]. Channels die with the token that created them, so the
//!   connector rolls its channels over when the generation changes.
//! - **Invalidation.** [`TokenSource::invalidate`] (after a REST 401, or a `token_revoked`
//!   message) retires a generation; the next [`TokenSource::current`] fetches a new token.
//!   Concurrent callers share one fetch, and callers that waited on a fetch that failed get its
//!   error instead of starting another.
//! - **Errors.** A 401, or a 400 `invalid_client` / `unauthorized_client` / `invalid_grant`, is
//!   [`AuthError::InvalidClient`]: fatal, naming the client id (never the secret). Any other 4xx
//!   is [`AuthError::Refused`], also fatal (a wrong login URL, a disabled grant). A proxy that
//!   wants credentials (407) is [`AuthError::Proxy`], fatal, naming the proxy. 429, 5xx,
//!   timeouts and connection failures are retried with jittered backoff (429 after its
//!   `Retry-After`) and end, when attempts run out, in [`AuthError::Unavailable`]: retriable; it
//!   names the login host, and the proxy when one is used.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tributary_connector_api::Secret;

use crate::http::{Backoff, ErrorClass, headers};
use crate::net::Egress;

/// A token response is a few hundred bytes; one this large is not one.
const MAX_TOKEN_RESPONSE_BYTES: usize = 1024 * 1024;

/// How to obtain tokens.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `https://login.{domain}` (see [`crate::region`]), without `/oauth/token`.
    pub login_base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Refresh after this fraction of the lifetime. Default 0.8.
    pub refresh_fraction: f64,
    /// Refresh at least this long before expiry, if that is earlier than the fraction. Default none.
    pub refresh_lead: Option<Duration>,
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Whole token request. Default 15 s.
    pub request_timeout: Duration,
    /// Retries of transient token-endpoint failures. Default 500 ms doubling to 30 s, 6 attempts.
    pub backoff: Backoff,
    /// A token-endpoint `Retry-After` longer than this ends the attempt. Default 180 s.
    pub retry_after_ceiling: Duration,
    /// Direct or through a proxy. Default [`Egress::direct`].
    pub egress: Egress,
}

impl AuthConfig {
    /// Defaults for everything but the endpoint and the credentials.
    pub fn new(login_base_url: impl Into<String>, client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            login_base_url: login_base_url.into(),
            client_id: client_id.into(),
            client_secret,
            refresh_fraction: 0.8,
            refresh_lead: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            backoff: Backoff::default(),
            retry_after_ceiling: Duration::from_secs(180),
            egress: Egress::direct(),
        }
    }
}

/// An access token and when it stops being good.
#[derive(Debug, Clone)]
pub struct Token {
    /// The bearer value (redacted in `Debug`/`Display`).
    pub value: Secret,
    /// 1 for the first token of this source, then 2, 3, …
    pub generation: u64,
    /// When the request that got it was sent.
    pub issued_at: Instant,
    /// `issued_at + expires_in`.
    pub expires_at: Instant,
    /// When [`TokenSource::current`] starts fetching its successor.
    pub refresh_at: Instant,
}

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint rejected the credentials. Fatal.
    #[error(
        "oauth client `{client_id}` was rejected by the token endpoint ({status} {error}: {description}); check the client id and secret"
    )]
    InvalidClient { client_id: String, status: u16, error: String, description: String },
    /// The token endpoint refused the request for another reason. Fatal.
    #[error("token endpoint refused oauth client `{client_id}` ({status}): {detail}")]
    Refused { client_id: String, status: u16, detail: String },
    /// The proxy refused the token request (407: it wants credentials). Fatal.
    #[error("proxy {proxy} answered {status} {reason} to the token request for oauth client `{client_id}`{}", proxy_hint(*.status))]
    Proxy { client_id: String, proxy: String, status: u16, reason: String },
    /// Transient failures on every attempt. Retriable.
    #[error("no token for oauth client `{client_id}` from {login} after {attempts} attempts: {detail}")]
    Unavailable { client_id: String, login: String, attempts: u32, detail: String },
    /// The HTTP client could not be built. Fatal.
    #[error("invalid oauth configuration for client `{client_id}`: {detail}")]
    Config { client_id: String, detail: String },
}

fn proxy_hint(status: u16) -> &'static str {
    if status == 407 { " (set the proxy's user and password: http://user:password@host:port)" } else { "" }
}

impl AuthError {
    /// Fatal for bad credentials and configuration, retriable for an unavailable endpoint.
    pub fn class(&self) -> ErrorClass {
        match self {
            AuthError::Unavailable { .. } => ErrorClass::Retriable,
            _ => ErrorClass::Fatal,
        }
    }

    pub fn is_fatal(&self) -> bool {
        self.class() == ErrorClass::Fatal
    }

    pub fn is_retriable(&self) -> bool {
        self.class() == ErrorClass::Retriable
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
    expires_in: u64,
}

#[derive(Debug, Default, Deserialize)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default, alias = "error_description")]
    description: String,
}

/// One failed attempt: either final, or worth another try after `wait` (if the server said).
enum Attempt {
    Final(AuthError),
    Transient { detail: String, wait: Option<Duration> },
}

#[derive(Debug, Default)]
struct Slot {
    token: Option<Token>,
    generation: u64,
    /// After a failed early refresh: do not try again before this.
    retry_at: Option<Instant>,
    failures: u32,
    /// The last failed fetch, so callers that queued behind it share its outcome.
    last_failure: Option<(Instant, AuthError)>,
}

#[derive(Debug)]
struct Inner {
    config: AuthConfig,
    token_url: String,
    http: reqwest::Client,
    slot: Mutex<Slot>,
    /// Highest generation retired by `invalidate`.
    invalidated: AtomicU64,
    /// Serialises fetches (single flight).
    fetch: tokio::sync::Mutex<()>,
    generation_tx: watch::Sender<u64>,
}

/// A tenant's token cache. Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct TokenSource {
    inner: std::sync::Arc<Inner>,
}

impl TokenSource {
    /// Builds the source; no request is made until [`TokenSource::current`].
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        let http = config
            .egress
            .client(config.connect_timeout)
            .map_err(|e| AuthError::Config { client_id: config.client_id.clone(), detail: e.to_string() })?;
        let token_url = format!("{}/oauth/token", config.login_base_url.trim_end_matches('/'));
        let (generation_tx, _) = watch::channel(0);
        let inner = Inner {
            config,
            token_url,
            http,
            slot: Mutex::new(Slot::default()),
            invalidated: AtomicU64::new(0),
            fetch: tokio::sync::Mutex::new(()),
            generation_tx,
        };
        Ok(Self { inner: std::sync::Arc::new(inner) })
    }

    /// The OAuth client id (safe to log).
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.inner.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached token if it is valid (not expired, not invalidated), whether or not it is due
    /// for refresh. Never makes a request.
    pub fn cached(&self) -> Option<Token> {
        let invalidated = self.inner.invalidated.load(Ordering::Acquire);
        let now = Instant::now();
        self.slot().token.as_ref().filter(|t| t.generation > invalidated && now < t.expires_at).cloned()
    }

    /// A token good for now: the cached one, or a new one when it is due for refresh, expired or
    /// invalidated (see the module docs for retries and errors).
    pub async fn current(&self) -> Result<Token, AuthError> {
        let asked_at = Instant::now();
        if let Some(t) = self.fresh_enough(asked_at) {
            return Ok(t);
        }
        let _flight = self.inner.fetch.lock().await;
        let now = Instant::now();
        if let Some(t) = self.fresh_enough(now) {
            return Ok(t);
        }
        if let Some((at, err)) = &self.slot().last_failure
            && *at >= asked_at
        {
            return Err(err.clone());
        }
        match self.cached() {
            Some(old) => self.refresh_early(old).await,
            None => self.fetch_with_retries().await,
        }
    }

    /// The cached token if it is valid and not yet due for refresh.
    fn fresh_enough(&self, now: Instant) -> Option<Token> {
        let token = self.cached()?;
        let slot = self.slot();
        let due = now >= token.refresh_at && slot.retry_at.is_none_or(|r| now >= r);
        (!due).then_some(token)
    }

    /// One attempt while the old token is still valid; on a transient failure the old one is
    /// kept and the next attempt is scheduled after a backoff (never after expiry).
    async fn refresh_early(&self, old: Token) -> Result<Token, AuthError> {
        let sent = Instant::now();
        match self.request_token().await {
            Ok(resp) => Ok(self.install(resp, sent)),
            Err(Attempt::Final(e)) => Err(self.record_failure(e)),
            Err(Attempt::Transient { detail, wait }) => {
                let mut slot = self.slot();
                slot.failures = slot.failures.saturating_add(1);
                let delay = wait.unwrap_or_else(|| self.inner.config.backoff.delay(slot.failures));
                let retry_at = (Instant::now() + delay).min(old.expires_at);
                slot.retry_at = Some(retry_at);
                tracing::warn!(
                    client_id = %self.inner.config.client_id,
                    generation = old.generation,
                    retry_in_ms = delay.as_millis() as u64,
                    error = %detail,
                    "token refresh failed; keeping the current token until the next attempt"
                );
                Ok(old)
            }
        }
    }

    /// Fetches with retries when no valid token is left.
    async fn fetch_with_retries(&self) -> Result<Token, AuthError> {
        let cfg = &self.inner.config;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let sent = Instant::now();
            let (detail, wait) = match self.request_token().await {
                Ok(resp) => return Ok(self.install(resp, sent)),
                Err(Attempt::Final(e)) => return Err(self.record_failure(e)),
                Err(Attempt::Transient { detail, wait }) => (detail, wait),
            };
            let too_long = wait.is_some_and(|w| w > cfg.retry_after_ceiling);
            if !cfg.backoff.allows_another(attempts) || too_long {
                let e = AuthError::Unavailable {
                    client_id: cfg.client_id.clone(),
                    login: cfg.login_base_url.trim_end_matches('/').to_string(),
                    attempts,
                    detail,
                };
                return Err(self.record_failure(e));
            }
            let delay = wait.unwrap_or_else(|| cfg.backoff.delay(attempts));
            tracing::warn!(
                client_id = %cfg.client_id, attempt = attempts, retry_in_ms = delay.as_millis() as u64,
                error = %detail, "token request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    fn record_failure(&self, e: AuthError) -> AuthError {
        if e.is_fatal() {
            tracing::error!(error = %e, "oauth token request rejected");
        }
        self.slot().last_failure = Some((Instant::now(), e.clone()));
        e
    }

    fn install(&self, resp: TokenResponse, sent: Instant) -> Token {
        let cfg = &self.inner.config;
        let lifetime = Duration::from_secs(resp.expires_in.max(1));
        let by_fraction = lifetime.mul_f64(cfg.refresh_fraction.clamp(0.05, 1.0));
        let by_lead = cfg.refresh_lead.map_or(lifetime, |lead| lifetime.saturating_sub(lead));
        let token = {
            let mut slot = self.slot();
            slot.generation += 1;
            let token = Token {
                value: Secret::new(resp.access_token),
                generation: slot.generation,
                issued_at: sent,
                expires_at: sent + lifetime,
                refresh_at: sent + by_fraction.min(by_lead),
            };
            slot.token = Some(token.clone());
            slot.retry_at = None;
            slot.failures = 0;
            slot.last_failure = None;
            token
        };
        if !resp.token_type.is_empty() && !resp.token_type.eq_ignore_ascii_case("bearer") {
            tracing::warn!(token_type = %resp.token_type, "unexpected oauth token type; using it as a bearer token");
        }
        tracing::info!(
            client_id = %cfg.client_id, generation = token.generation, lifetime_s = lifetime.as_secs(),
            refresh_in_ms = (token.refresh_at - sent).as_millis() as u64, "oauth token obtained"
        );
        self.inner.generation_tx.send_replace(token.generation);
        token
    }

    /// One token request, classified.
    async fn request_token(&self) -> Result<TokenResponse, Attempt> {
        let cfg = &self.inner.config;
        let sent = self
            .inner
            .http
            .post(&self.inner.token_url)
            .timeout(cfg.request_timeout)
            .basic_auth(&cfg.client_id, Some(cfg.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        let proxy = cfg.egress.proxy_for_url(&self.inner.token_url);
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let (detail, _) = headers::describe(&e);
                if let Some(proxy) = proxy {
                    if headers::is_proxy_auth_required(&detail) {
                        return Err(Attempt::Final(AuthError::Proxy {
                            client_id: cfg.client_id.clone(),
                            proxy: proxy.to_string(),
                            status: 407,
                            reason: "Proxy Authentication Required".into(),
                        }));
                    }
                    return Err(Attempt::Transient { detail: format!("{detail} (through proxy {proxy})"), wait: None });
                }
                return Err(Attempt::Transient { detail, wait: None });
            }
        };
        let status = resp.status().as_u16();
        if status == 407
            && let Some(proxy) = proxy
        {
            return Err(Attempt::Final(AuthError::Proxy {
                client_id: cfg.client_id.clone(),
                proxy: proxy.to_string(),
                status,
                reason: resp.status().canonical_reason().unwrap_or_default().to_string(),
            }));
        }
        let wait = headers::retry_after(resp.headers());
        let body = match crate::http::body::read_body(resp, MAX_TOKEN_RESPONSE_BYTES).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                let detail = format!("token response over {MAX_TOKEN_RESPONSE_BYTES} bytes; not read");
                return Err(Attempt::Transient { detail, wait: None });
            }
            Err(e) => return Err(Attempt::Transient { detail: headers::describe(&e).0, wait: None }),
        };
        if (200..300).contains(&status) {
            return serde_json::from_slice::<TokenResponse>(&body)
                .map_err(|e| Attempt::Transient { detail: format!("unreadable token response: {e}"), wait: None });
        }
        let err: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let client_id = cfg.client_id.clone();
        let rejected = matches!(err.error.as_str(), "invalid_client" | "unauthorized_client" | "invalid_grant");
        match status {
            401 => Err(Attempt::Final(AuthError::InvalidClient {
                client_id,
                status,
                error: if err.error.is_empty() { "unauthorized".into() } else { err.error },
                description: err.description,
            })),
            400 if rejected => Err(Attempt::Final(AuthError::InvalidClient {
                client_id,
                status,
                error: err.error,
                description: err.description,
            })),
            408 | 429 | 500..=599 => {
                Err(Attempt::Transient { detail: format!("token endpoint answered {status} {}", err.error), wait })
            }
            _ => {
                let detail = format!("{} {}", err.error, err.description).trim().to_string();
                Err(Attempt::Final(AuthError::Refused { client_id, status, detail }))
            }
        }
    }

    /// Retires `generation`: if it is still the cached token, the next [`TokenSource::current`]
    /// fetches a new one. Invalidating an older generation does nothing.
    pub fn invalidate(&self, generation: u64) {
        let prev = self.inner.invalidated.fetch_max(generation, Ordering::AcqRel);
        if generation > prev {
            tracing::info!(client_id = %self.inner.config.client_id, generation, "oauth token invalidated");
        }
    }

    /// The latest token generation (0 before the first token); changes wake receivers.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.generation_tx.subscribe()
    }

    /// When [`TokenSource::current`] will next try to fetch a token: the refresh point of the
    /// cached token (or the retry after a failed refresh), or now if there is no valid token.
    pub fn next_refresh_at(&self) -> Instant {
        let now = Instant::now();
        let Some(token) = self.cached() else { return now };
        let slot = self.slot();
        token.refresh_at.max(slot.retry_at.unwrap_or(token.refresh_at))
    }

    /// Keeps the token fresh in the background: sleeps until [`TokenSource::next_refresh_at`],
    /// refreshes, repeats, so a new generation is announced ahead of expiry even when no REST
    /// call asks for it. Returns `Ok` when cancelled and `Err` on a fatal error.
    pub async fn run_refresher(&self, cancel: CancellationToken) -> Result<(), AuthError> {
        let mut failures = 0u32;
        loop {
            let at = self.next_refresh_at();
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(at) => {}
            }
            match self.current().await {
                Ok(_) => failures = 0,
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let delay = self.inner.config.backoff.delay(failures);
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "background token refresh failed");
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}
