//! `tributary simulate genesys` and `tributary simulate verify`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use genesys_cloud_sim::{ObservedRecord, Truth, VerifyOptions, verify};
use rdkafka::config::ClientConfig;
use serde_json::Value;
use tributary::avro::Decoder;
use tributary::tail::{TailOptions, tail};

/// Runs a simulated Genesys Cloud org until Ctrl-C, printing the URLs and credentials to point
/// a client at.
pub async fn genesys(config: Option<&Path>, faults: Option<&Path>, time_scale: Option<f64>) -> Result<ExitCode> {
    let config = genesys_cloud_sim::load_config(config, faults, time_scale).context("simulator config")?;
    genesys_cloud_sim::run_standalone(config).await.context("simulator")?;
    Ok(ExitCode::SUCCESS)
}

/// What `verify` checks.
pub struct VerifyArgs {
    pub truth: PathBuf,
    pub topic: String,
    pub queues: Vec<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// Reads `topic` to its end (decoded through the registry) and checks it against a simulated
/// org's ground truth: conversations missing, final states missing, duplicates, latency.
/// Exits non-zero when anything is missing.
pub async fn verify_topic(args: VerifyArgs, consumer: &ClientConfig, decoder: &Decoder) -> Result<ExitCode> {
    let truth = Truth::read_jsonl(&args.truth).with_context(|| format!("cannot read {}", args.truth.display()))?;
    let queues: BTreeSet<String> = if args.queues.is_empty() {
        truth.snapshots.iter().map(|s| s.queue_id.clone()).collect()
    } else {
        args.queues.into_iter().collect()
    };
    let first = truth.snapshots.iter().map(|s| s.generated_ms).min().unwrap_or(0);
    let last = truth.snapshots.iter().map(|s| s.generated_ms).max().unwrap_or(0);
    let options = TailOptions {
        topic: args.topic.clone(),
        from_beginning: true,
        limit: None,
        idle_exit: Some(Duration::from_secs(5)),
    };
    let mut observed = Vec::new();
    let mut unreadable = 0usize;
    tail(consumer, decoder, &options, |record| match observed_record(&record) {
        Some(r) => observed.push(r),
        None => unreadable += 1,
    })
    .await?;
    let window = VerifyOptions::new(queues, args.from_ms.unwrap_or(first), args.to_ms.unwrap_or(last));
    let report = verify(&truth, &observed, &window);
    println!("{}", report.summary());
    if unreadable > 0 {
        println!("{unreadable} record(s) of {} are not conversation events and were ignored", args.topic);
    }
    if report.missing.is_empty() && report.final_state_missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow!(
            "{} conversation(s) missing, {} final state(s) missing",
            report.missing.len(),
            report.final_state_missing.len()
        ))
    }
}

/// A `tail` record as the verifier's input: the value's fields plus where Kafka put it.
fn observed_record(record: &Value) -> Option<ObservedRecord> {
    let mut value = record.get("value")?.clone();
    let object = value.as_object_mut()?;
    object.insert("kafka_partition".into(), record.get("partition")?.clone());
    object.insert("kafka_offset".into(), record.get("offset")?.clone());
    ObservedRecord::from_json(&value).ok()
}
