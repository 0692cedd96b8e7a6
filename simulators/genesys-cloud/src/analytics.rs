//! Analytics conversation details (§4.1), async jobs (§4.2), and `GET /api/v2/conversations/{id}`
//! (§4.3).
//!
//! Contract:
//! - Each conversation update lands in analytics `data_delay` + U(0, `data_delay_jitter`) (+ any
//!   active `analytics_delay_spike`) after it happened, all scaled. A query shows, per
//!   conversation, the newest update that has landed; a conversation is absent until its first
//!   update lands. Because updates land out of order, rows appear in earlier pages between two
//!   page requests, so paging a live interval yields duplicates and a changing `totalHits`, as
//!   Genesys's blog warns (§4.1).
//! - `interval` `"start/end"` (ISO-8601; no offset = UTC). With `interval_semantics: day_touched`
//!   (default, the documented text) a conversation matches if it *started on a UTC day touched by
//!   the interval*; with `started_in_interval`, if `start <= conversationStart < end`.
//! - `segmentFilters` match a conversation if one segment satisfies the filter (all predicates for
//!   `type: and`, any for `or`; `clauses` nest one level); `conversationFilters` are evaluated on
//!   the conversation. Several filters in a list must all match. Predicates: `type: dimension`,
//!   `operator` `matches` (exact, the default), `exists`, `notExists`. Unsupported dimensions or
//!   predicate types → 400.
//! - `order` asc (default) | desc | unordered, `orderBy` conversationStart (default) |
//!   conversationEnd | segmentStart | segmentEnd; ties broken by conversation id.
//! - `paging {pageSize, pageNumber}`: default 25 / 1; pageSize above `max_page_size` → 400.
//! - Response `{conversations?, totalHits}`; `conversations` is omitted when the page is empty.
//! - Async jobs: `POST …/details/jobs` → 202 `{jobId}`; the job is QUEUED, then PENDING, then
//!   FULFILLED after `job_completion_delay`. Its interval means "activity during the interval"
//!   (§4.2), optionally with `startOfDayIntervalMatching`. Results are computed from the data lake
//!   as of `dataAvailabilityDate` at completion (now − `data_lake_lag`), ordered by
//!   conversationStart, paged by an opaque `cursor` (absent on the last page), `pageSize` default
//!   and maximum 1000. `DELETE` cancels (202).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use tokio::time::Instant;

use crate::auth::AuthCtx;
use crate::clock::Clock;
use crate::config::IntervalSemantics;
use crate::conversation::{ConvState, to_analytics, to_rest};
use crate::error::ApiError;
use crate::models::{
    AnalyticsConversation, AnalyticsQueryResponse, AsyncQueryResponse, AsyncQueryResults, AsyncQueryStatus,
    DataAvailability, iso_ms, parse_iso_ms, utc_day_start,
};
use crate::org::{Org, lock};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPredicate {
    #[serde(rename = "type")]
    kind: Option<String>,
    dimension: Option<String>,
    operator: Option<String>,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawClause {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    predicates: Vec<RawPredicate>,
}

#[derive(Debug, Deserialize)]
struct RawFilter {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    clauses: Vec<RawClause>,
    #[serde(default)]
    predicates: Vec<RawPredicate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPaging {
    page_size: Option<i64>,
    page_number: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQuery {
    interval: Option<String>,
    #[serde(default)]
    conversation_filters: Vec<RawFilter>,
    #[serde(default)]
    segment_filters: Vec<RawFilter>,
    order: Option<String>,
    order_by: Option<String>,
    paging: Option<RawPaging>,
    limit: Option<i64>,
    start_of_day_interval_matching: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Matches,
    Exists,
    NotExists,
}

#[derive(Debug, Clone)]
struct Pred {
    dim: String,
    op: Op,
    value: Option<String>,
}

#[derive(Debug, Clone)]
struct Group {
    any: bool,
    preds: Vec<Pred>,
}

#[derive(Debug, Clone)]
struct Filter {
    any: bool,
    preds: Vec<Pred>,
    clauses: Vec<Group>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    ConversationStart,
    ConversationEnd,
    SegmentStart,
    SegmentEnd,
}

/// A validated query.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    start_ms: i64,
    end_ms: i64,
    conv_filters: Vec<Filter>,
    seg_filters: Vec<Filter>,
    order: Option<bool>,
    order_by: OrderBy,
    page_size: usize,
    page_number: usize,
    limit: Option<usize>,
    start_of_day: bool,
}

const CONVERSATION_DIMS: &[&str] =
    &["conversationId", "originatingDirection", "divisionId", "conversationStart", "conversationEnd", "externalTag"];
const SEGMENT_DIMS: &[&str] = &[
    "queueId",
    "mediaType",
    "purpose",
    "userId",
    "segmentType",
    "direction",
    "disconnectType",
    "wrapUpCode",
    "sessionId",
    "participantId",
    "participantName",
    "ani",
    "dnis",
    "segmentEnd",
];

fn combine_type(kind: &Option<String>) -> Result<bool, ApiError> {
    match kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("and") => Ok(false),
        Some("or") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("invalid filter type `{other}`: expected and|or"))),
    }
}

