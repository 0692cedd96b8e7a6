//! Channel subscriptions over REST (§1). The rules a change follows, here and over the WebSocket,
//! are in [`crate::org::subscriptions`].
//!
//! Contract:
//! - Body `[{"id": "<topic>"}, …]`; `POST` adds, `PUT` replaces (`[]` clears), `DELETE` removes all
//!   (204), `GET` lists. Responses are `ChannelTopicEntityListing` with every current topic as
//!   `{id, state: "Permitted", selfUri?}` plus, with `?ignoreErrors=true`, the rejected entries of
//!   this request as `{id, state: "Rejected", rejectionReason, missingPermissions}`.
//! - A forbidden topic → 403 for the whole request and an invalid one → 400, unless
//!   `ignoreErrors=true`.
//! - Unknown channel, another client's channel, or a dead channel → 404.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::models::{ChannelTopic, ChannelTopicEntityListing};
use crate::org::channels::ChannelStatus;
use crate::org::subscriptions::{Mode, apply, permitted};
use crate::org::tokens::AuthCtx;
use crate::org::{Org, lock};

#[derive(Debug, Deserialize)]
struct TopicRef {
    id: String,
}

fn parse_body(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let refs: Vec<TopicRef> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body must be a list of {{\"id\": topic}}: {e}")))?;
    Ok(refs.into_iter().map(|r| r.id).collect())
}

type QueryResult = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn ignore_errors(q: &QueryResult) -> Result<bool, ApiError> {
    match q {
        Err(_) => Err(ApiError::bad_request("invalid query string")),
        Ok(Query(m)) => match m.get("ignoreErrors").map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!("invalid ignoreErrors value `{v}`"))),
        },
    }
}

fn listing(entities: Vec<ChannelTopic>) -> Response {
    (StatusCode::OK, axum::Json(ChannelTopicEntityListing { entities })).into_response()
}

/// `GET …/subscriptions`.
pub(crate) async fn get(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let st = lock(&org.state);
    let live = st.channel_status(&id, Instant::now()) == ChannelStatus::Live;
    match st.channels.get(&id).filter(|c| c.client_id == ctx.client_id && live) {
        Some(ch) => listing(ch.topics.iter().map(|t| permitted(t)).collect()),
        None => ApiError::not_found(format!("Channel {id} not found")).into_response(),
    }
}

async fn change(org: Arc<Org>, ctx: AuthCtx, id: String, q: QueryResult, body: Bytes, mode: Mode) -> Response {
    let ignore = match ignore_errors(&q) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let topics = match parse_body(&body) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match apply(&org, &ctx.client_id, &id, topics, mode, ignore) {
        Ok(entities) => listing(entities),
        Err(e) => e.api().into_response(),
    }
}

/// `POST …/subscriptions`.
pub(crate) async fn post(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
    q: QueryResult,
    body: Bytes,
) -> Response {
    change(org, ctx, id, q, body, Mode::Add).await
}

/// `PUT …/subscriptions`.
pub(crate) async fn put(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
    q: QueryResult,
    body: Bytes,
) -> Response {
    change(org, ctx, id, q, body, Mode::Replace).await
}

/// `DELETE …/subscriptions`: 204.
pub(crate) async fn delete(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    match apply(&org, &ctx.client_id, &id, Vec::new(), Mode::Replace, false) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.api().into_response(),
    }
}
