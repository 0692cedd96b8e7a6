//! Per-client request budgets, HTTP fault bursts, and the request accounting tests query.
//!
//! Budget (§4.5): `requests_per_minute` per OAuth client in fixed windows of one protocol minute
//! (scaled). Over budget → 429 with `Retry-After` (real seconds until the window resets, at least
//! 1), `inin-ratelimit-count` / `-allowed` / `-reset`, and an `ErrorBody` whose message is the
//! swagger text "Rate limit exceeded the maximum. Retry the request in [N] seconds" and whose
//! `limit` is `{key: "client.credentials.token.rate.per.minute", namespace: "platform.api", value}`.
//! Rejected requests count towards the window as well.
//!
//! Accounting: every REST request is counted per client; every 429 (budget or fault) records a
//! "not before" instant; a request from that client before it is logged as an early request, with
//! how early it was, so a test can prove a client obeyed `Retry-After`. A request that arrives
//! within [`IN_FLIGHT_GRACE`] of the 429 is not early: a client with requests in flight, or sent
//! while the 429 was on its way, cannot have read it yet. Those are counted in
//! `in_flight_after_429`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::faults::EndpointClass;

/// How long after a 429 a request still counts as sent before the client could have read it.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_millis(50);

/// A request that arrived before the `Retry-After` the client had been given elapsed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EarlyRequest {
    pub wall_ms: i64,
    pub endpoint: EndpointClass,
    /// How long before the allowed instant it arrived.
    pub early_by_ms: i64,
}

/// One 429 the simulator issued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThrottleEvent {
    pub wall_ms: i64,
    pub endpoint: EndpointClass,
    pub retry_after_secs: u64,
    /// `true` when a `rate_limit_burst` fault caused it rather than the budget.
    pub from_fault: bool,
}

/// Request accounting for one OAuth client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ClientStats {
    /// REST requests that authenticated as this client (including rejected ones).
    pub requests: u64,
    pub requests_by_endpoint: BTreeMap<String, u64>,
    pub tokens_issued: u64,
    /// 429s from the per-minute budget.
    pub rate_limited: u64,
    /// 429s from `rate_limit_burst` faults.
    pub fault_429s: u64,
    /// 5xx from `server_error_burst` faults.
    pub fault_5xx: u64,
    /// Highest request count seen in one budget window.
    pub max_requests_in_window: u32,
    pub throttles: Vec<ThrottleEvent>,
    pub early_requests: Vec<EarlyRequest>,
    /// Requests within [`IN_FLIGHT_GRACE`] of a 429 (not counted as early).
    pub in_flight_after_429: u64,
}

#[derive(Debug, Default)]
struct Window {
    start: Option<Instant>,
    count: u32,
}

/// Per-client budget state plus [`ClientStats`].
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: BTreeMap<String, Window>,
    /// Per client: when the last 429 was issued, and the instant before which it should not return.
    not_before: BTreeMap<String, (Instant, Instant)>,
    stats: BTreeMap<String, ClientStats>,
}

/// The budget state reported in `inin-ratelimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub count: u32,
    pub allowed: u32,
    pub reset_secs: u64,
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

impl RateLimiter {
    pub fn client_mut(&mut self, client_id: &str) -> &mut ClientStats {
        self.stats.entry(client_id.to_string()).or_default()
    }

    pub fn stats(&self) -> BTreeMap<String, ClientStats> {
        self.stats.clone()
    }

    /// Counts a request and logs it if it came before the client's `Retry-After` elapsed.
    pub fn record_request(&mut self, client_id: &str, endpoint: EndpointClass, now: Instant) {
        let pending = self.not_before.get(client_id).copied().filter(|(_, nb)| now < *nb);
        let in_flight = pending.is_some_and(|(issued, _)| now.saturating_duration_since(issued) < IN_FLIGHT_GRACE);
        let stats = self.client_mut(client_id);
        stats.requests += 1;
        *stats.requests_by_endpoint.entry(endpoint_name(endpoint).to_string()).or_default() += 1;
        if in_flight {
            stats.in_flight_after_429 += 1;
        } else if let Some((_, nb)) = pending {
            let by = nb - now;
            stats.early_requests.push(EarlyRequest {
                wall_ms: Clock::now_ms(),
                endpoint,
                early_by_ms: i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
            });
        }
    }

    /// Applies the budget. `Err` carries the 429's `Retry-After` in real seconds.
    pub fn check(
        &mut self,
        client_id: &str,
        allowed: u32,
        window: Duration,
        endpoint: EndpointClass,
        now: Instant,
    ) -> Result<Budget, (u64, Budget)> {
        let w = self.windows.entry(client_id.to_string()).or_default();
        let start = match w.start {
            Some(s) if now.duration_since(s) < window => s,
            _ => {
                w.count = 0;
                w.start = Some(now);
                now
            }
        };
        w.count = w.count.saturating_add(1);
        let count = w.count;
        let remaining = window.saturating_sub(now.duration_since(start));
        let budget = Budget { count, allowed, reset_secs: ceil_secs(remaining) };
        let stats = self.client_mut(client_id);
        stats.max_requests_in_window = stats.max_requests_in_window.max(count.min(allowed.saturating_add(1)));
        if count <= allowed {
            return Ok(budget);
        }
        let retry = budget.reset_secs;
        self.throttled(client_id, endpoint, retry, false, now);
        Err((retry, budget))
    }