fn compile_pred(p: RawPredicate, allowed: &[&str]) -> Result<Pred, ApiError> {
    match p.kind.as_deref() {
        None | Some("dimension") => {}
        Some(other) => return Err(ApiError::bad_request(format!("unsupported predicate type `{other}`"))),
    }
    let dim = p.dimension.ok_or_else(|| ApiError::bad_request("predicate dimension is required"))?;
    if !allowed.contains(&dim.as_str()) {
        return Err(ApiError::bad_request(format!("unsupported dimension `{dim}`")));
    }
    let op = match p.operator.as_deref() {
        None | Some("matches") => Op::Matches,
        Some("exists") => Op::Exists,
        Some("notExists") => Op::NotExists,
        Some(other) => return Err(ApiError::bad_request(format!("unsupported operator `{other}`"))),
    };
    if op == Op::Matches && p.value.is_none() {
        return Err(ApiError::bad_request(format!("predicate on `{dim}` needs a value")));
    }
    Ok(Pred { dim, op, value: p.value })
}

fn compile_filters(raw: Vec<RawFilter>, allowed: &[&str]) -> Result<Vec<Filter>, ApiError> {
    raw.into_iter()
        .map(|f| {
            let any = combine_type(&f.kind)?;
            let preds = f.predicates.into_iter().map(|p| compile_pred(p, allowed)).collect::<Result<_, _>>()?;
            let clauses = f
                .clauses
                .into_iter()
                .map(|c| {
                    Ok(Group {
                        any: combine_type(&c.kind)?,
                        preds: c.predicates.into_iter().map(|p| compile_pred(p, allowed)).collect::<Result<_, _>>()?,
                    })
                })
                .collect::<Result<_, ApiError>>()?;
            Ok(Filter { any, preds, clauses })
        })
        .collect()
}

fn parse_interval(text: Option<&str>) -> Result<(i64, i64), ApiError> {
    let text = text.ok_or_else(|| ApiError::bad_request("interval is required"))?;
    let (a, b) = text
        .split_once('/')
        .ok_or_else(|| ApiError::bad_request(format!("invalid interval `{text}`: expected start/end")))?;
    let start = parse_iso_ms(a).ok_or_else(|| ApiError::bad_request(format!("invalid interval start `{a}`")))?;
    let end = parse_iso_ms(b).ok_or_else(|| ApiError::bad_request(format!("invalid interval end `{b}`")))?;
    if end <= start {
        return Err(ApiError::bad_request(format!("invalid interval `{text}`: end must be after start")));
    }
    Ok((start, end))
}

