//! Config reload (SIGHUP, `POST /reload`): re-read the YAML file and bring the running set of
//! connectors in line with it.
//!
//! # Contract
//!
//! * The new file is validated as a whole, exactly as `tributary validate` does
//!   ([`crate::validate::validate_file`]). If anything is wrong, nothing changes and every error is
//!   returned.
//! * Connectors are matched by `name`. A new name starts; a missing name is removed (its offsets
//!   flushed and committed first); a name whose `class`, connector config or `producer` changed
//!   restarts with the new entry (keeping a PAUSED or STOPPED state the operator chose). Every other
//!   connector is not touched at all: same instance, same tasks, no gap.
//! * How an entry is written can change without a restart when what it resolves to does not
//!   (e.g. a literal secret moved to `${env:…}`): only the entry shown by the API is updated.
//! * In cluster mode (`cluster.group_id`) the connectors are the group's slots, the same on every
//!   replica: a change to them is reported as needing a restart of every replica, and not applied.
//! * Runtime sections (`kafka`, `cluster`, `schema_registry`, `api`, `logging`, `schemas_dir`) are fixed for
//!   the life of the process. A change to one is reported (and logged) as needing a restart, and
//!   the running values are kept.
//! * Schema files are re-read: connectors started or restarted by the reload use the schemas as
//!   they are now on disk; untouched ones keep the schemas they started with.
//! * One reload runs at a time.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::avro::Schemas;
use crate::config::{Config, ConfigErrors, ConnectorConfig, Env};
use crate::plugins::Plugins;
use crate::supervisor::Supervisor;
use crate::validate::validate_file;

/// What a reload will do, connector by connector. Names are sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadPlan {
    /// New names: start them.
    pub add: Vec<ConnectorConfig>,
    /// Names no longer in the file: stop them, flushing offsets, and forget them.
    pub remove: Vec<String>,
    /// Changed class, config or producer: restart with the new entry.
    pub restart: Vec<ConnectorConfig>,
    /// Unchanged names.
    pub keep: Vec<String>,
    /// Unchanged names whose entry is written differently (the API's view changes, nothing else).
    pub refresh: Vec<ConnectorConfig>,
    /// Runtime sections that differ and need a process restart to take effect.
    pub restart_required: Vec<&'static str>,
}

/// Whether two entries of the same name run the same instance.
fn same_instance(a: &ConnectorConfig, b: &ConnectorConfig) -> bool {
    a.class == b.class && a.config == b.config && a.producer == b.producer
}

/// Compares the running config with a new one. Pure: no I/O.
pub fn plan(old: &Config, new: &Config) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    let old_entries: std::collections::BTreeMap<&str, &ConnectorConfig> =
        old.connectors.iter().map(|c| (c.name.as_str(), c)).collect();
    let new_entries: std::collections::BTreeMap<&str, &ConnectorConfig> =
        new.connectors.iter().map(|c| (c.name.as_str(), c)).collect();
    for (name, entry) in &new_entries {
        match old_entries.get(name) {
            None => plan.add.push((*entry).clone()),
            Some(before) if !same_instance(before, entry) => plan.restart.push((*entry).clone()),
            Some(before) => {
                plan.keep.push((*name).to_owned());
                if before.shown != entry.shown || before.path != entry.path {
                    plan.refresh.push((*entry).clone());
                }
            }
        }
    }
    plan.remove = old_entries.keys().filter(|name| !new_entries.contains_key(*name)).map(|n| (*n).to_owned()).collect();
    // In cluster mode the connectors are the group's slots: every replica must change together,
    // through a rolling restart with the new file.
    let clustered = old.cluster.group_id.is_some() || new.cluster.group_id.is_some();
    let connectors_changed = !(plan.add.is_empty() && plan.remove.is_empty() && plan.restart.is_empty());
    if clustered {
        plan.keep = old_entries.keys().map(|n| (*n).to_owned()).collect();
        plan.add.clear();
        plan.remove.clear();
        plan.restart.clear();
        plan.refresh.clear();
    }
    let sections: [(&'static str, bool); 7] = [
        ("connectors (cluster mode: restart every replica with the new file)", clustered && connectors_changed),
        ("cluster", old.cluster != new.cluster),
        ("kafka", old.kafka != new.kafka),
        ("schema_registry", old.schema_registry != new.schema_registry),
        ("api", old.api != new.api),
        ("logging", old.logging != new.logging),
        ("schemas_dir", old.schemas_dir != new.schemas_dir),
    ];
    plan.restart_required = sections.into_iter().filter(|(_, changed)| *changed).map(|(name, _)| name).collect();
    plan
}

