//! The registry client the runtime uses: Confluent's REST API over reqwest, with timeouts,
//! retries of transient failures and optional basic auth.
//!
//! The client caches nothing: every method is one logical call (retried when transient). Callers
//! that need caching ([`Encoder`](crate::avro::Encoder), [`Decoder`](crate::avro::Decoder)) cache
//! successful answers themselves, so an error is never remembered.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::compat::CompatibilityLevel;
use super::error::RegistryError;
use super::messages::{
    self, CompatibilityResponse, ConfigResponse, ConfigUpdate, ErrorBody, IdResponse, SchemaRequest, SchemaText,
    SubjectVersion, codes,
};
use super::retry::RetryPolicy;
use super::schema_label;
use tributary_connector_api::Secret;

/// Username and password for HTTP basic auth (Confluent Cloud: API key and secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// How to reach a registry. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:8081` (a path prefix is kept). Credentials belong in
    /// [`basic_auth`](Self::basic_auth), not in the URL. `https` needs TLS support in the build
    /// (see `HTTPS_SUPPORTED` in this file).
    pub url: String,
    pub basic_auth: Option<BasicAuth>,
    /// Bound on one HTTP request, connection included.
    pub request_timeout: Duration,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl RegistryConfig {
    /// Defaults: no auth, 10 s per request, 5 s to connect, [`RetryPolicy::default`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            basic_auth: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_basic_auth(mut self, username: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.basic_auth = Some(BasicAuth { username: username.into(), password: password.into() });
        self
    }
}

/// A Confluent Schema Registry client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    /// The base URL as shown in messages.
    shown_url: String,
    /// `Authorization` value, marked sensitive so that reqwest/hyper never log it.
    auth: Option<HeaderValue>,
    retry: RetryPolicy,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.inner.shown_url)
            .field("basic_auth", &self.inner.auth.is_some())
            .finish_non_exhaustive()
    }
}

/// What a call is about, to turn error answers into precise errors.
#[derive(Default)]
struct Call<'a> {
    subject: Option<&'a str>,
    schema: Option<&'a str>,
    version: Option<String>,
    id: Option<u32>,
}

