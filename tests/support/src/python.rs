//! The Python test environment (`.venv` at the workspace root, from
//! `tests/python/requirements.txt`, or `TRIBUTARY_PYTHON`): finding it, skipping loudly without
//! it when asked to, running its scripts, and reading datagen records with Confluent's consumer.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tributary::datagen::FillerPool;

use crate::datagen::{assert_exactly, check_datagen_record, seqs_by_generator};
use crate::workspace;

/// The Python interpreter of the test environment: `TRIBUTARY_PYTHON` when set and not empty,
/// else the workspace's `.venv`, else `None`.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRIBUTARY_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let venv = workspace().join(".venv/bin/python");
    venv.exists().then_some(venv)
}

/// [`python`], or a loud skip (`TRIBUTARY_SKIP_PYTHON=1`: `None`), or a failure telling how to set
/// the environment up.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(python) = python() {
        return Some(python);
    }
    if std::env::var("TRIBUTARY_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED: {test} (TRIBUTARY_SKIP_PYTHON=1) ***\n");
        return None;
    }
    panic!(
        "no Python environment for {test}: run `.ci/run` (it creates .venv from tests/python/requirements.txt), \
         set TRIBUTARY_PYTHON to an interpreter with those packages, or set TRIBUTARY_SKIP_PYTHON=1 to skip"
    );
}

/// `tests/python/NAME` of the workspace.
pub fn script(name: &str) -> PathBuf {
    workspace().join("tests/python").join(name)
}

/// Runs `python script ARGS` with `envs` added, to completion; panics if it cannot start or has
/// not finished within `timeout` (then it is killed).
pub async fn run_script(
    python: &Path,
    script: &Path,
    args: &[&str],
    envs: &[(&str, &OsStr)],
    timeout: Duration,
) -> Output {
    let mut command = tokio::process::Command::new(python);
    command.arg(script).args(args).envs(envs.iter().copied()).kill_on_drop(true);
    tokio::time::timeout(timeout, command.output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {timeout:?}", script.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()))
}

/// Reads `count` datagen records of `topic` with Confluent's Python consumer and
/// `AvroDeserializer` (`tests/python/consume_datagen.py`), trusting `registry_ca` for an https
/// registry: one JSON object per record (`partition`, `offset`, `timestamp`, `key`, `schema_id`,
/// `value`). Two minutes at most.
pub async fn python_consume_datagen(
    python: &Path,
    bootstrap: &str,
    registry_url: &str,
    topic: &str,
    count: i64,
    registry_ca: Option<&Path>,
) -> Vec<Value> {
    let count = count.to_string();
    let envs: Vec<(&str, &OsStr)> = registry_ca.map(|ca| ("REGISTRY_CA", ca.as_os_str())).into_iter().collect();
    let args = [bootstrap, registry_url, topic, &count, "60"];
    let output = run_script(python, &script("consume_datagen.py"), &args, &envs, Duration::from_secs(120)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python consumer failed ({}):\n{stderr}", output.status);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Checks what [`python_consume_datagen`] read: every record under `schema_id`, each one what
/// the generator makes for its seq, and each of `generators` holding exactly seqs `0..count`.
pub fn assert_python_read_datagen(lines: &[Value], schema_id: u32, seed: u64, generators: i64, count: i64) {
    assert_eq!(lines.len() as i64, generators * count);
    let pool = FillerPool::new(seed, 500);
    for line in lines {
        assert_eq!(line["schema_id"].as_u64(), Some(u64::from(schema_id)), "{line}");
        let key = line["key"].as_str().map(str::as_bytes);
        check_datagen_record(&pool, seed, key, &line["value"], line["timestamp"].as_i64());
    }
    let values: Vec<Value> = lines.iter().map(|l| l["value"].clone()).collect();
    assert_exactly(&seqs_by_generator(&values), generators, count);
}
