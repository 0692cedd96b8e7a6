//! One shard of queues (≤ 1,000 topics) and the channel that covers it.
//!
//! The shard keeps one healthy channel and socket at a time and reports, in order, what it
//! received and how far its coverage is proven:
//!
//! * `Covered { from, until }` after the socket is healthy and after every successful check of
//!   the channel (`HEAD`) and its subscriptions (`GET`): every event of the shard's queues up to
//!   `until` was forwarded before this message. `from` is set when coverage (re)starts.
//! * `Lost { since }` when coverage ends: `since` is the last moment it was proven — the last
//!   heartbeat or pong when the channel is still valid afterwards (only the socket died), else the
//!   last successful channel check (the channel may have died silently before its socket did).
//!
//! Replacement policy: when only the socket died and `HEAD` says the channel is valid, the shard
//! reconnects to it (no creation or re-subscription, which may be rate-limited during an
//! incident), up to `max_reuses` times; otherwise it creates a new channel. Planned replacements
//! (`socket_closing`, approaching expiry, a new token) are make-before-break: the new channel is
//! subscribed, connected and healthy before the old socket is closed, so coverage never lapses.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{ChannelTopic, GenesysApi, TopicState};
use crate::auth::TokenSource;
use crate::frame::queue_topic;
use crate::notification::Notification;
use crate::socket::{self, Death, Ending, Socket, SocketEvent, SocketSettings, now_ms};
use crate::throttle::Throttle;

/// How long a stopping shard tries to delete its channel's subscriptions.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(3);

/// Channel policy for a shard.
#[derive(Debug, Clone)]
pub struct ShardSettings {
    pub socket: SocketSettings,
    pub verify_interval: Duration,
    pub max_reuses: u32,
    pub rollover_before_expiry: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

/// What a shard tells the connector, in the order it happened.
#[derive(Debug)]
pub enum ShardEvent {
    Conversation(Notification),
    Covered {
        queues: Arc<[String]>,
        from_ms: Option<i64>,
        until_ms: i64,
    },
    Lost {
        queues: Arc<[String]>,
        since_ms: i64,
        cause: &'static str,
        detail: String,
    },
    /// Topics Genesys refused to subscribe (with their missing permissions).
    Rejected {
        topics: Vec<ChannelTopic>,
    },
    /// The shard cannot go on (bad credentials, forbidden): the connector fails.
    Fatal(String),
}

/// Changes the connector asks of a shard.
#[derive(Debug)]
pub enum ShardCommand {
    SetQueues(BTreeSet<String>),
}

/// A shard's state for status and metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShardStatus {
    pub shard: usize,
    pub state: &'static str,
    pub channel_id: Option<String>,
    pub channel_created_ms: Option<i64>,
    pub channel_expires_ms: Option<i64>,
    pub channel_reuses: u32,
    pub topics: usize,
    pub last_proof_ms: Option<i64>,
    pub last_verified_ms: Option<i64>,
    pub rejected: Vec<ChannelTopic>,
    pub last_death: Option<DeathReport>,
    pub reconnects: std::collections::BTreeMap<&'static str, u64>,
    /// Planned make-before-break replacements.
    pub rollovers: u64,
    pub bad_frames: u64,
    pub unknown_topics: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeathReport {
    pub cause: &'static str,
    pub detail: String,
    pub detected_ms: i64,
    /// From the last sign of life to detection.
    pub detection_ms: i64,
    /// From detection to a healthy replacement (set once recovered).
    pub recovery_ms: Option<i64>,
}

#[derive(Debug, Clone)]
struct ChannelInfo {
    id: Arc<str>,
    connect_uri: String,
    created_ms: i64,
    expires_ms: Option<i64>,
    token_generation: u64,
    reuses: u32,
}

struct Live {
    channel: ChannelInfo,
    socket: Socket,
    queues: Arc<[String]>,
    last_proof_ms: i64,
    last_verified_ms: i64,
}

/// How a live channel ended.
enum End {
    Died(Ending),
    /// The channel check failed: gone (404) or topics missing.
    Invalid {
        detail: String,
    },
    Stopped,
}

/// The result of a successful channel check.
enum Check {
    Good,
    Bad(String),
}

pub struct Shard {
    pub index: usize,
    queues: BTreeSet<String>,
    api: GenesysApi,
    auth: TokenSource,
    settings: ShardSettings,
    out: mpsc::Sender<ShardEvent>,
    commands: mpsc::Receiver<ShardCommand>,
    status: Arc<Mutex<ShardStatus>>,
    stop: CancellationToken,
    connector: String,
    /// Shared with replacements built in the background.
    log: Arc<Mutex<Throttle>>,
}

impl Shard {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        queues: BTreeSet<String>,
        api: GenesysApi,
        auth: TokenSource,
        settings: ShardSettings,
        out: mpsc::Sender<ShardEvent>,
        commands: mpsc::Receiver<ShardCommand>,
        stop: CancellationToken,
        connector: String,
    ) -> (Self, Arc<Mutex<ShardStatus>>) {
        let status = Arc::new(Mutex::new(ShardStatus { shard: index, state: "starting", ..Default::default() }));
        let log = Arc::new(Mutex::new(Throttle::default()));
        // Registered now, so that it reads 0 (not absent) until the first rollover.
        metrics::counter!("genesys_rollovers_total", "connector" => connector.clone()).increment(0);
        (
            Self { index, queues, api, auth, settings, out, commands, status: status.clone(), stop, connector, log },
            status,
        )
    }

