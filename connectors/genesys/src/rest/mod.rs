//! The REST client a tenant's tasks share: authentication, the request budget, retries.
//!
//! Contract of [`RestClient::send`] (and the JSON helpers built on it):
//!
//! - **Budget.** Every attempt, retries included, first takes a slot from the tenant's
//!   [`Budget`] (see [`budget`]): paced to `requests_per_minute`, paused after a 429 for the
//!   whole tenant, slowed when `inin-ratelimit-*` headers on a non-429 answer say the server's
//!   window is nearly used.
//! - **401.** The token is invalidated and the request is sent once more with a fresh token; a
//!   second 401 is [`RestError::Unauthorized`] (fatal).
//! - **403** is [`RestError::Forbidden`] (fatal) with Genesys's code and message. **404** is
//!   [`RestError::NotFound`] (a normal answer, e.g. `HEAD` on a dead channel). Other 4xx are
//!   [`RestError::Rejected`]. None of these is retried.
//! - **429.** The tenant's budget pauses until `Retry-After` (3 s when absent) has passed, then
//!   the request is retried, up to `max_rate_limited` times. A `Retry-After` above
//!   `retry_after_ceiling` (180 s, as the .NET SDK) is not waited out: [`RestError::RateLimited`]
//!   (retriable) at once.
//! - **5xx, timeouts, connection errors** are retried with jittered exponential backoff
//!   ([`Backoff`]); when attempts run out, [`RestError::Server`] / [`RestError::Transport`]
//!   (retriable). Every call the connector makes is safe to repeat: reads, idempotent PUTs, and
//!   POSTs whose duplicate is harmless (an extra channel or job that simply expires).
//! - **407** from a proxy is [`RestError::Proxy`] (fatal), naming the proxy; transport errors
//!   through a proxy name it too (never its credentials).
//! - Errors are logged with their `ININ-Correlation-Id`; nothing logged or returned contains the
//!   client secret or a token.

pub mod budget;
pub mod error;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

pub use self::budget::{Budget, BudgetConfig, Class};
pub use self::error::RestError;
use self::stats::Counters;
pub use self::stats::RestStats;
use crate::auth::TokenSource;
use crate::http::headers;
pub use crate::http::{Backoff, ErrorClass, ServerBudget};
use crate::net::Egress;

/// Settings of a tenant's REST client.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// `https://api.{domain}` (see [`crate::region`]); paths start with `/api/v2`.
    pub api_base_url: String,
    /// The `connector` label on metrics (the connector instance's name).
    pub connector: String,
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// Whole request, body included. Default 30 s.
    pub request_timeout: Duration,
    pub budget: BudgetConfig,
    /// For 5xx and transport errors. Default 500 ms doubling to 30 s, 6 attempts.
    pub backoff: Backoff,
    /// A longer `Retry-After` is returned as an error instead of waited out. Default 180 s.
    pub retry_after_ceiling: Duration,
    /// Used when a 429 has no `Retry-After`. Default 3 s.
    pub default_retry_after: Duration,
    /// 429s in a row before giving up with [`RestError::RateLimited`]. Default 10.
    pub max_rate_limited: u32,
    /// Direct or through a proxy. Default [`Egress::direct`].
    pub egress: Egress,
    /// A response body (2xx or error) longer than this is not read: [`RestError::TooLarge`].
    /// Default [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

/// 32 MiB: a page of 200 conversation details is well under 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

