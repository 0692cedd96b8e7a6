//! What the integration tests and benchmarks of the workspace share: real Kafka brokers and the
//! Java services beside them, the simulated Genesys Cloud org and clients of it, in-process
//! runtimes, readers of topics, and checks against the simulator's ground truth.
//!
//! Every service a module starts listens on 127.0.0.1 only, and every wait it offers is bounded.
//! Files the tests need (scripts, schemas, the Python environment) are found from the workspace
//! root ([`workspace`]), whichever crate's test calls.
//!
//! Integration tests and benchmarks only: a library's own `#[cfg(test)]` unit tests must not use
//! this crate, whose types come from the non-test build of the libraries.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod apicurio;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod connect;
pub mod connector_task;
pub mod datagen;
pub mod genesys;
pub mod genesys_api;
pub mod pipeline;
pub mod probe;
pub mod procfs;
pub mod proxy;
pub mod python;
pub mod registry;
pub mod rest;
pub mod runtime;
pub mod services;
pub mod sim_client;
pub mod simulator;
pub mod token_endpoint;
pub mod topics;
pub mod truth;
pub mod wait;

/// The workspace root (the folder of the root `Cargo.toml`), canonical.
pub fn workspace() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        root.canonicalize().unwrap_or_else(|e| panic!("workspace root {}: {e}", root.display()))
    })
}

/// Writes `text` to `dir/name` and returns that path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}
