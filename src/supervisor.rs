//! Runs many connector instances side by side, each on its own task with its own producer,
//! offsets namespace, state and restart backoff, so that one tenant's failure never stalls another.
//!
//! States follow Kafka Connect: `UNASSIGNED` (starting, or waiting to restart), `RUNNING`,
//! `PAUSED`, `STOPPED` (no tasks; offsets may be edited), `FAILED` (needs an operator: fix the
//! config, or restart by hand). A retriable failure restarts the instance with exponential
//! backoff; a fatal one leaves it FAILED with the reason.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::{TaskError, TaskStatus};
use crate::avro::Schemas;
use crate::config::ConnectorConfig;
use crate::instance::{self, Control, Environment, LiveView};
use crate::offsets::PartitionProgress;
use crate::state::State;
use crate::telemetry;

/// The state an operator wants a connector in; what a new or replaced instance starts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    #[default]
    Running,
    /// Started with its tasks paused.
    Paused,
    /// Not started: no tasks, offsets may be edited.
    Stopped,
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

/// Everything the status API shows about one instance, read in one go.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub entry: ConnectorConfig,
    pub connector: ConnectorState,
    /// Each task's own account; empty unless a run has started its tasks.
    pub tasks: Vec<TaskStatus>,
    /// Whether the current run has started its tasks (offsets read, producer and schemas ready).
    pub tasks_started: bool,
    /// Runs started since this instance was created (1 on the first start).
    pub runs: u64,
    /// When the current run started its tasks.
    pub running_since: Option<SystemTime>,
    /// Records sent to Kafka and not yet acknowledged (current run).
    pub records_in_flight: usize,
    /// Records Kafka acknowledged (current run).
    pub records_acknowledged: u64,
    /// Where each source partition stands (current run).
    pub partitions: Vec<PartitionProgress>,
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
    /// Held while an operation must not be interleaved with state changes: an offsets edit, a
    /// removal, a replacement. Commands arriving meanwhile are refused ([`ControlError::Busy`]).
    op: Arc<tokio::sync::Mutex<()>>,
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
    /// What instances started from now on get; replaced in part by reloads ([`Self::set_schemas`]).
    env: RwLock<Environment>,
    backoff: Backoff,
    instances: Mutex<BTreeMap<String, Handle>>,
}

/// A named connector is not running here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector `{0}` not found")]
pub struct NotFound(pub String);

/// A connector of that name already exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector `{0}` already exists")]
pub struct AlreadyExists(pub String);

/// A state change could not be requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// Another operation on the connector is in progress (an offsets edit, a removal or a
    /// reconfiguration); try again when it is done.
    #[error("connector `{0}` is busy with another operation (offsets edit, removal or reconfiguration); try again")]
    Busy(String),
}

/// Offsets cannot be edited right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    #[error("connector `{0}` is busy with another operation (offsets edit, removal or reconfiguration); try again")]
    Busy(String),
    /// Offsets may only change while the connector is STOPPED: a running instance would
    /// overwrite the edit with its next commit.
    #[error(
        "connector `{name}` is {state}; its offsets can only be changed while it is STOPPED \
         (PUT /connectors/{name}/stop first, then resume it once the offsets are changed)"
    )]
    NotStopped { name: String, state: State },
}

/// Proof that a connector is STOPPED and stays so: state changes are refused while this lives.
pub struct StoppedGuard {
    _op: OwnedMutexGuard<()>,
}

impl Supervisor {
    pub fn new(env: Environment, backoff: Backoff) -> Self {
        Self { env: RwLock::new(env), backoff, instances: Mutex::new(BTreeMap::new()) }
    }

