//! Filling coverage gaps from the Analytics API (reference §4).
//!
//! Genesys queues nothing for a disconnected client, so every gap is recovered here, in up to
//! three steps per batch of gaps (gaps with the same window are queried together, one `or` of
//! `queueId` predicates):
//!
//! 1. **Open conversations**: those seen live and not ended when coverage was lost are fetched by
//!    id (`GET /api/v2/conversations/{id}`, no analytics delay): the interval of the details
//!    query selects by conversation *start*, and they may have ended inside the gap. An answer
//!    taken after a gap ended serves that gap too ([`crate::rechecks`]): the gaps of one outage
//!    cost one request per open conversation.
//! 2. **Quick passes**: `POST /api/v2/analytics/conversations/details/query` over
//!    `[from − margin, to]`, split into pieces, paged, keeping rows that touched the window. The
//!    analytics data delay varies, so passes repeat with backoff until Analytics demonstrably has
//!    data past the window: a conversation seen live that started at least `settle` after the
//!    window's end shows up in a query. Rows repeat across pages and passes; the connector's gate
//!    drops what it already produced.
//! 3. **Data-lake confirmation** (`confirm_with_jobs`): once `dataAvailabilityDate` passes the
//!    window's end — data before it is guaranteed complete — an async details job over the window
//!    ("activity during the interval") catches anything a delay spike hid from the quick passes.
//!
//! Only then is each gap reported done; the connector then lets the queue's watermark move past
//! it (after the records above, so Kafka acknowledges them first). Everything goes through the
//! tenant's REST budget.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::{DetailsQuery, GenesysApi, JobQuery, JobState};
use crate::config::BackfillSettings;
use crate::coverage::Gap;
use crate::paging::PageGuard;
use crate::rechecks::Rechecks;
use crate::record::BackfillApi;
use crate::sentinels::Sentinels;
use crate::socket::now_ms;
use crate::throttle::Throttle;

/// A gap to fill, with the conversations of its queue that were open when coverage was lost.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    pub gap: Gap,
    pub open_conversations: Vec<String>,
}

/// What the worker hands back to the connector, in order.
#[derive(Debug)]
pub enum BackfillOutput {
    Conversation {
        queue_id: String,
        row: Value,
        api: BackfillApi,
        received_ms: i64,
    },
    /// Every conversation of the gap was handed over before this.
    GapDone {
        queue_id: String,
        gap_id: u64,
    },
}

/// Backfill progress for status.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Progress {
    pub in_progress: Vec<BatchView>,
    pub gaps_done: u64,
    pub conversations: u64,
    pub passes: u64,
    pub jobs: u64,
    /// Open conversations fetched by id, and those an earlier fetch already answered.
    pub rechecked: u64,
    pub rechecks_shared: u64,
    pub closed_without_proof: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    pub queues: usize,
    pub from_ms: i64,
    pub to_ms: i64,
    pub phase: &'static str,
    pub passes: u32,
    pub conversations: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Quick,
    AwaitingLake,
}

struct Batch {
    queues: BTreeSet<String>,
    gaps: Vec<Gap>,
    from_ms: i64,
    to_ms: i64,
    open: Vec<(String, String)>,
    phase: Phase,
    passes: u32,
    due: Instant,
    started: Instant,
    lake_since: Option<Instant>,
    conversations: u64,
}

/// Works through gaps one step at a time, earliest due first.
pub struct Worker {
    api: GenesysApi,
    settings: BackfillSettings,
    sentinels: Arc<Mutex<Sentinels>>,
    progress: Arc<Mutex<Progress>>,
    out: mpsc::Sender<BackfillOutput>,
    connector: String,
    batches: Vec<Batch>,
    rechecks: Rechecks,
    recheck_metrics: RecheckMetrics,
    log: Throttle,
}

struct RecheckMetrics {
    /// Requests sent to re-check a conversation.
    asked: metrics::Counter,
    /// Re-checks answered by an earlier request.
    shared: metrics::Counter,
}

/// Why a step stopped early.
enum StepError {
    /// The connector is gone.
    Closed,
    Rest(String),
}

