//! An in-process, in-memory, Confluent-compatible schema registry for development and tests.
//!
//! It implements what producers, consumers and their tooling use: registering and looking up
//! schemas under subjects, reading versions and schemas by id, compatibility levels (global and
//! per subject) enforced on registration, and the compatibility-check endpoints, with Confluent's
//! JSON shapes, status codes and error codes. Only Avro schemas, without schema references.
//! Nothing is persisted: every schema and id is gone when the process exits.

mod auth;
mod routes;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Secret;
use super::client::BasicAuth;
use super::compat::CompatibilityLevel;

/// What to start. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct EmbeddedRegistryConfig {
    /// Where to listen; port 0 picks a free port. Meant for a loopback address.
    pub addr: SocketAddr,
    /// When set, every request must carry these basic-auth credentials (401 otherwise).
    pub basic_auth: Option<BasicAuth>,
    /// When set (and `basic_auth` is not), every request must carry `Bearer <token>`.
    pub bearer_token: Option<Secret>,
    /// The global compatibility level at start.
    pub compatibility: CompatibilityLevel,
}

impl EmbeddedRegistryConfig {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, basic_auth: None, bearer_token: None, compatibility: CompatibilityLevel::default() }
    }
}

/// The embedded registry server.
#[derive(Debug)]
pub struct EmbeddedRegistry;

/// The registry could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedRegistryError {
    #[error("cannot start the embedded schema registry on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("embedded schema registry on {addr} failed: {reason}")]
    Serve { addr: SocketAddr, reason: String },
}

impl EmbeddedRegistry {
    /// Starts a registry without auth on `addr` (e.g. `127.0.0.1:0`).
    pub async fn start(addr: SocketAddr) -> Result<EmbeddedRegistryHandle, EmbeddedRegistryError> {
        Self::start_with(EmbeddedRegistryConfig::new(addr)).await
    }

    /// Starts a registry; it serves until [`EmbeddedRegistryHandle::shutdown`] or until the
    /// handle is dropped.
    pub async fn start_with(config: EmbeddedRegistryConfig) -> Result<EmbeddedRegistryHandle, EmbeddedRegistryError> {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| EmbeddedRegistryError::Bind { addr: config.addr, source })?;
        let addr = listener.local_addr().map_err(|source| EmbeddedRegistryError::Bind { addr: config.addr, source })?;
        let shared = Arc::new(routes::Shared {
            store: Mutex::new(store::Store::new(config.compatibility)),
            auth: match (&config.basic_auth, &config.bearer_token) {
                (Some(basic), _) => Some(auth::ExpectedAuth::basic(basic)),
                (None, Some(token)) => Some(auth::ExpectedAuth::bearer(token)),
                (None, None) => None,
            },
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = routes::router(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // Either an explicit stop or the handle being dropped.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::debug!(%addr, "embedded schema registry listening");
        Ok(EmbeddedRegistryHandle { addr, stop: Some(stop), task: Some(task) })
    }
}

/// A running embedded registry. Dropping it stops the server.
#[derive(Debug)]
pub struct EmbeddedRegistryHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl EmbeddedRegistryHandle {
    /// How long [`shutdown`](Self::shutdown) waits for open connections to finish.
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

    /// The base URL clients use, e.g. `http://127.0.0.1:38211`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one-line start-up notice: where it listens, that it is for development only and keeps
    /// nothing. The caller prints or logs it.
    pub fn notice(&self) -> String {
        format!(
            "embedded schema registry at {} is for development only: schemas are kept in memory and lost when the process exits",
            self.url()
        )
    }

    /// Stops accepting connections and waits (at most [`Self::SHUTDOWN_GRACE`]) for open ones.
    pub async fn shutdown(mut self) -> Result<(), EmbeddedRegistryError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else { return Ok(()) };
        match tokio::time::timeout(Self::SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(EmbeddedRegistryError::Serve { addr: self.addr, reason: e.to_string() }),
            Ok(Err(e)) => Err(EmbeddedRegistryError::Serve { addr: self.addr, reason: e.to_string() }),
            Err(_) => {
                task.abort();
                tracing::debug!(addr = %self.addr, "embedded schema registry: open connections cut after the grace period");
                Ok(())
            }
        }
    }
}

impl Drop for EmbeddedRegistryHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
