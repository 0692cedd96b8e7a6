//! The verifier: compares the ground truth with what a pipeline wrote to Kafka.
//!
//! Pure logic, no Kafka client: the caller reads the topic and hands over [`ObservedRecord`]s
//! (or JSON objects with the same snake_case fields, see [`ObservedRecord::from_json`]).
//!
//! Definitions:
//! - **Expected conversation**: one with at least one truth snapshot on a subscribed queue's topic
//!   generated inside the window `[window_start_ms, window_end_ms]`. **Missing**: an expected
//!   conversation with no record at all.
//! - **Final state**: for an expected conversation that truth says ended at `E` (ms) with the end
//!   snapshot generated inside the window, the *last* record for that conversation in Kafka order
//!   (highest offset; records of one key belong in one partition) must show
//!   `conversation_end_ms` within `end_tolerance_ms` (default 1 ms) of `E`. This is what a
//!   downstream consumer treating the topic as upserts per key (or a compacted topic) ends up
//!   with; a stale record written after the final one counts as a missing final state even though
//!   the final state was written earlier. Wrap-up after the end keeps the same end time, so a
//!   final wrap-up record satisfies this.
//! - **Duplicate**: an `event_id` that occurs more than once.
//! - **Split key**: a conversation whose records are spread over several partitions.
//! - **Unknown**: a record for a conversation the truth never generated.
//! - **Latency** (LIVE records with `receive_time_ms` only): `receive_time_ms` minus the
//!   generation time of the newest truth snapshot for the same conversation (and queue, when the
//!   record names one) generated at or before it. Matching by time is a lower bound when a record
//!   carries an older snapshot; records without a match are counted in `latency_unmatched`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::truth::Truth;

/// Where a record came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum RecordSource {
    #[serde(rename = "LIVE")]
    Live,
    #[serde(rename = "BACKFILL")]
    Backfill,
}

/// One record as read back from Kafka.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObservedRecord {
    pub conversation_id: String,
    #[serde(default)]
    pub queue_id: Option<String>,
    pub event_id: String,
    pub source: RecordSource,
    #[serde(default)]
    pub conversation_end_ms: Option<i64>,
    #[serde(default)]
    pub receive_time_ms: Option<i64>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

/// A record that cannot be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("invalid observed record: {0}")]
pub struct RecordError(pub String);

/// Unwraps Avro-JSON union encodings like `{"long": 5}` / `{"string": "x"}`.
fn unwrap_union(v: &serde_json::Value) -> &serde_json::Value {
    match v.as_object() {
        Some(o) if o.len() == 1 => match o.iter().next() {
            Some((k, inner)) if matches!(k.as_str(), "long" | "int" | "string" | "null") => inner,
            _ => v,
        },
        _ => v,
    }
}

impl ObservedRecord {
    /// Builds a record from a JSON object with the snake_case field names above (as the Avro
    /// record decodes to). Accepts plain values and Avro-JSON unions (`{"long": 1}`); `null` or a
    /// missing field is `None` for the optional ones.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, RecordError> {
        let obj = v.as_object().ok_or_else(|| RecordError("not a JSON object".into()))?;
        let get = |k: &str| obj.get(k).map(unwrap_union).filter(|x| !x.is_null());
        let string = |k: &str| -> Result<String, RecordError> {
            get(k)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .ok_or_else(|| RecordError(format!("`{k}` missing or not a string")))
        };
        let int = |k: &str| -> Result<Option<i64>, RecordError> {
            match get(k) {
                None => Ok(None),
                Some(x) => x.as_i64().map(Some).ok_or_else(|| RecordError(format!("`{k}` is not an integer"))),
            }
        };
        let source = match string("source")?.to_ascii_uppercase().as_str() {
            "LIVE" => RecordSource::Live,
            "BACKFILL" => RecordSource::Backfill,
            other => return Err(RecordError(format!("unknown source `{other}`"))),
        };
        let partition = int("kafka_partition")?.ok_or_else(|| RecordError("`kafka_partition` missing".into()))?;
        Ok(ObservedRecord {
            conversation_id: string("conversation_id")?,
            queue_id: get("queue_id").and_then(|x| x.as_str()).map(str::to_string),
            event_id: string("event_id")?,
            source,
            conversation_end_ms: int("conversation_end_ms")?,
            receive_time_ms: int("receive_time_ms")?,
            kafka_partition: i32::try_from(partition)
                .map_err(|_| RecordError("`kafka_partition` out of range".into()))?,
            kafka_offset: int("kafka_offset")?.ok_or_else(|| RecordError("`kafka_offset` missing".into()))?,
        })
    }
}