impl Worker {
    pub fn new(
        api: GenesysApi,
        settings: BackfillSettings,
        sentinels: Arc<Mutex<Sentinels>>,
        progress: Arc<Mutex<Progress>>,
        out: mpsc::Sender<BackfillOutput>,
        connector: String,
    ) -> Self {
        let recheck_metrics = RecheckMetrics {
            asked: metrics::counter!("genesys_conversation_rechecks_total", "connector" => connector.clone()),
            shared: metrics::counter!("genesys_conversation_rechecks_shared_total", "connector" => connector.clone()),
        };
        // Registered now, so that the metric reads 0 (not absent) until a window closes so.
        metrics::counter!("genesys_backfill_windows_closed_without_proof_total", "connector" => connector.clone())
            .increment(0);
        Self {
            api,
            settings,
            sentinels,
            progress,
            out,
            connector,
            batches: Vec::new(),
            rechecks: Rechecks::default(),
            recheck_metrics,
            log: Throttle::default(),
        }
    }

    pub async fn run(mut self, mut requests: mpsc::Receiver<BackfillRequest>, stop: CancellationToken) {
        loop {
            let due = self.batches.iter().map(|b| b.due).min();
            tokio::select! {
                _ = stop.cancelled() => return,
                request = requests.recv() => match request {
                    Some(first) => {
                        let mut fresh = vec![first];
                        while let Ok(more) = requests.try_recv() {
                            fresh.push(more);
                        }
                        self.add(fresh);
                    }
                    None => return,
                },
                _ = sleep_until(due) => {
                    let Some(index) = self.batches.iter().enumerate().min_by_key(|(_, b)| b.due).map(|(i, _)| i) else { continue };
                    let mut batch = self.batches.swap_remove(index);
                    let step = tokio::select! {
                        _ = stop.cancelled() => return,
                        step = self.step(&mut batch) => step,
                    };
                    if step.is_ok() {
                        self.with_progress(|p| p.last_error = None);
                    }
                    match step {
                        Ok(true) => {
                            if self.finish(batch).await.is_err() { return; }
                        }
                        Ok(false) => self.batches.push(batch),
                        Err(StepError::Closed) => return,
                        Err(StepError::Rest(e)) => {
                            tracing::warn!(connector = %self.connector, error = %e, "backfill step failed; retrying");
                            self.with_progress(|p| p.last_error = Some(e));
                            batch.due = Instant::now() + self.retry_delay(batch.passes.max(1));
                            self.batches.push(batch);
                        }
                    }
                }
            }
            self.publish();
        }
    }

    /// Groups requests with the same window into batches.
    fn add(&mut self, requests: Vec<BackfillRequest>) {
        let margin = self.settings.safety_margin.get().as_millis() as i64;
        for request in requests {
            let BackfillRequest { gap, open_conversations } = request;
            let from = gap.from_ms - margin;
            let open = open_conversations.into_iter().map(|c| (gap.queue_id.clone(), c));
            if let Some(batch) =
                self.batches.iter_mut().find(|b| b.passes == 0 && b.from_ms == from && b.to_ms == gap.to_ms)
            {
                batch.queues.insert(gap.queue_id.clone());
                batch.open.extend(open);
                batch.gaps.push(gap);
                continue;
            }
            self.batches.push(Batch {
                queues: BTreeSet::from([gap.queue_id.clone()]),
                from_ms: from,
                to_ms: gap.to_ms,
                open: open.collect(),
                gaps: vec![gap],
                phase: Phase::Quick,
                passes: 0,
                due: Instant::now(),
                started: Instant::now(),
                lake_since: None,
                conversations: 0,
            });
        }
    }

