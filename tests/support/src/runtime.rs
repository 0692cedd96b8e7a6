//! Starting an in-process runtime: configs parsed as `tributary run` parses them (relative paths
//! against the workspace root, no environment variables), quick restarts, and logs in the test
//! output on demand.

use std::time::Duration;

use tributary::config::{Config, Env};
use tributary::supervisor::Backoff;

use crate::workspace;

/// An environment with no variables, so tests never depend on the caller's.
pub struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Sends the runtime's logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=debug`).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Parses config text; relative paths (`schemas_dir`) resolve against the workspace root. Also
/// turns on logs when asked for (see [`init_logs`]). Panics, showing the text, if it does not
/// parse.
pub fn config(yaml: &str) -> Config {
    init_logs();
    match tributary::config::parse(yaml, "test.yaml", workspace(), &NoEnv) {
        Ok(loaded) => loaded.config,
        Err(errors) => panic!("test config does not parse: {errors}\n{yaml}"),
    }
}

/// Restarts quickly, so a test never waits minutes for a retriable failure.
pub fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(2), reset_after: Duration::from_secs(60) }
}