/// What to check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyOptions {
    /// Queues the pipeline was subscribed to.
    pub subscribed_queues: BTreeSet<String>,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// Allowed difference between truth and record end times (default 1 ms).
    pub end_tolerance_ms: i64,
}

impl VerifyOptions {
    /// Options for these queues and window, tolerance 1 ms.
    pub fn new(queues: impl IntoIterator<Item = String>, window_start_ms: i64, window_end_ms: i64) -> Self {
        VerifyOptions {
            subscribed_queues: queues.into_iter().collect(),
            window_start_ms,
            window_end_ms,
            end_tolerance_ms: 1,
        }
    }
}

/// A short reference to one record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordRef {
    pub event_id: String,
    pub source: RecordSource,
    pub conversation_end_ms: Option<i64>,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

impl From<&ObservedRecord> for RecordRef {
    fn from(r: &ObservedRecord) -> Self {
        RecordRef {
            event_id: r.event_id.clone(),
            source: r.source,
            conversation_end_ms: r.conversation_end_ms,
            kafka_partition: r.kafka_partition,
            kafka_offset: r.kafka_offset,
        }
    }
}

/// An expected conversation with no record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MissingConversation {
    pub conversation_id: String,
    /// Subscribed queues it touched.
    pub queue_ids: Vec<String>,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// An ended conversation whose last record does not show that end.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FinalStateProblem {
    pub conversation_id: String,
    pub expected_end_ms: i64,
    pub last_record: RecordRef,
    /// Some earlier record did show the right end (a stale record was written after it).
    pub end_seen_earlier: bool,
    pub reason: String,
}

/// An event id seen more than once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DuplicateEvent {
    pub event_id: String,
    pub conversation_id: String,
    pub count: usize,
    /// (partition, offset) of every copy.
    pub positions: Vec<(i32, i64)>,
}

/// A conversation whose records are in several partitions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitKey {
    pub conversation_id: String,
    pub partitions: Vec<i32>,
}

/// Delivery latency of LIVE records, milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatencyStats {
    pub count: usize,
    pub min_ms: i64,
    pub p50_ms: i64,
    pub p90_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
    pub mean_ms: f64,
}

/// The verifier's findings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyReport {
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub subscribed_queues: Vec<String>,
    pub expected_conversations: usize,
    pub expected_final_states: usize,
    pub observed_records: usize,
    pub live_records: usize,
    pub backfill_records: usize,
    pub observed_conversations: usize,
    pub missing: Vec<MissingConversation>,
    pub final_state_missing: Vec<FinalStateProblem>,
    pub duplicates: Vec<DuplicateEvent>,
    pub split_keys: Vec<SplitKey>,
    pub unknown_conversations: Vec<String>,
    pub latency: Option<LatencyStats>,
    pub latency_unmatched: usize,
}

