//! The connectors the `tributary` binary ships.

use std::sync::Arc;

use super::Plugins;
use super::simulated_genesys::InProcessOrgs;

/// `datagen`, and `genesys-cloud` with `environment: simulator` served by orgs started in this
/// process.
pub fn builtin() -> Plugins {
    let mut plugins = Plugins::new();
    plugins.register(crate::datagen::Datagen);
    plugins.register(tributary_genesys::GenesysCloud::with_simulator(Arc::new(InProcessOrgs)));
    plugins
}
