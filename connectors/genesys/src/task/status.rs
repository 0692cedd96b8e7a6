//! What the task shows in its status: channels, queues' coverage, gaps, backfill progress and
//! counts, and the health they add up to.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary_connector_api::{Health, SUMMARY_KEY, Summary, TaskContext};

use super::records::RecordCounts;
use super::watermarks::Watermarks;
use crate::backfill::Progress;
use crate::shard::ShardStatus;
use crate::socket::now_ms;

/// Counters shown in status.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Counts {
    live_records: u64,
    backfilled_records: u64,
    duplicates_suppressed: u64,
    stale_dropped: u64,
    bad_bodies: u64,
    truncated_gaps: u64,
}

/// Publishes status and metrics of one connector instance.
pub(super) struct StatusBoard {
    connector: String,
    tenant: String,
    backfill: Arc<Mutex<Progress>>,
    channels_open: metrics::Gauge,
    pending_gaps: metrics::Gauge,
}

impl StatusBoard {
    pub fn new(connector: &str, tenant: &str, backfill: Arc<Mutex<Progress>>) -> Self {
        Self {
            connector: connector.to_owned(),
            tenant: tenant.to_owned(),
            backfill,
            channels_open: metrics::gauge!("genesys_channels_open", "connector" => connector.to_owned()),
            pending_gaps: metrics::gauge!("genesys_backfill_pending_gaps", "connector" => connector.to_owned()),
        }
    }

    /// Sets the task's status detail and health from the state of its rooms.
    pub fn publish(
        &self,
        ctx: &TaskContext,
        channels: &[ShardStatus],
        watermarks: &Watermarks,
        records: RecordCounts,
        bad_bodies: u64,
    ) {
        let open = channels.iter().filter(|c| c.state == "healthy").count();
        self.channels_open.set(open as f64);
        let now = now_ms();
        let coverage = watermarks.coverage();
        let view = coverage.view();
        let queues: Vec<Value> = view
            .iter()
            .map(|q| {
                let lag = q.watermark_ms.map(|w| (now - w) as f64 / 1000.0);
                if let Some(lag) = lag {
                    metrics::gauge!("genesys_watermark_lag_seconds", "connector" => self.connector.clone(), "queue" => q.queue_id.clone())
                        .set(lag);
                }
                metrics::gauge!("genesys_queue_covered", "connector" => self.connector.clone(), "queue" => q.queue_id.clone())
                    .set(if q.covered { 1.0 } else { 0.0 });
                json!({
                    "queue_id": q.queue_id, "watermark_ms": q.watermark_ms, "watermark_lag_seconds": lag,
                    "covered": q.covered, "lost_since_ms": q.lost_since_ms, "pending_gaps": q.pending_gaps,
                })
            })
            .collect();
        let now_channels: Vec<Value> = channels
            .iter()
            .map(|c| {
                json!({
                    "shard": c.shard, "state": c.state, "channel_id": c.channel_id,
                    "age_seconds": c.channel_created_ms.map(|t| (now - t) / 1000),
                    "expires_in_seconds": c.channel_expires_ms.map(|t| (t - now) / 1000),
                    "last_pong_ms_ago": c.last_proof_ms.map(|t| now - t),
                    "last_verified_ms_ago": c.last_verified_ms.map(|t| now - t),
                    "topics": c.topics, "reuses": c.channel_reuses,
                    "reconnects": c.reconnects, "rollovers": c.rollovers, "bad_frames": c.bad_frames,
                    "unknown_topics": c.unknown_topics, "last_death": c.last_death, "rejected": c.rejected,
                })
            })
            .collect();
        let gaps: Vec<Value> = coverage
            .pending_gaps()
            .into_iter()
            .map(|g| json!({"queue_id": g.queue_id, "from_ms": g.from_ms, "to_ms": g.to_ms, "truncated_from_ms": g.truncated_from_ms}))
            .collect();
        self.pending_gaps.set(gaps.len() as f64);
        let (backfill, progress) = match self.backfill.lock() {
            Ok(b) => {
                // Gaps finished since start, out of those finished or pending: what a terminal shows.
                let progress = json!({
                    "label": "backfill",
                    "done": b.gaps_done,
                    "total": b.gaps_done + gaps.len() as u64,
                    "note": format!("{} conversations", b.conversations),
                });
                (serde_json::to_value(&*b).unwrap_or(Value::Null), progress)
            }
            Err(_) => (Value::Null, Value::Null),
        };
        let counts = Counts {
            live_records: records.live,
            backfilled_records: records.backfilled,
            duplicates_suppressed: records.duplicates_suppressed,
            stale_dropped: records.stale_dropped,
            bad_bodies,
            truncated_gaps: watermarks.truncated_gaps(),
        };
        let summary = Summary {
            live_records: Some(records.live),
            backfilled_records: Some(records.backfilled),
            partitions_covered: Some(view.iter().filter(|q| q.covered).count() as u64),
            partitions_total: Some(view.len() as u64),
            open_gaps: Some(gaps.len() as u64),
            lag_seconds: view.iter().filter_map(|q| q.watermark_ms).min().map(|w| (now - w).max(0) as f64 / 1000.0),
            source: Some(format!("{open}/{} channels open", channels.len())),
        };
        ctx.status().set_detail(json!({
            "tenant": self.tenant,
            SUMMARY_KEY: summary,
            "channels": now_channels,
            "queues": queues,
            "gaps": gaps,
            "backfill": backfill,
            "progress": progress,
            "counts": counts,
        }));
        // Pending gaps are normal work (shown in the detail); a queue without coverage, or a
        // backfill that keeps failing, is not.
        let uncovered = view.iter().filter(|q| !q.covered).count();
        let backfill_error = self.backfill.lock().ok().and_then(|b| b.last_error.clone());
        if uncovered > 0 && (open > 0 || channels.iter().any(|c| c.last_death.is_some())) {
            ctx.status().set_health(Health::Degraded(format!("{uncovered} queue(s) without coverage")));
        } else if let Some(error) = backfill_error {
            ctx.status().set_health(Health::Degraded(format!("backfill failing: {error}")));
        } else if uncovered == 0 {
            ctx.status().set_health(Health::Healthy);
        }
    }
}
