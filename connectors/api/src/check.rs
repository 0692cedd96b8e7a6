//! Live checks (`tributary check`): each answers one question about a real system the config
//! names ("can we get a token?", "may we subscribe to these queues?"), with the cause and the fix
//! when the answer is no.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed; the detail says what was found.
    Ok(String),
    /// Passed for now, but something needs attention (e.g. a permission only a later feature
    /// needs).
    Warn(String),
    /// Failed: what is wrong, and what to do about it.
    Fail { cause: String, fix: String },
}

/// One check and its answer. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `genesys: OAuth token`.
    pub name: String,
    pub outcome: Outcome,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Ok(detail.into()) }
    }

    pub fn warn(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Warn(detail.into()) }
    }

    pub fn fail(name: impl Into<String>, cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { name: name.into(), outcome: Outcome::Fail { cause: cause.into(), fix: fix.into() } }
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail { .. })
    }
}

impl fmt::Display for Check {
    /// One line: `ok   NAME: detail`, `warn NAME: detail` or `FAIL NAME: cause — fix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Ok(detail) => write!(f, "ok   {}: {detail}", self.name),
            Outcome::Warn(detail) => write!(f, "warn {}: {detail}", self.name),
            Outcome::Fail { cause, fix } => write!(f, "FAIL {}: {cause} — {fix}", self.name),
        }
    }
}

/// The checks of one connector, run to completion.
pub type Checks = Pin<Box<dyn Future<Output = Vec<Check>> + Send>>;