fn compile(org: &Org, body: &[u8]) -> Result<Compiled, ApiError> {
    let raw: RawQuery =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid query body: {e}")))?;
    let (start_ms, end_ms) = parse_interval(raw.interval.as_deref())?;
    let order = match raw.order.as_deref() {
        None | Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some("unordered") => None,
        Some(o) => return Err(ApiError::bad_request(format!("invalid order `{o}`"))),
    };
    let order_by = match raw.order_by.as_deref() {
        None | Some("conversationStart") => OrderBy::ConversationStart,
        Some("conversationEnd") => OrderBy::ConversationEnd,
        Some("segmentStart") => OrderBy::SegmentStart,
        Some("segmentEnd") => OrderBy::SegmentEnd,
        Some(o) => return Err(ApiError::bad_request(format!("invalid orderBy `{o}`"))),
    };
    let a = &org.cfg.analytics;
    let page_size = raw.paging.as_ref().and_then(|p| p.page_size).unwrap_or(i64::from(a.default_page_size));
    let page_number = raw.paging.as_ref().and_then(|p| p.page_number).unwrap_or(1);
    if page_size < 1 || page_size > i64::from(a.max_page_size) {
        return Err(ApiError::bad_request(format!("pageSize must be between 1 and {}", a.max_page_size)));
    }
    if page_number < 1 {
        return Err(ApiError::bad_request("pageNumber must be at least 1"));
    }
    let limit = match raw.limit {
        Some(l) if l < 1 => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(l) => usize::try_from(l).ok(),
        None => None,
    };
    Ok(Compiled {
        start_ms,
        end_ms,
        conv_filters: compile_filters(raw.conversation_filters, CONVERSATION_DIMS)?,
        seg_filters: compile_filters(raw.segment_filters, SEGMENT_DIMS)?,
        order,
        order_by,
        page_size: usize::try_from(page_size).unwrap_or(25),
        page_number: usize::try_from(page_number).unwrap_or(1),
        limit,
        start_of_day: raw.start_of_day_interval_matching.unwrap_or(false),
    })
}

fn pred_holds(p: &Pred, value: Option<&str>) -> bool {
    match p.op {
        Op::Exists => value.is_some(),
        Op::NotExists => value.is_none(),
        Op::Matches => value.is_some() && value == p.value.as_deref(),
    }
}

fn eval<F: Fn(&Pred) -> bool>(f: &Filter, holds: F) -> bool {
    let mut results = f.preds.iter().map(&holds).collect::<Vec<_>>();
    for c in &f.clauses {
        let r = c.preds.iter().map(&holds).collect::<Vec<_>>();
        results.push(if c.any { r.iter().any(|x| *x) } else { r.iter().all(|x| *x) });
    }
    if results.is_empty() {
        return true;
    }
    if f.any { results.iter().any(|x| *x) } else { results.iter().all(|x| *x) }
}

fn conv_value<'a>(c: &'a AnalyticsConversation, dim: &str) -> Vec<&'a str> {
    match dim {
        "conversationId" => vec![c.conversation_id.as_str()],
        "originatingDirection" => vec![c.originating_direction.as_str()],
        "divisionId" => c.division_ids.iter().map(String::as_str).collect(),
        "conversationStart" => vec![c.conversation_start.as_str()],
        "conversationEnd" => c.conversation_end.as_deref().into_iter().collect(),
        _ => Vec::new(),
    }
}

fn matches(q: &Compiled, c: &AnalyticsConversation) -> bool {
    let conv_ok = q.conv_filters.iter().all(|f| {
        eval(f, |p| {
            let vals = conv_value(c, &p.dim);
            match p.op {
                Op::Matches => vals.iter().any(|v| Some(*v) == p.value.as_deref()),
                _ => pred_holds(p, vals.first().copied()),
            }
        })
    });
    if !conv_ok {
        return false;
    }
    q.seg_filters.iter().all(|f| {
        c.participants.iter().any(|part| {
            part.sessions.iter().any(|s| {
                s.segments.iter().any(|seg| {
                    eval(f, |p| {
                        let v: Option<&str> = match p.dim.as_str() {
                            "queueId" => seg.queue_id.as_deref(),
                            "mediaType" => Some(s.media_type.as_str()),
                            "purpose" => Some(part.purpose.as_str()),
                            "userId" => part.user_id.as_deref(),
                            "segmentType" => Some(seg.segment_type.as_str()),
                            "direction" => Some(s.direction.as_str()),
                            "disconnectType" => seg.disconnect_type.as_deref(),
                            "wrapUpCode" => seg.wrap_up_code.as_deref(),
                            "sessionId" => Some(s.session_id.as_str()),
                            "participantId" => Some(part.participant_id.as_str()),
                            "participantName" => part.participant_name.as_deref(),
                            "ani" => s.ani.as_deref(),
                            "dnis" => s.dnis.as_deref(),
                            "segmentEnd" => seg.segment_end.as_deref(),
                            _ => None,
                        };
                        pred_holds(p, v)
                    })
                })
            })
        })
    })
}

