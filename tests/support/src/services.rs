//! Child processes tied to the life of the test process: the Java services (`scripts/*.sh run`)
//! and anything else a test or benchmark starts and must not leave behind.
//!
//! [`spawn_kept`] spawns from a thread that lives as long as the test process and asks the kernel
//! to SIGTERM the child when that thread ends, so a finished, panicking or killed test binary
//! leaves no JVM behind. [`start_service`] adds the wait until a service is ready, failing with
//! the end of its output.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::workspace;

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port()
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 (plain HTTP/1.0, no client library).
pub fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Fails the test with the fix when there is no Java to run the services.
pub fn require_java() {
    let java = Command::new("java").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !java.is_ok_and(|s| s.success()) {
        panic!(
            "the real-broker tests need Java 17+ on PATH (Debian: apt-get install openjdk-17-jre-headless) and the \
             services' jars (scripts/fetch-jars.sh; .ci/run does both)"
        );
    }
}

/// The last `lines` lines of `path`, under a header naming it (empty text if it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let last = &all[all.len().saturating_sub(lines)..];
    format!("--- {} (last {} lines)\n{}\n", path.display(), last.len(), last.join("\n"))
}

/// Runs `scripts/SCRIPT run DIR/state` with `env` (its output in `DIR/run.out`) through
/// [`spawn_kept`], and waits until `ready` says the service answers. Panics naming `what`, with
/// the end of its output and of the `*.log` files in `DIR/state`, when it exits first or is not
/// ready within `timeout`. The child dies with the test process.
pub fn start_service(
    script: &str,
    dir: &Path,
    env: &[(&str, String)],
    what: &str,
    timeout: Duration,
    ready: impl Fn() -> bool,
) -> Child {
    let output = dir.join("run.out");
    let out = std::fs::File::create(&output).expect("output file");
    let mut command = Command::new("bash");
    command
        .arg(workspace().join("scripts").join(script))
        .arg("run")
        .arg(dir.join("state"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out);
    let started = Instant::now();
    let mut child = spawn_kept(command).unwrap_or_else(|e| panic!("scripts/{script} does not start: {e}"));
    let tails = || {
        let logs = std::fs::read_dir(dir.join("state")).into_iter().flatten().flatten().map(|e| e.path());
        let logs = logs.filter(|p| p.extension().is_some_and(|x| x == "log"));
        std::iter::once(output.clone()).chain(logs).map(|p| tail(&p, 40)).collect::<String>()
    };
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("{what} exited ({status}) before it was ready:\n{}", tails());
        }
        if ready() {
            break;
        }
        if started.elapsed() > timeout {
            terminate(&mut child, Duration::from_secs(10));
            panic!("{what} was not ready within {timeout:?}:\n{}", tails());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{what} ready {:.1} s after launch", started.elapsed().as_secs_f64());
    child
}

/// SIGTERM, then SIGKILL once `grace` has passed; returns once the child has exited.
pub fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the test process, with the kernel told
/// to SIGTERM the child when that thread (so the process) ends: the child outlives neither a
/// finished nor a killed test binary.
pub fn spawn_kept(command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("service-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(spawn_with_parent_death_signal(&mut command));
                }
                // The sender lives in a static: the loop above never ends while the process runs.
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner.lock().expect("spawner").send((command, reply_tx)).expect("spawner thread alive");
    reply_rx.recv().expect("spawner answers")
}

fn spawn_with_parent_death_signal(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}