    /// Whether a log line of `kind` is written now (see [`Throttle`]).
    fn admit(&self, kind: &'static str) -> Option<u64> {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).admit(kind)
    }

    /// Deletes `live`'s subscriptions, [`RELEASE_TIMEOUT`] at most.
    async fn release(&self, live: &Live) {
        match tokio::time::timeout(RELEASE_TIMEOUT, self.api.delete_subscriptions(&live.channel.id)).await {
            Ok(Ok(())) => {
                tracing::debug!(shard = self.index, channel = %live.channel.id, "channel subscriptions released")
            }
            Ok(Err(e)) => {
                tracing::warn!(shard = self.index, channel = %live.channel.id, error = %e, "cannot release the channel's subscriptions; it expires by itself")
            }
            Err(_) => {
                tracing::warn!(shard = self.index, channel = %live.channel.id, "releasing the channel's subscriptions timed out; it expires by itself")
            }
        }
    }

    fn set_status(&self, f: impl FnOnce(&mut ShardStatus)) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
    }

    async fn send(&self, event: ShardEvent) -> bool {
        self.out.send(event).await.is_ok()
    }

    /// Runs until stopped or fatally failed. Stopped with a channel up, it deletes the channel's
    /// subscriptions before it returns: the API has no channel `DELETE`, but a channel without
    /// subscriptions or a connection stops receiving events, and it is the first one Genesys
    /// evicts when the OAuth client's 20-channel budget is full. This matters when another
    /// replica takes the connector over and creates its own channels.
    pub async fn run(mut self) {
        let mut reuse: Option<ChannelInfo> = None;
        let mut failures = 0u32;
        let mut pending_death: Option<DeathReport> = None;
        while !self.stop.is_cancelled() {
            if self.queues.is_empty() {
                self.set_status(|s| s.state = "idle");
                tokio::select! {
                    _ = self.stop.cancelled() => return,
                    cmd = self.commands.recv() => match cmd {
                        Some(ShardCommand::SetQueues(q)) => self.queues = q,
                        None => return,
                    }
                }
                continue;
            }
            self.set_status(|s| s.state = "connecting");
            let live = match self.bring_up(reuse.take()).await {
                Ok(live) => live,
                Err(e) if e.fatal => {
                    let _ = self.send(ShardEvent::Fatal(e.message)).await;
                    return;
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff(&self.settings, failures);
                    if let Some(suppressed) = self.admit("bring up") {
                        tracing::warn!(shard = self.index, error = %e.message, retry_in = ?delay, suppressed, "cannot bring up a channel");
                    }
                    self.set_status(|s| s.state = "backoff");
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    continue;
                }
            };
            failures = 0;
            if let Some(mut report) = pending_death.take() {
                let recovery = live.socket.healthy_ms - report.detected_ms;
                report.recovery_ms = Some(recovery);
                metrics::histogram!("genesys_recovery_seconds", "connector" => self.connector.clone())
                    .record(recovery as f64 / 1000.0);
                if let Some(suppressed) = self.admit("restored") {
                    tracing::info!(
                        shard = self.index, channel = %live.channel.id, queues = live.queues.len(), recovery_ms = recovery,
                        cause = report.cause, suppressed, "coverage restored"
                    );
                }
                self.set_status(|s| s.last_death = Some(report));
            }
            let queues = live.queues.clone();
            if !self
                .send(ShardEvent::Covered {
                    queues,
                    from_ms: Some(live.socket.healthy_ms),
                    until_ms: live.socket.healthy_ms,
                })
                .await
            {
                return;
            }
            let (end, live) = self.run_live(live).await;
            let Some(live) = live else { return };
            let (since_ms, cause, detail, detected_ms, detection_ms) = match end {
                End::Stopped => {
                    self.release(&live).await;
                    return;
                }
                End::Died(ending) => {
                    let valid = if ending.death.channel_dead() {
                        false
                    } else {
                        matches!(
                            tokio::time::timeout(Duration::from_secs(5), self.api.channel_exists(&live.channel.id))
                                .await,
                            Ok(Ok(true))
                        )
                    };
                    if valid && live.channel.reuses < self.settings.max_reuses {
                        let mut channel = live.channel.clone();
                        channel.reuses += 1;
                        reuse = Some(channel);
                    }
                    if matches!(ending.death, Death::TokenRevoked) {
                        self.auth.invalidate(live.channel.token_generation);
                    }
                    let since =
                        if valid { ending.last_proof_ms } else { ending.last_proof_ms.min(live.last_verified_ms) };
                    let detection = ending.detected_ms - ending.last_proof_ms;
                    (since, ending.death.cause(), ending.death.to_string(), ending.detected_ms, detection)
                }
                End::Invalid { detail } => {
                    // Pongs went on proving the socket while the channel was dead: the channel
                    // was last known good at its last successful check, so detection counts
                    // from there, as coverage does.
                    let now = now_ms();
                    let since = live.last_verified_ms.min(live.last_proof_ms);
                    (since, "channel_invalid", detail, now, now - since)
                }
            };
            live.socket.close();
            if let Some(suppressed) = self.admit("lost") {
                tracing::warn!(
                    shard = self.index, channel = %live.channel.id, queues = live.queues.len(), cause, detail = %detail,
                    covered_until_ms = since_ms, detection_ms, reuse = reuse.is_some(), suppressed,
                    "coverage lost"
                );
            }
            metrics::counter!("genesys_reconnects_total", "connector" => self.connector.clone(), "cause" => cause)
                .increment(1);
            metrics::histogram!("genesys_detection_seconds", "connector" => self.connector.clone())
                .record(detection_ms.max(0) as f64 / 1000.0);
            self.set_status(|s| {
                *s.reconnects.entry(cause).or_default() += 1;
                s.state = "reconnecting";
            });
            pending_death =
                Some(DeathReport { cause, detail: detail.clone(), detected_ms, detection_ms, recovery_ms: None });
            if !self.send(ShardEvent::Lost { queues: live.queues.clone(), since_ms, cause, detail }).await {
                return;
            }
        }
    }

    /// A healthy, subscribed channel: the reused one if still valid, else a new one.
    async fn bring_up(&mut self, reuse: Option<ChannelInfo>) -> Result<Live, BringUpError> {
        let topics: Vec<String> = self.queues.iter().map(|q| queue_topic(q)).collect();
        let (channel, permitted) = match reuse {
            Some(channel) => match self.api.get_subscriptions(&channel.id).await {
                Ok(subs) if subs_cover(&subs, &topics) => {
                    let permitted = permitted_queues(&subs);
                    (channel, permitted)
                }
                _ => self.create_and_subscribe(&topics).await?,
            },
            None => self.create_and_subscribe(&topics).await?,
        };
        let socket = socket::open(&channel.connect_uri, &self.settings.socket)
            .await
            .map_err(|e| BringUpError { fatal: e.is_fatal(), message: format!("channel {}: {e}", channel.id) })?;
        let healthy = socket.healthy_ms;
        let queues: Arc<[String]> = permitted.into();
        self.set_status(|s| {
            s.state = "healthy";
            s.channel_id = Some(channel.id.to_string());
            s.channel_created_ms = Some(channel.created_ms);
            s.channel_expires_ms = channel.expires_ms;
            s.channel_reuses = channel.reuses;
            s.topics = queues.len();
            s.last_proof_ms = Some(healthy);
            s.last_verified_ms = Some(healthy);
        });
        tracing::info!(shard = self.index, channel = %channel.id, topics = queues.len(), reuses = channel.reuses, "channel healthy");
        Ok(Live { channel, socket, queues, last_proof_ms: healthy, last_verified_ms: healthy })
    }

    async fn create_and_subscribe(&mut self, topics: &[String]) -> Result<(ChannelInfo, Vec<String>), BringUpError> {
        let created = self.api.create_channel().await.map_err(BringUpError::rest("create a channel"))?;
        let subs = self.api.put_subscriptions(&created.id, topics).await.map_err(BringUpError::rest("subscribe"))?;
        let rejected: Vec<ChannelTopic> = subs.iter().filter(|t| rejected(t)).cloned().collect();
        if !rejected.is_empty() {
            for topic in &rejected {
                tracing::error!(
                    shard = self.index, topic = %topic.id, reason = topic.rejection_reason.as_deref().unwrap_or(""),
                    missing_permissions = ?topic.missing_permissions,
                    "Genesys rejected a subscription; this queue is not covered"
                );
            }
            self.set_status(|s| s.rejected = rejected.clone());
            let _ = self.out.send(ShardEvent::Rejected { topics: rejected }).await;
        }
        let permitted = permitted_queues(&subs);
        let channel = ChannelInfo {
            id: created.id.as_str().into(),
            connect_uri: created.connect_uri,
            created_ms: now_ms(),
            expires_ms: Some(created.expires_ms),
            token_generation: created.token_generation,
            reuses: 0,
        };
        Ok((channel, permitted))
    }

    /// Runs a healthy channel until it ends; returns the end and the live channel (None when
    /// the connector is gone).
    async fn run_live(&mut self, mut live: Live) -> (End, Option<Live>) {
        let mut verify = tokio::time::interval(self.settings.verify_interval);
        verify.reset();
        let mut checking: Option<JoinHandle<(i64, Result<Check, String>)>> = None;
        let mut replacing: Option<JoinHandle<Result<Live, BringUpError>>> = None;
        let mut generation = self.auth.subscribe();
        let mut rollover_at = rollover_deadline(&live.channel, &self.settings);
        let mut replace_failures = 0u32;
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return (End::Stopped, Some(live)),
                event = live.socket.events.recv() => match event {
                    Some(event) => {
                        if !self.forward(&mut live, event, &mut rollover_at).await {
                            return (End::Stopped, None);
                        }
                    }
                    None => {
                        // The actor ended; its ending explains why.
                        let ending = (&mut live.socket.ending).await.unwrap_or(Ending {
                            death: Death::Stopped, last_proof_ms: live.last_proof_ms, detected_ms: now_ms(),
                        });
                        return (End::Died(ending), Some(live));
                    }
                },
                _ = verify.tick(), if checking.is_none() => {
                    let api = self.api.clone();
                    let channel = live.channel.id.clone();
                    let wanted: Vec<String> = live.queues.iter().map(|q| queue_topic(q)).collect();
                    checking = Some(tokio::spawn(async move {
                        let at = now_ms();
                        (at, check_channel(&api, &channel, &wanted).await)
                    }));
                }
                checked = async { checking.as_mut().expect("guarded by the branch condition").await }, if checking.is_some() => {
                    checking = None;
                    match checked {
                        Ok((at, Ok(Check::Good))) => {
                            live.last_verified_ms = at;
                            let until = at.min(live.last_proof_ms);
                            self.set_status(|s| s.last_verified_ms = Some(at));
                            if !self.send(ShardEvent::Covered { queues: live.queues.clone(), from_ms: None, until_ms: until }).await {
                                return (End::Stopped, None);
                            }
                        }
                        Ok((_, Ok(Check::Bad(detail)))) => return (End::Invalid { detail }, Some(live)),
                        Ok((_, Err(e))) => tracing::warn!(shard = self.index, error = %e, "channel check failed; will retry"),
                        Err(e) => tracing::warn!(shard = self.index, error = %e, "channel check panicked"),
                    }
                }
                _ = sleep_until_ms(rollover_at), if replacing.is_none() => {
                    tracing::info!(shard = self.index, channel = %live.channel.id, "rolling the channel over (make before break)");
                    replacing = Some(self.spawn_replacement());
                    rollover_at = None;
                }
                changed = generation.changed(), if replacing.is_none() => {
                    if changed.is_ok() && *generation.borrow() != live.channel.token_generation {
                        tracing::info!(shard = self.index, channel = %live.channel.id, "new token: rolling the channel over");
                        replacing = Some(self.spawn_replacement());
                    }
                }
                built = async { replacing.as_mut().expect("guarded by the branch condition").await }, if replacing.is_some() => {
                    replacing = None;
                    match built {
                        Ok(Ok(new)) => {
                            replace_failures = 0;
                            // Everything the old socket received before it closes is forwarded first.
                            live.socket.close();
                            while let Ok(event) = live.socket.events.try_recv() {
                                if !self.forward(&mut live, event, &mut None).await {
                                    return (End::Stopped, None);
                                }
                            }
                            tracing::info!(shard = self.index, old = %live.channel.id, new = %new.channel.id, "rolled over");
                            metrics::counter!("genesys_rollovers_total", "connector" => self.connector.clone()).increment(1);
                            self.set_status(|s| s.rollovers += 1);
                            live = new;
                            rollover_at = rollover_deadline(&live.channel, &self.settings);
                            verify.reset();
                        }
                        Ok(Err(e)) => {
                            replace_failures += 1;
                            let delay = backoff(&self.settings, replace_failures);
                            tracing::warn!(shard = self.index, error = %e.message, retry_in = ?delay, "rollover failed; keeping the current channel");
                            rollover_at = Some(now_ms() + delay.as_millis() as i64);
                        }
                        Err(e) => tracing::warn!(shard = self.index, error = %e, "rollover panicked"),
                    }
                }
                command = self.commands.recv() => match command {
                    Some(ShardCommand::SetQueues(queues)) => {
                        if queues != self.queues {
                            self.queues = queues;
                            // Subscriptions are replaced on a fresh channel so coverage of the new
                            // set starts cleanly.
                            replacing = Some(self.spawn_replacement());
                        }
                    }
                    None => return (End::Stopped, Some(live)),
                },
            }
        }
    }

    /// Forwards one socket event; false when the connector is gone.
    async fn forward(&mut self, live: &mut Live, event: SocketEvent, rollover_at: &mut Option<i64>) -> bool {
        match event {
            SocketEvent::Proof { at_ms } => {
                live.last_proof_ms = at_ms;
                self.set_status(|s| s.last_proof_ms = Some(at_ms));
                true
            }
            SocketEvent::Conversation(mut notification) => {
                notification.channel_id = Some(live.channel.id.clone());
                self.send(ShardEvent::Conversation(notification)).await
            }
            SocketEvent::SocketClosing => {
                tracing::info!(shard = self.index, channel = %live.channel.id, "socket_closing received");
                *rollover_at = Some(now_ms());
                true
            }
            SocketEvent::SubscriptionChanged => true,
            SocketEvent::Bad { reason } => {
                metrics::counter!("genesys_bad_frames_total", "connector" => self.connector.clone()).increment(1);
                self.set_status(|s| s.bad_frames += 1);
                if let Some(suppressed) = self.admit("bad frame") {
                    tracing::warn!(shard = self.index, channel = %live.channel.id, reason = %reason, suppressed, "bad frame ignored");
                }
                true
            }
            SocketEvent::UnknownTopic { topic } => {
                metrics::counter!("genesys_unknown_topics_total", "connector" => self.connector.clone()).increment(1);
                self.set_status(|s| s.unknown_topics += 1);
                if let Some(suppressed) = self.admit("unknown topic") {
                    tracing::warn!(shard = self.index, channel = %live.channel.id, topic = %topic, suppressed, "notification on an unexpected topic ignored");
                }
                true
            }
        }
    }

    /// Builds a replacement channel in the background (make before break).
    fn spawn_replacement(&self) -> JoinHandle<Result<Live, BringUpError>> {
        let mut builder = Shard {
            index: self.index,
            queues: self.queues.clone(),
            api: self.api.clone(),
            auth: self.auth.clone(),
            settings: self.settings.clone(),
            out: self.out.clone(),
            commands: mpsc::channel(1).1,
            status: self.status.clone(),
            stop: self.stop.clone(),
            connector: self.connector.clone(),
            log: self.log.clone(),
        };
        tokio::spawn(async move { builder.bring_up(None).await })
    }
}