    /// One step of a batch; `Ok(true)` when the batch is complete.
    async fn step(&mut self, batch: &mut Batch) -> Result<bool, StepError> {
        match batch.phase {
            Phase::Quick => {
                if batch.passes == 0 {
                    self.recheck_open(batch).await?;
                }
                self.quick_pass(batch).await?;
                batch.passes += 1;
                self.with_progress(|p| p.passes += 1);
                let proven = self.analytics_caught_up(batch).await?;
                let waited_out = batch.started.elapsed() >= self.settings.max_wait.get();
                if proven || waited_out {
                    if !proven {
                        self.closed_without_proof();
                        tracing::warn!(
                            connector = %self.connector, from_ms = batch.from_ms, to_ms = batch.to_ms,
                            "analytics never showed data past the window within backfill.max_wait"
                        );
                    }
                    if self.settings.confirm_with_jobs {
                        batch.phase = Phase::AwaitingLake;
                        batch.lake_since = Some(Instant::now());
                        batch.due = Instant::now();
                        return Ok(false);
                    }
                    return Ok(true);
                }
                batch.due = Instant::now() + self.retry_delay(batch.passes);
                Ok(false)
            }
            Phase::AwaitingLake => {
                let waited = batch.lake_since.map_or(Duration::ZERO, |t| t.elapsed());
                if waited >= self.settings.lake_max_wait.get() {
                    self.closed_without_proof();
                    tracing::error!(
                        connector = %self.connector, from_ms = batch.from_ms, to_ms = batch.to_ms, waited = ?waited,
                        "the data lake never covered the window within backfill.lake_max_wait; closing it on the quick passes alone"
                    );
                    return Ok(true);
                }
                let available = match self.api.data_availability().await {
                    Ok(available) => available,
                    // An org (or a proxy) without the jobs API, or a client without its
                    // permission: the quick passes are all there is.
                    Err(e) if e.is_not_found() || e.is_fatal() => return Ok(self.no_lake(batch, &e.to_string())),
                    Err(e) => return Err(StepError::Rest(e.to_string())),
                };
                if available >= batch.to_ms {
                    self.lake_pass(batch).await?;
                    return Ok(true);
                }
                batch.due = Instant::now() + self.settings.settle.get().max(Duration::from_millis(200));
                Ok(false)
            }
        }
    }

    /// Closes a batch without the data lake's confirmation; always `true` (done).
    fn no_lake(&self, batch: &Batch, why: &str) -> bool {
        self.closed_without_proof();
        tracing::warn!(
            connector = %self.connector, from_ms = batch.from_ms, to_ms = batch.to_ms, reason = why,
            "the data-lake confirmation is unavailable; the window is closed on the quick passes"
        );
        true
    }

    fn retry_delay(&self, passes: u32) -> Duration {
        let settle = self.settings.settle.get().max(Duration::from_millis(100));
        (settle / 2).saturating_mul(1 << passes.min(6)).min(settle * 8)
    }

    async fn emit(&self, batch: &mut Batch, queue_id: String, row: Value, api: BackfillApi) -> Result<(), StepError> {
        batch.conversations += 1;
        self.with_progress(|p| p.conversations += 1);
        metrics::counter!("genesys_backfilled_conversations_total", "connector" => self.connector.clone()).increment(1);
        self.out
            .send(BackfillOutput::Conversation { queue_id, row, api, received_ms: now_ms() })
            .await
            .map_err(|_| StepError::Closed)
    }

    async fn recheck_open(&mut self, batch: &mut Batch) -> Result<(), StepError> {
        let open = std::mem::take(&mut batch.open);
        for (queue_id, conversation) in open {
            // Already emitted as of this gap's end (or later), for this gap's batch or another.
            if self.rechecks.covers(&conversation, batch.to_ms) {
                self.recheck_metrics.shared.increment(1);
                self.with_progress(|p| p.rechecks_shared += 1);
                continue;
            }
            let asked_at = now_ms();
            self.recheck_metrics.asked.increment(1);
            self.with_progress(|p| p.rechecked += 1);
            let answer = self.api.get_conversation(&conversation).await;
            if answer.is_ok() {
                self.rechecks.answered(conversation.clone(), asked_at);
            }
            match answer {
                Ok(Some(row)) => self.emit(batch, queue_id, row, BackfillApi::ConversationsGet).await?,
                Ok(None) => {}
                Err(e) if e.is_fatal() => {
                    tracing::warn!(connector = %self.connector, error = %e, "cannot re-check open conversations by id; the queries below still cover them when they ended in the window");
                    return Ok(());
                }
                Err(e) => {
                    // Put it back for the next attempt.
                    batch.open.push((queue_id, conversation));
                    return Err(StepError::Rest(e.to_string()));
                }
            }
        }
        Ok(())
    }

