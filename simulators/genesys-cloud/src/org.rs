//! The shared state of one simulated org, and the small helpers every module uses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::analytics::JobStore;
use crate::auth::TokenRec;
use crate::channels::ChannelRec;
use crate::clock::Clock;
use crate::config::{ClientConfig, SimConfig};
use crate::conversation::ConversationStore;
use crate::queues::QueueRec;
use crate::ratelimit::{HttpFaults, RateLimiter};
use crate::traffic::TrafficShared;
use crate::truth::TruthStore;

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

/// Tokens, channels and queues: the state REST and WebSocket handlers share.
#[derive(Default)]
pub(crate) struct State {
    pub tokens: HashMap<String, TokenRec>,
    pub channels: HashMap<String, ChannelRec>,
    pub queues: Vec<QueueRec>,
    pub next_conn_id: u64,
}

impl State {
    /// A fresh socket connection id.
    pub fn next_conn_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }
}

/// Global counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests_total: AtomicU64,
    pub unauthenticated: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub sockets_accepted: AtomicU64,
    pub sockets_open: AtomicU64,
    pub upgrades_rejected: AtomicU64,
    pub channels_created: AtomicU64,
    pub channels_evicted: AtomicU64,
    pub conversations_started: AtomicU64,
    pub heartbeats_sent: AtomicU64,
}

impl Counters {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(c: &AtomicU64) {
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(1)));
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
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