/// When to roll `channel` over: `rollover_before_expiry` ahead of its expiry, capped at a tenth
/// of its lifetime.
fn rollover_deadline(channel: &ChannelInfo, settings: &ShardSettings) -> Option<i64> {
    let expires = channel.expires_ms?;
    let lifetime = (expires - channel.created_ms).max(0);
    let lead = (settings.rollover_before_expiry.as_millis() as i64).min(lifetime / 10);
    Some(expires - lead)
}

async fn sleep_until_ms(at: Option<i64>) {
    match at {
        Some(at) => tokio::time::sleep(Duration::from_millis((at - now_ms()).max(0) as u64)).await,
        None => std::future::pending().await,
    }
}

fn backoff(settings: &ShardSettings, failures: u32) -> Duration {
    let base = settings.backoff_initial.saturating_mul(1 << failures.min(16).saturating_sub(1));
    let capped = base.min(settings.backoff_max);
    // Full jitter on half the delay, so shards and tenants do not retry in lockstep.
    let half = capped / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis().max(1) as u64))
}

fn rejected(topic: &ChannelTopic) -> bool {
    topic.state == TopicState::Rejected
}

fn subs_cover(subs: &[ChannelTopic], topics: &[String]) -> bool {
    let have: BTreeSet<&str> = subs.iter().filter(|t| !rejected(t)).map(|t| t.id.as_str()).collect();
    topics.iter().all(|t| have.contains(t.as_str()))
}