/// What a reload did: the answer of `POST /reload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: Vec<String>,
    /// Runtime sections that changed in the file but keep their running values until the
    /// process restarts.
    pub restart_required: Vec<String>,
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file is invalid; every problem is listed. The running set is kept.
    #[error("the new config was rejected; nothing changed: {0}")]
    Invalid(ConfigErrors),
    /// Another reload is running.
    #[error("a reload is already in progress")]
    InProgress,
    /// The runtime was started from a config in memory, not from a file.
    #[error("this runtime was not started from a config file, so there is nothing to re-read")]
    NoFile,
}

/// Where the config comes from, so it can be read again.
#[derive(Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub env: Arc<dyn Env + Send + Sync>,
}

/// Re-reads the config file and applies it to the supervisor.
pub struct Reloader {
    source: Option<ConfigSource>,
    plugins: Plugins,
    supervisor: Arc<Supervisor>,
    /// The config the runtime is running: its runtime sections as started, its connectors as
    /// last applied. Also serializes reloads.
    current: tokio::sync::Mutex<Config>,
}

impl Reloader {
    pub fn new(source: Option<ConfigSource>, plugins: Plugins, supervisor: Arc<Supervisor>, current: Config) -> Self {
        Self { source, plugins, supervisor, current: tokio::sync::Mutex::new(current) }
    }

    /// Re-reads the file and applies it, waiting for a reload in progress to finish first.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let current = self.current.lock().await;
        self.reload_locked(current).await
    }

    /// Like [`Self::reload`], but refuses ([`ReloadError::InProgress`]) instead of waiting.
    pub async fn try_reload(&self) -> Result<ReloadReport, ReloadError> {
        let current = self.current.try_lock().map_err(|_| ReloadError::InProgress)?;
        self.reload_locked(current).await
    }

    async fn reload_locked(
        &self,
        mut current: tokio::sync::MutexGuard<'_, Config>,
    ) -> Result<ReloadReport, ReloadError> {
        let source = self.source.clone().ok_or(ReloadError::NoFile)?;
        let plugins = self.plugins.clone();
        let path = source.path.clone();
        // Reading files and resolving `${file:…}` is blocking work.
        let loaded =
            tokio::task::spawn_blocking(move || validate_file(&path, &*source.env, &plugins)).await.map_err(|e| {
                ReloadError::Invalid(ConfigErrors {
                    file: source.path.display().to_string(),
                    errors: vec![crate::config::ConfigError::new("", format!("the config reader panicked: {e}"))],
                })
            })?;
        let new = match loaded {
            Ok(loaded) => loaded.config,
            Err(errors) => {
                let listed = errors.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                tracing::error!(
                    file = %errors.file,
                    count = errors.errors.len(),
                    errors = %listed,
                    "config reload rejected; the running connectors are kept"
                );
                return Err(ReloadError::Invalid(errors));
            }
        };
        let plan = plan(&current, &new);
        for section in &plan.restart_required {
            tracing::warn!(section, "config section `{section}` changed; it takes effect when the process restarts");
        }
        let schemas_dir = current.schemas_dir.clone();
        match tokio::task::spawn_blocking(move || Schemas::load_dir(&schemas_dir)).await {
            Ok(Ok(schemas)) => self.supervisor.set_schemas(Arc::new(schemas)),
            Ok(Err(e)) => tracing::warn!(error = %e, "schemas not re-read; keeping the ones loaded before"),
            Err(e) => tracing::warn!(error = %e, "schemas not re-read; keeping the ones loaded before"),
        }
        let report = apply(&self.supervisor, plan).await;
        current.connectors = new.connectors;
        tracing::info!(
            added = ?report.added,
            removed = ?report.removed,
            restarted = ?report.restarted,
            unchanged = report.unchanged.len(),
            "config reloaded"
        );
        Ok(report)
    }
}