    async fn quick_pass(&mut self, batch: &mut Batch) -> Result<(), StepError> {
        let split = self.settings.split.get().as_millis().max(1) as i64;
        let queues: Vec<String> = batch.queues.iter().cloned().collect();
        let mut start = batch.from_ms;
        while start < batch.to_ms {
            let end = (start + split).min(batch.to_ms);
            let mut page = 1;
            let mut guard = PageGuard::new(self.settings.max_pages);
            loop {
                guard.next_page().map_err(|e| StepError::Rest(format!("analytics details query: {e}")))?;
                let query =
                    DetailsQuery::new(start, end).queues(queues.iter().cloned()).page(self.settings.page_size, page);
                let result = self.api.details_query(&query).await.map_err(|e| StepError::Rest(e.to_string()))?;
                let n = result.conversations.len();
                // Rows come in conversationStart order, and the query's interval selects whole
                // UTC days: once a page reaches past the chunk, later pages hold only
                // conversations that started after it (live traffic, which may outgrow any
                // request budget), so paging stops there.
                let past_chunk = result
                    .conversations
                    .last()
                    .and_then(|row| row.get("conversationStart")?.as_str().and_then(parse_ms))
                    .is_some_and(|start_ms| start_ms >= end);
                for row in result.conversations {
                    if let Some(queue) = touched(&row, &batch.queues, batch.from_ms, batch.to_ms) {
                        self.emit(batch, queue, row, BackfillApi::AnalyticsQuery).await?;
                    }
                }
                if n < self.settings.page_size as usize || past_chunk {
                    break;
                }
                page += 1;
            }
            start = end;
        }
        Ok(())
    }

    /// Whether Analytics shows a conversation seen live that started `settle` after the window.
    async fn analytics_caught_up(&self, batch: &Batch) -> Result<bool, StepError> {
        let settle = self.settings.settle.get().as_millis() as i64;
        let sentinel = self.sentinels.lock().ok().and_then(|s| s.started_after(batch.to_ms + settle));
        let Some((id, start)) = sentinel else { return Ok(false) };
        let query = DetailsQuery::new(start - 1000, start + 1000).conversations([id.clone()]).page(1, 1);
        let found = self.api.details_query(&query).await.map_err(|e| StepError::Rest(e.to_string()))?;
        Ok(found.conversations.iter().any(|row| row.get("conversationId").and_then(Value::as_str) == Some(&id)))
    }

