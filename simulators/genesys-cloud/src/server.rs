//! The three listeners (login, API, streaming), the REST routes, and the gate every REST request
//! passes: authentication, request accounting, HTTP fault bursts, then the per-client budget.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::{self, authenticate, basic_credentials};
use crate::error::{ApiError, Result, SimError, Throttle};
use crate::faults::EndpointClass;
use crate::models::Limit;
use crate::org::counters::Counters;
use crate::org::{Org, lock};
use crate::ratelimit::{Budget, HttpEffect};
use crate::{analytics, channels, queues, subscriptions};

/// Binds a listener on `host:port`.
pub(crate) async fn bind(host: &str, port: u16) -> Result<TcpListener> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr).await.map_err(|source| SimError::Bind { addr, source })
}

/// The endpoint class of a request, for bursts and accounting.
pub(crate) fn classify(method: &Method, path: &str) -> EndpointClass {
    const CHANNELS: &str = "/api/v2/notifications/channels";
    if path == "/oauth/token" {
        EndpointClass::Token
    } else if path.trim_end_matches('/') == CHANNELS && method == Method::POST {
        EndpointClass::ChannelCreate
    } else if path.starts_with(CHANNELS) && path.trim_end_matches('/').ends_with("/subscriptions") {
        EndpointClass::Subscriptions
    } else if path.starts_with(CHANNELS) {
        EndpointClass::Channels
    } else if path.starts_with("/api/v2/analytics/") {
        EndpointClass::Analytics
    } else if path.starts_with("/api/v2/conversations") {
        EndpointClass::Conversations
    } else if path.starts_with("/api/v2/routing/queues") {
        EndpointClass::Queues
    } else {
        EndpointClass::Other
    }
}

fn ratelimit_headers(b: &Budget) -> Vec<(HeaderName, String)> {
    vec![
        (HeaderName::from_static("inin-ratelimit-count"), b.count.to_string()),
        (HeaderName::from_static("inin-ratelimit-allowed"), b.allowed.to_string()),
        (HeaderName::from_static("inin-ratelimit-reset"), b.reset_secs.to_string()),
    ]
}

/// The 429 of §4.5.
fn too_many(retry_after_secs: u64, budget: &Budget) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too.many.requests",
        format!("Rate limit exceeded the maximum. Retry the request in [{retry_after_secs}] seconds"),
    );
    e.throttle = Some(Box::new(Throttle {
        limit: Limit {
            key: "client.credentials.token.rate.per.minute".into(),
            namespace: "platform.api".into(),
            value: i64::from(budget.allowed),
        },
        retry_after_secs,
        headers: ratelimit_headers(budget),
    }));
    e
}

fn server_error(status: u16) -> ApiError {
    let (code, message) = match status {
        502 => ("bad.gateway", "Bad Gateway"),
        503 => ("service.unavailable", "Service Unavailable"),
        504 => ("gateway.timeout", "The request timed out"),
        _ => ("internal.server.error", "The server encountered an internal error"),
    };
    ApiError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), code, message)
}

/// Applies HTTP fault effects: delays, then the first error, if any.
async fn apply_effects(
    org: &Org,
    client_id: Option<&str>,
    class: EndpointClass,
    effects: Vec<HttpEffect>,
) -> Option<ApiError> {
    let mut error = None;
    for e in effects {
        match e {
            HttpEffect::Slow { delay } => tokio::time::sleep(delay).await,
            HttpEffect::RateLimit { retry_after_secs } => {
                let allowed = client_id.and_then(|c| org.client(c)).map(|c| c.requests_per_minute).unwrap_or(300);
                if let Some(c) = client_id {
                    lock(&org.limiter).throttled(c, class, retry_after_secs, true, Instant::now());
                }
                let budget = Budget { count: allowed.saturating_add(1), allowed, reset_secs: retry_after_secs };
                error = Some(too_many(retry_after_secs, &budget));
            }
            HttpEffect::ServerError { status } => {
                if let Some(c) = client_id {
                    lock(&org.limiter).client_mut(c).fault_5xx += 1;
                }
                error = Some(server_error(status));
            }
        }
    }
    error
}

