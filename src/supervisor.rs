//! Runs many connector instances side by side, each on its own task with its own producer,
//! offsets namespace, state and restart backoff, so that one tenant's failure never stalls another.
//!
//! States follow Kafka Connect: `UNASSIGNED` (starting, or waiting to restart), `RUNNING`,
//! `PAUSED`, `STOPPED` (no tasks; offsets may be edited), `FAILED` (needs an operator: fix the
//! config, or restart by hand). A retriable failure restarts the instance with exponential
//! backoff; a fatal one leaves it FAILED with the reason.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{TaskError, TaskStatus};
use crate::config::ConnectorConfig;
use crate::instance::{self, Control, Environment, LiveView};

/// Kafka Connect's connector states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
}

/// A connector's state and, when it failed or is waiting to restart, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorState {
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Restarts after retriable failures since the last healthy stretch.
    pub restarts: u32,
}

/// A connector's full status: its state and each task's own account.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub class: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskStatus>,
}

/// Desired state changes.
#[derive(Debug)]
enum Command {
    Pause,
    Resume,
    Stop,
    Restart,
    /// Stop (flushing offsets) and end the driver.
    Remove(oneshot::Sender<()>),
}

struct Handle {
    entry: ConnectorConfig,
    state: watch::Receiver<ConnectorState>,
    commands: mpsc::Sender<Command>,
    view: Arc<Mutex<LiveView>>,
    driver: JoinHandle<()>,
}

/// Restart backoff: 1 s doubling to 5 min; reset after 10 min without failure.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_secs(1), max: Duration::from_secs(300), reset_after: Duration::from_secs(600) }
    }
}

/// Runs and controls connector instances.
pub struct Supervisor {
    env: Environment,
    backoff: Backoff,
    instances: Mutex<BTreeMap<String, Handle>>,
}

/// A named connector is not running here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector `{0}` not found")]
pub struct NotFound(pub String);