fn permitted_queues(subs: &[ChannelTopic]) -> Vec<String> {
    subs.iter()
        .filter(|t| !rejected(t))
        .filter_map(|t| crate::frame::queue_of_topic(&t.id).map(str::to_owned))
        .collect()
}

/// `HEAD` the channel and `GET` its subscriptions.
async fn check_channel(api: &GenesysApi, channel: &str, wanted: &[String]) -> Result<Check, String> {
    match api.channel_exists(channel).await {
        Ok(true) => {}
        Ok(false) => return Ok(Check::Bad("HEAD answered 404: the channel is gone".into())),
        Err(e) => return Err(e.to_string()),
    }
    match api.get_subscriptions(channel).await {
        Ok(subs) => {
            if subs_cover(&subs, wanted) {
                Ok(Check::Good)
            } else {
                let have: BTreeSet<&str> = subs.iter().map(|t| t.id.as_str()).collect();
                let missing = wanted.iter().filter(|t| !have.contains(t.as_str())).count();
                Ok(Check::Bad(format!("{missing} subscribed topic(s) missing from the channel")))
            }
        }
        Err(e) if e.is_not_found() => Ok(Check::Bad("subscriptions answered 404: the channel is gone".into())),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug)]
struct BringUpError {
    fatal: bool,
    message: String,
}

impl BringUpError {
    fn rest(what: &'static str) -> impl Fn(crate::rest::RestError) -> BringUpError {
        move |e| BringUpError { fatal: e.is_fatal(), message: format!("cannot {what}: {e}") }
    }
}
