//! Ground truth: every snapshot generated, whether and where it was delivered, and every fault.
//!
//! One [`TruthSnapshot`] per (state change × queue topic): a conversation that touched two queues
//! produces two per change. `deliveries` lists each socket write that completed; an empty list
//! means the snapshot never reached any socket (no subscriber, no connected socket, a half-open
//! socket, or a dead channel). Queryable in-process ([`Truth`]) and dumpable as JSON lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::faults::FaultRecord;

/// One completed socket write of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub channel_id: String,
    /// Connection id (unique per accepted socket).
    pub socket_id: u64,
    pub wall_ms: i64,
}

/// One generated snapshot on one queue topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthSnapshot {
    pub seq: u64,
    pub conversation_id: String,
    pub queue_id: String,
    pub topic: String,
    /// Wall time the state change happened (ms since epoch).
    pub generated_ms: i64,
    /// Lifecycle step: queued, abandoned, alerting, connected, transferred, disconnected, wrapup.
    pub phase: String,
    /// Every participant has an end time.
    pub ended: bool,
    pub conversation_start_ms: i64,
    pub conversation_end_ms: Option<i64>,
    pub wrapup_code: Option<String>,
    /// Live channels subscribed to the topic when it was generated.
    pub subscribed_channels: Vec<String>,
    pub deliveries: Vec<Delivery>,
    /// The `eventBody` (when `truth.keep_bodies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// What the generator hands the truth store.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotInput {
    pub conversation_id: String,
    pub queue_id: String,
    pub topic: String,
    pub generated_ms: i64,
    pub phase: String,
    pub ended: bool,
    pub conversation_start_ms: i64,
    pub conversation_end_ms: Option<i64>,
    pub wrapup_code: Option<String>,
    pub subscribed_channels: Vec<String>,
    pub body: Option<serde_json::Value>,
}

/// The store behind [`Truth`].
#[derive(Debug, Default)]
pub(crate) struct TruthStore {
    snapshots: Vec<TruthSnapshot>,
    faults: Vec<FaultRecord>,
}

impl TruthStore {
    pub fn record(&mut self, s: SnapshotInput) -> u64 {
        let seq = self.snapshots.len() as u64;
        self.snapshots.push(TruthSnapshot {
            seq,
            conversation_id: s.conversation_id,
            queue_id: s.queue_id,
            topic: s.topic,
            generated_ms: s.generated_ms,
            phase: s.phase,
            ended: s.ended,
            conversation_start_ms: s.conversation_start_ms,
            conversation_end_ms: s.conversation_end_ms,
            wrapup_code: s.wrapup_code,
            subscribed_channels: s.subscribed_channels,
            deliveries: Vec::new(),
            body: s.body,
        });
        seq
    }

    pub fn mark_delivered(&mut self, seq: u64, channel_id: &str, socket_id: u64, wall_ms: i64) {
        if let Some(s) = usize::try_from(seq).ok().and_then(|i| self.snapshots.get_mut(i)) {
            s.deliveries.push(Delivery { channel_id: channel_id.to_string(), socket_id, wall_ms });
        }
    }

    pub fn log_fault(&mut self, f: FaultRecord) {
        self.faults.push(f);
    }

    pub fn snapshot(&self) -> Truth {
        Truth { snapshots: self.snapshots.clone(), faults: self.faults.clone() }
    }
}

/// Per-conversation summary derived from the snapshots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationTruth {
    pub conversation_id: String,
    /// Queues in the order the conversation touched them.
    pub queue_ids: Vec<String>,
    pub start_ms: i64,
    /// Time of the first snapshot.
    pub first_generated_ms: i64,
    /// Time of the last snapshot.
    pub last_generated_ms: i64,
    /// The end time, once ended.
    pub end_ms: Option<i64>,
    pub wrapup_code: Option<String>,
    /// The last lifecycle step seen.
    pub last_phase: String,
    /// Snapshots (per topic) generated / delivered to at least one socket.
    pub snapshots: usize,
    pub delivered: usize,
}

