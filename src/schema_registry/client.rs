//! The registry client the runtime uses: Confluent's REST API over reqwest, with timeouts,
//! retries of transient failures, TLS (custom CAs, client certificates), basic or bearer auth and
//! an optional proxy.
//!
//! The client caches nothing: every method is one logical call (retried when transient). Callers
//! that need caching ([`Encoder`](crate::avro::Encoder), [`Decoder`](crate::avro::Decoder)) cache
//! successful answers themselves, so an error is never remembered.

use std::fmt;
use std::path::{Path, PathBuf};
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
use crate::oauth::{ClientCredentials, TokenCache, TokenError};
use tributary_connector_api::Secret;

/// Username and password for HTTP basic auth (Confluent Cloud: API key and secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

/// A bearer token for every request: fixed, or fetched with OAuth client credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerAuth {
    Static(Secret),
    ClientCredentials(ClientCredentials),
}

/// PEM files for TLS, under the names librdkafka and Confluent's clients give them. The CA
/// certificates are trusted in addition to the system's; a client certificate (mutual TLS) needs
/// both `certificate_location` and an unencrypted PKCS#8 `key_location`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_location: Option<PathBuf>,
    pub certificate_location: Option<PathBuf>,
    pub key_location: Option<PathBuf>,
}

/// How to reach a registry. `Debug` never shows a password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://127.0.0.1:8081` or `https://registry.example.com` (a path prefix
    /// is kept). Credentials belong in [`basic_auth`](Self::basic_auth) or
    /// [`bearer`](Self::bearer), not in the URL.
    pub url: String,
    pub basic_auth: Option<BasicAuth>,
    pub bearer: Option<BearerAuth>,
    /// Extra headers on every request (Confluent Cloud's `target-sr-cluster` and
    /// `Confluent-Identity-Pool-Id` with bearer auth).
    pub headers: Vec<(String, String)>,
    pub tls: TlsFiles,
    /// An http(s) proxy for every request; `NO_PROXY` still applies. Without one, the
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment variables are honoured.
    pub proxy: Option<String>,
    /// Bound on one HTTP request, connection included.
    pub request_timeout: Duration,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
}

