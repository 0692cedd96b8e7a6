//! The connector plugins this process knows, by `class:` name. [`builtin`] is the one place
//! that names the connectors the `tributary` binary ships and wires their simulated sources.

mod builtin;
mod simulated_genesys;

pub use builtin::builtin;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{DynConnector, Output};
use crate::config::{ConfigError, ConnectorConfig};

/// `class:` name → connector plugin.
#[derive(Clone, Default)]
pub struct Plugins {
    by_class: BTreeMap<&'static str, Arc<dyn DynConnector>>,
}

impl Plugins {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin under its own class name.
    pub fn register(&mut self, connector: impl DynConnector + 'static) -> &mut Self {
        self.by_class.insert(connector.class(), Arc::new(connector));
        self
    }

    pub fn get(&self, class: &str) -> Option<&Arc<dyn DynConnector>> {
        self.by_class.get(class)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn DynConnector>> {
        self.by_class.values()
    }

    fn known(&self) -> String {
        self.by_class.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    }

    /// Validates one connector entry offline; errors carry the entry's path in the file. Error
    /// messages never quote the entry's secrets.
    pub fn validate(&self, entry: &ConnectorConfig) -> Result<Vec<Output>, Vec<ConfigError>> {
        let Some(plugin) = self.get(&entry.class) else {
            return Err(vec![ConfigError::new(
                format!("{}.class", entry.path),
                format!("unknown connector class `{}` (known: {})", entry.class, self.known()),
            )]);
        };
        plugin.validate(&entry.config).map_err(|issues| {
            let scrubber = entry.scrubber();
            issues
                .into_iter()
                .map(|issue| {
                    let path = match issue.path.as_str() {
                        "" => entry.path.clone(),
                        p if p.starts_with('[') => format!("{}{p}", entry.path),
                        p => format!("{}.{p}", entry.path),
                    };
                    ConfigError::new(path, scrubber.scrub(&issue.message))
                })
                .collect()
        })
    }
}
