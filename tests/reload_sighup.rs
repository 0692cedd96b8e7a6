//! `tributary run` re-reads its config file on SIGHUP: a new connector starts, the running one is
//! left alone, and an invalid file is logged and changes nothing. The REST API it serves shows it.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tributary_test_support::{
    cli::RunningCli,
    rest::{get_json, wait_json},
    workspace,
};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

const WAIT: Duration = Duration::from_secs(45);

fn config(schemas: &Path, connectors: &str) -> String {
    format!(
        "kafka:\n  bootstrap_servers: embedded\n  offsets:\n    flush_interval: 500ms\n\
         schema_registry:\n  url: embedded\n\
         schemas_dir: {}\n\
         api:\n  listen: 127.0.0.1:0\n\
         connectors:\n{connectors}",
        schemas.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = workspace().join("schemas");
    let path = dir.path().join("config.yaml");
    let one = "  - {name: one, class: datagen, topic: hup.one, rate: 50, record_bytes: 100}\n";
    std::fs::write(&path, config(&schemas, one)).expect("config");

    let mut run = RunningCli::start(TRIBUTARY, &path);
    let base = format!("http://{}", run.rest_address(WAIT));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let running =
        |s: &Value| s["connector"]["state"] == "RUNNING" && s["tasks"].as_array().is_some_and(|t| !t.is_empty());
    let before = wait_json(&format!("{base}/connectors/one/status"), "one running", WAIT, running).await;

    let two = "  - {name: two, class: datagen, topic: hup.two, rate: 50, record_bytes: 100}\n";
    std::fs::write(&path, config(&schemas, &format!("{one}{two}"))).expect("config");
    run.signal("HUP");
    wait_json(&format!("{base}/connectors/two/status"), "two running", WAIT, |s| running(s)).await;
    let after = get_json(&format!("{base}/connectors/one/status")).await;
    assert_eq!(after["runtime"]["runs"], 1, "one was not restarted: {after}");
    assert_eq!(after["runtime"]["running_since"], before["runtime"]["running_since"]);
    run.wait_for_log("config reloaded", WAIT);

    // An invalid file: logged with its error, nothing changes.
    let broken = "  - {name: two, class: datagen, topic: hup.two, rate: -1}\n";
    std::fs::write(&path, config(&schemas, &format!("{one}{broken}"))).expect("config");
    run.signal("HUP");
    let rejected = run.wait_for_log("config reload rejected", WAIT);
    assert!(rejected.contains("connectors[1].rate"), "{rejected}");
    let names = get_json(&format!("{base}/connectors")).await;
    assert_eq!(names, serde_json::json!(["one", "two"]));
    assert!(running(&get_json(&format!("{base}/connectors/two/status")).await));

    run.signal("TERM");
    let status = run.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{}", run.output());
}