/// A copy of the truth at one moment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Truth {
    pub snapshots: Vec<TruthSnapshot>,
    pub faults: Vec<FaultRecord>,
}

#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Line<'a> {
    Snapshot(&'a TruthSnapshot),
    Fault(&'a FaultRecord),
}

impl Truth {
    /// Summaries keyed by conversation id.
    pub fn conversations(&self) -> BTreeMap<String, ConversationTruth> {
        let mut out: BTreeMap<String, ConversationTruth> = BTreeMap::new();
        for s in &self.snapshots {
            let c = out.entry(s.conversation_id.clone()).or_insert_with(|| ConversationTruth {
                conversation_id: s.conversation_id.clone(),
                queue_ids: Vec::new(),
                start_ms: s.conversation_start_ms,
                first_generated_ms: s.generated_ms,
                last_generated_ms: s.generated_ms,
                end_ms: None,
                wrapup_code: None,
                last_phase: s.phase.clone(),
                snapshots: 0,
                delivered: 0,
            });
            if !c.queue_ids.contains(&s.queue_id) {
                c.queue_ids.push(s.queue_id.clone());
            }
            c.first_generated_ms = c.first_generated_ms.min(s.generated_ms);
            if s.generated_ms >= c.last_generated_ms {
                c.last_generated_ms = s.generated_ms;
                c.last_phase = s.phase.clone();
            }
            if s.conversation_end_ms.is_some() {
                c.end_ms = s.conversation_end_ms;
            }
            if s.wrapup_code.is_some() {
                c.wrapup_code = s.wrapup_code.clone();
            }
            c.snapshots += 1;
            c.delivered += usize::from(!s.deliveries.is_empty());
        }
        out
    }

    /// Snapshots of one conversation, in generation order.
    pub fn for_conversation(&self, conversation_id: &str) -> Vec<&TruthSnapshot> {
        self.snapshots.iter().filter(|s| s.conversation_id == conversation_id).collect()
    }

    /// Snapshots that reached no socket.
    pub fn undelivered(&self) -> Vec<&TruthSnapshot> {
        self.snapshots.iter().filter(|s| s.deliveries.is_empty()).collect()
    }

    /// Writes one JSON object per line: `{"record":"snapshot",…}` then `{"record":"fault",…}`.
    pub fn write_jsonl(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let err = |source| SimError::Write { path: path.display().to_string(), source };
        let file = std::fs::File::create(path).map_err(err)?;
        let mut w = std::io::BufWriter::new(file);
        for s in &self.snapshots {
            let line = serde_json::to_string(&Line::Snapshot(s)).unwrap_or_default();
            writeln!(w, "{line}").map_err(err)?;
        }
        for f in &self.faults {
            let line = serde_json::to_string(&Line::Fault(f)).unwrap_or_default();
            writeln!(w, "{line}").map_err(err)?;
        }
        w.flush().map_err(err)
    }

    /// Reads a file written by [`Truth::write_jsonl`].
    pub fn read_jsonl(path: impl AsRef<Path>) -> Result<Truth> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::Read { path: path.display().to_string(), source })?;
        let mut truth = Truth::default();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let parse_err = |e: serde_json::Error| SimError::Parse {
                what: format!("{} line {}", path.display(), n + 1),
                message: e.to_string(),
            };
            let mut v: serde_json::Value = serde_json::from_str(line).map_err(parse_err)?;
            let kind = v.get("record").and_then(|r| r.as_str()).unwrap_or("").to_string();
            if let Some(o) = v.as_object_mut() {
                o.remove("record");
            }
            match kind.as_str() {
                "snapshot" => truth.snapshots.push(serde_json::from_value(v).map_err(parse_err)?),
                "fault" => truth.faults.push(serde_json::from_value(v).map_err(parse_err)?),
                other => {
                    return Err(SimError::Parse {
                        what: format!("{} line {}", path.display(), n + 1),
                        message: format!("unknown record kind `{other}`"),
                    });
                }
            }
        }
        Ok(truth)
    }
}
