//! `GET /api/v2/routing/queues`: queue discovery. The queues themselves are in
//! [`crate::org::queues`].
//!
//! Contract ([INF], the reference only names the endpoint's purpose): paged with `pageSize`
//! (default 25, 1..=500) and `pageNumber` (default 1); `name` filters case-insensitively, with a
//! leading and/or trailing `*` as a wildcard; entities are ordered by name. Out-of-range pages are
//! empty. Queues added at runtime through the handle show up immediately.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::models::{Division, Queue, QueueEntityListing, iso_ms};
use crate::org::queues::QueueRec;
use crate::org::{DIVISION_ID, Org, lock};

fn name_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.to_lowercase();
    let n = name.to_lowercase();
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => n.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => n.ends_with(rest),
        (None, Some(rest)) => n.starts_with(rest),
        (None, None) => n == p,
    }
}

fn page_param(params: &HashMap<String, String>, key: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n >= 1 && n <= max => Ok(n),
            _ => Err(ApiError::bad_request(format!("{key} must be between 1 and {max}"))),
        },
    }
}

fn uri(page_size: u32, page_number: u32, name: Option<&str>) -> String {
    let mut u = format!("/api/v2/routing/queues?pageSize={page_size}&pageNumber={page_number}");
    if let Some(n) = name {
        u.push_str("&name=");
        u.push_str(&n.replace(' ', "%20").replace('*', "%2A"));
    }
    u
}

/// `GET /api/v2/routing/queues`.
pub(crate) async fn list(
    AxState(org): AxState<Arc<Org>>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return ApiError::bad_request("invalid query string").into_response();
    };
    let (page_size, page_number) =
        match (page_param(&params, "pageSize", 25, 500), page_param(&params, "pageNumber", 1, u32::MAX)) {
            (Ok(s), Ok(n)) => (s, n),
            (Err(e), _) | (_, Err(e)) => return e.into_response(),
        };
    let name = params.get("name").map(String::as_str).filter(|n| !n.is_empty());
    let mut queues: Vec<QueueRec> =
        lock(&org.state).queues.iter().filter(|q| name.is_none_or(|n| name_matches(n, &q.name))).cloned().collect();
    queues.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
    let total = queues.len() as u64;
    let page_count = u32::try_from(total.div_ceil(u64::from(page_size))).unwrap_or(u32::MAX).max(1);
    let skip = usize::try_from((u64::from(page_number) - 1) * u64::from(page_size)).unwrap_or(usize::MAX);
    let entities = queues
        .into_iter()
        .skip(skip)
        .take(page_size as usize)
        .map(|q| Queue {
            self_uri: format!("/api/v2/routing/queues/{}", q.id),
            id: q.id,
            name: q.name,
            division: Division {
                id: DIVISION_ID.into(),
                name: "Home".into(),
                self_uri: format!("/api/v2/authorization/divisions/{DIVISION_ID}"),
            },
            date_created: iso_ms(q.created_ms),
            member_count: u32::try_from(org.cfg.traffic.agents_per_queue).unwrap_or(u32::MAX),
        })
        .collect();
    let listing = QueueEntityListing {
        entities,
        page_size,
        page_number,
        total,
        page_count,
        first_uri: uri(page_size, 1, name),
        last_uri: uri(page_size, page_count, name),
        self_uri: uri(page_size, page_number, name),
        next_uri: (page_number < page_count).then(|| uri(page_size, page_number + 1, name)),
        previous_uri: (page_number > 1).then(|| uri(page_size, page_number - 1, name)),
    };
    (StatusCode::OK, axum::Json(listing)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(name_matches("sales", "Sales"));
        assert!(name_matches("sal*", "Sales"));
        assert!(name_matches("*les", "Sales"));
        assert!(name_matches("*al*", "Sales"));
        assert!(!name_matches("sal", "Sales"));
    }
}