impl RegistryClient {
    /// Builds a client. Fails on an unusable URL (including one carrying credentials).
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        let base = parse_base_url(&config.url)?;
        let shown_url = base.as_str().trim_end_matches('/').to_owned();
        let auth = match &config.basic_auth {
            Some(auth) => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    auth.username,
                    auth.password.expose()
                ));
                let mut value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                    RegistryError::Client("the basic auth username or password contains invalid characters".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| RegistryError::Client(error_chain(&e)))?;
        let retry = RetryPolicy { max_attempts: config.retry.max_attempts.max(1), ..config.retry };
        Ok(Self { inner: Arc::new(Inner { http, base, shown_url, auth, retry }) })
    }

    /// The base URL, without credentials.
    pub fn url(&self) -> &str {
        &self.inner.shown_url
    }

    /// Registers `schema` (Avro JSON text) under `subject` and returns its global id.
    ///
    /// Idempotent: registering a schema the subject already has returns the existing id.
    /// A 409 answer becomes [`RegistryError::Incompatible`], a 422 [`RegistryError::InvalidSchema`].
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let call = Call { subject: Some(subject), schema: Some(schema), ..Call::default() };
        let body = SchemaRequest::avro(schema);
        let answer: IdResponse =
            self.call(Method::POST, &["subjects", subject, "versions"], &[], Some(&body), &call).await?;
        Ok(answer.id)
    }

    /// Looks `schema` up under `subject` without registering it: `None` when the subject does not
    /// exist or does not hold the schema.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<Option<SubjectVersion>, RegistryError> {
        let call = Call { subject: Some(subject), schema: Some(schema), ..Call::default() };
        let body = SchemaRequest::avro(schema);
        match self.call(Method::POST, &["subjects", subject], &[], Some(&body), &call).await {
            Ok(found) => Ok(Some(found)),
            Err(RegistryError::SubjectNotFound { .. }) => Ok(None),
            Err(RegistryError::Rejected { code: codes::SCHEMA_NOT_FOUND, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The schema text with global id `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RegistryError> {
        let call = Call { id: Some(id), ..Call::default() };
        let answer: SchemaText =
            self.call(Method::GET, &["schemas", "ids", &id.to_string()], &[], None::<&()>, &call).await?;
        Ok(answer.schema)
    }

    /// The latest version of `subject`.
    pub async fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.get_version(subject, "latest").await
    }

    /// Version `version` (from 1) of `subject`.
    pub async fn version(&self, subject: &str, version: u32) -> Result<SubjectVersion, RegistryError> {
        self.get_version(subject, &version.to_string()).await
    }

    async fn get_version(&self, subject: &str, version: &str) -> Result<SubjectVersion, RegistryError> {
        let call = Call { subject: Some(subject), version: Some(version.to_owned()), ..Call::default() };
        self.call(Method::GET, &["subjects", subject, "versions", version], &[], None::<&()>, &call).await
    }

    /// The version numbers of `subject`, oldest first.
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let call = Call { subject: Some(subject), ..Call::default() };
        self.call(Method::GET, &["subjects", subject, "versions"], &[], None::<&()>, &call).await
    }

    /// Every subject.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.call(Method::GET, &["subjects"], &[], None::<&()>, &Call::default()).await
    }

    /// The compatibility level of `subject` (falling back to the global level when the subject
    /// has none of its own), or the global level when `subject` is `None`.
    pub async fn compatibility(&self, subject: Option<&str>) -> Result<CompatibilityLevel, RegistryError> {
        let call = Call { subject, ..Call::default() };
        let answer: ConfigResponse = match subject {
            Some(s) => {
                self.call(Method::GET, &["config", s], &[("defaultToGlobal", "true")], None::<&()>, &call).await?
            }
            None => self.call(Method::GET, &["config"], &[], None::<&()>, &call).await?,
        };
        Ok(answer.compatibility_level)
    }

    /// Sets the compatibility level of `subject`, or the global level when `subject` is `None`.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel, RegistryError> {
        let call = Call { subject, ..Call::default() };
        let body = ConfigUpdate { compatibility: level };
        let answer: ConfigUpdate = match subject {
            Some(s) => self.call(Method::PUT, &["config", s], &[], Some(&body), &call).await?,
            None => self.call(Method::PUT, &["config"], &[], Some(&body), &call).await?,
        };
        Ok(answer.compatibility)
    }

    /// Tests `schema` against version `version` of `subject` (or against the versions the
    /// subject's level demands, when `None`), asking for the reasons (`verbose=true`).
    pub async fn test_compatibility(
        &self,
        subject: &str,
        schema: &str,
        version: Option<u32>,
    ) -> Result<CompatibilityResponse, RegistryError> {
        let version_text = version.map(|v| v.to_string());
        let call = Call { subject: Some(subject), schema: Some(schema), version: version_text.clone(), id: None };
        let body = SchemaRequest::avro(schema);
        let query = [("verbose", "true")];
        match &version_text {
            Some(v) => {
                let path = ["compatibility", "subjects", subject, "versions", v.as_str()];
                self.call(Method::POST, &path, &query, Some(&body), &call).await
            }
            None => {
                let path = ["compatibility", "subjects", subject, "versions"];
                self.call(Method::POST, &path, &query, Some(&body), &call).await
            }
        }
    }

    /// One logical call: the request, retried on transient failures, and its answer decoded.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
        call: &Call<'_>,
    ) -> Result<T, RegistryError> {
        let url = self.endpoint(path, query)?;
        let operation = format!("{method} {}", url.path());
        let body = match body {
            Some(b) => Some(bytes::Bytes::from(serde_json::to_vec(b).map_err(|e| RegistryError::BadResponse {
                operation: operation.clone(),
                detail: format!("cannot encode the request: {e}"),
            })?)),
            None => None,
        };
        let policy = self.inner.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.send(method.clone(), url.clone(), body.clone()).await {
                Ok((status, bytes)) if status.is_success() => {
                    return serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadResponse {
                        operation,
                        detail: format!("{e}; body: {}", preview(&bytes)),
                    });
                }
                Ok((status, bytes)) if is_retryable(status) => {
                    format!("HTTP {}: {}", status.as_u16(), error_body(status, &bytes).message)
                }
                Ok((status, bytes)) => {
                    return Err(self.error_for(status, error_body(status, &bytes), operation, call));
                }
                Err(reason) => reason,
            };
            if attempt >= policy.max_attempts {
                return Err(RegistryError::Unavailable {
                    url: self.inner.shown_url.clone(),
                    operation,
                    attempts: attempt,
                    reason: failure,
                });
            }
            let wait = policy.backoff(attempt);
            tracing::warn!(
                registry = %self.inner.shown_url,
                %operation,
                attempt,
                error = %failure,
                retry_in_ms = wait.as_millis() as u64,
                "schema registry call failed, retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP exchange. `Err` is a transport failure (worth retrying), as text.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<bytes::Bytes>,
    ) -> Result<(StatusCode, bytes::Bytes), String> {
        let mut request =
            self.inner.http.request(method, url).header(header::ACCEPT, HeaderValue::from_static(messages::ACCEPT));
        if let Some(body) = body {
            request = request.header(header::CONTENT_TYPE, HeaderValue::from_static(messages::CONTENT_TYPE)).body(body);
        }
        if let Some(auth) = &self.inner.auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(|e| error_chain(&e.without_url()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| error_chain(&e.without_url()))?;
        Ok((status, bytes))
    }

    fn endpoint(&self, path: &[&str], query: &[(&str, &str)]) -> Result<Url, RegistryError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::BadUrl {
                url: self.inner.shown_url.clone(),
                reason: "it cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn error_for(&self, status: StatusCode, body: ErrorBody, operation: String, call: &Call<'_>) -> RegistryError {
        let subject = || call.subject.unwrap_or_default().to_owned();
        let schema = || call.schema.map(schema_label).unwrap_or_default();
        match (status.as_u16(), body.error_code) {
            (401 | 403, _) => {
                RegistryError::Auth { url: self.inner.shown_url.clone(), operation, status: status.as_u16() }
            }
            (409, _) => RegistryError::Incompatible { subject: subject(), schema: schema(), message: body.message },
            (422, codes::INVALID_SCHEMA) => {
                RegistryError::InvalidSchema { subject: subject(), schema: schema(), message: body.message }
            }
            (404, codes::SUBJECT_NOT_FOUND) => RegistryError::SubjectNotFound { subject: subject() },
            (404, codes::VERSION_NOT_FOUND) => {
                RegistryError::VersionNotFound { subject: subject(), version: call.version.clone().unwrap_or_default() }
            }
            (404, codes::SCHEMA_NOT_FOUND) if call.id.is_some() => {
                RegistryError::SchemaIdNotFound { id: call.id.unwrap_or_default() }
            }
            (status, code) => RegistryError::Rejected { operation, status, code, message: body.message },
        }
    }
}

fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// The error body of an answer, or a stand-in built from the status when it has none.
fn error_body(status: StatusCode, bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice::<ErrorBody>(bytes).unwrap_or_else(|_| ErrorBody {
        error_code: i64::from(status.as_u16()),
        message: if bytes.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            preview(bytes)
        },
    })
}

/// The start of a body, for messages.
fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX { format!("{text}…") } else { text.into_owned() }
}

/// An error and its causes on one line: reqwest's top-level message alone ("error sending
/// request") hides the useful part ("connection refused").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the registry client can speak TLS. reqwest is built without a TLS backend (see the
/// workspace `Cargo.toml`); enabling one (reqwest feature `rustls`) and setting this to `true`
/// is all https needs. Until then an https URL is refused up front instead of failing on every
/// call.
const HTTPS_SUPPORTED: bool = false;

fn parse_base_url(raw: &str) -> Result<Url, RegistryError> {
    let bad = |reason: &str| RegistryError::BadUrl { url: without_userinfo(raw), reason: reason.to_owned() };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "http" => {}
        "https" if HTTPS_SUPPORTED => {}
        "https" => return Err(bad("https is not supported: this build has no TLS support for the registry client")),
        _ => return Err(bad("the scheme must be http")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials belong in basic_auth, not in the url"));
    }
    if url.cannot_be_a_base() {
        return Err(bad("it cannot have a path"));
    }
    Ok(url)
}

/// `http://user:pass@host/x` → `http://[redacted]@host/x`, for messages about a bad URL.
fn without_userinfo(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let authority_end = raw[start..].find(['/', '?', '#']).map_or(raw.len(), |i| start + i);
    match raw[start..authority_end].rfind('@') {
        Some(at) => format!("{}{}{}", &raw[..start], Secret::REDACTED, &raw[start + at..]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_config_and_client_hides_the_password() {
        let config = RegistryConfig::new("http://127.0.0.1:8081").with_basic_auth("alice", "s3cr3t-pw");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("alice") && shown.contains("[redacted]"), "{shown}");
        let client = RegistryClient::new(config).expect("valid config");
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-pw") && !shown.contains("czNjcjN0"), "{shown}");
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echoing_them() {
        let err = RegistryClient::new(RegistryConfig::new("http://bob:hunter2@registry:8081/")).expect_err("userinfo");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("basic_auth"), "{text}");
        let err = RegistryClient::new(RegistryConfig::new("ftp://registry")).expect_err("scheme");
        assert!(err.to_string().contains("the scheme must be http"), "{err}");
    }

    #[test]
    fn endpoints_keep_a_path_prefix_and_escape_subjects() {
        let client = RegistryClient::new(RegistryConfig::new("http://h:1/prefix/")).expect("valid");
        let url = client.endpoint(&["subjects", "a/b value", "versions"], &[("verbose", "true")]).expect("url");
        assert_eq!(url.as_str(), "http://h:1/prefix/subjects/a%2Fb%20value/versions?verbose=true");
        assert_eq!(client.url(), "http://h:1/prefix");
    }

    #[test]
    fn error_answers_without_json_get_a_stand_in_body() {
        let body = error_body(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(body.error_code, 502);
        assert_eq!(body.message, "Bad Gateway");
        let body = error_body(StatusCode::CONFLICT, br#"{"error_code":409,"message":"nope"}"#);
        assert_eq!((body.error_code, body.message.as_str()), (409, "nope"));
    }
}