    async fn lake_pass(&mut self, batch: &mut Batch) -> Result<(), StepError> {
        let rest = |e: crate::rest::RestError| StepError::Rest(e.to_string());
        let query = JobQuery::new(batch.from_ms, batch.to_ms, batch.queues.iter().cloned());
        let job = match self.api.create_details_job(&query).await {
            Ok(job) => job,
            Err(e) if e.is_not_found() || e.is_fatal() => {
                self.no_lake(batch, &e.to_string());
                return Ok(());
            }
            Err(e) => return Err(rest(e)),
        };
        self.with_progress(|p| p.jobs += 1);
        let deadline = Instant::now() + self.settings.max_wait.get();
        let mut poll = Duration::from_millis(200);
        loop {
            match self.api.job_status(&job).await.map_err(rest)?.state {
                JobState::Fulfilled => break,
                JobState::Queued | JobState::Pending => {}
                other => return Err(StepError::Rest(format!("details job {job} ended {other:?}"))),
            }
            if Instant::now() >= deadline {
                return Err(StepError::Rest(format!("details job {job} not fulfilled within backfill.max_wait")));
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(Duration::from_secs(10));
        }
        let mut cursor: Option<String> = None;
        let mut guard = PageGuard::new(self.settings.max_pages);
        let paging = |e: String| StepError::Rest(format!("details job {job} results: {e}"));
        loop {
            guard.next_page().map_err(paging)?;
            let page = self.api.job_results(&job, cursor.as_deref(), 1000).await.map_err(rest)?;
            for row in page.conversations {
                if let Some(queue) = touched(&row, &batch.queues, batch.from_ms, batch.to_ms) {
                    self.emit(batch, queue, row, BackfillApi::AnalyticsJobs).await?;
                }
            }
            match page.cursor {
                Some(next) => {
                    guard.cursor(&next).map_err(paging)?;
                    cursor = Some(next);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Reports a window's gaps filled: one line for the window, each queue's gap at debug.
    async fn finish(&mut self, batch: Batch) -> Result<(), ()> {
        if let Some(suppressed) = self.log.admit("window done") {
            tracing::info!(
                connector = %self.connector, queues = batch.gaps.len(), from_ms = batch.from_ms, to_ms = batch.to_ms,
                conversations = batch.conversations, passes = batch.passes, suppressed, "backfill window done"
            );
        }
        for gap in batch.gaps {
            tracing::debug!(
                connector = %self.connector, queue = %gap.queue_id, from_ms = gap.from_ms, to_ms = gap.to_ms,
                "gap backfilled"
            );
            self.with_progress(|p| p.gaps_done += 1);
            self.out.send(BackfillOutput::GapDone { queue_id: gap.queue_id, gap_id: gap.id }).await.map_err(|_| ())?;
        }
        Ok(())
    }

    /// A window closed without analytics (or the data lake) showing data past its end.
    fn closed_without_proof(&self) {
        self.with_progress(|p| p.closed_without_proof += 1);
        metrics::counter!("genesys_backfill_windows_closed_without_proof_total", "connector" => self.connector.clone())
            .increment(1);
    }

    fn with_progress(&self, f: impl FnOnce(&mut Progress)) {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut p);
    }

    fn publish(&self) {
        let views = self
            .batches
            .iter()
            .map(|b| BatchView {
                queues: b.queues.len(),
                from_ms: b.from_ms,
                to_ms: b.to_ms,
                phase: match b.phase {
                    Phase::Quick => "quick",
                    Phase::AwaitingLake => "awaiting_data_lake",
                },
                passes: b.passes,
                conversations: b.conversations,
            })
            .collect();
        self.with_progress(|p| p.in_progress = views);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The first of `queues` a row's segments touch, if the conversation was active in
/// `[from_ms, to_ms]` (started by its end, not ended before its start).
fn touched(row: &Value, queues: &BTreeSet<String>, from_ms: i64, to_ms: i64) -> Option<String> {
    let start = row.get("conversationStart").and_then(Value::as_str).and_then(parse_ms);
    let end = row.get("conversationEnd").and_then(Value::as_str).and_then(parse_ms);
    if start.is_some_and(|s| s > to_ms) || end.is_some_and(|e| e < from_ms) {
        return None;
    }
    // A REST conversation or analytics row: the queue appears on participants or segments.
    let mut found = None;
    visit_queue_ids(row, &mut |id| {
        if found.is_none() && queues.contains(id) {
            found = Some(id.to_owned());
        }
    });
    found
}

fn visit_queue_ids(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "queueId"
                    && let Some(id) = v.as_str()
                {
                    f(id);
                } else {
                    visit_queue_ids(v, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| visit_queue_ids(v, f)),
        _ => {}
    }
}

fn parse_ms(text: &str) -> Option<i64> {
    crate::api::iso::parse_iso_ms(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_outside_the_window_or_queues_are_skipped() {
        let queues = BTreeSet::from(["q1".to_owned()]);
        let row = |start: &str, end: Option<&str>, queue: &str| {
            json!({"conversationId": "c", "conversationStart": start, "conversationEnd": end,
                   "participants": [{"sessions": [{"segments": [{"queueId": queue}]}]}]})
        };
        let from = parse_ms("2026-01-01T10:00:00Z").expect("ts");
        let to = parse_ms("2026-01-01T10:10:00Z").expect("ts");
        assert_eq!(touched(&row("2026-01-01T10:05:00.000Z", None, "q1"), &queues, from, to), Some("q1".into()));
        // Started before the window, ended inside it: still touched.
        assert!(touched(&row("2026-01-01T09:00:00Z", Some("2026-01-01T10:01:00Z"), "q1"), &queues, from, to).is_some());
        // Ended before the window.
        assert!(touched(&row("2026-01-01T09:00:00Z", Some("2026-01-01T09:30:00Z"), "q1"), &queues, from, to).is_none());
        // Started after the window.
        assert!(touched(&row("2026-01-01T11:00:00Z", None, "q1"), &queues, from, to).is_none());
        // Another queue.
        assert!(touched(&row("2026-01-01T10:05:00Z", None, "q2"), &queues, from, to).is_none());
    }
}
