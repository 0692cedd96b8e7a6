//! `tributary offsets list|reset` and `tributary tail` against a running `tributary run`, through
//! the broker and registry addresses it prints at start-up.

use std::time::{Duration, Instant};

use serde_json::Value;
use tributary::datagen::FillerPool;
use tributary_test_support::{cli::*, datagen::*};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const TIMEOUT: Duration = Duration::from_secs(60);
const COUNT: i64 = 50;
const SEED: u64 = 5;

fn list(config: &str, bootstrap: &str) -> Vec<Value> {
    let out = cli(
        TRIBUTARY,
        &["offsets", "list", "--config", config, "--bootstrap-servers", bootstrap, "--connector", "gen"],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "offsets list: {out:?}");
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn offsets_and_tail_work_against_a_running_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = run_config(
        dir.path(),
        &format!("  - {{name: gen, class: datagen, topic: cli.records, count: {COUNT}, generators: 2, seed: {SEED}}}"),
    );
    let config = config_path.display().to_string();
    let mut run = RunningCli::start(TRIBUTARY, &config_path);
    let (bootstrap, registry_url) = run.endpoints();
    assert!(
        bootstrap.starts_with("127.0.0.1:") && registry_url.starts_with("http://127.0.0.1:"),
        "{bootstrap} {registry_url}"
    );

    // Without the addresses, the embedded services cannot be found: a clear error, not a hang.
    let out = cli(TRIBUTARY, &["offsets", "list", "--config", &config, "--connector", "gen"], TIMEOUT);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("pass the address it printed at start-up as --bootstrap-servers"), "{}", out.stderr);

    let expected = serde_json::json!([
        {"partition": {"generator": "0"}, "offset": {"seq": COUNT - 1}},
        {"partition": {"generator": "1"}, "offset": {"seq": COUNT - 1}},
    ]);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let listed = Value::Array(list(&config, &bootstrap));
        if listed == expected {
            break;
        }
        assert!(Instant::now() < deadline, "offsets never reached {expected}; last {listed}\n{}", run.output());
        std::thread::sleep(Duration::from_millis(200));
    }

    let limit = (2 * COUNT).to_string();
    let out = cli(
        TRIBUTARY,
        &[
            "tail",
            "--config",
            &config,
            "--bootstrap-servers",
            &bootstrap,
            "--registry-url",
            &registry_url,
            "--topic",
            "cli.records",
            "--from-beginning",
            "-n",
            &limit,
        ],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "tail: {out:?}");
    let records: Vec<Value> =
        out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(records.len() as i64, 2 * COUNT);
    let pool = FillerPool::new(SEED, 500);
    for r in &records {
        let key = r["key"].as_str().map(str::as_bytes);
        check_datagen_record(&pool, SEED, key, &r["value"], r["timestamp"].as_i64());
        assert!(r["partition"].is_i64() && r["offset"].is_i64(), "{r}");
    }
    let values: Vec<Value> = records.iter().map(|r| r["value"].clone()).collect();
    assert_exactly(&seqs_by_generator(&values), 2, COUNT);

    // The connector is idle (its count is reached), so nothing overwrites the resets.
    let out = cli(
        TRIBUTARY,
        &[
            "offsets",
            "reset",
            "--config",
            &config,
            "--bootstrap-servers",
            &bootstrap,
            "--connector",
            "gen",
            "--partition",
            r#"{"generator":"0"}"#,
        ],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "reset one: {out:?}");
    assert!(out.stdout.contains("reset 1 partition(s) of connector `gen`"), "{out:?}");
    assert_eq!(Value::Array(list(&config, &bootstrap)), serde_json::json!([expected[1]]));

    let out = cli(
        TRIBUTARY,
        &["offsets", "reset", "--config", &config, "--bootstrap-servers", &bootstrap, "--connector", "gen"],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "reset all: {out:?}");
    assert!(list(&config, &bootstrap).is_empty(), "every partition reset");

    let out = cli(
        TRIBUTARY,
        &[
            "offsets",
            "reset",
            "--config",
            &config,
            "--bootstrap-servers",
            &bootstrap,
            "--connector",
            "gen",
            "--partition",
            "[1]",
        ],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("--partition must be a JSON object"), "{}", out.stderr);

    run.signal("TERM");
    assert_eq!(run.wait_exit(Duration::from_secs(30)).code(), Some(0), "{}", run.output());
}
