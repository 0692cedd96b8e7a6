//! A connector's status document, reduced to what the overview shows.

use serde_json::Value;

use crate::api::Summary;

/// One connector as the overview sees it at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    /// `RUNNING`, `PAUSED`, `FAILED`, …
    pub state: String,
    /// Why a task is degraded or the connector failed, when it is.
    pub reason: Option<String>,
    /// Records Kafka acknowledged in the current run.
    pub acknowledged: Option<u64>,
    /// The tasks' summaries added up: counts summed, the worst lag, sources joined.
    pub summary: Summary,
}

impl Row {
    /// Reads one status document; `None` when it has no name (not a status document).
    pub fn from_status(status: &Value) -> Option<Self> {
        let name = status.get("name")?.as_str()?.to_owned();
        let connector = status.get("connector");
        let state = connector.and_then(|c| c.get("state")).and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned();
        let tasks = status.get("tasks").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let trace = connector.and_then(|c| c.get("trace")).and_then(Value::as_str);
        let degraded = tasks.iter().find_map(|t| {
            let health = t.get("health")?;
            (health.get("state")?.as_str()? == "DEGRADED").then(|| health.get("reason")?.as_str().map(str::to_owned))?
        });
        let summaries: Vec<Summary> =
            tasks.iter().filter_map(|t| t.get("detail").and_then(Summary::from_detail)).collect();
        Some(Self {
            name,
            state,
            reason: trace.map(first_line).or(degraded),
            acknowledged: status.pointer("/runtime/records_acknowledged").and_then(Value::as_u64),
            summary: add_up(&summaries),
        })
    }

    /// Every row of `GET /connectors?expand=status` (`{name: {"status": …}}`), by name.
    pub fn from_expanded(list: &Value) -> Vec<Self> {
        let mut rows: Vec<Self> = list
            .as_object()
            .map(|m| m.values().filter_map(|v| v.get("status").and_then(Self::from_status)).collect())
            .unwrap_or_default();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// Whether the connector needs a look: not running, or a task degraded.
    pub fn is_unwell(&self) -> bool {
        self.state != "RUNNING" || self.reason.is_some()
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn add_up(summaries: &[Summary]) -> Summary {
    fn sum(summaries: &[Summary], f: impl Fn(&Summary) -> Option<u64>) -> Option<u64> {
        summaries.iter().filter_map(f).reduce(|a, b| a.saturating_add(b))
    }
    let sources: Vec<&str> = summaries.iter().filter_map(|s| s.source.as_deref()).collect();
    Summary {
        live_records: sum(summaries, |s| s.live_records),
        backfilled_records: sum(summaries, |s| s.backfilled_records),
        partitions_covered: sum(summaries, |s| s.partitions_covered),
        partitions_total: sum(summaries, |s| s.partitions_total),
        open_gaps: sum(summaries, |s| s.open_gaps),
        lag_seconds: summaries.iter().filter_map(|s| s.lag_seconds).reduce(f64::max),
        source: (!sources.is_empty()).then(|| sources.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_state_reason_counts_and_adds_up_task_summaries() {
        let status = json!({
            "name": "acme",
            "connector": {"state": "RUNNING", "worker_id": "w"},
            "tasks": [
                {"id": 0, "health": {"state": "HEALTHY"}, "detail": {"summary": {
                    "live_records": 10, "backfilled_records": 2, "partitions_covered": 3, "partitions_total": 4,
                    "open_gaps": 1, "lag_seconds": 12.5, "source": "1/1 channels open"}}},
                {"id": 1, "health": {"state": "DEGRADED", "reason": "1 queue(s) without coverage"}, "detail": {"summary": {
                    "live_records": 5, "partitions_covered": 1, "partitions_total": 2, "lag_seconds": 40.0,
                    "source": "0/1 channels open"}}},
            ],
            "runtime": {"records_acknowledged": 17},
        });
        let row = Row::from_status(&status).expect("a status document");
        assert_eq!(row.name, "acme");
        assert_eq!(row.state, "RUNNING");
        assert_eq!(row.reason.as_deref(), Some("1 queue(s) without coverage"));
        assert_eq!(row.acknowledged, Some(17));
        let s = &row.summary;
        assert_eq!((s.live_records, s.backfilled_records), (Some(15), Some(2)));
        assert_eq!((s.partitions_covered, s.partitions_total, s.open_gaps), (Some(4), Some(6), Some(1)));
        assert_eq!(s.lag_seconds, Some(40.0));
        assert_eq!(s.source.as_deref(), Some("1/1 channels open; 0/1 channels open"));
        assert!(row.is_unwell());
    }

    #[test]
    fn a_failed_connector_shows_the_first_line_of_its_trace_and_no_summary() {
        let status = json!({"name": "b", "connector": {"state": "FAILED", "trace": "auth refused\nat …"}, "tasks": []});
        let row = Row::from_status(&status).expect("a status document");
        assert_eq!(row.reason.as_deref(), Some("auth refused"));
        assert_eq!(row.summary, Summary::default());
        assert_eq!(row.acknowledged, None);
        assert_eq!(Row::from_status(&json!({"error_code": 404})), None);
    }

    #[test]
    fn the_expanded_list_is_read_in_name_order() {
        let list = json!({
            "zeta": {"status": {"name": "zeta", "connector": {"state": "PAUSED"}}},
            "alpha": {"status": {"name": "alpha", "connector": {"state": "RUNNING"}}},
        });
        let names: Vec<String> = Row::from_expanded(&list).into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["alpha", "zeta"]);
    }
}