/// Carries out `plan`: removals first (freeing what they held), then restarts and additions.
/// Connectors in `plan.keep` are not touched.
pub async fn apply(supervisor: &Supervisor, plan: ReloadPlan) -> ReloadReport {
    let mut report = ReloadReport {
        unchanged: plan.keep.clone(),
        restart_required: plan.restart_required.iter().map(|s| (*s).to_owned()).collect(),
        ..ReloadReport::default()
    };
    let removed = futures::future::join_all(plan.remove.iter().map(|name| supervisor.remove(name))).await;
    for (name, result) in plan.remove.iter().zip(removed) {
        if result.is_ok() {
            tracing::info!(connector = %name, "connector removed by reload; offsets flushed");
            report.removed.push(name.clone());
        }
    }
    let restarted = futures::future::join_all(plan.restart.iter().map(|entry| supervisor.replace(entry.clone()))).await;
    for (entry, result) in plan.restart.iter().zip(restarted) {
        match result {
            Ok(()) => {
                tracing::info!(connector = %entry.name, "connector restarted with its new config");
                report.restarted.push(entry.name.clone());
            }
            // Gone meanwhile (removed through the API): start it as new.
            Err(_) => {
                if supervisor.start_as(entry.clone(), crate::supervisor::Target::Running).is_ok() {
                    report.added.push(entry.name.clone());
                }
            }
        }
    }
    for entry in plan.add {
        match supervisor.start_as(entry.clone(), crate::supervisor::Target::Running) {
            Ok(()) => {
                tracing::info!(connector = %entry.name, "connector added by reload");
                report.added.push(entry.name);
            }
            Err(e) => tracing::warn!(error = %e, "connector not added"),
        }
    }
    for entry in plan.refresh {
        let _ = supervisor.update_entry(entry);
    }
    report.added.sort();
    report
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Env, parse};

    struct NoEnv;
    impl Env for NoEnv {
        fn var(&self, _name: &str) -> Option<String> {
            Some("from-env".into())
        }
    }

    fn config(connectors: &str, api: &str) -> Config {
        let text = format!(
            "kafka:\n  bootstrap_servers: embedded\nschema_registry:\n  url: embedded\n{api}connectors:\n{connectors}"
        );
        parse(&text, "test.yaml", Path::new("."), &NoEnv).expect("valid").config
    }

    const BASE: &str = "  - {name: a, class: datagen, topic: a}\n  - {name: b, class: datagen, topic: b}\n  - {name: c, class: datagen, topic: c, rate: 5}\n";

    #[test]
    fn identical_files_keep_everything() {
        let p = plan(&config(BASE, ""), &config(BASE, ""));
        assert_eq!(p.keep, ["a", "b", "c"]);
        assert!(p.add.is_empty() && p.remove.is_empty() && p.restart.is_empty() && p.refresh.is_empty());
        assert!(p.restart_required.is_empty());
    }

    #[test]
    fn added_removed_and_changed_connectors() {
        let new = "  - {name: d, class: datagen, topic: d}\n  - {name: c, class: datagen, topic: c, rate: 6}\n  - {name: a, class: datagen, topic: a}\n";
        let p = plan(&config(BASE, ""), &config(new, ""));
        assert_eq!(p.add.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["d"]);
        assert_eq!(p.remove, ["b"]);
        assert_eq!(p.restart.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["c"]);
        assert_eq!(p.keep, ["a"]);
        // `a` moved from connectors[0] to connectors[2]: shown where it is now, not restarted.
        assert_eq!(p.refresh.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["connectors[2]"]);
    }

    #[test]
    fn producer_and_class_changes_restart() {
        let new = "  - {name: a, class: datagen, topic: a, producer: {linger.ms: 20}}\n  - {name: b, class: other, topic: b}\n  - {name: c, class: datagen, topic: c, rate: 5}\n";
        let p = plan(&config(BASE, ""), &config(new, ""));
        assert_eq!(p.restart.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.keep, ["c"]);
    }

    #[test]
    fn same_value_written_differently_refreshes_without_restart() {
        let old = "  - {name: a, class: datagen, topic: from-env}\n";
        let new = "  - {name: a, class: datagen, topic: \"${env:TOPIC}\"}\n";
        let p = plan(&config(old, ""), &config(new, ""));
        assert_eq!(p.keep, ["a"]);
        assert!(p.restart.is_empty());
        assert_eq!(p.refresh.len(), 1);
    }

    #[test]
    fn runtime_sections_need_a_process_restart() {
        let p = plan(&config(BASE, ""), &config(BASE, "api:\n  listen: 127.0.0.1:9999\nlogging:\n  format: json\n"));
        assert_eq!(p.restart_required, ["api", "logging"]);
        assert_eq!(p.keep, ["a", "b", "c"]);
    }
}