impl RestConfig {
    /// Defaults for everything but the host and the metrics label.
    pub fn new(api_base_url: impl Into<String>, connector: impl Into<String>) -> Self {
        Self {
            api_base_url: api_base_url.into(),
            connector: connector.into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            budget: BudgetConfig::default(),
            backoff: Backoff::default(),
            retry_after_ceiling: Duration::from_secs(180),
            default_retry_after: Duration::from_secs(3),
            max_rate_limited: 10,
            egress: Egress::direct(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// A request, kept as data so every attempt can rebuild it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Starts with `/api/v2/`; path segments already escaped (see [`path_segment`]).
    pub path: String,
    pub query: Vec<(String, String)>,
    /// A JSON body, serialised once.
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), query: Vec::new(), body: None }
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets a JSON body.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, RestError> {
        let bytes = serde_json::to_vec(body).map_err(|e| RestError::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            detail: format!("cannot encode request body: {e}"),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub correlation_id: Option<String>,
    /// The generation of the token the request went out with.
    pub token_generation: u64,
}

#[derive(Debug)]
struct Inner {
    config: RestConfig,
    base: String,
    http: reqwest::Client,
    tokens: TokenSource,
    budget: Budget,
    counters: Counters,
}

/// One per tenant; clones share the budget, the token and the counters.
#[derive(Debug, Clone)]
pub struct RestClient {
    inner: Arc<Inner>,
}

/// What one attempt came to.
enum Outcome {
    Done(Response),
    Fail(RestError),
    /// Try again after the budget allows (429: the pause is already set).
    RateLimited {
        retry_after: Duration,
        correlation_id: Option<String>,
    },
    /// Try again after a backoff.
    Transient(RestError),
    Unauthorized(RestError),
}

impl RestClient {
    /// Builds the client; makes no request.
    pub fn new(config: RestConfig, tokens: TokenSource) -> Result<Self, RestError> {
        let http = config.egress.client(config.connect_timeout).map_err(|e| RestError::Config(e.to_string()))?;
        let base = config.api_base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(RestError::Config(format!("api base url `{base}` must start with http:// or https://")));
        }
        let counters = Counters::new(&config.connector);
        let budget = Budget::new(config.budget);
        metrics::gauge!("genesys_rest_budget_requests_per_minute", "connector" => config.connector.clone())
            .set(f64::from(budget.config().requests_per_minute));
        Ok(Self { inner: Arc::new(Inner { config, base, http, tokens, budget, counters }) })
    }

    /// The token source (for channel rollover on a new generation, and `invalidate`).
    pub fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    /// The tenant's request budget.
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// Counters since construction.
    pub fn stats(&self) -> RestStats {
        self.inner.counters.snapshot()
    }

    /// Sends `req` under the contract in the module docs.
    pub async fn send(&self, req: &Request) -> Result<Response, RestError> {
        let cfg = &self.inner.config;
        let mut transient_attempts = 0u32;
        let mut rate_limited = 0u32;
        let mut reauthenticated = false;
        loop {
            let waited = self.inner.budget.acquire(Class::of(&req.path)).await;
            self.inner.counters.waited(waited);
            let outcome = self.attempt(req).await?;
            match outcome {
                Outcome::Done(resp) => return Ok(resp),
                Outcome::Fail(e) => return Err(e),
                Outcome::Unauthorized(e) => {
                    if reauthenticated {
                        return Err(e);
                    }
                    reauthenticated = true;
                    self.inner.counters.retried("unauthorized");
                }
                Outcome::RateLimited { retry_after, correlation_id } => {
                    rate_limited += 1;
                    if retry_after > cfg.retry_after_ceiling || rate_limited >= cfg.max_rate_limited.max(1) {
                        return Err(RestError::RateLimited {
                            method: req.method.to_string(),
                            path: req.path.clone(),
                            attempts: rate_limited,
                            retry_after: Some(retry_after),
                            correlation_id,
                        });
                    }
                    self.inner.counters.retried("rate_limited");
                }
                Outcome::Transient(e) => {
                    transient_attempts += 1;
                    if !cfg.backoff.allows_another(transient_attempts) {
                        return Err(with_attempts(e, transient_attempts));
                    }
                    let delay = cfg.backoff.delay(transient_attempts);
                    tracing::debug!(
                        method = %req.method, path = %req.path, attempt = transient_attempts,
                        retry_in_ms = delay.as_millis() as u64, error = %e, "retrying genesys request"
                    );
                    self.inner.counters.retried(if e.status().is_some() { "server_error" } else { "transport" });
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt: token, request, classification. `Err` only when no token can be had.
    async fn attempt(&self, req: &Request) -> Result<Outcome, RestError> {
        let token = self.inner.tokens.current().await?;
        let url = format!("{}{}", self.inner.base, req.path);
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), &url)
            .timeout(self.inner.config.request_timeout)
            .bearer_auth(token.value.expose());
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        self.inner.counters.request();
        let started = Instant::now();
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Ok(self.transport_error(req, &url, &e)),
        };
        let status = resp.status().as_u16();
        if status == 407
            && let Some(proxy) = self.inner.config.egress.proxy_for_url(&url)
        {
            return Ok(Outcome::Fail(RestError::Proxy {
                method: req.method.to_string(),
                path: req.path.clone(),
                proxy: proxy.to_string(),
                status,
                reason: resp.status().canonical_reason().unwrap_or_default().to_string(),
            }));
        }
        let headers = resp.headers().clone();
        // A 429 is handled through its Retry-After below; hints with a reset beyond the ceiling
        // would stall the tenant on what is likely a per-endpoint daily limit.
        if let Some(server) = headers::server_budget(&headers)
            && status != 429
            && server.reset <= self.inner.config.retry_after_ceiling
        {
            self.inner.budget.observe(server);
        }
        let correlation_id = headers::correlation_id(&headers);
        let body = match crate::http::body::read_body(resp, self.inner.config.max_response_bytes).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                let limit = self.inner.config.max_response_bytes;
                return Ok(Outcome::Fail(RestError::TooLarge {
                    method: req.method.to_string(),
                    path: req.path.clone(),
                    limit,
                }));
            }
            Err(e) => return Ok(self.transport_error(req, &url, &e)),
        };
        tracing::trace!(method = %req.method, path = %req.path, status, elapsed_ms = started.elapsed().as_millis() as u64, "genesys request");
        if (200..300).contains(&status) {
            return Ok(Outcome::Done(Response { status, body, correlation_id, token_generation: token.generation }));
        }
        let (code, message, context_id) = headers::error_body(&body);
        let correlation_id = correlation_id.or(context_id);
        let method = req.method.to_string();
        let path = req.path.clone();
        if status == 429 {
            let retry_after = headers::retry_after(&headers).unwrap_or(self.inner.config.default_retry_after);
            self.inner.counters.rate_limited();
            tracing::warn!(
                %method, %path, retry_after_s = retry_after.as_secs_f64(), correlation_id = correlation_id.as_deref(),
                "genesys rate limit (429)"
            );
            if retry_after <= self.inner.config.retry_after_ceiling {
                self.inner.budget.pause_until(Instant::now() + retry_after + PAUSE_MARGIN);
            }
            return Ok(Outcome::RateLimited { retry_after, correlation_id });
        }
        if status != 404 {
            tracing::warn!(%method, %path, status, code = %code, message = %message,
                correlation_id = correlation_id.as_deref(), "genesys request failed");
        }
        Ok(match status {
            401 => {
                self.inner.tokens.invalidate(token.generation);
                Outcome::Unauthorized(RestError::Unauthorized { method, path, code, message, correlation_id })
            }
            403 => Outcome::Fail(RestError::Forbidden { method, path, code, message, correlation_id }),
            404 => Outcome::Fail(RestError::NotFound { method, path, message, correlation_id }),
            408 | 500..=599 => {
                self.inner.counters.server_error();
                Outcome::Transient(RestError::Server {
                    method,
                    path,
                    status,
                    attempts: 0,
                    code,
                    message,
                    correlation_id,
                })
            }
            _ => Outcome::Fail(RestError::Rejected { method, path, status, code, message, correlation_id }),
        })
    }

    /// A request that got no (complete) HTTP answer: retriable, except a proxy that wants
    /// credentials.
    fn transport_error(&self, req: &Request, url: &str, e: &reqwest::Error) -> Outcome {
        let (mut detail, timeout) = headers::describe(e);
        self.inner.counters.transport_error();
        let method = req.method.to_string();
        let path = req.path.clone();
        if let Some(proxy) = self.inner.config.egress.proxy_for_url(url) {
            if headers::is_proxy_auth_required(&detail) {
                let reason = "Proxy Authentication Required".to_string();
                return Outcome::Fail(RestError::Proxy { method, path, proxy: proxy.to_string(), status: 407, reason });
            }
            detail.push_str(&format!(" (through proxy {proxy})"));
        }
        tracing::warn!(%method, %path, error = %detail, "genesys request did not complete");
        Outcome::Transient(RestError::Transport { method, path, attempts: 0, timeout, detail })
    }

    /// `GET` and decode the JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, req: Request) -> Result<T, RestError> {
        let resp = self.send(&req).await?;
        decode(&req, &resp)
    }

    /// Sends `req` (with its body) and decodes the JSON answer.
    pub async fn send_json<T: DeserializeOwned>(&self, req: Request) -> Result<T, RestError> {
        let resp = self.send(&req).await?;
        decode(&req, &resp)
    }
}

/// Sets the attempt count of a retriable error that ends the retries.
fn with_attempts(mut e: RestError, n: u32) -> RestError {
    if let RestError::Server { attempts, .. } | RestError::Transport { attempts, .. } = &mut e {
        *attempts = n;
    }
    e
}

/// Added to every `Retry-After` pause so the retry lands after the server's instant, not on it.
const PAUSE_MARGIN: Duration = Duration::from_millis(50);

/// Decodes a JSON body, naming the request on failure.
pub fn decode<T: DeserializeOwned>(req: &Request, resp: &Response) -> Result<T, RestError> {
    serde_json::from_slice(&resp.body).map_err(|e| RestError::Decode {
        method: req.method.to_string(),
        path: req.path.clone(),
        detail: e.to_string(),
    })
}

/// Escapes one path segment (ids come from Genesys, but a stray `/` or `?` must not change the
/// path).
pub fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