    /// Records a 429 and the instant before which the client should not come back.
    pub fn throttled(
        &mut self,
        client_id: &str,
        endpoint: EndpointClass,
        retry_after_secs: u64,
        fault: bool,
        now: Instant,
    ) {
        // The grace runs from the first 429 of a series: a client that keeps sending within it
        // while it is being throttled gets no more grace.
        let until = now + Duration::from_secs(retry_after_secs);
        let series = match self.not_before.get(client_id) {
            Some(&(first, not_before)) if now < not_before => (first, not_before.max(until)),
            _ => (now, until),
        };
        self.not_before.insert(client_id.to_string(), series);
        let stats = self.client_mut(client_id);
        if fault {
            stats.fault_429s += 1;
        } else {
            stats.rate_limited += 1;
        }
        stats.throttles.push(ThrottleEvent { wall_ms: Clock::now_ms(), endpoint, retry_after_secs, from_fault: fault });
    }
}

/// Stable names for endpoint classes (used as map keys in stats).
pub fn endpoint_name(e: EndpointClass) -> &'static str {
    match e {
        EndpointClass::Token => "token",
        EndpointClass::ChannelCreate => "channel_create",
        EndpointClass::Channels => "channels",
        EndpointClass::Subscriptions => "subscriptions",
        EndpointClass::Analytics => "analytics",
        EndpointClass::Conversations => "conversations",
        EndpointClass::Queues => "queues",
        EndpointClass::Other => "other",
    }
}

/// What an active HTTP fault does to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HttpEffect {
    /// 429 with this `Retry-After` (real seconds).
    RateLimit { retry_after_secs: u64 },
    /// This 5xx status.
    ServerError { status: u16 },
    /// Delay the response by this real duration.
    Slow { delay: Duration },
}

#[derive(Debug, Clone)]
struct Burst {
    effect: HttpEffect,
    remaining: Option<u32>,
    until: Option<Instant>,
    endpoints: Vec<EndpointClass>,
    client: Option<String>,
}

/// Active `rate_limit_burst` / `server_error_burst` / `slow_responses` faults.
#[derive(Debug, Default)]
pub(crate) struct HttpFaults {
    bursts: Vec<Burst>,
}

impl HttpFaults {
    /// Adds a burst. With neither `count` nor `until` it lasts for one request.
    pub fn add(
        &mut self,
        effect: HttpEffect,
        count: Option<u32>,
        until: Option<Instant>,
        endpoints: Vec<EndpointClass>,
        client: Option<String>,
    ) {
        let remaining = if count.is_none() && until.is_none() { Some(1) } else { count };
        self.bursts.push(Burst { effect, remaining, until, endpoints, client });
    }

    /// The effects that apply to this request (at most one error, plus any delay), consuming counts.
    pub fn take(&mut self, endpoint: EndpointClass, client_id: Option<&str>, now: Instant) -> Vec<HttpEffect> {
        self.bursts.retain(|b| b.remaining != Some(0) && b.until.is_none_or(|u| now < u));
        let mut out: Vec<HttpEffect> = Vec::new();
        for b in &mut self.bursts {
            let endpoint_ok = b.endpoints.is_empty() || b.endpoints.contains(&endpoint);
            let client_ok = b.client.as_deref().is_none_or(|c| Some(c) == client_id);
            if !(endpoint_ok && client_ok) {
                continue;
            }
            let is_error = !matches!(b.effect, HttpEffect::Slow { .. });
            if is_error && out.iter().any(|e| !matches!(e, HttpEffect::Slow { .. })) {
                continue;
            }
            if let Some(r) = b.remaining.as_mut() {
                *r = r.saturating_sub(1);
            }
            out.push(b.effect.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_window_and_early_requests() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(rl.check("c", 3, w, EndpointClass::Queues, t0).is_ok());
        }
        let Err((retry, _)) = rl.check("c", 3, w, EndpointClass::Queues, t0) else { panic!("expected 429") };
        assert_eq!(retry, 60);
        rl.record_request("c", EndpointClass::Queues, t0 + Duration::from_millis(10));
        rl.record_request("c", EndpointClass::Queues, t0 + Duration::from_secs(10));
        rl.record_request("c", EndpointClass::Queues, t0 + Duration::from_secs(61));
        let s = rl.stats().remove("c").unwrap_or_default();
        assert_eq!(s.rate_limited, 1);
        assert_eq!(s.in_flight_after_429, 1, "sent before the 429 could be read");
        assert_eq!(s.early_requests.len(), 1);

        // A client that keeps sending through a series of 429s gets the grace once.
        let t1 = t0 + Duration::from_secs(200);
        for i in 0..5u64 {
            let at = t1 + Duration::from_millis(20 * i);
            rl.throttled("d", EndpointClass::Analytics, 1, true, at);
            rl.record_request("d", EndpointClass::Analytics, at + Duration::from_millis(10));
        }
        let d = rl.stats().remove("d").unwrap_or_default();
        assert_eq!((d.in_flight_after_429, d.early_requests.len()), (2, 3), "10 and 30 ms after the first 429 only");
        assert!(rl.check("c", 3, w, EndpointClass::Queues, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn bursts_count_down() {
        let mut f = HttpFaults::default();
        let now = Instant::now();
        f.add(HttpEffect::ServerError { status: 503 }, Some(2), None, vec![EndpointClass::Analytics], None);
        assert!(f.take(EndpointClass::Queues, None, now).is_empty());
        assert_eq!(f.take(EndpointClass::Analytics, None, now).len(), 1);
        assert_eq!(f.take(EndpointClass::Analytics, None, now).len(), 1);
        assert!(f.take(EndpointClass::Analytics, None, now).is_empty());
    }
}
