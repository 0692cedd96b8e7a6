//! HTTP face of the embedded registry: Confluent's paths, JSON shapes, status and error codes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::auth::ExpectedAuth;
use super::store::{ApiError, Store, VersionSpec};
use crate::schema_registry::compat::CompatibilityLevel;
use crate::schema_registry::messages::{
    CONTENT_TYPE, CompatibilityResponse, ConfigResponse, ConfigUpdate, ErrorBody, IdResponse, SchemaRequest,
    SchemaText, codes,
};

pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub auth: Option<ExpectedAuth>,
}

impl Shared {
    /// The store; a panic in another request cannot leave it half-updated (every update is a
    /// single push or insert), so a poisoned lock is still safe to use.
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Params = Query<HashMap<String, String>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/config", get(global_config).put(set_global_config))
        .route("/config/{subject}", get(subject_config).put(set_subject_config))
        .route("/compatibility/subjects/{subject}/versions", post(check_all))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(check_version))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), require_auth))
        .with_state(shared)
}

async fn require_auth(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match &shared.auth {
        Some(expected) if !expected.accepts(request.headers().get(header::AUTHORIZATION)) => {
            let mut response = error(ApiError::new(401, 401, "Unauthorized"));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"schema-registry\""));
            response
        }
        _ => next.run(request).await,
    }
}

async fn root() -> Response {
    json(StatusCode::OK, &serde_json::json!({}))
}

async fn not_found() -> Response {
    error(ApiError::new(404, 404, "HTTP 404 Not Found"))
}

async fn subjects(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &shared.store().subjects())
}

async fn register(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = schema_request(&headers, &body).and_then(|request| shared.store().register(&subject, &request));
    match outcome {
        Ok(id) => {
            tracing::debug!(%subject, id, "embedded schema registry: schema registered");
            json(StatusCode::OK, &IdResponse { id })
        }
        Err(e) => error(e),
    }
}

async fn lookup(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(schema_request(&headers, &body).and_then(|request| shared.store().lookup(&subject, &request)))
}

async fn versions(State(shared): State<Arc<Shared>>, Path(subject): Path<String>) -> Response {
    respond(shared.store().versions(&subject))
}

async fn version(State(shared): State<Arc<Shared>>, Path((subject, version)): Path<(String, String)>) -> Response {
    respond(VersionSpec::parse(&version).and_then(|spec| shared.store().version(&subject, spec)))
}

async fn schema_by_id(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let text = id
        .parse::<u32>()
        .map_err(|_| ApiError::new(404, codes::SCHEMA_NOT_FOUND, format!("Schema {id} not found")))
        .and_then(|id| shared.store().schema_text(id));
    respond(text.map(|text| SchemaText { schema: text.to_string() }))
}

async fn global_config(State(shared): State<Arc<Shared>>) -> Response {
    respond(shared.store().level(None, true).map(|compatibility_level| ConfigResponse { compatibility_level }))
}

async fn subject_config(State(shared): State<Arc<Shared>>, Path(subject): Path<String>, params: Params) -> Response {
    let default_to_global = params.get("defaultToGlobal").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    respond(
        shared
            .store()
            .level(Some(&subject), default_to_global)
            .map(|compatibility_level| ConfigResponse { compatibility_level }),
    )
}

async fn set_global_config(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    respond(config_update(&headers, &body).map(|level| {
        shared.store().set_level(None, level);
        ConfigUpdate { compatibility: level }
    }))
}

async fn set_subject_config(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(config_update(&headers, &body).map(|level| {
        shared.store().set_level(Some(&subject), level);
        ConfigUpdate { compatibility: level }
    }))
}

async fn check_all(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = schema_request(&headers, &body).and_then(|request| shared.store().check(&subject, &request, None));
    respond(outcome.map(|messages| compatibility(messages, &params)))
}

async fn check_version(
    State(shared): State<Arc<Shared>>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = VersionSpec::parse(&version).and_then(|spec| {
        let request = schema_request(&headers, &body)?;
        shared.store().check(&subject, &request, Some(spec))
    });
    respond(outcome.map(|messages| compatibility(messages, &params)))
}

fn compatibility(messages: Vec<String>, params: &Params) -> CompatibilityResponse {
    let verbose = params.get("verbose").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    CompatibilityResponse { is_compatible: messages.is_empty(), messages: if verbose { messages } else { Vec::new() } }
}

/// Accepts Confluent's media types, plain JSON, and a missing content type.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/vnd.schemaregistry.v1+json"
        | "application/vnd.schemaregistry+json"
        | "application/json"
        | "application/octet-stream" => Ok(()),
        other => Err(ApiError::new(415, 415, format!("HTTP 415 Unsupported Media Type: {other}"))),
    }
}

fn schema_request(headers: &HeaderMap, body: &[u8]) -> Result<SchemaRequest, ApiError> {
    check_content_type(headers)?;
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, 400, format!("Invalid request body: {e}")))
}

fn config_update(headers: &HeaderMap, body: &[u8]) -> Result<CompatibilityLevel, ApiError> {
    check_content_type(headers)?;
    let invalid = || {
        ApiError::new(
            422,
            codes::INVALID_COMPATIBILITY_LEVEL,
            "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive",
        )
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::new(400, 400, format!("Invalid request body: {e}")))?;
    let level = value.get("compatibility").and_then(serde_json::Value::as_str).ok_or_else(invalid)?;
    level.parse().map_err(|_| invalid())
}

fn respond<T: Serialize>(outcome: Result<T, ApiError>) -> Response {
    match outcome {
        Ok(body) => json(StatusCode::OK, &body),
        Err(e) => error(e),
    }
}

fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &ErrorBody { error_code: e.code, message: e.message })
}

fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
