//! Channels, subscriptions and the socket's channel rules (§1, §2.1, §2.2, §2.5, §5).

use std::time::Duration;

use genesys_cloud_sim::{Fault, Target};
use reqwest::Method;
use serde_json::{Value, json};
use tributary_test_support::{sim_client::*, simulator::*};

async fn head(sim: &genesys_cloud_sim::SimHandle, tok: &str, id: &str) -> u16 {
    let url = format!("{}/api/v2/notifications/channels/{id}", sim.api_base_url());
    http().head(url).bearer_auth(tok).send().await.expect("head").status().as_u16()
}

fn assert_error_body(body: &Value, status: u16) {
    assert_eq!(body["status"], status, "{body}");
    assert!(body["message"].is_string() && body["code"].is_string() && body["contextId"].is_string(), "{body}");
    assert!(body["details"].is_array() && body["errors"].is_array(), "{body}");
}

#[tokio::test]
async fn the_21st_channel_evicts_unconnected_channels_first_and_a_connected_one_last() {
    let sim = start(quiet(1.0)).await;
    let tok = token(&sim).await;
    // C0 is the oldest and connected; C1..C19 are not connected.
    let (c0, mut ws0) = channel_with_socket(&sim, &tok, &[]).await;
    let mut ids = vec![c0.clone()];
    let mut uris = vec![String::new()];
    for _ in 1..20 {
        let ch = create_channel(&sim, &tok).await;
        ids.push(ch["id"].as_str().expect("id").to_string());
        uris.push(ch["connectUri"].as_str().expect("uri").to_string());
    }
    // The 21st evicts C1: the oldest channel without an active connection.
    let c20 = create_channel(&sim, &tok).await;
    assert_eq!(head(&sim, &tok, &ids[1]).await, 404, "oldest unconnected channel evicted");
    assert_eq!(head(&sim, &tok, &c0).await, 200, "connected channel kept although older");
    assert_eq!(sim.stats().channels_live, 20);

    // Connect every remaining channel; C0 is now the oldest-last-used connected channel.
    let mut sockets = Vec::new();
    for uri in uris.iter().skip(2) {
        sockets.push(connect(uri).await);
    }
    sockets.push(connect(c20["connectUri"].as_str().expect("uri")).await);
    create_channel(&sim, &tok).await;
    assert_eq!(head(&sim, &tok, &c0).await, 404, "with every channel connected, the oldest connected one goes");

    let topic = format!("v2.system.no_longer_subscribed.{c0}");
    let msg = wait_text(&mut ws0, Duration::from_secs(5), |v| v["topicName"] == topic.as_str()).await;
    let msg = msg.expect("evicted socket receives no_longer_subscribed");
    assert_eq!(msg["eventBody"]["channelId"], c0.as_str());
    assert_eq!(msg["eventBody"]["systemTopicType"], "no_longer_subscribed");
    assert_eq!(msg["eventBody"]["reason"], "another_channel_subscribed");
    match next(&mut ws0, Duration::from_secs(5)).await {
        Seen::Close(_) | Seen::Ended(_) => {}
        other => panic!("evicted socket must be dropped, got {other:?}"),
    }
    // Reconnecting to the evicted channel is refused.
    let err = tokio_tungstenite::connect_async(format!("{}/channels/{c0}", sim.streaming_base_url())).await;
    assert!(err.is_err(), "upgrade of an evicted channel must fail");
    sim.shutdown().await;
}

