//! Applies faults (from the schedule, the random generator or the handle) and logs each one in
//! the truth's fault log. The vocabulary and wire behaviour are documented in [`crate::faults`].

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, sleep_until};

use crate::clock::Clock;
use crate::faults::{BadFrameKind, Fault, FaultKind, FaultRecord, FaultSource, Target};
use crate::org::ending::{evict, expire_now, revoke_tokens};
use crate::org::sockets::SocketCmd;
use crate::org::system::{SystemKind, system_frame};
use crate::org::{Org, lock};
use crate::ratelimit::HttpEffect;

/// Default size of an oversized frame: 1 MiB.
pub const DEFAULT_OVERSIZED: usize = 1 << 20;

fn matches_target(target: &Target, channel_id: &str, client_id: &str) -> bool {
    match target {
        Target::All => true,
        Target::Channel(id) => id == channel_id,
        Target::Client(c) => c == client_id,
    }
}

/// Sends a command to every connected socket the target covers; returns their channel ids.
fn to_sockets(org: &Org, target: &Target, make: impl Fn() -> SocketCmd) -> Vec<String> {
    let st = lock(&org.state);
    let mut hit = Vec::new();
    for ch in st.channels.values() {
        if !matches_target(target, &ch.id, &ch.client_id) {
            continue;
        }
        if let Some(att) = &ch.socket
            && att.tx.send(make()).is_ok()
        {
            hit.push(ch.id.clone());
        }
    }
    hit.sort();
    hit
}

fn live_channels(org: &Org, target: &Target) -> Vec<String> {
    let now = Instant::now();
    let st = lock(&org.state);
    let mut ids: Vec<String> = st
        .channels
        .values()
        .filter(|c| matches_target(target, &c.id, &c.client_id) && c.death(&st.tokens, now).is_none())
        .map(|c| c.id.clone())
        .collect();
    ids.sort();
    ids
}

fn until(org: &Org, duration: Option<Duration>) -> Option<Instant> {
    duration.map(|d| Instant::now() + org.real(d))
}

