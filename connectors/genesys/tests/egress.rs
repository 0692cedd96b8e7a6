//! Genesys through corporate egress: the simulated org hands out URLs under a name that does not
//! resolve (`genesys.invalid`), and only a test proxy knows where that is. The connector must
//! deliver every conversation through it, REST and WebSocket alike; a proxy that wants other
//! credentials (407) is named in the error.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;
use tributary_connector_api::{DynConnector, Health, Outcome};
use tributary_genesys::GenesysCloud;
use tributary_genesys::check::names;
use tributary_genesys::net::{Egress, ProxyUrl};
use tributary_genesys::socket::{self, OpenError, SocketSettings};
use tributary_test_support::{
    clock::now_ms,
    connector_task::Harness,
    genesys::connector_config,
    proxy::{Mode, TestProxy},
    simulator::{sim_config, start_sim},
    wait::bounded,
};

const LIMIT: Duration = Duration::from_secs(120);
const HIDDEN_HOST: &str = "genesys.invalid";
const USER: &str = "egress-user";
const PASSWORD: &str = "pr0xy-p@ss";

fn mapped() -> HashMap<String, IpAddr> {
    HashMap::from([(HIDDEN_HOST.to_string(), IpAddr::V4(Ipv4Addr::LOCALHOST))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_delivers_events_only_through_the_proxy() {
    bounded(LIMIT, async {
        let mut cfg = sim_config(60.0, 3, 40.0, 7);
        cfg.listen.advertised_host = Some(HIDDEN_HOST.into());
        let sim = start_sim(cfg).await;
        assert!(sim.api_base_url().starts_with(&format!("http://{HIDDEN_HOST}:")), "{}", sim.api_base_url());
        let streaming_port = sim.streaming_base_url().rsplit(':').next().unwrap_or_default().to_string();
        let proxy =
            TestProxy::start(Mode::Forward { hosts: mapped(), credentials: Some((USER.into(), PASSWORD.into())) })
                .await;
        // The name the org hands out does not resolve here: only the proxy can reach it.
        assert!(tokio::net::lookup_host(format!("{HIDDEN_HOST}:80")).await.is_err(), "{HIDDEN_HOST} resolves");

        let proxy_url = proxy.url_with(USER, "pr0xy-p%40ss");
        let mut h = Harness::start_on(sim.clone(), HashMap::new(), |c| c["proxy"] = json!(proxy_url)).await;
        h.wait_for("a healthy channel through the proxy", Duration::from_secs(20), |h| {
            h.status().health == Health::Healthy && !h.channel_ids().is_empty()
        })
        .await;
        let from_ms = now_ms();
        tokio::time::sleep(Duration::from_secs(3)).await;
        h.wait_for("live records", Duration::from_secs(30), |h| h.records().len() >= 10).await;

        // Every conversation that started meanwhile arrives, in its final state.
        sim.pause_traffic(true);
        let to_ms = now_ms();
        h.wait_for("every conversation to end", Duration::from_secs(60), |h| {
            h.sim.truth().conversations().values().all(|c| c.end_ms.is_some())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let report = h.verify(from_ms, to_ms);
        assert!(report.expected_conversations > 0, "no traffic: {}", report.summary());
        assert!(report.missing.is_empty(), "missing conversations: {}", report.summary());
        assert!(report.final_state_missing.is_empty(), "final states missing: {}", report.summary());
        h.stop().await.expect("the task stops cleanly");

        let seen = proxy.seen();
        assert!(seen.iter().all(|s| s.authorized), "a request without the proxy's credentials: {seen:?}");
        let saw = |method: &str, needle: &str| seen.iter().any(|s| s.method == method && s.target.contains(needle));
        assert!(
            saw("POST", &format!("http://{HIDDEN_HOST}:")) && saw("POST", "/oauth/token"),
            "no token request: {seen:?}"
        );
        assert!(saw("POST", "/api/v2/notifications/channels"), "no channel request: {seen:?}");
        assert!(saw("PUT", "/subscriptions?ignoreErrors=true"), "no subscription request: {seen:?}");
        assert!(
            saw("CONNECT", &format!("{HIDDEN_HOST}:{streaming_port}")),
            "no WebSocket tunnel to the streaming host: {seen:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_through_the_proxy_and_names_it() {
    bounded(LIMIT, async {
        let mut cfg = sim_config(60.0, 2, 0.0, 7);
        cfg.traffic.enabled = false;
        cfg.listen.advertised_host = Some(HIDDEN_HOST.into());
        let sim = start_sim(cfg).await;
        let proxy = TestProxy::start(Mode::Forward { hosts: mapped(), credentials: None }).await;
        let mut config = connector_config(&sim);
        config["proxy"] = json!(proxy.url());
        let checks = DynConnector::check(&GenesysCloud::new(), &config).await;
        for c in &checks {
            assert!(matches!(c.outcome, Outcome::Ok(_)), "not ok: {c}");
        }
        let socket = checks.iter().find(|c| c.name == names::SOCKET).expect("socket check");
        assert!(socket.to_string().contains(&format!("through proxy {}", proxy.url())), "{socket}");
        assert!(proxy.seen().iter().any(|s| s.method == "CONNECT"), "{:?}", proxy.seen());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_answering_407_is_named_with_its_answer() {
    bounded(LIMIT, async {
        let proxy = TestProxy::start(Mode::Refuse407).await;
        let wrong_password = "wr0ng-pa55";

        // REST: the token request, as `tributary check` reports it.
        let config = json!({
            "topic": "t",
            "api_base_url": format!("http://{HIDDEN_HOST}:9"),
            "login_base_url": format!("http://{HIDDEN_HOST}:9"),
            "client_id": "egress-client", "client_secret": "egress-secret",
            "queues": {"ids": ["q1"]},
            "proxy": proxy.url_with(USER, wrong_password),
        });
        let checks = DynConnector::check(&GenesysCloud::new(), &config).await;
        let token = checks.iter().find(|c| c.name == names::TOKEN).expect("token check");
        let Outcome::Fail { cause, fix } = &token.outcome else { panic!("token check passed: {token}") };
        assert!(cause.contains(&format!("proxy {}", proxy.url())) && cause.contains("407"), "{cause}");
        assert!(cause.contains("Proxy Authentication Required"), "{cause}");
        assert!(fix.contains("user:password"), "{fix}");
        for c in &checks {
            let text = c.to_string();
            assert!(!text.contains(wrong_password) && !text.contains("egress-secret"), "a secret shown: {text}");
        }

        // WebSocket: the CONNECT tunnel.
        let egress = Egress::new(Some(ProxyUrl::parse(&proxy.url_with(USER, wrong_password)).expect("url")), None)
            .expect("egress");
        let settings = SocketSettings {
            ping_interval: Duration::from_secs(1),
            pong_timeout: Duration::from_secs(1),
            watchdog: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_frame_bytes: 1 << 20,
            buffer: 16,
            connector: "egress-test".into(),
            egress,
        };
        let err = match socket::open(&format!("wss://{HIDDEN_HOST}/channels/streaming-0-secret"), &settings).await {
            Ok(_) => panic!("a socket opened through a proxy that refuses everything"),
            Err(e) => e,
        };
        assert!(matches!(&err, OpenError::Proxy(p) if p.status() == Some(407)), "{err:?}");
        assert!(err.is_fatal(), "a 407 is not worth retrying");
        let text = err.to_string();
        assert!(text.contains(&format!("proxy {}", proxy.url())) && text.contains("407"), "{text}");
        assert!(text.contains(&format!("CONNECT {HIDDEN_HOST}:443")), "{text}");
        assert!(!text.contains(wrong_password) && !text.contains("streaming-0-secret"), "{text}");
        let connect = proxy.seen().into_iter().find(|s| s.method == "CONNECT").expect("the proxy saw the CONNECT");
        assert_eq!(connect.target, format!("{HIDDEN_HOST}:443"));
    })
    .await;
}