impl VerifyReport {
    /// No missing conversations, final states, duplicates, split keys or unknown conversations.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.final_state_missing.is_empty()
            && self.duplicates.is_empty()
            && self.split_keys.is_empty()
            && self.unknown_conversations.is_empty()
    }

    /// A few human-readable lines.
    pub fn summary(&self) -> String {
        let ids = |v: Vec<&str>| {
            let mut s = v.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if v.len() > 5 {
                s.push_str(&format!(", … ({} more)", v.len() - 5));
            }
            s
        };
        let mut out = format!(
            "verify: {} — window {}..{} ms, {} subscribed queue(s)\n",
            if self.is_clean() { "CLEAN" } else { "PROBLEMS" },
            self.window_start_ms,
            self.window_end_ms,
            self.subscribed_queues.len()
        );
        out.push_str(&format!(
            "  expected conversations: {} (with final state: {}); observed conversations: {}; records: {} (live {}, backfill {})\n",
            self.expected_conversations,
            self.expected_final_states,
            self.observed_conversations,
            self.observed_records,
            self.live_records,
            self.backfill_records
        ));
        out.push_str(&format!(
            "  missing conversations: {}{}\n",
            self.missing.len(),
            if self.missing.is_empty() {
                String::new()
            } else {
                format!(" [{}]", ids(self.missing.iter().map(|m| m.conversation_id.as_str()).collect()))
            }
        ));
        out.push_str(&format!(
            "  final state missing: {}{}\n",
            self.final_state_missing.len(),
            if self.final_state_missing.is_empty() {
                String::new()
            } else {
                format!(" [{}]", ids(self.final_state_missing.iter().map(|m| m.conversation_id.as_str()).collect()))
            }
        ));
        let extra: usize = self.duplicates.iter().map(|d| d.count - 1).sum();
        out.push_str(&format!("  duplicate event ids: {} ({} extra records)\n", self.duplicates.len(), extra));
        if !self.split_keys.is_empty() {
            out.push_str(&format!("  conversations split across partitions: {}\n", self.split_keys.len()));
        }
        if !self.unknown_conversations.is_empty() {
            out.push_str(&format!(
                "  records for conversations not in the truth: {} [{}]\n",
                self.unknown_conversations.len(),
                ids(self.unknown_conversations.iter().map(String::as_str).collect())
            ));
        }
        match &self.latency {
            Some(l) => out.push_str(&format!(
                "  live latency over {} records: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms\n",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            )),
            None => out.push_str("  live latency: no LIVE records with receive_time_ms\n"),
        }
        out
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Compares `observed` (in any order; sorted here by partition and offset) with `truth`.
pub fn verify(truth: &Truth, observed: &[ObservedRecord], opts: &VerifyOptions) -> VerifyReport {
    let in_window = |ms: i64| ms >= opts.window_start_ms && ms <= opts.window_end_ms;
    // Expected conversations and their end.
    let mut expected: BTreeMap<&str, (BTreeSet<&str>, i64, Option<i64>)> = BTreeMap::new();
    let mut ended_at: HashMap<&str, (i64, i64)> = HashMap::new();
    for s in &truth.snapshots {
        if s.ended
            && !ended_at.contains_key(s.conversation_id.as_str())
            && let Some(end) = s.conversation_end_ms
        {
            ended_at.insert(&s.conversation_id, (end, s.generated_ms));
        }
        if opts.subscribed_queues.contains(&s.queue_id) && in_window(s.generated_ms) {
            let e = expected.entry(&s.conversation_id).or_insert((BTreeSet::new(), s.conversation_start_ms, None));
            e.0.insert(&s.queue_id);
        }
    }
    for (id, e) in expected.iter_mut() {
        e.2 = ended_at.get(id).map(|(end, _)| *end);
    }
    let known: BTreeSet<&str> = truth.snapshots.iter().map(|s| s.conversation_id.as_str()).collect();

    let mut records: Vec<&ObservedRecord> = observed.iter().collect();
    records.sort_by_key(|r| (r.kafka_partition, r.kafka_offset));
    let mut by_conv: BTreeMap<&str, Vec<&ObservedRecord>> = BTreeMap::new();
    let mut by_event: BTreeMap<&str, Vec<&ObservedRecord>> = BTreeMap::new();
    for r in &records {
        by_conv.entry(&r.conversation_id).or_default().push(r);
        by_event.entry(&r.event_id).or_default().push(r);
    }

    let missing: Vec<MissingConversation> = expected
        .iter()
        .filter(|(id, _)| !by_conv.contains_key(*id))
        .map(|(id, (queues, start, end))| MissingConversation {
            conversation_id: id.to_string(),
            queue_ids: queues.iter().map(|q| q.to_string()).collect(),
            start_ms: *start,
            end_ms: *end,
        })
        .collect();

    let mut expected_final = 0;
    let mut final_state_missing = Vec::new();
    for (id, _) in expected.iter() {
        let Some((end, ended_generated)) = ended_at.get(id) else { continue };
        if *ended_generated > opts.window_end_ms {
            continue;
        }
        expected_final += 1;
        let Some(recs) = by_conv.get(id) else { continue };
        let Some(last) = recs.last() else { continue };
        let ok = |r: &&ObservedRecord| r.conversation_end_ms.is_some_and(|e| (e - end).abs() <= opts.end_tolerance_ms);
        if ok(last) {
            continue;
        }
        let seen_earlier = recs.iter().any(ok);
        let reason = match last.conversation_end_ms {
            None if seen_earlier => "the last record shows the conversation open; an earlier record showed its end",
            None => "no record shows the conversation ended",
            Some(_) => "the last record shows a different end time",
        };
        final_state_missing.push(FinalStateProblem {
            conversation_id: id.to_string(),
            expected_end_ms: *end,
            last_record: RecordRef::from(*last),
            end_seen_earlier: seen_earlier,
            reason: reason.into(),
        });
    }

    let duplicates = by_event
        .iter()
        .filter(|(_, rs)| rs.len() > 1)
        .map(|(eid, rs)| DuplicateEvent {
            event_id: eid.to_string(),
            conversation_id: rs[0].conversation_id.clone(),
            count: rs.len(),
            positions: rs.iter().map(|r| (r.kafka_partition, r.kafka_offset)).collect(),
        })
        .collect();

    let split_keys = by_conv
        .iter()
        .filter_map(|(id, rs)| {
            let parts: BTreeSet<i32> = rs.iter().map(|r| r.kafka_partition).collect();
            (parts.len() > 1)
                .then(|| SplitKey { conversation_id: id.to_string(), partitions: parts.into_iter().collect() })
        })
        .collect();

    let unknown_conversations =
        by_conv.keys().filter(|id| !known.contains(*id)).map(|id| id.to_string()).collect::<Vec<_>>();

    // Latency.
    let mut gen_times: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    let mut gen_any: HashMap<&str, Vec<i64>> = HashMap::new();
    for s in &truth.snapshots {
        gen_times.entry((&s.conversation_id, &s.queue_id)).or_default().push(s.generated_ms);
        gen_any.entry(&s.conversation_id).or_default().push(s.generated_ms);
    }
    let mut lat = Vec::new();
    let mut unmatched = 0;
    for r in records.iter().filter(|r| r.source == RecordSource::Live) {
        let Some(rt) = r.receive_time_ms else { continue };
        let times = match &r.queue_id {
            Some(q) => gen_times.get(&(r.conversation_id.as_str(), q.as_str())),
            None => gen_any.get(r.conversation_id.as_str()),
        };
        match times.and_then(|ts| ts.iter().filter(|t| **t <= rt).max()) {
            Some(t) => lat.push(rt - t),
            None => unmatched += 1,
        }
    }
    lat.sort_unstable();
    let latency = (!lat.is_empty()).then(|| LatencyStats {
        count: lat.len(),
        min_ms: lat[0],
        p50_ms: percentile(&lat, 50.0),
        p90_ms: percentile(&lat, 90.0),
        p99_ms: percentile(&lat, 99.0),
        max_ms: lat[lat.len() - 1],
        mean_ms: lat.iter().sum::<i64>() as f64 / lat.len() as f64,
    });

    VerifyReport {
        window_start_ms: opts.window_start_ms,
        window_end_ms: opts.window_end_ms,
        subscribed_queues: opts.subscribed_queues.iter().cloned().collect(),
        expected_conversations: expected.len(),
        expected_final_states: expected_final,
        observed_records: records.len(),
        live_records: records.iter().filter(|r| r.source == RecordSource::Live).count(),
        backfill_records: records.iter().filter(|r| r.source == RecordSource::Backfill).count(),
        observed_conversations: by_conv.len(),
        missing,
        final_state_missing,
        duplicates,
        split_keys,
        unknown_conversations,
        latency,
        latency_unmatched: unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50.0), 5);
        assert_eq!(percentile(&v, 90.0), 9);
        assert_eq!(percentile(&v, 99.0), 10);
    }

    #[test]
    fn json_adapter_accepts_avro_unions() {
        let v = serde_json::json!({
            "conversation_id": "c1", "queue_id": {"string": "q1"}, "event_id": "e1", "source": "LIVE",
            "conversation_end_ms": {"long": 5}, "receive_time_ms": null, "kafka_partition": 0, "kafka_offset": 7
        });
        let r = ObservedRecord::from_json(&v);
        assert!(
            matches!(&r, Ok(r) if r.conversation_end_ms == Some(5) && r.queue_id.as_deref() == Some("q1")),
            "{r:?}"
        );
        assert!(ObservedRecord::from_json(&serde_json::json!({"conversation_id": "c"})).is_err());
    }
}
