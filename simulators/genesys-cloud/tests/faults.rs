//! Every fault kind, scheduled in YAML, happens on time and looks to a client the way the
//! reference describes (see the table in `genesys_cloud_sim::faults`).

use std::time::Duration;

use genesys_cloud_sim::{ClientConfig, FaultKind, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::{Value, json};
use tributary_test_support::{clock::now_ms, sim_client::*, simulator::*};

const SCALE: f64 = 60.0;
/// How late a fault may become visible to a client (scheduling + network + polling).
const LATE_MS: i64 = 450;
const EARLY_MS: i64 = 30;

const SCHEDULE: &str = r#"
schedule:
  - {at: 180s, kind: half_open, target: {client: c-half}}
  - {at: 186s, kind: tcp_reset, target: {client: c-reset}}
  - {at: 192s, kind: close, code: 1006, target: {client: c-drop}}
  - {at: 198s, kind: close, code: 4001, reason: maintenance, target: {client: c-close}}
  - {at: 204s, kind: socket_closing, target: {client: c-closing}}
  - {at: 210s, kind: channel_expiry, target: {client: c-expire}}
  - {at: 216s, kind: eviction, target: {client: c-evict}}
  - {at: 222s, kind: token_revocation, target: {client: c-revoke}}
  - {at: 228s, kind: rate_limit_burst, count: 2, endpoints: [queues], client: c-429, retry_after: 60s}
  - {at: 234s, kind: server_error_burst, status: 503, count: 1, client: c-5xx}
  - {at: 240s, kind: slow_responses, delay: 60s, count: 1, client: c-slow}
  - {at: 246s, kind: analytics_delay_spike, extra_delay: 10m, duration: 30s}
  - {at: 252s, kind: bad_frame, frame: invalid_json, target: {client: c-bad}}
  - {at: 258s, kind: bad_frame, frame: unknown_topic, target: {client: c-bad}}
  - {at: 264s, kind: bad_frame, frame: oversized, target: {client: c-bad}}
  - {at: 270s, kind: bad_frame, frame: binary, target: {client: c-bad}}
"#;

const CLIENTS: &[&str] = &[
    "c-half",
    "c-reset",
    "c-drop",
    "c-close",
    "c-closing",
    "c-expire",
    "c-evict",
    "c-revoke",
    "c-429",
    "c-5xx",
    "c-slow",
    "c-bad",
    "c-analytics",
];

fn config() -> SimConfig {
    let mut cfg = quiet(SCALE);
    cfg.clients = CLIENTS
        .iter()
        .map(|id| ClientConfig {
            client_id: id.to_string(),
            client_secret: format!("{id}-secret"),
            ..ClientConfig::default()
        })
        .collect();
    cfg.faults = genesys_cloud_sim::config::parse_faults(SCHEDULE).expect("schedule parses");
    cfg.analytics.data_delay = Duration::from_secs(30);
    cfg.analytics.data_delay_jitter = Duration::ZERO;
    cfg.traffic.queue_wait = genesys_cloud_sim::DurationRange::secs(3600, 3600);
    cfg.notifications.idle_timeout = None;
    cfg
}

/// Protocol seconds by which the schedule is shifted, so that setting up a dozen clients on a
/// busy machine finishes before the first fault.
const LEAD_SECS: f64 = 120.0;

/// When the fault written `protocol_secs` (before the lead) fires.
fn at_ms(sim: &SimHandle, protocol_secs: f64) -> i64 {
    sim.started_ms() + ((protocol_secs + LEAD_SECS) * 1000.0 / SCALE) as i64
}

fn on_time(what: &str, observed: i64, scheduled: i64) {
    let d = observed - scheduled;
    assert!((-EARLY_MS..=LATE_MS).contains(&d), "{what}: seen {d} ms from its scheduled time");
}

async fn tok(sim: &SimHandle, id: &str) -> String {
    token_for(sim, id, &format!("{id}-secret")).await
}

async fn socket_for(sim: &SimHandle, client: &str) -> (String, Ws) {
    let t = tok(sim, client).await;
    channel_with_socket(sim, &t, &[]).await
}

async fn sleep_until_ms(ms: i64) {
    let d = ms - now_ms();
    if d > 0 {
        tokio::time::sleep(Duration::from_millis(d as u64)).await;
    }
}

/// Reads frames until the connection ends or closes; returns what ended it and when.
async fn until_end(ws: &mut Ws, wait: Duration) -> (Seen, i64) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(ws, left).await {
            Seen::Text(_) | Seen::Binary(_) | Seen::Ping | Seen::Pong => continue,
            other => return (other, now_ms()),
        }
    }
}

