//! Routing queues: `GET /api/v2/routing/queues`, for selecting queues by name.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::GenesysApi;
use crate::rest::{Request, RestError};

const QUEUES: &str = "/api/v2/routing/queues";
const PAGE_SIZE: u32 = 100;
/// A guard against a listing that never ends (1,000,000 queues at 100 a page).
const MAX_PAGES: u32 = 10_000;

/// A routing queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Queue {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueuePage {
    #[serde(default)]
    entities: Vec<Queue>,
    page_count: Option<u32>,
}

impl GenesysApi {
    /// Every queue (or those whose name matches `name_filter`, Genesys's `name` parameter, where
    /// `*` is a wildcard), paging with `pageSize=100` until `pageCount` or an empty page.
    pub async fn list_queues(&self, name_filter: Option<&str>) -> Result<Vec<Queue>, RestError> {
        let mut out = Vec::new();
        for page_number in 1..=MAX_PAGES {
            let mut req =
                Request::new(Method::GET, QUEUES).query("pageSize", PAGE_SIZE).query("pageNumber", page_number);
            if let Some(name) = name_filter.filter(|n| !n.is_empty()) {
                req = req.query("name", name);
            }
            let page: QueuePage = self.rest.get_json(req).await?;
            let empty = page.entities.is_empty();
            out.extend(page.entities);
            if empty || page.page_count.is_some_and(|count| page_number >= count) {
                break;
            }
        }
        Ok(out)
    }
}
