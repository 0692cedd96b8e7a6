//! The synchronous conversation details query (reference §4.1).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::GenesysApi;
use super::iso::interval;
use crate::rest::{Request, RestError};

const DETAILS_QUERY: &str = "/api/v2/analytics/conversations/details/query";

/// One page of a `ConversationQuery` over some queues (and optionally some conversations),
/// ordered by conversation start, ascending.
///
/// Genesys selects by conversation *start*, on a whole UTC day touched by the interval, so rows
/// outside `[from_ms, to_ms)` come back and the caller filters. Paging a live interval repeats
/// rows and moves `totalHits`, so callers dedupe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailsQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// An `or` of `queueId` segment predicates; empty = no queue filter.
    pub queue_ids: Vec<String>,
    /// An `or` of `conversationId` conversation predicates; empty = no such filter.
    pub conversation_ids: Vec<String>,
    /// Default 100 (Genesys documents 25 as its default and its blog uses at most 200).
    pub page_size: u32,
    /// From 1.
    pub page_number: u32,
}

impl DetailsQuery {
    /// The first page of 100 for the interval, with no filters yet.
    pub fn new(from_ms: i64, to_ms: i64) -> Self {
        Self { from_ms, to_ms, queue_ids: Vec::new(), conversation_ids: Vec::new(), page_size: 100, page_number: 1 }
    }

    pub fn queues(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.queue_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    pub fn conversations(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.conversation_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    pub fn page(mut self, page_size: u32, page_number: u32) -> Self {
        self.page_size = page_size;
        self.page_number = page_number.max(1);
        self
    }

    /// The same query, one page further.
    pub fn next_page(&self) -> Self {
        Self { page_number: self.page_number.saturating_add(1), ..self.clone() }
    }

    /// The `ConversationQuery` JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "interval": interval(self.from_ms, self.to_ms),
            "order": "asc",
            "orderBy": "conversationStart",
            "paging": { "pageSize": self.page_size, "pageNumber": self.page_number },
        });
        if let Some(filter) = or_filter("queueId", &self.queue_ids) {
            body["segmentFilters"] = json!([filter]);
        }
        if let Some(filter) = or_filter("conversationId", &self.conversation_ids) {
            body["conversationFilters"] = json!([filter]);
        }
        body
    }
}

/// `{type: or, predicates: [{type: dimension, dimension, operator: matches, value}, …]}`.
pub(super) fn or_filter(dimension: &str, values: &[String]) -> Option<Value> {
    if values.is_empty() {
        return None;
    }
    let predicates: Vec<Value> = values
        .iter()
        .map(|v| json!({ "type": "dimension", "dimension": dimension, "operator": "matches", "value": v }))
        .collect();
    Some(json!({ "type": "or", "predicates": predicates }))
}

/// One page of answers.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailsPage {
    /// Raw `AnalyticsConversation` rows (empty when Genesys omits `conversations`).
    pub conversations: Vec<Value>,
    /// Matches over all pages, as of this request (it moves while data lands).
    pub total_hits: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    #[serde(default)]
    conversations: Option<Vec<Value>>,
    #[serde(default)]
    total_hits: u64,
}

impl GenesysApi {
    /// `POST /api/v2/analytics/conversations/details/query`: one page.
    pub async fn details_query(&self, query: &DetailsQuery) -> Result<DetailsPage, RestError> {
        let req = Request::new(Method::POST, DETAILS_QUERY).json(&query.body())?;
        let raw: RawPage = self.rest.send_json(req).await?;
        Ok(DetailsPage { conversations: raw.conversations.unwrap_or_default(), total_hits: raw.total_hits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_documented_body() {
        let q = DetailsQuery::new(1_735_725_600_000, 1_735_727_400_000).queues(["q1", "q2"]).page(50, 3);
        let body = q.body();
        assert_eq!(body["interval"], "2025-01-01T10:00:00.000Z/2025-01-01T10:30:00.000Z");
        assert_eq!(body["order"], "asc");
        assert_eq!(body["orderBy"], "conversationStart");
        assert_eq!(body["paging"], json!({"pageSize": 50, "pageNumber": 3}));
        assert_eq!(body["segmentFilters"][0]["type"], "or");
        assert_eq!(
            body["segmentFilters"][0]["predicates"][1],
            json!({"type": "dimension", "dimension": "queueId", "operator": "matches", "value": "q2"})
        );
        assert!(body.get("conversationFilters").is_none());
        let c = DetailsQuery::new(0, 1).conversations(["c1"]).body();
        assert_eq!(c["conversationFilters"][0]["predicates"][0]["dimension"], "conversationId");
        assert!(c.get("segmentFilters").is_none());
        assert_eq!(q.next_page().page_number, 4);
    }
}