fn real_secs_ceil(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Applies a fault now and logs it. Returns the log record.
pub(crate) fn apply(org: &Org, fault: Fault, source: FaultSource) -> FaultRecord {
    let wall_ms = Clock::now_ms();
    let mut note = String::new();
    let affected: Vec<String> = match &fault {
        Fault::HalfOpen { target } => to_sockets(org, target, || SocketCmd::HalfOpen),
        Fault::TcpReset { target } => to_sockets(org, target, || SocketCmd::Reset),
        Fault::Close { target, code, reason } => {
            to_sockets(org, target, || SocketCmd::Close { code: *code, reason: reason.clone() })
        }
        Fault::SocketClosing { target, grace } => {
            let grace = org.real(grace.unwrap_or(org.cfg.notifications.socket_closing_grace));
            let st = lock(&org.state);
            let mut hit = Vec::new();
            for ch in st.channels.values() {
                if let Some(att) = ch.socket.as_ref().filter(|_| matches_target(target, &ch.id, &ch.client_id)) {
                    let text = system_frame(org, &ch.id, &ch.client_id, SystemKind::SocketClosing);
                    if att.tx.send(SocketCmd::SocketClosing { text, grace }).is_ok() {
                        hit.push(ch.id.clone());
                    }
                }
            }
            hit.sort();
            hit
        }
        Fault::ChannelExpiry { target } => {
            live_channels(org, target).into_iter().filter(|id| expire_now(org, id)).collect()
        }
        Fault::Eviction { target } => {
            let ids = live_channels(org, target);
            for id in &ids {
                evict(org, id);
            }
            ids
        }
        Fault::TokenRevocation { target } => {
            let tokens: Vec<String> = {
                let st = lock(&org.state);
                match target {
                    Target::All => st.tokens.keys().cloned().collect(),
                    Target::Client(c) => {
                        st.tokens.iter().filter(|(_, r)| &r.client_id == c).map(|(t, _)| t.clone()).collect()
                    }
                    Target::Channel(id) => st.channels.get(id).map(|c| c.token.clone()).into_iter().collect(),
                }
            };
            let dead = revoke_tokens(org, &tokens);
            note = format!("{} token(s) revoked", tokens.len());
            dead
        }
        Fault::RateLimitBurst { count, duration, endpoints, client, retry_after } => {
            let secs = real_secs_ceil(org.real(*retry_after));
            lock(&org.http_faults).add(
                HttpEffect::RateLimit { retry_after_secs: secs },
                *count,
                until(org, *duration),
                endpoints.clone(),
                client.clone(),
            );
            vec![client.clone().unwrap_or_else(|| "all".into())]
        }
        Fault::ServerErrorBurst { status, count, duration, endpoints, client } => {
            let status = if (500..600).contains(status) { *status } else { 503 };
            lock(&org.http_faults).add(
                HttpEffect::ServerError { status },
                *count,
                until(org, *duration),
                endpoints.clone(),
                client.clone(),
            );
            vec![client.clone().unwrap_or_else(|| "all".into())]
        }
        Fault::SlowResponses { delay, count, duration, endpoints, client } => {
            lock(&org.http_faults).add(
                HttpEffect::Slow { delay: org.real(*delay) },
                *count,
                until(org, *duration),
                endpoints.clone(),
                client.clone(),
            );
            vec![client.clone().unwrap_or_else(|| "all".into())]
        }
        Fault::AnalyticsDelaySpike { extra_delay, duration } => {
            lock(&org.delay_spikes).push((Instant::now() + org.real(*duration), *extra_delay));
            vec!["analytics".into()]
        }
        Fault::BadFrame { target, frame, size } => {
            let size = size.unwrap_or(DEFAULT_OVERSIZED);
            to_sockets(org, target, || SocketCmd::BadFrame { kind: *frame, size })
        }
    };
    if affected.is_empty() && note.is_empty() {
        note = "nothing matched the target".into();
    }
    tracing::info!(kind = ?fault.kind(), ?source, affected = affected.len(), "fault applied");
    let record = FaultRecord { wall_ms, source, fault, affected, note };
    lock(&org.truth).log_fault(record.clone());
    record
}

/// Runs the scheduled faults (times are protocol durations after start).
pub(crate) async fn run_schedule(org: Arc<Org>) {
    let mut schedule = org.cfg.faults.schedule.clone();
    schedule.sort_by_key(|s| s.at);
    for item in schedule {
        let at = org.started + org.real(item.at);
        tokio::select! {
            _ = org.cancel.cancelled() => return,
            _ = sleep_until(at) => {}
        }
        apply(&org, item.fault, FaultSource::Scheduled);
    }
}

fn random_fault(org: &Org, kind: FaultKind, rng: &mut StdRng) -> Fault {
    let pick = |ids: Vec<String>, rng: &mut StdRng| -> Target {
        if ids.is_empty() {
            Target::Channel(String::new())
        } else {
            Target::Channel(ids[rng.random_range(0..ids.len())].clone())
        }
    };
    let connected = || {
        let st = lock(&org.state);
        let mut ids: Vec<String> = st.channels.values().filter(|c| c.socket.is_some()).map(|c| c.id.clone()).collect();
        ids.sort();
        ids
    };
    match kind {
        FaultKind::HalfOpen => Fault::HalfOpen { target: pick(connected(), rng) },
        FaultKind::TcpReset => Fault::TcpReset { target: pick(connected(), rng) },
        FaultKind::Close => {
            let codes = [1001u16, 1006, 1011, 4000];
            Fault::Close {
                target: pick(connected(), rng),
                code: codes[rng.random_range(0..codes.len())],
                reason: String::new(),
            }
        }
        FaultKind::SocketClosing => Fault::SocketClosing { target: pick(connected(), rng), grace: None },
        FaultKind::ChannelExpiry => Fault::ChannelExpiry { target: pick(live_channels(org, &Target::All), rng) },
        FaultKind::Eviction => Fault::Eviction { target: pick(live_channels(org, &Target::All), rng) },
        FaultKind::TokenRevocation => {
            let clients: Vec<String> = org.cfg.clients.iter().map(|c| c.client_id.clone()).collect();
            Fault::TokenRevocation { target: Target::Client(clients[rng.random_range(0..clients.len())].clone()) }
        }
        FaultKind::RateLimitBurst => Fault::RateLimitBurst {
            count: Some(3),
            duration: None,
            endpoints: Vec::new(),
            client: None,
            retry_after: Duration::from_secs(3),
        },
        FaultKind::ServerErrorBurst => {
            let statuses = [500u16, 502, 503, 504];
            Fault::ServerErrorBurst {
                status: statuses[rng.random_range(0..statuses.len())],
                count: Some(3),
                duration: None,
                endpoints: Vec::new(),
                client: None,
            }
        }
        FaultKind::SlowResponses => Fault::SlowResponses {
            delay: Duration::from_secs(2),
            count: Some(5),
            duration: None,
            endpoints: Vec::new(),
            client: None,
        },
        FaultKind::AnalyticsDelaySpike => {
            Fault::AnalyticsDelaySpike { extra_delay: Duration::from_secs(300), duration: Duration::from_secs(600) }
        }
        FaultKind::BadFrame => {
            let kinds =
                [BadFrameKind::InvalidJson, BadFrameKind::UnknownTopic, BadFrameKind::Oversized, BadFrameKind::Binary];
            Fault::BadFrame {
                target: pick(connected(), rng),
                frame: kinds[rng.random_range(0..kinds.len())],
                size: None,
            }
        }
    }
}

/// Runs the random fault generator: one Poisson process per kind (rates per protocol hour).
pub(crate) async fn run_random(org: Arc<Org>) {
    let rates: Vec<(FaultKind, f64)> =
        org.cfg.faults.random.rates_per_hour.iter().filter(|(_, r)| **r > 0.0).map(|(k, r)| (*k, *r)).collect();
    if rates.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(org.cfg.seed ^ 0x5eed_fa01_7000_0001);
    let gap = |rng: &mut StdRng, per_hour: f64| {
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        org.real(Duration::from_secs_f64((-u.ln() / per_hour * 3600.0).min(1e9)))
    };
    let now = Instant::now();
    let mut next: Vec<(Instant, FaultKind, f64)> =
        rates.iter().map(|(k, r)| (now + gap(&mut rng, *r), *k, *r)).collect();
    loop {
        let Some(i) = (0..next.len()).min_by_key(|i| next[*i].0) else { return };
        tokio::select! {
            _ = org.cancel.cancelled() => return,
            _ = sleep_until(next[i].0) => {}
        }
        let (_, kind, rate) = next[i];
        let fault = random_fault(&org, kind, &mut rng);
        if !org.random_faults_paused.load(std::sync::atomic::Ordering::Relaxed) {
            apply(&org, fault, FaultSource::Random);
        }
        next[i].0 = Instant::now() + gap(&mut rng, rate);
    }
}
