//! What a person running `tributary run` sees: on a terminal (a real pseudo-terminal here), a
//! table of connectors within 5 s of start, redrawn in place below the log, in colour unless
//! `NO_COLOR`; without a terminal, a `summary` log line per connector and no escape codes at all;
//! with JSON logs, the summary as fields; and `tributary status` (once and `--watch`) printing the
//! same table from another process.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tributary_test_support::cli::*;
use tributary_test_support::rest::http_get_blocking;
use tributary_test_support::{workspace, write_file};

const TRIBUTARY: &str = env!("CARGO_BIN_EXE_tributary");

/// Embedded broker and registry, a Genesys connector on a simulated org and a datagen one.
fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let text = format!(
        r#"kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 1s}}
schema_registry: {{url: embedded}}
schemas_dir: {schemas}
api: {{listen: "127.0.0.1:0"}}
logging: {{level: info{extra}}}
connectors:
  - name: genesys-view
    class: genesys-cloud
    environment: simulator
    topic: view.conversations
    simulator:
      time_scale: 10
      queues: {{count: 3}}
      traffic: {{arrivals_per_minute: 60}}
  - {{name: datagen-view, class: datagen, topic: view.records, rate: 50, record_bytes: 100}}
"#,
        schemas = workspace().join("schemas").display()
    );
    write_file(dir, "config.yaml", &text)
}

/// Everything `reader` yields, raw, collected by a thread until it ends or fails.
fn collect(mut reader: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
        }
    });
    output
}

/// `tributary run` on the slave side of a new pseudo-terminal of 120 columns; everything it
/// writes is collected raw, escape codes included.
struct OnTerminal {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    started: Instant,
}

impl OnTerminal {
    fn start(config: &Path, no_color: bool) -> Self {
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize { ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty writes two new descriptors into the given ints; the name buffer and
        // termios are not used.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just created and are owned here alone.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut command = Command::new(TRIBUTARY);
        command.args(["run", "--config"]).arg(config).env_remove("RUST_LOG").env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("the tributary binary starts");
        let started = Instant::now();
        // Reading ends with EIO once the child (the last holder of the slave) has exited.
        let output = collect(std::fs::File::from(master));
        Self { child, output, started }
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Waits until the raw output satisfies `done`; returns the time since start.
    fn wait_for(&mut self, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            let raw = self.raw();
            if done(&raw) {
                return self.started.elapsed();
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("tributary exited ({status}) before {what}:\n{}", strip_ansi(&raw));
            }
            assert!(Instant::now() < deadline, "no {what} within {timeout:?}:\n{}", strip_ansi(&raw));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OnTerminal {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The start of a view line showing `name` RUNNING with a live rate, colours removed.
fn shows_running(raw: &str, name: &str) -> bool {
    strip_ansi(raw).lines().any(|l| l.starts_with(name) && l.split_whitespace().nth(1) == Some("RUNNING"))
}

#[test]
fn on_a_terminal_the_view_appears_within_5s_below_the_log_in_colour() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), "");
    let mut run = OnTerminal::start(&config, false);
    let started = run.wait_for("the start-up line", Duration::from_secs(30), |raw| raw.contains("connector(s)"));
    let shown = run.wait_for("the view", Duration::from_secs(30), |raw| {
        shows_running(raw, "genesys-view") && shows_running(raw, "datagen-view")
    });
    assert!(shown - started <= Duration::from_secs(5), "the view took {:?} after start", shown - started);

    // The Genesys row fills its columns: every queue covered, channels named.
    run.wait_for("the Genesys summary", Duration::from_secs(30), |raw| {
        strip_ansi(raw)
            .lines()
            .any(|l| l.starts_with("genesys-view") && l.contains("3/3") && l.contains("1/1 channels open"))
    });
    let raw = run.raw();
    let plain = strip_ansi(&raw);
    assert!(plain.contains("CONNECTOR") && plain.contains("LIVE/S") && plain.contains("COVERED"), "{plain}");
    // Redrawn in place (cursor up, clear below), with the state in colour and log lines above.
    assert!(raw.contains("A\r\x1b[J"), "the view is not redrawn in place:\n{raw:?}");
    assert!(raw.contains("\x1b[32mRUNNING\x1b[0m"), "RUNNING is not green:\n{raw:?}");
    assert!(plain.contains("connector started"), "log lines go on above the view:\n{plain}");
    for line in plain.lines().filter(|l| l.starts_with("genesys-view") || l.starts_with("datagen-view")) {
        assert!(line.chars().count() <= 120, "a view line wider than the terminal: {line}");
    }
}

#[test]
fn no_color_keeps_the_view_and_drops_the_colours() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), "");
    let mut run = OnTerminal::start(&config, true);
    run.wait_for("the view", Duration::from_secs(30), |raw| shows_running(raw, "datagen-view"));
    run.wait_for("a log line", Duration::from_secs(30), |raw| raw.contains("connector started"));
    let raw = run.raw();
    for colour in ["\x1b[32m", "\x1b[2m", "\x1b[1m", "\x1b[3m"] {
        assert!(!raw.contains(colour), "a colour ({colour:?}) with NO_COLOR:\n{raw:?}");
    }
}