impl RegistryConfig {
    /// Defaults: no auth, system CAs, 10 s per request, 5 s to connect, [`RetryPolicy::default`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            basic_auth: None,
            bearer: None,
            headers: Vec::new(),
            tls: TlsFiles::default(),
            proxy: None,
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
    /// Headers sent on every request, `Authorization` (basic or a fixed bearer token) among
    /// them, marked sensitive so that reqwest/hyper never log it.
    headers: header::HeaderMap,
    /// Bearer tokens fetched with client credentials.
    oauth: Option<TokenCache>,
    retry: RetryPolicy,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.inner.shown_url)
            .field("auth", &(self.inner.headers.contains_key(header::AUTHORIZATION) || self.inner.oauth.is_some()))
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
        let client_error = |what: &str| RegistryError::Client(what.to_owned());
        let mut headers = header::HeaderMap::new();
        let authorization = match (&config.basic_auth, &config.bearer) {
            (Some(_), Some(_)) => return Err(client_error("basic_auth and bearer_auth exclude each other")),
            (Some(auth), None) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    auth.username,
                    auth.password.expose()
                ))
            )),
            (None, Some(BearerAuth::Static(token))) => Some(format!("Bearer {}", token.expose())),
            (None, _) => None,
        };
        if let Some(authorization) = authorization {
            let mut value = HeaderValue::from_str(&authorization)
                .map_err(|_| client_error("the registry credentials contain characters not allowed in a header"))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        for (name, value) in &config.headers {
            let name = header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| client_error(&format!("`{name}` is not a valid header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| client_error(&format!("the value of header `{name}` is not a valid header value")))?;
            headers.insert(name, value);
        }
        let oauth = match &config.bearer {
            Some(BearerAuth::ClientCredentials(c)) => Some(TokenCache::new(c.clone())),
            _ => None,
        };
        let builder =
            reqwest::Client::builder().timeout(config.request_timeout).connect_timeout(config.connect_timeout);
        let builder = with_tls(builder, &config.tls)?;
        let builder = match &config.proxy {
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy)
                    .map_err(|e| client_error(&format!("proxy `{proxy}`: {}", error_chain(&e))))?
                    .no_proxy(reqwest::NoProxy::from_env()),
            ),
            None => builder,
        };
        let http = builder.build().map_err(|e| RegistryError::Client(error_chain(&e)))?;
        let retry = RetryPolicy { max_attempts: config.retry.max_attempts.max(1), ..config.retry };
        Ok(Self { inner: Arc::new(Inner { http, base, shown_url, headers, oauth, retry }) })
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
        let mut token_refreshed = false;
        loop {
            attempt += 1;
            let failure = match self.send(method.clone(), url.clone(), body.clone()).await {
                // A token the registry no longer accepts (revoked, expired early): one new token.
                Ok((StatusCode::UNAUTHORIZED, _)) if !token_refreshed && self.inner.oauth.is_some() => {
                    if let Some(oauth) = &self.inner.oauth {
                        oauth.invalidate().await;
                    }
                    token_refreshed = true;
                    attempt -= 1;
                    continue;
                }
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
                Err(SendError::Token(e)) => return Err(RegistryError::Token(e)),
                Err(SendError::Transport(reason)) if is_tls_trust_failure(&reason) => {
                    return Err(RegistryError::Tls { url: self.inner.shown_url.clone(), reason });
                }
                Err(SendError::Transport(reason)) => reason,
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

    /// One HTTP exchange.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<bytes::Bytes>,
    ) -> Result<(StatusCode, bytes::Bytes), SendError> {
        let mut request =
            self.inner.http.request(method, url).header(header::ACCEPT, HeaderValue::from_static(messages::ACCEPT));
        if let Some(body) = body {
            request = request.header(header::CONTENT_TYPE, HeaderValue::from_static(messages::CONTENT_TYPE)).body(body);
        }
        request = request.headers(self.inner.headers.clone());
        if let Some(oauth) = &self.inner.oauth {
            let token = oauth.token(&self.inner.http).await.map_err(SendError::Token)?;
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| SendError::Transport("the token endpoint sent a token not allowed in a header".into()))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let transport = |e: reqwest::Error| SendError::Transport(error_chain(&e.without_url()));
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
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

/// Why one HTTP exchange failed before an answer came.
enum SendError {
    /// No token could be had: not worth retrying here (the cache retries on the next call).
    Token(TokenError),
    /// Connection refused, reset, timed out, TLS failed: as text, worth retrying.
    Transport(String),
}

/// A TLS failure that no retry mends: the server's certificate is not trusted.
fn is_tls_trust_failure(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("certificate verify failed") || lower.contains("unable to get local issuer certificate")
}

/// Adds the CA certificates and the client identity of `tls` to `builder`; errors name the key
/// and the file.
fn with_tls(mut builder: reqwest::ClientBuilder, tls: &TlsFiles) -> Result<reqwest::ClientBuilder, RegistryError> {
    let bad =
        |key: &str, path: &Path, reason: String| RegistryError::Client(format!("{key} `{}`: {reason}", path.display()));
    let read = |key: &str, path: &Path| std::fs::read(path).map_err(|e| bad(key, path, e.to_string()));
    if let Some(path) = &tls.ca_location {
        let certificates = reqwest::Certificate::from_pem_bundle(&read("ssl.ca.location", path)?)
            .map_err(|e| bad("ssl.ca.location", path, format!("not PEM certificates ({})", error_chain(&e))))?;
        if certificates.is_empty() {
            return Err(bad("ssl.ca.location", path, "holds no PEM certificate".into()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    match (&tls.certificate_location, &tls.key_location) {
        (None, None) => {}
        (Some(cert), Some(key)) => {
            let key_pem = read("ssl.key.location", key)?;
            if !String::from_utf8_lossy(&key_pem).contains("-----BEGIN PRIVATE KEY-----") {
                return Err(bad(
                    "ssl.key.location",
                    key,
                    "not an unencrypted PKCS#8 PEM key (convert it with `openssl pkcs8 -topk8 -nocrypt`)".into(),
                ));
            }
            let identity = reqwest::Identity::from_pkcs8_pem(&read("ssl.certificate.location", cert)?, &key_pem)
                .map_err(|e| bad("ssl.certificate.location", cert, error_chain(&e)))?;
            builder = builder.identity(identity);
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(RegistryError::Client(
                "ssl.certificate.location and ssl.key.location go together (a client certificate needs its key)".into(),
            ));
        }
    }
    Ok(builder)
}

fn parse_base_url(raw: &str) -> Result<Url, RegistryError> {
    let bad = |reason: &str| RegistryError::BadUrl { url: without_userinfo(raw), reason: reason.to_owned() };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        _ => return Err(bad("the scheme must be http or https")),
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
