//! [`Simulator::start`] and the [`SimHandle`] tests and the binary drive the org through.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, instant_to_wall_ms};
use crate::config::SimConfig;
use crate::conversation::ConversationStore;
use crate::error::{Result, SimError};
use crate::faults::{Fault, FaultRecord, FaultSource};
use crate::org::counters::Counters;
use crate::org::queues::{self, QueueRec};
use crate::org::state::State;
use crate::org::traffic::TrafficShared;
use crate::org::{Org, Urls, lock};
use crate::ratelimit::ClientStats;
use crate::truth::Truth;

/// Entry point.
pub struct Simulator;

impl Simulator {
    /// Validates `config`, binds the login, API and streaming listeners on `listen.host`, and
    /// starts serving, generating traffic and running the fault schedule.
    pub async fn start(config: SimConfig) -> Result<SimHandle> {
        config.validate()?;
        let host = config.listen.host.clone();
        let login = crate::server::bind(&host, config.listen.login_port).await?;
        let api = crate::server::bind(&host, config.listen.api_port).await?;
        let streaming = crate::server::bind(&host, config.listen.streaming_port).await?;
        let advertised = config.listen.advertised_host.clone();
        let addr = |l: &tokio::net::TcpListener| {
            let local = l.local_addr().map_err(SimError::Io)?;
            Ok::<String, SimError>(match &advertised {
                Some(host) => format!("{host}:{}", local.port()),
                None => local.to_string(),
            })
        };
        let urls = Urls {
            login: format!("http://{}", addr(&login)?),
            api: format!("http://{}", addr(&api)?),
            streaming: format!("ws://{}", addr(&streaming)?),
        };
        let state = State { queues: queues::initial(&config.queues, config.seed), ..State::default() };
        let org = Arc::new(Org {
            clock: Clock::new(config.time_scale),
            started: Instant::now(),
            started_ms: Clock::now_ms(),
            urls,
            state: Mutex::new(state),
            truth: Mutex::default(),
            convs: Mutex::new(ConversationStore::default()),
            limiter: Mutex::default(),
            http_faults: Mutex::default(),
            jobs: Mutex::default(),
            delay_spikes: Mutex::default(),
            traffic: TrafficShared::new(config.seed),
            counters: Counters::default(),
            random_faults_paused: std::sync::atomic::AtomicBool::new(false),
            cancel: CancellationToken::new(),
            cfg: config,
        });
        let tasks = crate::server::spawn_all(org.clone(), login, api, streaming);
        tracing::info!(api = org.urls.api, login = org.urls.login, streaming = org.urls.streaming, "simulator started");
        Ok(SimHandle { org, tasks })
    }
}

/// Credentials of one OAuth client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

/// A queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueInfo {
    pub id: String,
    pub name: String,
}

/// Summary of one channel for [`SimHandle::channels`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelInfo {
    pub id: String,
    pub client_id: String,
    pub live: bool,
    /// Why it is dead, if it is.
    pub dead_reason: Option<String>,
    /// A socket is attached (and not half-open).
    pub connected: bool,
    pub topics: Vec<String>,
    pub expires_ms: i64,
}

/// Counters and per-client accounting.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SimStats {
    /// REST requests on the login and API hosts.
    pub requests_total: u64,
    /// REST requests rejected with 401.
    pub unauthenticated: u64,
    pub tokens_issued: u64,
    pub clients: BTreeMap<String, ClientStats>,
    pub sockets_accepted: u64,
    pub sockets_open: u64,
    pub upgrades_rejected: u64,
    pub channels_created: u64,
    pub channels_evicted: u64,
    pub channels_live: usize,
    pub conversations_started: u64,
    pub conversations_known: usize,
    pub snapshots_generated: usize,
    pub snapshots_delivered: usize,
    pub heartbeats_sent: u64,
    pub faults_applied: usize,
}

/// A running simulated org. Dropping it stops every task (prefer [`SimHandle::shutdown`]).
pub struct SimHandle {
    org: Arc<Org>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` of the API host (`/api/v2/...`).
    pub fn api_base_url(&self) -> &str {
        &self.org.urls.api
    }

    /// `http://127.0.0.1:PORT` of the login host (`/oauth/token`).
    pub fn login_base_url(&self) -> &str {
        &self.org.urls.login
    }

    /// `ws://127.0.0.1:PORT` of the streaming host (channels' `connectUri`s point here).
    pub fn streaming_base_url(&self) -> &str {
        &self.org.urls.streaming
    }

    /// The first configured client's credentials.
    pub fn credentials(&self) -> ClientCredentials {
        self.all_credentials()
            .into_iter()
            .next()
            .unwrap_or(ClientCredentials { client_id: String::new(), client_secret: String::new() })
    }

    /// Every configured client's credentials.
    pub fn all_credentials(&self) -> Vec<ClientCredentials> {
        self.org
            .cfg
            .clients
            .iter()
            .map(|c| ClientCredentials { client_id: c.client_id.clone(), client_secret: c.client_secret.clone() })
            .collect()
    }