fn in_interval(org: &Org, q: &Compiled, c: &ConvState, job: bool) -> bool {
    if job {
        let end = c.end_ms().unwrap_or(i64::MAX);
        let overlaps = c.start_ms < q.end_ms && end >= q.start_ms;
        return overlaps && (!q.start_of_day || c.start_ms >= utc_day_start(q.start_ms));
    }
    match org.cfg.analytics.interval_semantics {
        IntervalSemantics::StartedInInterval => c.start_ms >= q.start_ms && c.start_ms < q.end_ms,
        IntervalSemantics::DayTouched => {
            let first = utc_day_start(q.start_ms);
            let last = utc_day_start(q.end_ms - 1) + 86_400_000;
            c.start_ms >= first && c.start_ms < last
        }
    }
}

fn sort_key(by: OrderBy, c: &ConvState) -> i64 {
    match by {
        OrderBy::ConversationStart | OrderBy::SegmentStart => c.start_ms,
        OrderBy::ConversationEnd => c.end_ms().unwrap_or(i64::MAX),
        OrderBy::SegmentEnd => c
            .participants
            .iter()
            .map(|p| p.wrapup.as_ref().map(|w| w.end_ms).or(p.end_ms).unwrap_or(i64::MAX))
            .max()
            .unwrap_or(i64::MAX),
    }
}

/// Runs a query over `states`; returns all matches in order.
fn select(org: &Org, q: &Compiled, states: Vec<Arc<ConvState>>, job: bool) -> Vec<AnalyticsConversation> {
    let mut hits: Vec<(i64, Arc<ConvState>, AnalyticsConversation)> = states
        .into_iter()
        .filter(|c| in_interval(org, q, c, job))
        .map(|c| {
            let a = to_analytics(&c, job);
            (sort_key(q.order_by, &c), c, a)
        })
        .filter(|(_, _, a)| matches(q, a))
        .collect();
    if let Some(desc) = q.order {
        hits.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.id.cmp(&y.1.id)));
        if desc {
            hits.reverse();
        }
    }
    hits.into_iter().map(|(_, _, a)| a).collect()
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `POST /api/v2/analytics/conversations/details/query`.
pub(crate) async fn details_query(AxState(org): AxState<Arc<Org>>, body: Bytes) -> Response {
    let q = match compile(&org, &body) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let visible = lock(&org.convs).visible_at(Clock::now_ms());
    let hits = select(&org, &q, visible, false);
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

#[derive(Debug)]
struct Job {
    client_id: String,
    query: Compiled,
    submitted_ms: i64,
    ready: Instant,
    ready_ms: i64,
    cancelled: bool,
    results: Option<(i64, Vec<AnalyticsConversation>)>,
}

/// Submitted async jobs.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    jobs: HashMap<String, Job>,
}

/// `POST /api/v2/analytics/conversations/details/jobs`.
pub(crate) async fn submit_job(
    AxState(org): AxState<Arc<Org>>,
    Extension(ctx): Extension<AuthCtx>,
    body: Bytes,
) -> Response {
    let q = match compile(&org, &body) {
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

fn job_state(job: &Job, now: Instant, delay: Duration) -> &'static str {
    if job.cancelled {
        "CANCELLED"
    } else if now >= job.ready {
        "FULFILLED"
    } else if job.ready.saturating_duration_since(now) > delay / 2 {
        "QUEUED"
    } else {
        "PENDING"
    }
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
        let mut all = select(&org, &q, states, true);
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

    #[test]
    fn interval_parsing() {
        assert!(parse_interval(Some("2025-01-01T10:00:00.000Z/2025-01-01T10:30:00.000Z")).is_ok());
        assert!(parse_interval(Some("2025-01-01T10:00:00/2025-01-01T10:30:00")).is_ok());
        assert!(parse_interval(Some("2025-01-01T10:30:00Z/2025-01-01T10:00:00Z")).is_err());
        assert!(parse_interval(Some("nonsense")).is_err());
        assert!(parse_interval(None).is_err());
    }
}
