//! The analytics conversation-details query (§4.1, §4.2): a request body parsed and validated into
//! a [`Compiled`] query, and the conversations it selects, in order.
//!
//! - `interval` `"start/end"` (ISO-8601; no offset = UTC). With `interval_semantics: day_touched`
//!   (default, the documented text) a conversation matches if it *started on a UTC day touched by
//!   the interval*; with `started_in_interval`, if `start <= conversationStart < end`. For an
//!   async job the interval means "activity during the interval" (§4.2), optionally with
//!   `startOfDayIntervalMatching`.
//! - `segmentFilters` match a conversation if one segment satisfies the filter (all predicates for
//!   `type: and`, any for `or`; `clauses` nest one level); `conversationFilters` are evaluated on
//!   the conversation. Several filters in a list must all match. Predicates: `type: dimension`,
//!   `operator` `matches` (exact, the default), `exists`, `notExists`. Unsupported dimensions or
//!   predicate types → 400.
//! - `order` asc (default) | desc | unordered, `orderBy` conversationStart (default) |
//!   conversationEnd | segmentStart | segmentEnd; ties broken by conversation id.
//! - `paging {pageSize, pageNumber}`: default 25 / 1; pageSize above `max_page_size` → 400.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::{AnalyticsConfig, IntervalSemantics};
use crate::conversation::{ConvState, to_analytics};
use crate::error::ApiError;
use crate::models::{AnalyticsConversation, parse_iso_ms, utc_day_start};

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
pub(crate) enum OrderBy {
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
    /// `Some(descending)`, or `None` for unordered.
    pub order: Option<bool>,
    pub order_by: OrderBy,
    pub page_size: usize,
    pub page_number: usize,
    pub limit: Option<usize>,
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

/// Parses and validates a query body; paging defaults and limits come from `cfg`.
pub(crate) fn compile(cfg: &AnalyticsConfig, body: &[u8]) -> Result<Compiled, ApiError> {
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
    let page_size = raw.paging.as_ref().and_then(|p| p.page_size).unwrap_or(i64::from(cfg.default_page_size));
    let page_number = raw.paging.as_ref().and_then(|p| p.page_number).unwrap_or(1);
    if page_size < 1 || page_size > i64::from(cfg.max_page_size) {
        return Err(ApiError::bad_request(format!("pageSize must be between 1 and {}", cfg.max_page_size)));
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

fn in_interval(cfg: &AnalyticsConfig, q: &Compiled, c: &ConvState, job: bool) -> bool {
    if job {
        let end = c.end_ms().unwrap_or(i64::MAX);
        let overlaps = c.start_ms < q.end_ms && end >= q.start_ms;
        return overlaps && (!q.start_of_day || c.start_ms >= utc_day_start(q.start_ms));
    }
    match cfg.interval_semantics {
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
pub(crate) fn select(
    cfg: &AnalyticsConfig,
    q: &Compiled,
    states: Vec<Arc<ConvState>>,
    job: bool,
) -> Vec<AnalyticsConversation> {
    let mut hits: Vec<(i64, Arc<ConvState>, AnalyticsConversation)> = states
        .into_iter()
        .filter(|c| in_interval(cfg, q, c, job))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_parsing() {
        assert!(parse_interval(Some("2025-01-01T10:00:00.000Z/2025-01-01T10:30:00.000Z")).is_ok());
        assert!(parse_interval(Some("2025-01-01T10:00:00/2025-01-01T10:30:00")).is_ok());
        assert!(parse_interval(Some("2025-01-01T10:30:00Z/2025-01-01T10:00:00Z")).is_err());
        assert!(parse_interval(Some("nonsense")).is_err());
        assert!(parse_interval(None).is_err());
    }
}