/// Gate for `/api/v2/*`.
async fn api_gate(AxState(org): AxState<Arc<Org>>, mut req: Request, next: Next) -> Response {
    Counters::inc(&org.counters.requests_total);
    let class = classify(req.method(), req.uri().path());
    let ctx = match authenticate(&org, req.headers()) {
        Ok(c) => c,
        Err(e) => {
            Counters::inc(&org.counters.unauthenticated);
            return e.into_response();
        }
    };
    let now = Instant::now();
    lock(&org.limiter).record_request(&ctx.client_id, class, now);
    let effects = lock(&org.http_faults).take(class, Some(&ctx.client_id), now);
    if let Some(e) = apply_effects(&org, Some(&ctx.client_id), class, effects).await {
        return e.into_response();
    }
    let allowed = org.client(&ctx.client_id).map(|c| c.requests_per_minute).unwrap_or(300);
    let window = org.real(std::time::Duration::from_secs(60));
    let checked = lock(&org.limiter).check(&ctx.client_id, allowed, window, class, now);
    let budget = match checked {
        Ok(b) => b,
        Err((retry, b)) => return too_many(retry, &b).into_response(),
    };
    req.extensions_mut().insert(ctx);
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    for (name, value) in ratelimit_headers(&budget) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if !headers.contains_key("inin-correlation-id")
        && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        headers.insert(HeaderName::from_static("inin-correlation-id"), v);
    }
    resp
}

/// Gate for the login host: accounting and HTTP faults (no budget).
async fn login_gate(AxState(org): AxState<Arc<Org>>, req: Request, next: Next) -> Response {
    Counters::inc(&org.counters.requests_total);
    let client = basic_credentials(req.headers()).map(|(id, _)| id).filter(|id| org.client(id).is_some());
    let now = Instant::now();
    if let Some(c) = &client {
        lock(&org.limiter).record_request(c, EndpointClass::Token, now);
    }
    let effects = lock(&org.http_faults).take(EndpointClass::Token, client.as_deref(), now);
    if let Some(e) = apply_effects(&org, client.as_deref(), EndpointClass::Token, effects).await {
        return e.into_response();
    }
    next.run(req).await
}

async fn not_found() -> Response {
    ApiError::not_found("The requested resource was not found").into_response()
}

fn api_router(org: Arc<Org>) -> Router {
    const CH: &str = "/api/v2/notifications/channels";
    Router::new()
        .route(CH, post(channels::create).get(channels::list))
        .route(&format!("{CH}/{{id}}"), head(channels::head))
        .route(
            &format!("{CH}/{{id}}/subscriptions"),
            get(subscriptions::get).post(subscriptions::post).put(subscriptions::put).delete(subscriptions::delete),
        )
        .route("/api/v2/analytics/conversations/details/query", post(analytics::details_query))
        .route("/api/v2/analytics/conversations/details/jobs", post(analytics::submit_job))
        .route("/api/v2/analytics/conversations/details/jobs/availability", get(analytics::availability))
        .route(
            "/api/v2/analytics/conversations/details/jobs/{id}",
            get(analytics::job_status).delete(analytics::cancel_job),
        )
        .route("/api/v2/analytics/conversations/details/jobs/{id}/results", get(analytics::job_results))
        .route("/api/v2/conversations/{id}", get(analytics::get_conversation))
        .route("/api/v2/routing/queues", get(queues::list))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(org.clone(), api_gate))
        .with_state(org)
}

fn login_router(org: Arc<Org>) -> Router {
    Router::new()
        .route("/oauth/token", post(auth::token_endpoint))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(org.clone(), login_gate))
        .with_state(org)
}

fn serve_http(listener: TcpListener, router: Router, cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = async move { cancel.cancelled().await };
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
            tracing::warn!(error = %e, "http server stopped");
        }
    })
}

/// Starts every server and background task.
pub(crate) fn spawn_all(
    org: Arc<Org>,
    login: TcpListener,
    api: TcpListener,
    streaming: TcpListener,
) -> Vec<JoinHandle<()>> {
    vec![
        serve_http(login, login_router(org.clone()), org.cancel.clone()),
        serve_http(api, api_router(org.clone()), org.cancel.clone()),
        tokio::spawn(crate::socket::serve(org.clone(), streaming)),
        tokio::spawn(crate::traffic::run_generator(org.clone())),
        tokio::spawn(crate::injector::run_schedule(org.clone())),
        tokio::spawn(crate::injector::run_random(org)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let c = |m: Method, p: &str| classify(&m, p);
        assert_eq!(c(Method::POST, "/api/v2/notifications/channels"), EndpointClass::ChannelCreate);
        assert_eq!(c(Method::GET, "/api/v2/notifications/channels"), EndpointClass::Channels);
        assert_eq!(c(Method::PUT, "/api/v2/notifications/channels/x/subscriptions"), EndpointClass::Subscriptions);
        assert_eq!(c(Method::POST, "/api/v2/analytics/conversations/details/query"), EndpointClass::Analytics);
        assert_eq!(c(Method::GET, "/api/v2/conversations/abc"), EndpointClass::Conversations);
        assert_eq!(c(Method::GET, "/api/v2/routing/queues"), EndpointClass::Queues);
        assert_eq!(c(Method::GET, "/api/v2/users"), EndpointClass::Other);
    }
}
