//! How the REST client meets 429, 5xx, timeouts and 403 from the simulator.

use std::time::Duration;

use genesys_cloud_sim::{EndpointClass, Fault};
use reqwest::Method;
use tokio::time::Instant;
use tributary_genesys::rest::{ErrorClass, Request, RestError};
use tributary_test_support::{genesys_api::*, simulator::*, wait::bounded};

#[tokio::test]
async fn rate_limit_burst_is_waited_out_for_the_whole_tenant() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        // 100 ms between requests after a pause: a 429 is always back before the next request
        // of the tenant leaves.
        let mut rest = rest_config(&sim);
        rest.budget.requests_per_minute = 600;
        rest.budget.burst = 5;
        let api = api_with(auth_config(&sim), rest);
        let queue = sim.queue_ids()[0].clone();
        let conversation = sim.start_conversation(&queue).expect("conversation");
        api.list_queues(None).await.expect("warm-up");

        sim.inject(Fault::RateLimitBurst {
            count: Some(2),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
            retry_after: Duration::from_secs(1),
        });
        let started = Instant::now();
        // Another task of the tenant calls another endpoint during the pause: it must wait too,
        // since the limit is per client.
        let other = tokio::spawn({
            let api = api.clone();
            async move {
                let mut pause_end = None;
                for _ in 0..500 {
                    pause_end = api.rest().budget().paused_until();
                    if pause_end.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let pause_end = pause_end.expect("the 429 paused the tenant");
                api.get_conversation(&conversation).await.expect("conversation").expect("found");
                (pause_end, Instant::now())
            }
        });
        let queues = api.list_queues(None).await.expect("queues after the burst");
        assert_eq!(queues.len(), 3);
        let (pause_end, answered) = other.await.expect("join");
        assert!(answered >= pause_end, "the other task did not wait for the pause");
        assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());

        let sim_view = client_stats(&sim);
        assert_eq!(sim_view.fault_429s, 2);
        assert!(sim_view.early_requests.is_empty(), "requests before Retry-After: {:?}", sim_view.early_requests);
        let stats = api.rest().stats();
        assert_eq!(stats.rate_limited, 2);
        assert!(stats.retries >= 2);
        assert!(stats.budget_wait_ms >= 1900, "{stats:?}");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn retry_after_above_the_ceiling_is_returned_not_slept() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let mut rest = rest_config(&sim);
        rest.retry_after_ceiling = Duration::from_secs(2);
        let api = api_with(auth_config(&sim), rest);
        sim.inject(Fault::RateLimitBurst {
            count: Some(1),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
            retry_after: Duration::from_secs(30),
        });
        let started = Instant::now();
        let err = api.list_queues(None).await.expect_err("429 with a long Retry-After");
        assert!(started.elapsed() < Duration::from_secs(2));
        match &err {
            RestError::RateLimited { retry_after, correlation_id, .. } => {
                assert_eq!(*retry_after, Some(Duration::from_secs(30)));
                assert!(correlation_id.is_some());
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert!(err.is_retriable());
        assert!(api.rest().budget().paused_until().is_none(), "a long Retry-After must not stall the tenant");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let api = api(&sim);
        sim.inject(Fault::ServerErrorBurst {
            status: 503,
            count: Some(3),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
        });
        let started = Instant::now();
        assert_eq!(api.list_queues(None).await.expect("queues after 503s").len(), 3);
        // Three jittered waits of at least 25, 50 and 100 ms.
        assert!(started.elapsed() >= Duration::from_millis(175), "{:?}", started.elapsed());
        let stats = api.rest().stats();
        assert_eq!(stats.server_errors, 3);
        assert_eq!(stats.retries, 3);
        assert_eq!(client_stats(&sim).fault_5xx, 3);

        // More failures than attempts: a retriable error carrying the status.
        sim.inject(Fault::ServerErrorBurst {
            status: 502,
            count: Some(10),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
        });
        let err = api.list_queues(None).await.expect_err("persistent 502");
        assert!(matches!(err, RestError::Server { status: 502, attempts: 5, .. }), "{err:?}");
        assert!(err.is_retriable());
        assert!(err.to_string().contains("502"), "{err}");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn timeouts_are_retried() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let mut rest = rest_config(&sim);
        rest.request_timeout = Duration::from_millis(700);
        let api = api_with(auth_config(&sim), rest);
        api.list_queues(None).await.expect("warm-up");
        sim.inject(Fault::SlowResponses {
            delay: Duration::from_secs(2),
            count: Some(1),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
        });
        assert_eq!(api.list_queues(None).await.expect("queues after a timeout").len(), 3);
        let stats = api.rest().stats();
        assert!(stats.transport_errors >= 1 && stats.retries >= 1, "{stats:?}");

        sim.inject(Fault::SlowResponses {
            delay: Duration::from_secs(2),
            count: Some(10),
            duration: None,
            endpoints: vec![EndpointClass::Queues],
            client: None,
        });
        let err = api.list_queues(None).await.expect_err("every attempt times out");
        assert!(matches!(err, RestError::Transport { timeout: true, attempts: 5, .. }), "{err:?}");
        assert!(err.is_retriable());
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn forbidden_is_fatal_with_the_genesys_code() {
    bounded(TEST_LIMIT, async {
        let mut cfg = quiet(1.0);
        cfg.queues.count = 2;
        let sim = start(cfg.clone()).await;
        let forbidden = sim.queue_ids()[1].clone();
        sim.shutdown().await;
        cfg.clients[0].forbidden_queue_ids = vec![forbidden.clone()];
        let sim = start(cfg).await;
        let api = api(&sim);
        let channel = api.create_channel().await.expect("channel");
        // Without ignoreErrors one forbidden topic fails the whole request with 403.
        let req = Request::new(Method::PUT, format!("/api/v2/notifications/channels/{}/subscriptions", channel.id))
            .json(&[serde_json::json!({ "id": queue_topic(&forbidden) })])
            .expect("body");
        let err = api.rest().send(&req).await.expect_err("403");
        match &err {
            RestError::Forbidden { code, correlation_id, .. } => {
                assert_eq!(code, "missing.permissions");
                assert!(correlation_id.is_some());
            }
            other => panic!("expected Forbidden, got {other:?}"),
        }
        assert_eq!(err.class(), ErrorClass::Fatal);
        assert_eq!(err.status(), Some(403));
        assert_eq!(api.rest().stats().retries, 0);
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn other_client_errors_are_permanent() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let api = api(&sim);
        let req = Request::new(Method::GET, "/api/v2/routing/queues").query("pageSize", 0);
        let err = api.rest().send(&req).await.expect_err("400");
        assert!(matches!(err, RestError::Rejected { status: 400, .. }), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Permanent);
        let err = api.rest().send(&Request::new(Method::GET, "/api/v2/nothing/here")).await.expect_err("404");
        assert!(err.is_not_found() && !err.is_fatal() && !err.is_retriable());
        assert_eq!(api.rest().stats().retries, 0);
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_response_over_the_size_limit_is_not_read_and_is_named() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let mut rest = rest_config(&sim);
        // The queue list of three queues is a few hundred bytes.
        rest.max_response_bytes = 64;
        let api = api_with(auth_config(&sim), rest);
        let err = api.list_queues(None).await.expect_err("a body over 64 bytes");
        assert!(matches!(err, RestError::TooLarge { limit: 64, .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.contains("/api/v2/routing/queues") && shown.contains("rest.max_response_bytes (64 bytes)"),
            "{shown}"
        );
        assert_eq!(api.rest().stats().requests, 1, "not retried: the same request gets the same answer");
    })
    .await;
}
