//! Asynchronous conversation details jobs and data availability (reference §4.2).
//!
//! A job reads the data lake, which is complete up to `dataAvailabilityDate`; its interval
//! selects conversations with *activity during* the interval (not by start, unlike the
//! synchronous query). Results page by an opaque cursor, absent on the last page.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::GenesysApi;
use super::analytics::or_filter;
use super::iso::{interval, parse_iso_ms};
use crate::rest::{Request, RestError, path_segment};

const JOBS: &str = "/api/v2/analytics/conversations/details/jobs";

/// What a job should find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// An `or` of `queueId` segment predicates; empty = no queue filter.
    pub queue_ids: Vec<String>,
    /// Only conversations that started on or after the interval's start day (UTC).
    pub start_of_day_interval_matching: bool,
}

impl JobQuery {
    pub fn new(from_ms: i64, to_ms: i64, queue_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            from_ms,
            to_ms,
            queue_ids: queue_ids.into_iter().map(Into::into).collect(),
            start_of_day_interval_matching: false,
        }
    }

    /// The `AsyncConversationQuery` JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "interval": interval(self.from_ms, self.to_ms),
            "order": "asc",
            "orderBy": "conversationStart",
        });
        if let Some(filter) = or_filter("queueId", &self.queue_ids) {
            body["segmentFilters"] = json!([filter]);
        }
        if self.start_of_day_interval_matching {
            body["startOfDayIntervalMatching"] = json!(true);
        }
        body
    }
}

/// `AsyncQueryStatus.state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Pending,
    Fulfilled,
    Failed,
    Cancelled,
    Expired,
    /// A state this version does not know.
    Other(String),
}

impl JobState {
    fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "QUEUED" => JobState::Queued,
            "PENDING" => JobState::Pending,
            "FULFILLED" => JobState::Fulfilled,
            "FAILED" => JobState::Failed,
            "CANCELLED" => JobState::Cancelled,
            "EXPIRED" => JobState::Expired,
            _ => JobState::Other(s.to_string()),
        }
    }

    /// The job will not change any more (results readable only when `Fulfilled`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobState::Fulfilled | JobState::Failed | JobState::Cancelled | JobState::Expired)
    }
}

/// A job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub state: JobState,
    pub error_message: Option<String>,
}

/// One page of a job's results.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// Raw `AnalyticsConversation` rows.
    pub conversations: Vec<Value>,
    /// Pass to the next call; `None` on the last page.
    pub cursor: Option<String>,
    /// The data lake was complete up to this instant (epoch ms) for these results.
    pub data_availability_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJobId {
    job_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    #[serde(default)]
    state: String,
    error_message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResults {
    #[serde(default)]
    conversations: Option<Vec<Value>>,
    cursor: Option<String>,
    data_availability_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAvailability {
    data_availability_date: String,
}

fn job_path(id: &str) -> String {
    format!("{JOBS}/{}", path_segment(id))
}

impl GenesysApi {
    /// `POST …/details/jobs`: submits a job and returns its id.
    pub async fn create_details_job(&self, query: &JobQuery) -> Result<String, RestError> {
        let req = Request::new(Method::POST, JOBS).json(&query.body())?;
        let raw: RawJobId = self.rest.send_json(req).await?;
        Ok(raw.job_id)
    }

    /// `GET …/details/jobs/{id}`.
    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus, RestError> {
        let raw: RawStatus = self.rest.get_json(Request::new(Method::GET, job_path(job_id))).await?;
        Ok(JobStatus { state: JobState::parse(&raw.state), error_message: raw.error_message })
    }

    /// `GET …/details/jobs/{id}/results?cursor=&pageSize=`: one page (the first without a
    /// cursor). Asking before the job is `Fulfilled` is a 400 ([`RestError::Rejected`]).
    pub async fn job_results(&self, job_id: &str, cursor: Option<&str>, page_size: u32) -> Result<JobPage, RestError> {
        let mut req = Request::new(Method::GET, format!("{}/results", job_path(job_id))).query("pageSize", page_size);
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            req = req.query("cursor", c);
        }
        let raw: RawResults = self.rest.get_json(req).await?;
        Ok(JobPage {
            conversations: raw.conversations.unwrap_or_default(),
            cursor: raw.cursor.filter(|c| !c.is_empty()),
            data_availability_ms: raw.data_availability_date.as_deref().and_then(parse_iso_ms),
        })
    }

    /// `DELETE …/details/jobs/{id}`: cancels a job (a 404 for a job that is gone counts as done).
    pub async fn cancel_job(&self, job_id: &str) -> Result<(), RestError> {
        match self.rest.send(&Request::new(Method::DELETE, job_path(job_id))).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET …/details/jobs/availability`: epoch ms before which the data lake is complete.
    pub async fn data_availability(&self) -> Result<i64, RestError> {
        let path = format!("{JOBS}/availability");
        let raw: RawAvailability = self.rest.get_json(Request::new(Method::GET, path.clone())).await?;
        parse_iso_ms(&raw.data_availability_date).ok_or_else(|| RestError::Decode {
            method: "GET".into(),
            path,
            detail: format!("unreadable dataAvailabilityDate `{}`", raw.data_availability_date),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_body() {
        assert_eq!(JobState::parse("FULFILLED"), JobState::Fulfilled);
        assert_eq!(JobState::parse("queued"), JobState::Queued);
        assert_eq!(JobState::parse("SOMETHING"), JobState::Other("SOMETHING".into()));
        assert!(JobState::Expired.is_terminal() && !JobState::Pending.is_terminal());
        let body = JobQuery::new(0, 60_000, ["q"]).body();
        assert_eq!(body["interval"], "1970-01-01T00:00:00.000Z/1970-01-01T00:01:00.000Z");
        assert_eq!(body["segmentFilters"][0]["predicates"][0]["value"], "q");
        assert!(body.get("paging").is_none());
    }
}
