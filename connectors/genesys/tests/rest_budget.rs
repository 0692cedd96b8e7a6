//! The tenant's request budget over real HTTP: pacing at the configured rate, and slowing down on
//! the server's `inin-ratelimit-*` headers before a 429 happens.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;
use tributary_genesys::rest::Request;
use tributary_test_support::{genesys_api::*, simulator::*, wait::bounded};

#[tokio::test]
async fn n_requests_at_r_per_minute_take_n_over_r_minutes() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let mut rest = rest_config(&sim);
        rest.budget.requests_per_minute = 120;
        rest.budget.burst = 1;
        let api = api_with(auth_config(&sim), rest);
        // Shared by concurrent callers: 9 requests, the first from the burst, then one every 0.5 s.
        let started = Instant::now();
        let calls: Vec<_> = (0..9)
            .map(|_| {
                let api = api.clone();
                tokio::spawn(async move { api.list_queues(None).await.map(|q| q.len()) })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.expect("join").expect("queues"), 3);
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(3900) && took <= Duration::from_secs(8), "{took:?}");
        let stats = api.rest().stats();
        assert_eq!(stats.requests, 9);
        assert!(stats.budget_waits >= 8, "{stats:?}");
        assert!(stats.budget_wait_ms >= 8 * 400, "{stats:?}");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn server_headers_slow_the_budget_before_a_429() {
    bounded(TEST_LIMIT, async {
        // The org allows 20 requests per (scaled) minute, one second of real time.
        let mut cfg = quiet(60.0);
        cfg.clients[0].requests_per_minute = 20;
        let sim = start(cfg).await;
        let api = api(&sim);
        let req = Request::new(Method::GET, "/api/v2/routing/queues").query("pageSize", 25);
        let started = Instant::now();
        for _ in 0..50 {
            api.rest().send(&req).await.expect("request");
        }
        let view = client_stats(&sim);
        assert_eq!(view.rate_limited, 0, "the client ran into the server's limit: {:?}", view.throttles);
        assert!(view.max_requests_in_window <= 20);
        // 50 requests at 20 per one-second window need at least two window resets.
        assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(api.rest().stats().rate_limited, 0);
        sim.shutdown().await;
    })
    .await;
}
