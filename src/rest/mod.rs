//! The REST API, shaped like Kafka Connect's where Connect has the endpoint.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /health` | 200 while the process is up (never needs a token) |
//! | `GET /ready` | 200 when every connector is ready, else 503 with the reasons |
//! | `GET /metrics` | Prometheus text |
//! | `POST /reload` | re-reads the config file; see [`crate::reload`] |
//! | `GET /cluster` | cluster mode: the group, its members and who runs which connector; standalone: `{"mode": "standalone"}` |
//! | `GET /connectors[?expand=status&expand=info]` | names, or a map of name → expansions |
//! | `GET /connectors/{name}` | `{name, config, tasks, type}`; `config` is the entry as written, secrets redacted |
//! | `GET /connectors/{name}/config` | the entry as written, secrets redacted |
//! | `GET /connectors/{name}/status` | Connect's status plus each task's own account and the run's progress |
//! | `GET /connectors/{name}/tasks/{task}/status` | one task's entry of the status |
//! | `PUT /connectors/{name}/pause`, `/resume`, `/stop` | 202 |
//! | `POST /connectors/{name}/restart[?includeTasks=&onlyFailed=]` | 204, or 202 with the status when a flag is given |
//! | `GET /connectors/{name}/offsets` | `{"offsets": [{"partition": {…}, "offset": {…}}]}` (committed offsets) |
//! | `PATCH /connectors/{name}/offsets` | same body; an `"offset": null` resets that partition; STOPPED only |
//! | `DELETE /connectors/{name}/offsets` | resets every partition; STOPPED only |
//! | `GET /connector-plugins` | `[{class, type, version}]` |
//! | `PUT /connector-plugins/{class}/config/validate` | Connect's `ConfigInfos` |
//!
//! Errors are `{"error_code": <status>, "message": …}`: 400 bad input, 401 missing or wrong token,
//! 404 unknown connector or plugin, 409 a conflicting operation is in progress, 500 otherwise.
//! In cluster mode every replica answers for the whole cluster: `GET /connectors` lists every
//! connector of the config, and a connector that runs on another replica shows
//! `{"state": "ASSIGNED", "worker_id": <that replica>}` (or `UNASSIGNED` while no replica holds
//! it); its detailed status is on its own replica. Commands to such a connector answer 421 naming
//! the replica that runs it.
//!
//! Connectors are defined by the config file: creating, reconfiguring or deleting one through the
//! API answers 405 and points at the file and `POST /reload`.

mod auth;
mod cluster;
mod connectors;
mod error;
mod offsets;
mod ops;
mod plugins;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use auth::token_matches;
pub use connectors::status_json;
pub use error::ApiError;

use crate::api::Secret;
use crate::cluster::ClusterWatch;
use crate::plugins::Plugins;
use crate::reload::Reloader;
use crate::supervisor::Supervisor;

/// How long shutdown waits for requests in progress before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub supervisor: Arc<Supervisor>,
    pub reloader: Arc<Reloader>,
    pub plugins: Plugins,
    /// `api.token`: when set, required on every endpoint but `/health`.
    pub token: Option<Secret>,
    /// What the status answers give as `worker_id`: the API's bound address, or in cluster mode
    /// the replica id.
    pub worker_id: Arc<str>,
    /// The group's view, in cluster mode.
    pub cluster: Option<ClusterWatch>,
}

/// The API could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for the REST API: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/reload", post(ops::reload))
        .route("/cluster", get(cluster::view))
        .route("/connectors", get(connectors::list).post(connectors::defined_by_file))
        .route(
            "/connectors/{name}",
            get(connectors::info).put(connectors::defined_by_file).delete(connectors::defined_by_file),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config).put(connectors::defined_by_file).patch(connectors::defined_by_file),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route("/connectors/{name}/tasks/{task}/status", get(connectors::task_status))
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route("/connectors/{name}/offsets", get(offsets::get).patch(offsets::patch).delete(offsets::delete))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{class}/config/validate", put(plugins::validate))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/health", get(ops::health))
        .merge(protected)
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .with_state(state)
}

/// A running API server.
pub struct RestServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RestServer {
    /// Binds `listen` (port 0 picks a free port). Separate from [`Self::serve`] so that a taken
    /// port fails before anything else starts.
    pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
        tokio::net::TcpListener::bind(listen).await.map_err(|source| BindError { addr: listen, source })
    }

    /// Serves the API on `listener` until [`Self::shutdown`]. `state.worker_id` is set to the
    /// bound address.
    pub fn serve(listener: tokio::net::TcpListener, mut state: AppState) -> Result<Self, BindError> {
        let addr = listener.local_addr().map_err(|source| BindError { addr: ([127, 0, 0, 1], 0).into(), source })?;
        state.worker_id = match &state.cluster {
            Some(cluster) => cluster.get().replica_id.into(),
            None => addr.to_string().into(),
        };
        let app = router(state);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(stopped.cancelled_owned()).await;
            if let Err(e) = served {
                tracing::error!(error = %e, "REST API server stopped");
            }
        });
        tracing::info!(%addr, "REST API listening");
        Ok(Self { addr, stop, task })
    }

    /// Binds `listen` and serves the API on it.
    pub async fn start(listen: SocketAddr, state: AppState) -> Result<Self, BindError> {
        Self::serve(Self::bind(listen).await?, state)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and waits (a few seconds at most) for those in progress.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}