impl Supervisor {
    pub fn new(env: Environment, backoff: Backoff) -> Self {
        Self { env, backoff, instances: Mutex::new(BTreeMap::new()) }
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Handle>> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an instance (replacing nothing: the name must be new).
    pub fn start(&self, entry: ConnectorConfig) {
        let (state_tx, state) = watch::channel(ConnectorState { state: State::Unassigned, trace: None, restarts: 0 });
        let (commands, inbox) = mpsc::channel(16);
        let view = Arc::new(Mutex::new(LiveView::default()));
        let driver =
            tokio::spawn(drive(self.env.clone(), self.backoff.clone(), entry.clone(), state_tx, inbox, view.clone()));
        self.lock().insert(entry.name.clone(), Handle { entry, state, commands, view, driver });
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn entry(&self, name: &str) -> Result<ConnectorConfig, NotFound> {
        self.lock().get(name).map(|h| h.entry.clone()).ok_or_else(|| NotFound(name.to_owned()))
    }

    pub fn status(&self, name: &str) -> Result<Status, NotFound> {
        let instances = self.lock();
        let h = instances.get(name).ok_or_else(|| NotFound(name.to_owned()))?;
        let tasks = h.view.lock().unwrap_or_else(|e| e.into_inner()).tasks.iter().map(|t| t.get()).collect();
        Ok(Status {
            name: h.entry.name.clone(),
            class: h.entry.class.clone(),
            connector: h.state.borrow().clone(),
            tasks,
        })
    }

    /// Waits until `name` reaches a state accepted by `done`, up to `timeout`.
    pub async fn wait_for(
        &self,
        name: &str,
        timeout: Duration,
        done: impl Fn(&ConnectorState) -> bool,
    ) -> Result<ConnectorState, String> {
        let mut rx =
            self.lock().get(name).map(|h| h.state.clone()).ok_or_else(|| format!("connector `{name}` not found"))?;
        let reached = tokio::time::timeout(timeout, rx.wait_for(|s| done(s))).await.map(|r| r.map(|s| s.clone()));
        match reached {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(_)) => Err(format!("connector `{name}` went away")),
            Err(_) => Err(format!("connector `{name}` is {:?} after {timeout:?}", rx.borrow().state)),
        }
    }

    async fn send(&self, name: &str, command: Command) -> Result<(), NotFound> {
        let tx = self.lock().get(name).map(|h| h.commands.clone()).ok_or_else(|| NotFound(name.to_owned()))?;
        tx.send(command).await.map_err(|_| NotFound(name.to_owned()))
    }

    pub async fn pause(&self, name: &str) -> Result<(), NotFound> {
        self.send(name, Command::Pause).await
    }

    pub async fn resume(&self, name: &str) -> Result<(), NotFound> {
        self.send(name, Command::Resume).await
    }

    /// Stops the tasks (flushing offsets) but keeps the connector, in STOPPED.
    pub async fn stop(&self, name: &str) -> Result<(), NotFound> {
        self.send(name, Command::Stop).await
    }

    pub async fn restart(&self, name: &str) -> Result<(), NotFound> {
        self.send(name, Command::Restart).await
    }

    /// Stops an instance, flushing its offsets, and forgets it.
    pub async fn remove(&self, name: &str) -> Result<(), NotFound> {
        let handle = self.lock().remove(name).ok_or_else(|| NotFound(name.to_owned()))?;
        let (tx, rx) = oneshot::channel();
        if handle.commands.send(Command::Remove(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let _ = handle.driver.await;
        Ok(())
    }

    /// Stops every instance, flushing offsets, in parallel.
    pub async fn shutdown(&self) {
        let names = self.names();
        futures::future::join_all(names.iter().map(|n| self.remove(n))).await;
    }
}

/// The per-instance driver: applies commands, runs the instance, restarts it with backoff.
async fn drive(
    env: Environment,
    backoff: Backoff,
    entry: ConnectorConfig,
    state: watch::Sender<ConnectorState>,
    mut inbox: mpsc::Receiver<Command>,
    view: Arc<Mutex<LiveView>>,
) {
    let name = entry.name.clone();
    let (paused_tx, paused_rx) = watch::channel(false);
    let set = |s: State, trace: Option<String>, restarts: u32| {
        state.send_replace(ConnectorState { state: s, trace, restarts });
    };
    let mut restarts = 0u32;
    let mut delay = backoff.initial;
    // Whether the next run should start: false while STOPPED or FAILED.
    let mut want_run = true;
    loop {
        if !want_run {
            match inbox.recv().await {
                None => return,
                Some(Command::Remove(done)) => {
                    let _ = done.send(());
                    return;
                }
                Some(Command::Restart | Command::Resume) => {
                    paused_tx.send_replace(false);
                    want_run = true;
                    restarts = 0;
                    delay = backoff.initial;
                }
                Some(Command::Pause) => {
                    paused_tx.send_replace(true);
                    want_run = true;
                }
                Some(Command::Stop) => {
                    set(State::Stopped, None, restarts);
                }
            }
            continue;
        }

        let trace = state.borrow().trace.clone();
        set(State::Unassigned, trace, restarts);
        let stop = CancellationToken::new();
        let control = Control { stop: stop.clone(), paused: paused_rx.clone(), view: view.clone() };
        let started = Instant::now();
        let run = instance::run(&env, &entry, control);
        tokio::pin!(run);
        let running_state = |paused: bool| if paused { State::Paused } else { State::Running };
        set(running_state(*paused_rx.borrow()), None, restarts);
        // What to do once the run ends because of a command.
        let mut after: Option<Command> = None;
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                command = inbox.recv(), if after.is_none() => match command {
                    Some(Command::Pause) => {
                        paused_tx.send_replace(true);
                        set(State::Paused, None, restarts);
                    }
                    Some(Command::Resume) => {
                        paused_tx.send_replace(false);
                        set(State::Running, None, restarts);
                    }
                    Some(other) => {
                        stop.cancel();
                        after = Some(other);
                    }
                    None => {
                        stop.cancel();
                        after = Some(Command::Stop);
                    }
                },
            }
        };
        view.lock().unwrap_or_else(|e| e.into_inner()).tasks.clear();
        match after {
            Some(Command::Remove(done)) => {
                let _ = done.send(());
                return;
            }
            Some(Command::Stop) => {
                set(State::Stopped, None, restarts);
                want_run = false;
                continue;
            }
            Some(Command::Restart) => {
                restarts = 0;
                delay = backoff.initial;
                continue;
            }
            _ => {}
        }
        match result {
            Ok(()) => {
                // Tasks ended by themselves without being asked: treat as stopped.
                set(State::Stopped, None, restarts);
                want_run = false;
            }
            Err(TaskError::Fatal(reason)) => {
                tracing::error!(connector = %name, reason = %reason, "connector failed; it needs a fixed config or a restart");
                set(State::Failed, Some(reason), restarts);
                want_run = false;
            }
            Err(TaskError::Retriable(reason)) => {
                if started.elapsed() >= backoff.reset_after {
                    restarts = 0;
                    delay = backoff.initial;
                }
                restarts += 1;
                tracing::warn!(connector = %name, reason = %reason, retry_in = ?delay, restarts, "connector failed; restarting");
                metrics::counter!("tributary_connector_restarts_total", "connector" => name.clone()).increment(1);
                set(State::Unassigned, Some(format!("restarting after: {reason}")), restarts);
                // Sleep, but let commands through.
                let wake = tokio::time::sleep(delay);
                tokio::pin!(wake);
                loop {
                    tokio::select! {
                        _ = &mut wake => break,
                        command = inbox.recv() => match command {
                            None => return,
                            Some(Command::Remove(done)) => { let _ = done.send(()); return; }
                            Some(Command::Stop) => { set(State::Stopped, None, restarts); want_run = false; break; }
                            Some(Command::Restart) => { restarts = 0; delay = backoff.initial; break; }
                            Some(Command::Pause) => { paused_tx.send_replace(true); }
                            Some(Command::Resume) => { paused_tx.send_replace(false); }
                        }
                    }
                }
                delay = (delay * 2).min(backoff.max);
            }
        }
    }
}
