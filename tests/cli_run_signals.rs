//! `tributary run` stops cleanly on SIGTERM and SIGINT: tasks stopped, records flushed, offsets
//! committed, exit code 0, within a bounded time.

use std::time::Duration;

use tributary_test_support::cli::*;

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = run_config(
        dir.path(),
        "  - {name: gen, class: datagen, topic: signal.records, rate: 200, generators: 2, record_bytes: 200}",
    );
    let mut run = RunningCli::start(TRIBUTARY, &config);
    run.wait_for_log("running 1 connector(s)", Duration::from_secs(30));
    run.wait_for_log("connector started", Duration::from_secs(30));
    // Let records flow, so that there is something to commit on the way out.
    std::thread::sleep(Duration::from_millis(800));

    run.signal(signal);
    let status = run.wait_exit(Duration::from_secs(30));
    let log = run.output();
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}:\n{log}");
    for expected in
        ["stopping: flushing records and committing offsets", "final offsets committed", "connector stopped"]
    {
        assert!(log.contains(expected), "no `{expected}` after SIG{signal}:\n{log}");
    }
    let committed = log.lines().find(|l| l.contains("final offsets committed")).expect("the commit line");
    assert!(committed.contains("partitions_changed=2"), "both generators committed: {committed}");
    assert!(!log.contains("final offset commit failed"), "{log}");
}

#[test]
fn sigterm_commits_offsets_and_exits_zero() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_commits_offsets_and_exits_zero() {
    stops_cleanly_on("INT");
}