#[tokio::test]
async fn topic_limit_and_permission_failures() {
    let mut cfg = quiet(1.0);
    let qs: Vec<String> = (0..3).map(|i| format!("00000000-0000-4000-8000-00000000000{i}")).collect();
    cfg.queues.named =
        qs.iter().map(|id| genesys_cloud_sim::QueueSpec { name: format!("Q {id}"), id: Some(id.clone()) }).collect();
    cfg.clients[0].forbidden_queue_ids = vec![qs[2].clone()];
    let sim = start(cfg).await;
    assert_eq!(sim.queue_ids(), qs);
    let tok = token(&sim).await;
    let ch = create_channel(&sim, &tok).await;
    let id = ch["id"].as_str().expect("id");
    let path = format!("/api/v2/notifications/channels/{id}/subscriptions");

    // 1,001 topics → 400; 1,000 → fine.
    let many: Vec<String> = (0..1001).map(|i| format!("v2.routing.queues.q{i}.conversations")).collect();
    let (status, body) = subscribe(&sim, &tok, id, &many).await;
    assert_eq!(status, 400, "{body}");
    assert_error_body(&body, 400);
    let (status, body) = subscribe(&sim, &tok, id, &many[..1000]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entities"].as_array().map(Vec::len), Some(1000));
    // POST one more on top of 1,000 → 400 as well.
    let (status, _) = call(&sim, Method::POST, &path, &tok, Some(json!([{"id": queue_topic(&qs[0])}]))).await;
    assert_eq!(status, 400);
    let (status, _) = call(&sim, Method::DELETE, &path, &tok, None).await;
    assert_eq!(status, 204);

    // A forbidden queue → 403 for the whole request, nothing subscribed.
    let req = json!([{"id": queue_topic(&qs[0])}, {"id": queue_topic(&qs[2])}]);
    let (status, body) = call(&sim, Method::POST, &path, &tok, Some(req.clone())).await;
    assert_eq!(status, 403, "{body}");
    assert_error_body(&body, 403);
    let (_, listing) = call(&sim, Method::GET, &path, &tok, None).await;
    assert_eq!(listing["entities"], json!([]), "nothing subscribed after a 403");

    // With ignoreErrors=true: the forbidden one is Rejected with missingPermissions, the rest Permitted.
    let (status, body) = call(&sim, Method::POST, &format!("{path}?ignoreErrors=true"), &tok, Some(req)).await;
    assert_eq!(status, 200, "{body}");
    let entities = body["entities"].as_array().expect("entities");
    let find = |q: &str| entities.iter().find(|e| e["id"] == queue_topic(q).as_str()).cloned().expect("entry");
    assert_eq!(find(&qs[0])["state"], "Permitted");
    let rejected = find(&qs[2]);
    assert_eq!(rejected["state"], "Rejected");
    assert_eq!(rejected["missingPermissions"], json!([genesys_cloud_sim::QUEUE_TOPIC_PERMISSION]));
    let (_, listing) = call(&sim, Method::GET, &path, &tok, None).await;
    assert_eq!(listing["entities"].as_array().map(Vec::len), Some(1));

    // Malformed bodies and unknown channels.
    let resp = http()
        .post(format!("{}{path}", sim.api_base_url()))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let (status, body) =
        call(&sim, Method::GET, "/api/v2/notifications/channels/streaming-0-nope/subscriptions", &tok, None).await;
    assert_eq!(status, 404);
    assert_error_body(&body, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn websocket_subscribe_dead_channel_and_upgrade_rules() {
    let sim = start(quiet(1.0)).await;
    let tok = token(&sim).await;
    let q = sim.queue_ids()[0].clone();
    let (id, mut ws) = channel_with_socket(&sim, &tok, &[]).await;

    // WebSocket subscribe on a live channel.
    let topic = queue_topic(&q);
    send_text(&mut ws, &json!({"message": "subscribe", "topics": [topic], "correlationId": "c-1"}).to_string()).await;
    let reply = wait_text(&mut ws, STEP, |v| v["correlationId"] == "c-1").await.expect("reply");
    assert_eq!(reply, json!({"correlationId": "c-1", "topics": [topic], "result": "200", "status": "subscribed"}));
    // Malformed request → 400 error frame.
    send_text(&mut ws, r#"{"message":"subscribe","correlationId":"c-2"}"#).await;
    let reply = wait_text(&mut ws, STEP, |v| v["correlationId"] == "c-2").await.expect("reply");
    assert_eq!(reply["result"], "400");
    assert_eq!(reply["status"], "error");
    assert_eq!(reply["message"], "Required data missing from subscribe request.");

    // Expire the channel: the socket stays, a subscribe frame gets the 404 result frame.
    let rec = sim.inject(Fault::ChannelExpiry { target: Target::Channel(id.clone()) });
    assert_eq!(rec.affected, vec![id.clone()]);
    send_text(&mut ws, &json!({"message": "subscribe", "topics": [topic], "correlationId": "c-3"}).to_string()).await;
    let reply = wait_text(&mut ws, STEP, |v| v.get("result").is_some()).await.expect("404 frame");
    assert_eq!(reply["result"], "404");
    assert!(reply["message"].is_string());
    assert_eq!(head(&sim, &tok, &id).await, 404);
    // JSON ping still answered: the socket is alive but the channel is not.
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    assert!(wait_text(&mut ws, STEP, is_pong).await.is_some());

    // Upgrade: dead channel → 401, unknown channel → 404.
    let status_of = |r: Result<_, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => 101,
    };
    let dead = tokio_tungstenite::connect_async(format!("{}/channels/{id}", sim.streaming_base_url())).await;
    assert_eq!(status_of(dead.map(|_| ())), 401);
    let unknown =
        tokio_tungstenite::connect_async(format!("{}/channels/streaming-0-none", sim.streaming_base_url())).await;
    assert_eq!(status_of(unknown.map(|_| ())), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_second_socket_disconnects_the_first() {
    let sim = start(quiet(1.0)).await;
    let tok = token(&sim).await;
    let q = sim.queue_ids()[0].clone();
    let ch = create_channel(&sim, &tok).await;
    let id = ch["id"].as_str().expect("id");
    subscribe(&sim, &tok, id, &[queue_topic(&q)]).await;
    let uri = ch["connectUri"].as_str().expect("uri");
    assert_eq!(uri, format!("{}/channels/{id}", sim.streaming_base_url()));
    let mut first = connect(uri).await;
    let mut second = connect(uri).await;
    match next(&mut first, STEP).await {
        Seen::Close(_) | Seen::Ended(_) => {}
        other => panic!("first socket should be disconnected, got {other:?}"),
    }
    let conv = sim.start_conversation(&q).expect("conversation");
    let ev = wait_text(&mut second, STEP, |v| v["eventBody"]["id"] == conv.as_str()).await;
    assert!(ev.is_some(), "the second socket receives events");
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_errors_expiry_and_revocation() {
    // Scale 300: a 300 s token lives 1 s.
    let mut cfg = quiet(300.0);
    cfg.clients[0].token_lifetime = Duration::from_secs(300);
    cfg.notifications.heartbeat_interval = Duration::from_secs(3600);
    let sim = start(cfg).await;
    let creds = sim.credentials();

    // Token endpoint errors use {error, description}.
    let resp = http()
        .post(format!("{}/oauth/token", sim.login_base_url()))
        .basic_auth(&creds.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"].is_string() && body["description"].is_string(), "{body}");
    // The API host does not serve the token endpoint.
    let resp = http().post(format!("{}/oauth/token", sim.api_base_url())).send().await.expect("post");
    assert_ne!(resp.status(), 200);

    let resp = http()
        .post(format!("{}/oauth/token", sim.login_base_url()))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1);
    let short = body["access_token"].as_str().expect("token").to_string();

    // REST auth errors.
    let (status, body) = call(&sim, Method::GET, "/api/v2/routing/queues", "", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("authentication.required")), "{body}");
    let (status, body) = call(&sim, Method::GET, "/api/v2/routing/queues", "garbage", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("bad.credentials")));

    // A channel dies with its token.
    let ch = create_channel(&sim, &short).await;
    let id = ch["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, body) = call(&sim, Method::GET, "/api/v2/routing/queues", &short, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("credentials.expired")));
    let fresh = token(&sim).await;
    assert_eq!(head(&sim, &fresh, &id).await, 404, "channel died with its token");

    // Revocation: token_revoked on the socket, then close; the token is refused.
    let (id2, mut ws) = channel_with_socket(&sim, &fresh, &[]).await;
    let rec = sim.inject(Fault::TokenRevocation { target: Target::Client(creds.client_id.clone()) });
    assert!(rec.affected.contains(&id2), "{rec:?}");
    let topic = format!("v2.system.token_revoked.{id2}");
    let msg = wait_text(&mut ws, STEP, |v| v["topicName"] == topic.as_str()).await.expect("token_revoked");
    assert_eq!(msg["eventBody"]["systemTopicType"], "token_revoked");
    assert_eq!(msg["eventBody"]["reason"], "user_tokens_revoked");
    match next(&mut ws, STEP).await {
        Seen::Close(_) | Seen::Ended(_) => {}
        other => panic!("socket should close after token_revoked, got {other:?}"),
    }
    let (status, _) = call(&sim, Method::GET, "/api/v2/routing/queues", &fresh, None).await;
    assert_eq!(status, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn channel_listing_expiry_and_extension() {
    // Scale 43200: a 24 h channel lives 2 s.
    let mut cfg = quiet(43_200.0);
    cfg.notifications.heartbeat_interval = Duration::from_secs(3600);
    cfg.clients[0].token_lifetime = Duration::from_secs(172_800);
    let sim = start(cfg).await;
    let a = token(&sim).await;
    let b = token(&sim).await;
    let ca = create_channel(&sim, &a).await;
    let _cb = create_channel(&sim, &b).await;
    let expires = ca["expires"].as_str().expect("expires");
    assert_eq!(expires.len(), 24, "ISO-8601 with millis and Z: {expires}");
    assert!(expires.ends_with('Z'));

    let (_, mine) = call(&sim, Method::GET, "/api/v2/notifications/channels", &a, None).await;
    assert_eq!(mine["entities"].as_array().map(Vec::len), Some(1));
    let (_, all) =
        call(&sim, Method::GET, "/api/v2/notifications/channels?includechannels=oauthclient", &a, None).await;
    let all = all["entities"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().filter(|c| c.get("id").is_some()).count(), 1, "other tokens' ids are hidden");

    // Resubscribing extends; an untouched channel expires after 24 h (2 s here).
    let id = ca["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = subscribe(&sim, &a, &id, &[queue_topic(&sim.queue_ids()[0])]).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(head(&sim, &a, &id).await, 200, "resubscribe moved expires forward");
    let (_, mine_b) = call(&sim, Method::GET, "/api/v2/notifications/channels", &b, None).await;
    assert_eq!(mine_b["entities"], json!([]), "b's channel expired");
    sim.shutdown().await;
}