    /// What instances started from now on are given.
    pub fn environment(&self) -> Environment {
        self.env.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Schemas for instances started from now on; running ones keep theirs.
    pub fn set_schemas(&self, schemas: Arc<Schemas>) {
        self.env.write().unwrap_or_else(|e| e.into_inner()).schemas = schemas;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Handle>> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an instance. The name must be new: a duplicate is logged and ignored (see
    /// [`Self::start_as`] for a checked start).
    pub fn start(&self, entry: ConnectorConfig) {
        if let Err(e) = self.start_as(entry, Target::Running) {
            tracing::error!(error = %e, "not started");
        }
    }

    /// Starts an instance in `target` state. The name must be new.
    pub fn start_as(&self, entry: ConnectorConfig, target: Target) -> Result<(), AlreadyExists> {
        let mut instances = self.lock();
        if instances.contains_key(&entry.name) {
            return Err(AlreadyExists(entry.name.clone()));
        }
        let handle = self.spawn(entry, target);
        instances.insert(handle.entry.name.clone(), handle);
        Ok(())
    }

    fn spawn(&self, entry: ConnectorConfig, target: Target) -> Handle {
        let initial = if target == Target::Stopped { State::Stopped } else { State::Unassigned };
        let (state_tx, state) = watch::channel(ConnectorState { state: initial, trace: None, restarts: 0 });
        let (commands, inbox) = mpsc::channel(16);
        let view = Arc::new(Mutex::new(LiveView::default()));
        let span = tracing::info_span!("connector", connector = %entry.name);
        let driver = tokio::spawn(
            drive(self.environment(), self.backoff.clone(), entry.clone(), target, state_tx, inbox, view.clone())
                .instrument(span),
        );
        Handle { entry, state, commands, view, driver, op: Arc::new(tokio::sync::Mutex::new(())) }
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn entry(&self, name: &str) -> Result<ConnectorConfig, NotFound> {
        self.lock().get(name).map(|h| h.entry.clone()).ok_or_else(|| NotFound(name.to_owned()))
    }

    /// Replaces the stored entry of a running instance without touching the instance, for a
    /// reload that changed nothing the instance uses (e.g. only how a secret is written).
    pub fn update_entry(&self, entry: ConnectorConfig) -> Result<(), NotFound> {
        let mut instances = self.lock();
        let h = instances.get_mut(&entry.name).ok_or_else(|| NotFound(entry.name.clone()))?;
        h.entry = entry;
        Ok(())
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

    /// The instance's state, its tasks' accounts and its run's progress.
    pub fn snapshot(&self, name: &str) -> Result<Snapshot, NotFound> {
        let (entry, connector, view) = {
            let instances = self.lock();
            let h = instances.get(name).ok_or_else(|| NotFound(name.to_owned()))?;
            (h.entry.clone(), h.state.borrow().clone(), h.view.clone())
        };
        let view = view.lock().unwrap_or_else(|e| e.into_inner());
        let tracker = view.tracker.clone();
        Ok(Snapshot {
            entry,
            connector,
            tasks: view.tasks.iter().map(|t| t.get()).collect(),
            tasks_started: tracker.is_some(),
            runs: view.runs,
            running_since: view.running_since,
            records_in_flight: tracker.as_ref().map_or(0, |t| t.in_flight()),
            records_acknowledged: tracker
                .as_ref()
                .map_or(0, |t| crate::api::Acknowledgements::acknowledged_records(&**t)),
            partitions: tracker.as_ref().map(|t| t.progress()).unwrap_or_default(),
        })
    }

    /// Publishes gauges that are read rather than pushed (records in flight, tasks).
    pub fn refresh_gauges(&self) {
        let views: Vec<(String, Arc<Mutex<LiveView>>)> =
            self.lock().iter().map(|(name, h)| (name.clone(), h.view.clone())).collect();
        for (name, view) in views {
            let view = view.lock().unwrap_or_else(|e| e.into_inner());
            let in_flight = view.tracker.as_ref().map_or(0, |t| t.in_flight());
            telemetry::record_run(&name, view.tasks.len(), in_flight);
        }
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

    async fn send(&self, name: &str, command: Command) -> Result<(), ControlError> {
        let (tx, op) = self
            .lock()
            .get(name)
            .map(|h| (h.commands.clone(), h.op.clone()))
            .ok_or_else(|| NotFound(name.to_owned()))?;
        let _op = op.try_lock().map_err(|_| ControlError::Busy(name.to_owned()))?;
        // The driver only goes away while being removed, which holds `op`.
        tx.send(command).await.map_err(|_| ControlError::Busy(name.to_owned()))
    }

    /// Pauses the tasks: they stay up, but nothing they emit is taken until resumed.
    pub async fn pause(&self, name: &str) -> Result<(), ControlError> {
        self.send(name, Command::Pause).await
    }

    /// Resumes a PAUSED connector; starts a STOPPED or FAILED one again.
    pub async fn resume(&self, name: &str) -> Result<(), ControlError> {
        self.send(name, Command::Resume).await
    }

    /// Stops the tasks (flushing offsets) but keeps the connector, in STOPPED.
    pub async fn stop(&self, name: &str) -> Result<(), ControlError> {
        self.send(name, Command::Stop).await
    }

    /// Restarts the instance (a PAUSED one comes back PAUSED); starts a STOPPED or FAILED one.
    pub async fn restart(&self, name: &str) -> Result<(), ControlError> {
        self.send(name, Command::Restart).await
    }

    /// Takes `name`'s operation lock and ends its driver (flushing offsets). Returns the lock, so
    /// the caller can put a replacement in place before anything else touches the name.
    async fn retire(&self, name: &str) -> Result<(OwnedMutexGuard<()>, State), NotFound> {
        let (op, commands) = self
            .lock()
            .get(name)
            .map(|h| (h.op.clone(), h.commands.clone()))
            .ok_or_else(|| NotFound(name.to_owned()))?;
        let guard = op.clone().lock_owned().await;
        let state = {
            let instances = self.lock();
            match instances.get(name) {
                // Still the instance we locked (not removed and re-added meanwhile).
                Some(h) if Arc::ptr_eq(&h.op, &op) => h.state.borrow().state,
                _ => return Err(NotFound(name.to_owned())),
            }
        };
        let (tx, rx) = oneshot::channel();
        if commands.send(Command::Remove(tx)).await.is_ok() {
            let _ = rx.await;
        }
        Ok((guard, state))
    }

    /// Stops an instance, flushing its offsets, and forgets it.
    pub async fn remove(&self, name: &str) -> Result<(), NotFound> {
        let (_guard, _) = self.retire(name).await?;
        let handle = self.lock().remove(name);
        if let Some(handle) = handle {
            let _ = handle.driver.await;
        }
        telemetry::forget(name);
        Ok(())
    }

    /// Stops the instance named like `entry` (flushing its offsets) and starts it again with
    /// `entry`, keeping the operator's choice: a PAUSED connector comes back PAUSED, a STOPPED
    /// one stays STOPPED; anything else (including FAILED) starts running.
    pub async fn replace(&self, entry: ConnectorConfig) -> Result<(), NotFound> {
        let (_guard, state) = self.retire(&entry.name).await?;
        let target = match state {
            State::Paused => Target::Paused,
            State::Stopped => Target::Stopped,
            _ => Target::Running,
        };
        let old = {
            let mut instances = self.lock();
            let handle = self.spawn(entry, target);
            instances.insert(handle.entry.name.clone(), handle)
        };
        if let Some(old) = old {
            let _ = old.driver.await;
        }
        Ok(())
    }

    /// Checks that `name` is STOPPED and keeps it so (refusing state changes) until the guard
    /// is dropped. For editing offsets.
    pub fn lock_stopped(&self, name: &str) -> Result<StoppedGuard, EditError> {
        let op = self.lock().get(name).map(|h| h.op.clone()).ok_or_else(|| NotFound(name.to_owned()))?;
        let guard = op.clone().try_lock_owned().map_err(|_| EditError::Busy(name.to_owned()))?;
        let instances = self.lock();
        match instances.get(name) {
            Some(h) if Arc::ptr_eq(&h.op, &op) => match h.state.borrow().state {
                State::Stopped => Ok(StoppedGuard { _op: guard }),
                state => Err(EditError::NotStopped { name: name.to_owned(), state }),
            },
            _ => Err(NotFound(name.to_owned()).into()),
        }
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
    target: Target,
    state: watch::Sender<ConnectorState>,
    mut inbox: mpsc::Receiver<Command>,
    view: Arc<Mutex<LiveView>>,
) {
    let name = entry.name.clone();
    // Failure reasons come from connectors and libraries; they must not carry the entry's secrets
    // into logs or the status API.
    let scrubber = entry.scrubber();
    let (paused_tx, paused_rx) = watch::channel(target == Target::Paused);
    let set = |s: State, trace: Option<String>, restarts: u32| {
        state.send_replace(ConnectorState { state: s, trace, restarts });
        telemetry::record_state(&name, s);
    };
    let mut restarts = 0u32;
    let mut delay = backoff.initial;
    // Whether the next run should start: false while STOPPED or FAILED.
    let mut want_run = target != Target::Stopped;
    if !want_run {
        set(State::Stopped, None, restarts);
    }
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
        view.lock().unwrap_or_else(|e| e.into_inner()).runs += 1;
        telemetry::record_start(&name);
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
        {
            let mut view = view.lock().unwrap_or_else(|e| e.into_inner());
            view.tasks.clear();
            view.tracker = None;
            view.running_since = None;
        }
        telemetry::record_run(&name, 0, 0);
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
                let reason = scrubber.scrub(&reason);
                tracing::error!(connector = %name, reason = %reason, "connector failed; it needs a fixed config or a restart");
                set(State::Failed, Some(reason), restarts);
                want_run = false;
            }
            Err(TaskError::Retriable(reason)) => {
                let reason = scrubber.scrub(&reason);
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