#[tokio::test]
async fn every_scheduled_fault_happens_on_time_and_is_visible() {
    let sim = start(config()).await;
    let q = sim.queue_ids()[0].clone();
    let s = &sim;

    let half_open = async {
        let (_, mut ws) = socket_for(s, "c-half").await;
        sleep_until_ms(at_ms(s, 60.0) + 150).await;
        while let Seen::Text(_) = next(&mut ws, Duration::from_millis(20)).await {}
        send_text(&mut ws, r#"{"message":"ping"}"#).await;
        // Silence for two heartbeat intervals (1 s), no close, no EOF.
        match next(&mut ws, Duration::from_millis(1100)).await {
            Seen::Nothing => {}
            other => panic!("half_open: expected silence, got {other:?}"),
        }
    };
    let reset = async {
        let (_, mut ws) = socket_for(s, "c-reset").await;
        let (seen, t) = until_end(&mut ws, Duration::from_secs(5)).await;
        assert!(matches!(&seen, Seen::Ended(e) if e.to_lowercase().contains("reset")), "tcp_reset: {seen:?}");
        on_time("tcp_reset", t, at_ms(s, 66.0));
    };
    let drop_1006 = async {
        let (_, mut ws) = socket_for(s, "c-drop").await;
        let (seen, t) = until_end(&mut ws, Duration::from_secs(5)).await;
        assert!(matches!(seen, Seen::Ended(_)), "close 1006 must end without a close frame: {seen:?}");
        on_time("close 1006", t, at_ms(s, 72.0));
    };
    let close_4001 = async {
        let (_, mut ws) = socket_for(s, "c-close").await;
        let (seen, t) = until_end(&mut ws, Duration::from_secs(5)).await;
        assert!(matches!(seen, Seen::Close(Some(4001))), "close 4001: {seen:?}");
        on_time("close 4001", t, at_ms(s, 78.0));
    };
    let closing = async {
        let (id, mut ws) = socket_for(s, "c-closing").await;
        let msg = wait_text(&mut ws, Duration::from_secs(5), |v| v["topicName"] == "v2.system.socket_closing").await;
        let t = now_ms();
        let msg = msg.expect("socket_closing message");
        assert_eq!(msg["eventBody"]["channelId"], id.as_str());
        on_time("socket_closing", t, at_ms(s, 84.0));
        let (seen, t) = until_end(&mut ws, Duration::from_secs(5)).await;
        assert!(matches!(seen, Seen::Close(Some(1001))), "close after socket_closing: {seen:?}");
        on_time("close after socket_closing", t, at_ms(s, 84.0 + 60.0));
    };
    let expire = async {
        let t0 = tok(s, "c-expire").await;
        let (id, mut ws) = channel_with_socket(s, &t0, &[]).await;
        let url = format!("{}/api/v2/notifications/channels/{id}", s.api_base_url());
        let t = loop {
            let st = http().head(&url).bearer_auth(&t0).send().await.expect("head").status().as_u16();
            if st == 404 {
                break now_ms();
            }
            assert!(now_ms() < at_ms(s, 90.0) + 3000, "channel never expired");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        on_time("channel_expiry", t, at_ms(s, 90.0));
        send_text(
            &mut ws,
            &json!({"message":"subscribe","topics":["v2.routing.queues.x.conversations"],"correlationId":"e"})
                .to_string(),
        )
        .await;
        let r = wait_text(&mut ws, STEP, |v| v.get("result").is_some()).await.expect("result frame");
        assert_eq!(r["result"], "404");
    };
    let evict = async {
        let (id, mut ws) = socket_for(s, "c-evict").await;
        let topic = format!("v2.system.no_longer_subscribed.{id}");
        let msg = wait_text(&mut ws, Duration::from_secs(5), |v| v["topicName"] == topic.as_str()).await;
        on_time("eviction", now_ms(), at_ms(s, 96.0));
        assert_eq!(msg.expect("no_longer_subscribed")["eventBody"]["reason"], "another_channel_subscribed");
    };
    let revoke = async {
        let (id, mut ws) = socket_for(s, "c-revoke").await;
        let topic = format!("v2.system.token_revoked.{id}");
        let msg = wait_text(&mut ws, Duration::from_secs(5), |v| v["topicName"] == topic.as_str()).await;
        on_time("token_revocation", now_ms(), at_ms(s, 102.0));
        assert_eq!(msg.expect("token_revoked")["eventBody"]["systemTopicType"], "token_revoked");
    };
    let burst_429 = async {
        let t0 = tok(s, "c-429").await;
        let url = format!("{}/api/v2/routing/queues", s.api_base_url());
        let resp = loop {
            let r = http().get(&url).bearer_auth(&t0).send().await.expect("get");
            if r.status() == 429 {
                break r;
            }
            assert!(now_ms() < at_ms(s, 108.0) + 3000, "no 429 burst");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        on_time("rate_limit_burst", now_ms(), at_ms(s, 108.0));
        let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(h("retry-after").as_deref(), Some("1"));
        assert!(
            h("inin-ratelimit-count").is_some()
                && h("inin-ratelimit-allowed").is_some()
                && h("inin-ratelimit-reset").is_some()
        );
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["status"], 429);
        assert_eq!(body["message"], "Rate limit exceeded the maximum. Retry the request in [1] seconds");
        assert!(
            body["limit"]["key"].is_string()
                && body["limit"]["namespace"].is_string()
                && body["limit"]["value"].is_number()
        );
    };
    let burst_5xx = async {
        let t0 = tok(s, "c-5xx").await;
        let (st, body) = loop {
            let (st, body) = call(s, Method::GET, "/api/v2/routing/queues", &t0, None).await;
            if st >= 500 {
                break (st, body);
            }
            assert!(now_ms() < at_ms(s, 114.0) + 3000, "no 5xx burst");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        on_time("server_error_burst", now_ms(), at_ms(s, 114.0));
        assert_eq!((st, body["code"].as_str()), (503, Some("service.unavailable")));
        let (st, _) = call(s, Method::GET, "/api/v2/routing/queues", &t0, None).await;
        assert_eq!(st, 200, "count: 1 means one failed request");
    };
    let slow = async {
        let t0 = tok(s, "c-slow").await;
        sleep_until_ms(at_ms(s, 120.0) + 50).await;
        let begun = tokio::time::Instant::now();
        let (st, _) = call(s, Method::GET, "/api/v2/routing/queues", &t0, None).await;
        assert_eq!(st, 200);
        assert!(begun.elapsed() >= Duration::from_millis(950), "slow response took {:?}", begun.elapsed());
    };
    let spike = async {
        let t0 = tok(s, "c-analytics").await;
        let before = s.start_conversation(&q).expect("conv");
        sleep_until_ms(at_ms(s, 126.0) + 60).await;
        let during = s.start_conversation(&q).expect("conv");
        // Normal delay is 30 s (0.5 s real); the spike adds 10 min (10 s real).
        tokio::time::sleep(Duration::from_millis(900)).await;
        let query = json!({"interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z", "paging": {"pageSize": 100}});
        let (st, body) = call(s, Method::POST, "/api/v2/analytics/conversations/details/query", &t0, Some(query)).await;
        assert_eq!(st, 200, "{body}");
        let ids: Vec<&str> = body["conversations"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["conversationId"].as_str()).collect())
            .unwrap_or_default();
        assert!(ids.contains(&before.as_str()), "data from before the spike is visible");
        assert!(!ids.contains(&during.as_str()), "data from during the spike is delayed");
    };
    let bad = async {
        let (_, mut ws) = socket_for(s, "c-bad").await;
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
        while seen.len() < 4 && tokio::time::Instant::now() < deadline {
            match next(&mut ws, Duration::from_millis(200)).await {
                Seen::Text(t) => match serde_json::from_str::<Value>(&t) {
                    Err(_) => seen.push(("invalid_json", now_ms(), 132.0)),
                    Ok(v) if is_heartbeat(&v) => {}
                    Ok(v) if t.len() >= 1 << 20 => {
                        assert!(v["topicName"].as_str().is_some_and(|n| n.starts_with("v2.")));
                        seen.push(("oversized", now_ms(), 144.0));
                    }
                    Ok(v) => {
                        assert!(v["topicName"].as_str().is_some_and(|n| n.starts_with("v2.sim.unknown")), "{v}");
                        seen.push(("unknown_topic", now_ms(), 138.0));
                    }
                },
                Seen::Binary(_) => seen.push(("binary", now_ms(), 150.0)),
                Seen::Nothing => {}
                other => panic!("bad_frame: {other:?}"),
            }
        }
        let kinds: Vec<&str> = seen.iter().map(|x| x.0).collect();
        assert_eq!(kinds, ["invalid_json", "unknown_topic", "oversized", "binary"]);
        for (k, t, at) in seen {
            on_time(k, t, at_ms(s, at));
        }
    };
    let all = async {
        tokio::join!(
            half_open, reset, drop_1006, close_4001, closing, expire, evict, revoke, burst_429, burst_5xx, slow, spike,
            bad
        )
    };
    tokio::time::timeout(Duration::from_secs(25), all).await.expect("fault test timed out");

    // Every fault is in the truth's fault log, applied on schedule.
    let truth = sim.truth();
    assert_eq!(truth.faults.len(), 16, "{:#?}", truth.faults);
    let cfg = sim.config().clone();
    for (rec, item) in truth.faults.iter().zip(cfg.faults.schedule.iter()) {
        assert_eq!(rec.fault, item.fault);
        let d = rec.wall_ms - at_ms(&sim, item.at.as_secs_f64() - LEAD_SECS);
        assert!((-5..=LATE_MS).contains(&d), "{:?} logged {d} ms off schedule", rec.fault.kind());
        if rec.fault.kind() != FaultKind::AnalyticsDelaySpike {
            assert!(!rec.affected.is_empty(), "{rec:?}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn random_faults_fire_at_their_rates_and_are_logged() {
    // Scale 3600: one protocol hour per real second.
    let mut cfg = quiet(3600.0);
    cfg.notifications.heartbeat_interval = Duration::from_secs(3600);
    cfg.notifications.idle_timeout = None;
    cfg.faults.random.rates_per_hour.insert(FaultKind::HalfOpen, 4.0);
    cfg.faults.random.rates_per_hour.insert(FaultKind::ServerErrorBurst, 6.0);
    let sim = start(cfg).await;
    let tok = token(&sim).await;
    let (_, mut ws) = channel_with_socket(&sim, &tok, &[]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let truth = sim.truth();
    let count = |k: FaultKind| truth.faults.iter().filter(|f| f.fault.kind() == k).count();
    assert!(count(FaultKind::HalfOpen) >= 2, "{:#?}", truth.faults);
    assert!(count(FaultKind::ServerErrorBurst) >= 3, "{:#?}", truth.faults);
    assert!(truth.faults.iter().all(|f| f.source == genesys_cloud_sim::FaultSource::Random));
    // The half-open fault hit our only socket: it is silent now.
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    match next(&mut ws, Duration::from_millis(300)).await {
        Seen::Nothing => {}
        other => panic!("expected a silent socket, got {other:?}"),
    }
    sim.shutdown().await;
}
