//! Analytics conversation details (§4.1), async jobs (§4.2), and `GET /api/v2/conversations/{id}`
//! (§4.3). The query itself (interval, filters, order, paging) is in [`crate::query`]; the jobs
//! are kept in [`crate::org::jobs`].
//!
//! Contract:
//! - Each conversation update lands in analytics `data_delay` + U(0, `data_delay_jitter`) (+ any
//!   active `analytics_delay_spike`) after it happened, all scaled. A query shows, per
//!   conversation, the newest update that has landed; a conversation is absent until its first
//!   update lands. Because updates land out of order, rows appear in earlier pages between two
//!   page requests, so paging a live interval yields duplicates and a changing `totalHits`, as
//!   Genesys's blog warns (§4.1).
//! - Response `{conversations?, totalHits}`; `conversations` is omitted when the page is empty.
//! - Async jobs: `POST …/details/jobs` → 202 `{jobId}`; the job is QUEUED, then PENDING, then
//!   FULFILLED after `job_completion_delay`. Its interval means "activity during the interval"
//!   (§4.2), optionally with `startOfDayIntervalMatching`. Results are computed from the data lake
//!   as of `dataAvailabilityDate` at completion (now − `data_lake_lag`), ordered by
//!   conversationStart, paged by an opaque `cursor` (absent on the last page), `pageSize` default
//!   and maximum 1000. `DELETE` cancels (202).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::conversation::to_rest;
use crate::error::ApiError;
use crate::models::{
    AnalyticsConversation, AnalyticsQueryResponse, AsyncQueryResponse, AsyncQueryResults, AsyncQueryStatus,
    DataAvailability, iso_ms,
};
use crate::org::jobs::{Job, job_state};
use crate::org::tokens::AuthCtx;
use crate::org::{Org, lock};
use crate::query::{OrderBy, compile, select};

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `POST /api/v2/analytics/conversations/details/query`.
pub(crate) async fn details_query(AxState(org): AxState<Arc<Org>>, body: Bytes) -> Response {
    let q = match compile(&org.cfg.analytics, &body) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let visible = lock(&org.convs).visible_at(Clock::now_ms());
    let hits = select(&org.cfg.analytics, &q, visible, false);
    let total = hits.len() as u64;
    let page: Vec<AnalyticsConversation> =
        hits.into_iter().skip((q.page_number - 1).saturating_mul(q.page_size)).take(q.page_size).collect();
    let resp = AnalyticsQueryResponse { conversations: (!page.is_empty()).then_some(page), total_hits: total };
    json(StatusCode::OK, &resp)
}

/// `GET /api/v2/conversations/{id}`: the live state, no analytics delay.
pub(crate) async fn get_conversation(AxState(org): AxState<Arc<Org>>, Path(id): Path<String>) -> Response {
    match lock(&org.convs).latest(&id) {
        Some(c) => json(StatusCode::OK, &to_rest(&c)),
        None => ApiError::not_found(format!("Conversation {id} not found")).into_response(),
    }
}

/// `dataAvailabilityDate` now.
fn availability_ms(org: &Org) -> i64 {
    let lag = org.real(org.cfg.analytics.data_lake_lag);
    Clock::now_ms() - i64::try_from(lag.as_millis()).unwrap_or(0)
}

/// `GET /api/v2/analytics/conversations/details/jobs/availability`.
pub(crate) async fn availability(AxState(org): AxState<Arc<Org>>) -> Response {
    json(StatusCode::OK, &DataAvailability { data_availability_date: iso_ms(availability_ms(&org)) })
}

/// `POST /api/v2/analytics/conversations/details/jobs`.
pub(crate) async fn submit_job(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    body: Bytes,
) -> Response {
    let q = match compile(&org.cfg.analytics, &body) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let delay = org.real(org.cfg.analytics.job_completion_delay);
    let now_ms = Clock::now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    lock(&org.jobs).jobs.insert(
        id.clone(),
        Job {
            client_id: ctx.client_id,
            query: q,
            submitted_ms: now_ms,
            ready: Instant::now() + delay,
            ready_ms: now_ms + i64::try_from(delay.as_millis()).unwrap_or(0),
            cancelled: false,
            results: None,
        },
    );
    json(StatusCode::ACCEPTED, &AsyncQueryResponse { job_id: id })
}

/// `GET …/jobs/{jobId}`.
pub(crate) async fn job_status(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let delay = org.real(org.cfg.analytics.job_completion_delay);
    let jobs = lock(&org.jobs);
    let Some(job) = jobs.jobs.get(&id).filter(|j| j.client_id == ctx.client_id) else {
        return ApiError::not_found(format!("Job {id} not found")).into_response();
    };
    let state = job_state(job, Instant::now(), delay);
    json(
        StatusCode::OK,
        &AsyncQueryStatus {
            state: state.into(),
            error_message: None,
            expiration_date: iso_ms(job.submitted_ms + 86_400_000),
            submission_date: iso_ms(job.submitted_ms),
            completion_date: (state == "FULFILLED").then(|| iso_ms(job.ready_ms)),
        },
    )
}

/// `DELETE …/jobs/{jobId}`.
pub(crate) async fn cancel_job(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
) -> Response {
    let mut jobs = lock(&org.jobs);
    match jobs.jobs.get_mut(&id).filter(|j| j.client_id == ctx.client_id) {
        Some(j) => {
            j.cancelled = true;
            StatusCode::ACCEPTED.into_response()
        }
        None => ApiError::not_found(format!("Job {id} not found")).into_response(),
    }
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}

/// `GET …/jobs/{jobId}/results?cursor=&pageSize=`.
pub(crate) async fn job_results(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return ApiError::bad_request("invalid query string").into_response();
    };
    let page_size = match params.get("pageSize").map(|s| s.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return ApiError::bad_request("pageSize must be between 1 and 1000").into_response(),
    };
    let offset = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match decode_cursor(c) {
            Some(o) => o,
            None => return ApiError::bad_request("invalid cursor").into_response(),
        },
    };
    let delay = org.real(org.cfg.analytics.job_completion_delay);
    let mut jobs = lock(&org.jobs);
    let Some(job) = jobs.jobs.get_mut(&id).filter(|j| j.client_id == ctx.client_id) else {
        return ApiError::not_found(format!("Job {id} not found")).into_response();
    };
    let state = job_state(job, Instant::now(), delay);
    if state != "FULFILLED" {
        return ApiError::bad_request(format!("Job {id} is {state}; results are available once FULFILLED"))
            .into_response();
    }
    if job.results.is_none() {
        let cutoff = availability_ms(&org).min(job.ready_ms);
        let states = lock(&org.convs).generated_before(cutoff);
        let mut q = job.query.clone();
        q.order = Some(false);
        q.order_by = OrderBy::ConversationStart;
        let mut all = select(&org.cfg.analytics, &q, states, true);
        if let Some(limit) = q.limit {
            all.truncate(limit);
        }
        job.results = Some((cutoff, all));
    }
    let (cutoff, all) = match &job.results {
        Some(r) => r,
        None => return ApiError::bad_request("results unavailable").into_response(),
    };
    let page: Vec<AnalyticsConversation> = all.iter().skip(offset).take(page_size).cloned().collect();
    let next = offset + page.len();
    let resp = AsyncQueryResults {
        conversations: (!page.is_empty()).then_some(page),
        cursor: (next < all.len()).then(|| encode_cursor(next)),
        data_availability_date: iso_ms(*cutoff),
    };
    json(StatusCode::OK, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("garbage!"), None);
    }
}