    /// Ids of all queues, in creation order.
    pub fn queue_ids(&self) -> Vec<String> {
        lock(&self.org.state).queues.iter().map(|q| q.id.clone()).collect()
    }

    /// All queues, in creation order.
    pub fn queues(&self) -> Vec<QueueInfo> {
        lock(&self.org.state).queues.iter().map(|q| QueueInfo { id: q.id.clone(), name: q.name.clone() }).collect()
    }

    /// Adds a queue now (traffic starts arriving on it too). Returns its id.
    pub fn add_queue(&self, name: &str) -> String {
        let mut st = lock(&self.org.state);
        let id = queues::queue_id(self.org.cfg.seed, st.queues.len());
        st.queues.push(QueueRec { id: id.clone(), name: name.to_string(), created_ms: Clock::now_ms() });
        id
    }

    /// Starts one conversation on `queue_id` now, independent of the arrival process.
    /// Returns its id, or `None` if the queue does not exist.
    pub fn start_conversation(&self, queue_id: &str) -> Option<String> {
        crate::traffic::start_conversation(&self.org, queue_id)
    }

    /// Pauses (`true`) or resumes the arrival process; conversations in progress run to the end.
    pub fn pause_traffic(&self, paused: bool) {
        self.org.traffic.paused.store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops (or resumes) the random fault generator, e.g. to let a client settle at the end of
    /// a chaos run. Scheduled and injected faults are not affected.
    pub fn pause_random_faults(&self, paused: bool) {
        self.org.random_faults_paused.store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// Applies a fault immediately and logs it.
    pub fn inject(&self, fault: Fault) -> FaultRecord {
        crate::injector::apply(&self.org, fault, FaultSource::Injected)
    }

    /// A copy of the ground truth now.
    pub fn truth(&self) -> Truth {
        lock(&self.org.truth).snapshot()
    }

    /// Writes the truth as JSON lines (see [`Truth::write_jsonl`]).
    pub fn dump_truth_jsonl(&self, path: impl AsRef<Path>) -> Result<()> {
        self.truth().write_jsonl(path)
    }

    /// Every channel, live or dead.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let now = Instant::now();
        let st = lock(&self.org.state);
        let mut out: Vec<ChannelInfo> = st
            .channels
            .values()
            .map(|c| {
                let death = c.death(&st.tokens, now);
                ChannelInfo {
                    id: c.id.clone(),
                    client_id: c.client_id.clone(),
                    live: death.is_none(),
                    dead_reason: death.map(|d| d.as_str().to_string()),
                    connected: c.socket.is_some(),
                    topics: c.topics.clone(),
                    expires_ms: instant_to_wall_ms(c.expires),
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Counters and per-client request accounting.
    pub fn stats(&self) -> SimStats {
        let c = &self.org.counters;
        let (generated, delivered, faults) = {
            let t = lock(&self.org.truth).snapshot();
            (t.snapshots.len(), t.snapshots.iter().filter(|s| !s.deliveries.is_empty()).count(), t.faults.len())
        };
        SimStats {
            requests_total: Counters::get(&c.requests_total),
            unauthenticated: Counters::get(&c.unauthenticated),
            tokens_issued: Counters::get(&c.tokens_issued),
            clients: lock(&self.org.limiter).stats(),
            sockets_accepted: Counters::get(&c.sockets_accepted),
            sockets_open: Counters::get(&c.sockets_open),
            upgrades_rejected: Counters::get(&c.upgrades_rejected),
            channels_created: Counters::get(&c.channels_created),
            channels_evicted: Counters::get(&c.channels_evicted),
            channels_live: lock(&self.org.state).live_channel_ids(None, Instant::now()).len(),
            conversations_started: Counters::get(&c.conversations_started),
            conversations_known: lock(&self.org.convs).len(),
            snapshots_generated: generated,
            snapshots_delivered: delivered,
            heartbeats_sent: Counters::get(&c.heartbeats_sent),
            faults_applied: faults,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.org.cfg
    }

    /// The time scale.
    pub fn clock(&self) -> Clock {
        self.org.clock
    }

    /// Wall time (ms) the org started; scheduled faults count from here.
    pub fn started_ms(&self) -> i64 {
        self.org.started_ms
    }

    /// Where to point a client, as printable text.
    pub fn connection_info(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("login base URL:     {}\n", self.login_base_url()));
        s.push_str(&format!("API base URL:       {}\n", self.api_base_url()));
        s.push_str(&format!("streaming base URL: {}\n", self.streaming_base_url()));
        for c in self.all_credentials() {
            s.push_str(&format!("client:             {} / {}\n", c.client_id, c.client_secret));
        }
        for q in self.queues() {
            s.push_str(&format!("queue:              {} {}\n", q.id, q.name));
        }
        s.push_str(&format!("time scale:         {}\n", self.org.clock.scale()));
        s
    }

    /// Stops every server and task and waits (bounded) for them.
    pub async fn shutdown(mut self) {
        self.org.cancel.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.org.cancel.cancel();
    }
}
