//! The `tributary` command line as a child process: one command run to completion, or a
//! long-running one (`run`, `simulate`) whose output is collected for the test to wait on.
//!
//! The binary's path is the caller's to give: a test of the root crate passes
//! `env!("CARGO_BIN_EXE_tributary")`. Children run without `RUST_LOG`, with `NO_COLOR=1`.

use std::ffi::OsStr;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{workspace, write_file};

/// Output of one finished CLI command.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

fn command(binary: &Path, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Command {
    let mut command = Command::new(binary);
    command.args(args).env_remove("RUST_LOG").env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

/// Runs `BINARY ARGS` to completion (killed, and the test failed, after `timeout`), without
/// `TRIBUTARY_CONFIG` either.
pub fn cli(binary: &str, args: &[&str], timeout: Duration) -> CliOutput {
    let mut child = command(Path::new(binary), args)
        .env_remove("TRIBUTARY_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tributary binary starts");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = read_all(Box::new(child.stdout.take().expect("stdout")));
    let err = read_all(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`tributary {}` did not finish within {timeout:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: strip_ansi(&err.join().expect("stderr reader")),
    }
}

/// Removes terminal colour sequences from log text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Which output of a [`RunningCli`] is collected (the other is discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    Stdout,
    Stderr,
}

/// A long-running `tributary` child process; killed on drop if still running.
pub struct RunningCli {
    pub child: Child,
    output: Arc<Mutex<String>>,
}

impl RunningCli {
    /// `BINARY run --config CONFIG`, its log (stderr) collected.
    pub fn start(binary: &str, config: &Path) -> Self {
        Self::spawn(binary, [OsStr::new("run"), OsStr::new("--config"), config.as_os_str()], Collect::Stderr)
    }

    /// `BINARY ARGS`, collecting `collect`.
    pub fn spawn(binary: &str, args: impl IntoIterator<Item = impl AsRef<OsStr>>, collect: Collect) -> Self {
        let mut command = command(Path::new(binary), args);
        let (stdout, stderr) = match collect {
            Collect::Stdout => (Stdio::piped(), Stdio::null()),
            Collect::Stderr => (Stdio::null(), Stdio::piped()),
        };
        let mut child = command.stdout(stdout).stderr(stderr).spawn().expect("the tributary binary starts");
        let pipe: Box<dyn Read + Send> = match collect {
            Collect::Stdout => Box::new(child.stdout.take().expect("stdout")),
            Collect::Stderr => Box::new(child.stderr.take().expect("stderr")),
        };
        let output = Arc::new(Mutex::new(String::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&strip_ansi(&line));
                s.push('\n');
            }
        });
        Self { child, output }
    }

    /// Everything collected so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until a line contains `text` and returns the first such line; panics (showing the
    /// output) after `timeout` or if the process exits first.
    pub fn wait_for_log(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if let Some(line) = output.lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("tributary exited ({status}) before writing `{text}`:\n{output}");
            }
            assert!(Instant::now() < deadline, "no `{text}` within {timeout:?}:\n{output}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first word after `label` in the output, once `label` appeared (see [`Self::wait_for_log`]).
    pub fn value_after(&mut self, label: &str, timeout: Duration) -> String {
        let line = self.wait_for_log(label, timeout);
        let start = line.find(label).expect("the label is in its line") + label.len();
        line[start..].split_whitespace().next().unwrap_or_default().to_owned()
    }

    /// `(bootstrap servers, registry url)` from the start-up hint `run` prints.
    pub fn endpoints(&mut self) -> (String, String) {
        let timeout = Duration::from_secs(30);
        (self.value_after("--bootstrap-servers ", timeout), self.value_after("--registry-url ", timeout))
    }

    /// `HOST:PORT` of the REST API, from the line `run` logs when it serves it.
    pub fn rest_address(&mut self, timeout: Duration) -> String {
        self.value_after("REST API at http://", timeout)
    }

    /// Sends `signal` (e.g. `TERM`, `INT`, `HUP`, `KILL`) to this child, by its pid.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "tributary still running after {timeout:?}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningCli {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A config file for `tributary run` in `dir`: embedded broker and registry, the workspace's
/// schemas, no REST API, and `connectors` (YAML list items).
pub fn run_config(dir: &Path, connectors: &str) -> PathBuf {
    let text = format!(
        r#"kafka:
  bootstrap_servers: embedded
  offsets: {{flush_interval: 300ms}}
schema_registry: {{url: embedded}}
schemas_dir: {schemas}
api: {{enabled: false}}
logging: {{level: info}}
connectors:
{connectors}
"#,
        schemas = workspace().join("schemas").display()
    );
    write_file(dir, "config.yaml", &text)
}
