//! Analytics (data delay, paging drift, interval semantics, filters, jobs), conversations,
//! queue discovery, and the per-client rate budget with Retry-After accounting.

use std::collections::BTreeSet;
use std::time::Duration;

use genesys_cloud_sim::{ClientConfig, DurationRange, models::iso_ms};
use reqwest::Method;
use serde_json::{Value, json};
use tributary_test_support::{clock::now_ms, sim_client::*, simulator::*};

const QUERY: &str = "/api/v2/analytics/conversations/details/query";

fn ids(body: &Value) -> Vec<String> {
    body["conversations"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["conversationId"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn analytics_delay_paging_drift_filters_and_jobs() {
    // Scale 60: data lands 30 s (0.5 s real) after it happens; conversations stay queued.
    let mut cfg = quiet(60.0);
    cfg.analytics.data_delay = Duration::from_secs(30);
    cfg.analytics.data_delay_jitter = Duration::ZERO;
    cfg.analytics.data_lake_lag = Duration::ZERO;
    cfg.analytics.job_completion_delay = Duration::from_secs(60);
    cfg.traffic.queue_wait = DurationRange::secs(3600, 3600);
    let sim = start(cfg).await;
    let tok = token(&sim).await;
    let qs = sim.queue_ids();
    let all_time = json!("2000-01-01T00:00:00.000Z/2100-01-01T00:00:00.000Z");

    let mut started = Vec::new();
    for i in 0..10 {
        started.push(sim.start_conversation(&qs[i % 2]).expect("conversation"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Not visible yet: empty result omits `conversations`.
    let (st, body) = call(&sim, Method::POST, QUERY, &tok, Some(json!({"interval": all_time}))).await;
    assert_eq!(st, 200);
    assert_eq!(body, json!({"totalHits": 0}));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(json!({"interval": all_time}))).await;
    assert_eq!(body["totalHits"], 10);
    assert_eq!(ids(&body), started, "default order: conversationStart asc");

    // Paging a live interval in desc order: new rows shift earlier ones onto later pages.
    let page = |n: u32| json!({"interval": all_time, "order": "desc", "paging": {"pageSize": 5, "pageNumber": n}});
    let (_, p1) = call(&sim, Method::POST, QUERY, &tok, Some(page(1))).await;
    for _ in 0..3 {
        sim.start_conversation(&qs[0]).expect("conversation");
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, p2) = call(&sim, Method::POST, QUERY, &tok, Some(page(2))).await;
    assert_eq!(p1["totalHits"], 10);
    assert_eq!(p2["totalHits"], 13, "totalHits changes while data lands");
    let dupes: BTreeSet<String> = ids(&p1).into_iter().filter(|i| ids(&p2).contains(i)).collect();
    assert_eq!(dupes.len(), 3, "rows from page 1 show up again on page 2");

    // Filters.
    let by_queue = json!({"interval": all_time, "segmentFilters": [{"type": "or", "predicates": [
        {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": qs[1]}]}]});
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(by_queue)).await;
    assert_eq!(body["totalHits"], 5);
    let by_id = json!({"interval": all_time, "conversationFilters": [{"type": "and", "predicates": [
        {"dimension": "conversationId", "value": started[3]}]}]});
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(by_id)).await;
    assert_eq!(ids(&body), vec![started[3].clone()]);
    let ended_only = json!({"interval": all_time, "conversationFilters": [{"type": "and", "predicates": [
        {"dimension": "conversationEnd", "operator": "exists"}]}]});
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(ended_only)).await;
    assert_eq!(body["totalHits"], 0, "none has ended");

    // Interval semantics (documented): conversations that started on a day touched by the interval.
    let n = now_ms();
    let today = json!(format!("{}/{}", iso_ms(n - 600_000), iso_ms(n - 540_000)));
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(json!({"interval": today}))).await;
    assert_eq!(body["totalHits"], 13, "same UTC day as the interval: included although outside it");
    let day = 86_400_000;
    let yesterday = json!(format!("{}/{}", iso_ms((n / day - 1) * day), iso_ms((n / day) * day - 1)));
    let (_, body) = call(&sim, Method::POST, QUERY, &tok, Some(json!({"interval": yesterday}))).await;
    assert_eq!(body["totalHits"], 0);

    // Bad queries → 400 ErrorBody.
    for bad in [
        json!({}),
        json!({"interval": "nonsense"}),
        json!({"interval": all_time, "paging": {"pageSize": 100000}}),
        json!({"interval": all_time, "segmentFilters": [{"type": "and", "predicates": [{"dimension": "bogus", "value": "x"}]}]}),
    ] {
        let (st, body) = call(&sim, Method::POST, QUERY, &tok, Some(bad.clone())).await;
        assert_eq!((st, body["status"].as_i64()), (400, Some(400)), "{bad} → {body}");
    }

    // The live conversation.
    let (st, conv) = call(&sim, Method::GET, &format!("/api/v2/conversations/{}", started[0]), &tok, None).await;
    assert_eq!(st, 200);
    assert_eq!(conv["id"], started[0].as_str());
    assert_eq!(conv["state"], "connected");
    assert!(conv.get("endTime").is_none());
    let (st, _) = call(&sim, Method::GET, "/api/v2/conversations/nope", &tok, None).await;
    assert_eq!(st, 404);

    // Async jobs.
    let (_, avail) =
        call(&sim, Method::GET, "/api/v2/analytics/conversations/details/jobs/availability", &tok, None).await;
    assert!(avail["dataAvailabilityDate"].is_string());
    let (st, job) = call(
        &sim,
        Method::POST,
        "/api/v2/analytics/conversations/details/jobs",
        &tok,
        Some(json!({"interval": all_time})),
    )
    .await;
    assert_eq!(st, 202);
    let job_id = job["jobId"].as_str().expect("jobId").to_string();
    let status_path = format!("/api/v2/analytics/conversations/details/jobs/{job_id}");
    let (_, status) = call(&sim, Method::GET, &status_path, &tok, None).await;
    assert!(status["state"] == "QUEUED" || status["state"] == "PENDING", "{status}");
    let (st, _) = call(&sim, Method::GET, &format!("{status_path}/results"), &tok, None).await;
    assert_eq!(st, 400, "results before FULFILLED");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, status) = call(&sim, Method::GET, &status_path, &tok, None).await;
    assert_eq!(status["state"], "FULFILLED");
    let mut cursor: Option<String> = None;
    let mut got = Vec::new();
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{status_path}/results?pageSize=5&cursor={c}"),
            None => format!("{status_path}/results?pageSize=5"),
        };
        let (st, page) = call(&sim, Method::GET, &path, &tok, None).await;
        assert_eq!(st, 200, "{page}");
        assert!(page["dataAvailabilityDate"].is_string());
        got.extend(ids(&page));
        cursor = page["cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(got.len(), 13);
    sim.shutdown().await;
}

#[tokio::test]
async fn queue_discovery_pages_filters_and_sees_new_queues() {
    let mut cfg = quiet(1.0);
    cfg.queues.count = 5;
    let sim = start(cfg).await;
    let tok = token(&sim).await;
    let (st, p1) = call(&sim, Method::GET, "/api/v2/routing/queues?pageSize=2&pageNumber=1", &tok, None).await;
    assert_eq!(st, 200);
    assert_eq!(p1["total"], 5);
    assert_eq!(p1["pageCount"], 3);
    assert_eq!(p1["entities"].as_array().map(Vec::len), Some(2));
    assert!(p1["nextUri"].is_string() && p1.get("previousUri").is_none());
    let id = sim.add_queue("Zeta Support");
    let (_, found) = call(&sim, Method::GET, "/api/v2/routing/queues?name=zeta*", &tok, None).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["entities"][0]["id"], id.as_str());
    assert_eq!(found["entities"][0]["name"], "Zeta Support");
    let (_, all) = call(&sim, Method::GET, "/api/v2/routing/queues?pageSize=100", &tok, None).await;
    assert_eq!(all["total"], 6);
    let (st, _) = call(&sim, Method::GET, "/api/v2/routing/queues?pageSize=0", &tok, None).await;
    assert_eq!(st, 400);
    // Traffic can run on the new queue.
    assert!(sim.start_conversation(&id).is_some());
    assert!(sim.start_conversation("no-such-queue").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_budget_429s_and_retry_after_accounting() {
    // Scale 20: the one-minute window lasts 3 s; 10 requests per window.
    let mut cfg = quiet(20.0);
    cfg.clients = ["polite", "rude"]
        .iter()
        .map(|id| ClientConfig {
            client_id: id.to_string(),
            client_secret: "s".into(),
            requests_per_minute: 10,
            ..ClientConfig::default()
        })
        .collect();
    let sim = start(cfg).await;
    let polite = token_for(&sim, "polite", "s").await;
    let rude = token_for(&sim, "rude", "s").await;
    let url = format!("{}/api/v2/routing/queues", sim.api_base_url());

    // The polite client stops at the first 429 and waits Retry-After.
    let mut ok = 0;
    let retry_after = loop {
        let r = http().get(&url).bearer_auth(&polite).send().await.expect("get");
        if r.status() == 429 {
            let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
            assert_eq!(h("inin-ratelimit-allowed"), Some(10));
            assert!(h("inin-ratelimit-count").is_some() && h("inin-ratelimit-reset").is_some());
            let retry = h("retry-after").expect("Retry-After");
            let body: Value = r.json().await.expect("json");
            assert_eq!(body["code"], "too.many.requests");
            assert_eq!(body["limit"]["value"], 10);
            break retry;
        }
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("inin-ratelimit-count"), "budget headers on every response");
        ok += 1;
        assert!(ok <= 10, "budget not enforced");
    };
    assert_eq!(ok, 10);
    assert!(retry_after >= 1);
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(20)).await;
    let r = http().get(&url).bearer_auth(&polite).send().await.expect("get");
    assert_eq!(r.status(), 200, "after Retry-After the budget is back");

    // The rude client keeps going after its 429, once it has had the time to read it.
    for i in 0..14 {
        if i == 11 {
            tokio::time::sleep(genesys_cloud_sim::IN_FLIGHT_GRACE + Duration::from_millis(10)).await;
        }
        let _ = http().get(&url).bearer_auth(&rude).send().await.expect("get");
    }
    let stats = sim.stats();
    let p = &stats.clients["polite"];
    assert_eq!(p.requests, 13, "12 queue requests and one token request");
    assert_eq!(p.requests_by_endpoint["queues"], 12);
    assert_eq!(p.rate_limited, 1);
    assert!(p.early_requests.is_empty(), "polite client obeyed Retry-After: {:?}", p.early_requests);
    let r = &stats.clients["rude"];
    assert_eq!(r.rate_limited, 4);
    assert_eq!(r.early_requests.len(), 3, "requests sent before Retry-After elapsed are recorded");
    assert!(r.early_requests.iter().all(|e| e.early_by_ms > 0));
    sim.shutdown().await;
}
