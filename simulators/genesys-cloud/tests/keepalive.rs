//! Keep-alive as Genesys requires it (§2.2, §2.4): JSON pings keep a socket alive, RFC 6455 pings
//! do not; the idle cut-off is silent (no close frame, TCP stays open).

use std::time::Duration;

use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tributary_test_support::{sim_client::*, simulator::*};

/// Scale 100: heartbeat every 300 ms, idle cut-off after 1.2 s (120 s protocol).
fn cfg() -> genesys_cloud_sim::SimConfig {
    let mut c = quiet(100.0);
    c.notifications.idle_timeout = Some(Duration::from_secs(120));
    c.traffic.queue_wait = genesys_cloud_sim::DurationRange::secs(1, 1);
    c
}

#[tokio::test]
async fn rfc_pings_get_no_pong_and_the_socket_is_silently_cut_off() {
    let sim = start(cfg()).await;
    let tok = token(&sim).await;
    let q = sim.queue_ids()[0].clone();
    let (channel, mut ws) = channel_with_socket(&sim, &tok, std::slice::from_ref(&q)).await;

    // Phase 1 (before the cut-off): pings go out, heartbeats come in, no pong frame ever.
    let mut heartbeats = 0;
    let phase1 = tokio::time::Instant::now() + Duration::from_millis(900);
    while tokio::time::Instant::now() < phase1 {
        tokio::time::timeout(STEP, ws.send(Message::Ping(b"hello".to_vec().into())))
            .await
            .expect("ping")
            .expect("ping");
        match next(&mut ws, Duration::from_millis(100)).await {
            Seen::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                assert!(is_heartbeat(&v), "unexpected frame {t}");
                heartbeats += 1;
            }
            Seen::Pong => panic!("the server answered an RFC 6455 ping with a pong frame"),
            Seen::Nothing => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(heartbeats >= 2, "expected heartbeats before the cut-off, got {heartbeats}");

    // Phase 2: wait past the cut-off (1.2 s after connect), keep pinging, then listen.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..5 {
        tokio::time::timeout(STEP, ws.send(Message::Ping(b"x".to_vec().into()))).await.expect("ping").expect("ping");
    }
    // Drain whatever was already in flight, then expect silence: no heartbeats, no pongs,
    // no close frame, no EOF — the TCP connection is left open.
    while let Seen::Text(_) = next(&mut ws, Duration::from_millis(50)).await {}
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    sim.start_conversation(&q).expect("conversation");
    let quiet_for = Duration::from_millis(1500); // five heartbeat intervals
    match next(&mut ws, quiet_for).await {
        Seen::Nothing => {}
        other => panic!("expected silence after the idle cut-off, got {other:?}"),
    }
    assert_eq!(sim.stats().sockets_open, 1, "the server must keep the TCP connection open");
    let info = sim.channels().into_iter().find(|c| c.id == channel).expect("channel");
    assert!(info.live && !info.connected, "channel stays valid but has no active connection: {info:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn json_pings_keep_the_socket_alive() {
    let sim = start(cfg()).await;
    let tok = token(&sim).await;
    let q = sim.queue_ids()[0].clone();
    let (_channel, mut ws) = channel_with_socket(&sim, &tok, std::slice::from_ref(&q)).await;

    let (mut pongs, mut late_heartbeats) = (0, 0);
    let start = tokio::time::Instant::now();
    let mut next_ping = start;
    while start.elapsed() < Duration::from_millis(3000) {
        if tokio::time::Instant::now() >= next_ping {
            send_text(&mut ws, r#"{"message":"ping"}"#).await;
            next_ping += Duration::from_millis(400);
        }
        match next(&mut ws, Duration::from_millis(50)).await {
            Seen::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                if is_pong(&v) {
                    pongs += 1;
                } else if is_heartbeat(&v) && start.elapsed() > Duration::from_millis(2000) {
                    late_heartbeats += 1;
                }
            }
            Seen::Nothing => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pongs >= 6, "every JSON ping gets a pong, got {pongs}");
    assert!(late_heartbeats >= 1, "heartbeats continue well past the idle timeout");

    // Events still flow.
    let conv = sim.start_conversation(&q).expect("conversation");
    let topic = queue_topic(&q);
    let ev = wait_text(&mut ws, Duration::from_secs(3), |v| v["topicName"] == topic.as_str()).await;
    let ev = ev.expect("conversation event on a kept-alive socket");
    assert_eq!(ev["eventBody"]["id"], conv.as_str());
    assert_eq!(ev["version"], "2");
    assert!(ev["metadata"]["CorrelationId"].is_string());
    sim.shutdown().await;
}
