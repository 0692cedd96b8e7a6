//! The token source against the simulator's OAuth endpoint: fetch, refresh ahead of expiry,
//! bad credentials, revocation, shared fetches and token-endpoint outages.

use std::time::Duration;

use genesys_cloud_sim::{EndpointClass, Fault, Target};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tributary_connector_api::Secret;
use tributary_genesys::auth::{AuthError, TokenSource};
use tributary_genesys::rest::{ErrorClass, RestClient, RestError};
use tributary_test_support::{genesys_api::*, simulator::*, wait::bounded};

/// A 300 s token lifetime (the shortest Genesys allows) at time scale 100: 3 s real.
fn short_lived(time_scale: f64) -> genesys_cloud_sim::SimConfig {
    let mut cfg = quiet(time_scale);
    cfg.clients[0].token_lifetime = Duration::from_secs(300);
    cfg
}

#[tokio::test]
async fn token_is_cached_then_refreshed_before_it_expires() {
    bounded(TEST_LIMIT, async {
        let sim = start(short_lived(100.0)).await;
        let source = tokens(auth_config(&sim));
        let mut generations = source.subscribe();
        assert_eq!(*generations.borrow_and_update(), 0);

        let first = source.current().await.expect("first token");
        assert_eq!(first.generation, 1);
        assert_eq!(*generations.borrow_and_update(), 1);
        let lifetime = first.expires_at - first.issued_at;
        assert_eq!(lifetime, Duration::from_secs(3));
        assert_eq!(first.refresh_at - first.issued_at, lifetime.mul_f64(0.8));
        assert_eq!(source.next_refresh_at(), first.refresh_at);
        let again = source.current().await.expect("cached token");
        assert_eq!(again.generation, 1);
        assert_eq!(again.value.expose(), first.value.expose());
        assert_eq!(sim.stats().tokens_issued, 1);

        let cancel = CancellationToken::new();
        let refresher = tokio::spawn({
            let source = source.clone();
            let cancel = cancel.clone();
            async move { source.run_refresher(cancel).await }
        });
        tokio::time::timeout(Duration::from_secs(5), generations.changed()).await.expect("refresh").expect("open");
        let changed_at = Instant::now();
        assert_eq!(*generations.borrow(), 2);
        assert!(changed_at >= first.refresh_at, "refreshed too early");
        assert!(changed_at < first.expires_at, "refreshed only after expiry");
        let second = source.current().await.expect("second token");
        assert_eq!(second.generation, 2);
        assert_ne!(second.value.expose(), first.value.expose());

        // The new token works for REST.
        let api = tributary_genesys::api::GenesysApi::new(
            RestClient::new(rest_config(&sim), source.clone()).expect("rest client"),
        );
        assert!(!api.list_queues(None).await.expect("queues").is_empty());
        cancel.cancel();
        assert!(refresher.await.expect("join").is_ok());
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn refresh_lead_moves_the_refresh_earlier() {
    bounded(TEST_LIMIT, async {
        let sim = start(short_lived(100.0)).await;
        let mut cfg = auth_config(&sim);
        cfg.refresh_lead = Some(Duration::from_secs(2));
        let token = tokens(cfg).current().await.expect("token");
        assert_eq!(token.refresh_at - token.issued_at, Duration::from_secs(1));
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn bad_secret_is_fatal_and_names_the_client_but_not_the_secret() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let secret = "not-the-secret-8f3a1c";
        let mut cfg = auth_config(&sim);
        cfg.client_secret = Secret::new(secret);
        let source = tokens(cfg);
        let err = source.current().await.expect_err("bad secret must fail");
        assert!(matches!(err, AuthError::InvalidClient { status: 401, .. }), "{err:?}");
        assert!(err.is_fatal() && !err.is_retriable());
        let shown = format!("{err} {err:?} {source:?}");
        assert!(shown.contains(&sim.credentials().client_id), "{shown}");
        assert!(!shown.contains(secret), "the secret leaked: {shown}");
        // One request: bad credentials are not retried.
        assert_eq!(sim.stats().requests_total, 1);

        // Through the REST client the same error is fatal too.
        let mut cfg = auth_config(&sim);
        cfg.client_secret = Secret::new(secret);
        let api = api_with(cfg, rest_config(&sim));
        let err = api.list_queues(None).await.expect_err("no token");
        assert!(matches!(err, RestError::Auth(AuthError::InvalidClient { .. })), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Fatal);
        assert!(!format!("{err} {err:?}").contains(secret));
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn revoked_token_gets_one_refresh_then_succeeds() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let api = api(&sim);
        let source: TokenSource = api.rest().tokens().clone();
        let mut generations = source.subscribe();
        assert!(!api.list_queues(None).await.expect("queues").is_empty());
        assert_eq!(source.cached().map(|t| t.generation), Some(1));
        assert_eq!(*generations.borrow_and_update(), 1);

        sim.inject(Fault::TokenRevocation { target: Target::Client(sim.credentials().client_id) });
        assert!(!api.list_queues(None).await.expect("queues after revocation").is_empty());
        assert_eq!(source.cached().map(|t| t.generation), Some(2));
        assert!(generations.has_changed().expect("open"));
        let stats = api.rest().stats();
        assert_eq!(stats.reauthentications, 1);
        assert_eq!(sim.stats().tokens_issued, 2);
        assert_eq!(sim.stats().unauthenticated, 1);
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let source = tokens(auth_config(&sim));
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move { s.current().await.map(|t| t.generation) })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.expect("join").expect("token"), 1);
        }
        assert_eq!(sim.stats().tokens_issued, 1);

        // Invalidated by many at once: still one new token.
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let s = source.clone();
                tokio::spawn(async move {
                    s.invalidate(1);
                    s.current().await.map(|t| t.generation)
                })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.expect("join").expect("token"), 2);
        }
        assert_eq!(sim.stats().tokens_issued, 2);
        // An old generation changes nothing.
        source.invalidate(1);
        assert_eq!(source.current().await.expect("token").generation, 2);
        assert_eq!(sim.stats().tokens_issued, 2);
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn token_endpoint_outage_is_retried() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        sim.inject(Fault::ServerErrorBurst {
            status: 503,
            count: Some(2),
            duration: None,
            endpoints: vec![EndpointClass::Token],
            client: None,
        });
        let source = tokens(auth_config(&sim));
        assert_eq!(source.current().await.expect("token after retries").generation, 1);
        assert_eq!(sim.stats().tokens_issued, 1);

        // An outage longer than the attempts: a retriable error.
        sim.inject(Fault::ServerErrorBurst {
            status: 502,
            count: Some(50),
            duration: None,
            endpoints: vec![EndpointClass::Token],
            client: None,
        });
        let source = tokens(auth_config(&sim));
        let err = source.current().await.expect_err("outage");
        assert!(matches!(err, AuthError::Unavailable { attempts: 5, .. }), "{err:?}");
        assert!(err.is_retriable());
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn failed_early_refresh_keeps_the_valid_token() {
    bounded(TEST_LIMIT, async {
        let sim = start(short_lived(100.0)).await;
        let source = tokens(auth_config(&sim));
        let first = source.current().await.expect("token");
        tokio::time::sleep_until(first.refresh_at + Duration::from_millis(20)).await;
        sim.inject(Fault::ServerErrorBurst {
            status: 503,
            count: Some(1),
            duration: None,
            endpoints: vec![EndpointClass::Token],
            client: None,
        });
        let kept = source.current().await.expect("old token kept");
        assert_eq!(kept.generation, 1);
        let retry_at = source.next_refresh_at();
        assert!(retry_at > Instant::now() && retry_at <= first.expires_at);
        tokio::time::sleep_until(retry_at).await;
        assert_eq!(source.current().await.expect("refreshed").generation, 2);
        sim.shutdown().await;
    })
    .await;
}