#[test]
fn without_a_terminal_a_summary_line_per_connector_and_no_escape_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), ", summary_interval: 2s");
    let mut child = Command::new(TRIBUTARY)
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tributary binary starts");
    let output = collect(child.stderr.take().expect("stderr"));
    let read = || String::from_utf8_lossy(&output.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    let summary_of = |log: &str, name: &str| {
        log.lines()
            .rev()
            .find(|l| l.contains(" summary ") && l.contains(&format!("connector={name} ")))
            .map(str::to_owned)
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let line = loop {
        let log = read();
        // The first lines may lack rates (a count that was not there at the previous reading).
        let full =
            summary_of(&log, "genesys-view").filter(|l| l.contains("covered=\"3/3\"") && l.contains("live_per_s"));
        if let (Some(line), Some(_)) = (full, summary_of(&log, "datagen-view")) {
            break line;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no summary lines within 40 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let log = read();
    assert!(!log.contains('\x1b'), "escape codes in a log that is not a terminal:\n{log:?}");
    for field in ["state=RUNNING", "records_per_s=", "live_per_s=", "open_gaps=", "source=\"1/1 channels open\""] {
        assert!(line.contains(field), "no `{field}` in the summary line: {line}");
    }
    assert!(!log.contains("CONNECTOR  "), "the terminal view is drawn into a pipe:\n{log}");
}

#[test]
fn status_prints_the_table_once_and_on_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), ", summary_interval: off");
    let mut run = RunningCli::start(TRIBUTARY, &config);
    let address = run.rest_address(Duration::from_secs(30));
    run.wait_for_log("connector started", Duration::from_secs(30));
    let url = format!("http://{address}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let table = loop {
        let once = cli(TRIBUTARY, &["status", "--url", &url], Duration::from_secs(30));
        assert_eq!(once.code, Some(0), "{once:?}");
        let covered = once.stdout.lines().any(|l| l.starts_with("genesys-view") && l.contains("3/3"));
        if covered || Instant::now() > deadline {
            break once.stdout;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let mut lines = table.lines();
    assert!(lines.next().is_some_and(|h| h.starts_with("CONNECTOR") && h.contains("REC/S")), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows[0].starts_with("datagen-view") && rows[0].contains("RUNNING"), "{table}");
    assert!(rows[1].starts_with("genesys-view") && rows[1].contains("3/3"), "{table}");
    let datagen_rate: f64 = rows[0].split_whitespace().nth(2).and_then(|r| r.parse().ok()).unwrap_or(0.0);
    assert!(datagen_rate > 0.0, "the datagen rate (50/s) reads {datagen_rate}: {table}");
    assert!(!table.contains('\x1b'), "escape codes in piped output: {table:?}");

    // --watch: a heading and a table every interval, until stopped.
    let mut watch = RunningCli::spawn(TRIBUTARY, ["status", "--url", &url, "--watch", "500ms"], Collect::Stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    while watch.output().matches(&url).count() < 2 {
        assert!(Instant::now() < deadline, "fewer than two tables within 20 s:\n{}", watch.output());
        assert!(matches!(watch.child.try_wait(), Ok(None)), "status --watch exited:\n{}", watch.output());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(watch.output().matches("CONNECTOR").count() >= 2, "{}", watch.output());

    // A process that is not there is named.
    let refused = cli(TRIBUTARY, &["status", "--url", "http://127.0.0.1:9"], Duration::from_secs(30));
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("cannot reach the REST API at http://127.0.0.1:9"), "{}", refused.stderr);
}

#[test]
fn a_flapping_socket_on_twenty_queues_writes_event_lines_not_queue_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Protocol time runs 10x: a TCP reset every 3 s of real time, from 3 s on.
    let schedule: String = (1..=8).map(|i| format!("          - {{at: {}s, kind: tcp_reset}}\n", i * 30)).collect();
    let text = format!(
        r#"kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 1s}}
schema_registry: {{url: embedded}}
schemas_dir: {schemas}
api: {{listen: "127.0.0.1:0"}}
logging: {{level: info, summary_interval: off}}
connectors:
  - name: flapping
    class: genesys-cloud
    environment: simulator
    topic: flapping.conversations
    simulator:
      time_scale: 10
      queues: {{count: 20}}
      traffic: {{arrivals_per_minute: 60}}
      faults:
        schedule:
{schedule}"#,
        schemas = workspace().join("schemas").display()
    );
    let config = write_file(dir.path(), "config.yaml", &text);
    let mut run = RunningCli::start(TRIBUTARY, &config);
    let address = run.rest_address(Duration::from_secs(30));
    run.wait_for_log("connector started", Duration::from_secs(30));
    let deaths = || {
        http_get_blocking(&address, "/metrics")
            .1
            .lines()
            .filter(|l| l.starts_with("genesys_reconnects_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    while deaths() < 4.0 {
        assert!(Instant::now() < deadline, "fewer than 4 socket deaths in 40 s:\n{}", run.output());
        std::thread::sleep(Duration::from_millis(250));
    }
    run.wait_for_log("gaps to backfill", Duration::from_secs(30));
    let log = run.output();
    let lost: Vec<&str> = log.lines().filter(|l| l.contains("coverage lost")).collect();
    // Four deaths within one 30 s window: one line; the others are counted into the next one.
    assert_eq!(lost.len(), 1, "one `coverage lost` line per 30 s, not per death:\n{log}");
    assert!(lost[0].contains("queues=20"), "the line names how many queues the death touched: {}", lost[0]);
    let gaps: Vec<&str> = log.lines().filter(|l| l.contains("gaps to backfill")).collect();
    assert_eq!(gaps.len(), 1, "{log}");
    assert!(gaps[0].contains("queues=20"), "{}", gaps[0]);
    assert!(!log.contains("gap to backfill"), "a line per queue at info:\n{log}");
}

#[test]
fn json_logs_carry_the_summary_as_fields() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path(), ", format: json, summary_interval: 1s");
    let run = RunningCli::spawn(TRIBUTARY, ["run", "--config", config.to_str().expect("utf-8")], Collect::Stderr);
    let deadline = Instant::now() + Duration::from_secs(40);
    let summary = loop {
        let found = run.output().lines().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let fields = value.get("fields")?;
            (fields["message"] == "summary"
                && fields["connector"] == "datagen-view"
                && fields.get("records_per_s").is_some())
            .then(|| value.clone())
        });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no JSON summary line within 40 s:\n{}", run.output());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(summary["fields"]["state"], "RUNNING", "{summary}");
    assert_eq!(summary["target"], "tributary::summary", "{summary}");
}
