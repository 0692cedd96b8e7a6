//! Everything `tributary validate` can check offline, reported all at once.

use std::path::Path;

use crate::avro::Schemas;
use crate::config::{self, ConfigError, ConfigErrors, Env, Loaded};
use crate::plugins::Plugins;

/// Loads `path` and checks it fully: the runtime's sections, every connector's own config
/// (through its plugin), the schemas directory, and that each connector's value schemas exist.
pub fn validate_file(path: &Path, env: &dyn Env, plugins: &Plugins) -> Result<Loaded, ConfigErrors> {
    let loaded = config::load(path, env)?;
    let mut errors: Vec<ConfigError> = Vec::new();
    let schemas = match Schemas::load_dir(&loaded.config.schemas_dir) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(ConfigError::new("schemas_dir", e.to_string()));
            None
        }
    };
    let registry = &loaded.config.schema_registry;
    if !registry.is_embedded()
        && let Err(e) = crate::clients::registry_client(registry, &registry.url)
    {
        errors.push(ConfigError::new("schema_registry", e.to_string()));
    }
    errors.extend(crate::kafka::properties::check_config(&loaded.config));
    for entry in &loaded.config.connectors {
        match plugins.validate(entry) {
            Err(mut issues) => errors.append(&mut issues),
            Ok(outputs) => {
                let Some(schemas) = &schemas else { continue };
                for output in outputs {
                    if schemas.get(&output.value_schema).is_none() {
                        errors.push(ConfigError::new(
                            entry.path.clone(),
                            format!(
                                "connector writes schema `{}` but {} has no such schema (found: {})",
                                output.value_schema,
                                loaded.config.schemas_dir.display(),
                                schemas.names().join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    if errors.is_empty() { Ok(loaded) } else { Err(loaded.errors(errors)) }
}
