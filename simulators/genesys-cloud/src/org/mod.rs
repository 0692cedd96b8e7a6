//! One simulated org: its shared state and the records it keeps, below every HTTP and WebSocket
//! handler. Nothing here imports a handler.
//!
//! The records (tokens, channels, queues, jobs, sockets' attachments, counters, the traffic
//! generator's shared state) sit in their own modules, which import none of this one; the state
//! operations that need the whole [`Org`] (system messages, channel endings, subscription
//! changes) sit above it in their own modules.

pub(crate) mod channels;
pub(crate) mod counters;
pub(crate) mod ending;
pub(crate) mod jobs;
pub(crate) mod queues;
pub(crate) mod sockets;
pub(crate) mod state;
pub(crate) mod subscriptions;
pub(crate) mod system;
pub(crate) mod tokens;
pub(crate) mod traffic;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{ClientConfig, SimConfig};
use crate::conversation::ConversationStore;
use crate::org::counters::Counters;
use crate::org::jobs::JobStore;
use crate::org::state::State;
use crate::org::traffic::TrafficShared;
use crate::ratelimit::{HttpFaults, RateLimiter};
use crate::truth::TruthStore;

/// Division all simulated objects live in.
pub(crate) const DIVISION_ID: &str = "d6f3c1a2-9b8e-4f70-a1c2-3e4d5f6a7b8c";

/// Locks a mutex, ignoring poisoning: state stays usable even if a task panicked mid-update.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Base URLs of the three listeners.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub login: String,
    pub api: String,
    /// `ws://host:port` of the streaming listener.
    pub streaming: String,
}

/// One simulated org. Shared as `Arc<Org>` by every server task.
pub(crate) struct Org {
    pub cfg: SimConfig,
    pub clock: Clock,
    pub started: Instant,
    pub started_ms: i64,
    pub urls: Urls,
    pub state: Mutex<State>,
    pub truth: Mutex<TruthStore>,
    pub convs: Mutex<ConversationStore>,
    pub limiter: Mutex<RateLimiter>,
    pub http_faults: Mutex<HttpFaults>,
    pub jobs: Mutex<JobStore>,
    /// Active analytics delay spikes: (until, extra protocol delay).
    pub delay_spikes: Mutex<Vec<(Instant, Duration)>>,
    pub traffic: TrafficShared,
    pub counters: Counters,
    /// While set, the random fault generator keeps its schedule but applies nothing.
    pub random_faults_paused: std::sync::atomic::AtomicBool,
    pub cancel: CancellationToken,
}

impl Org {
    /// The configured client with this id.
    pub fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.cfg.clients.iter().find(|c| c.client_id == client_id)
    }

    /// Real duration for a protocol duration.
    pub fn real(&self, protocol: Duration) -> Duration {
        self.clock.real(protocol)
    }
}
