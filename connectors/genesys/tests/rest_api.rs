//! The typed API calls against the simulator: channels and subscriptions, queue paging, the
//! analytics details query, async jobs and single conversations.

use std::collections::BTreeSet;
use std::time::Duration;

use genesys_cloud_sim::SimConfig;
use tributary_genesys::api::{ChannelScope, DetailsQuery, JobQuery, JobState, TopicState};
use tributary_test_support::{clock::now_ms, genesys_api::*, simulator::*, wait::bounded};

#[tokio::test]
async fn channels_and_subscriptions() {
    bounded(TEST_LIMIT, async {
        let mut cfg = quiet(1.0);
        cfg.queues.count = 3;
        let probe = start(cfg.clone()).await;
        let queues = probe.queue_ids();
        probe.shutdown().await;
        cfg.clients[0].forbidden_queue_ids = vec![queues[2].clone()];
        let sim = start(cfg).await;
        let api = api(&sim);

        let channel = api.create_channel().await.expect("create channel");
        assert!(channel.id.starts_with("streaming-"), "{channel:?}");
        assert!(channel.connect_uri.starts_with("ws://127.0.0.1:"), "{channel:?}");
        assert!(channel.connect_uri.ends_with(&channel.id));
        let day = 24 * 3600 * 1000;
        assert!((channel.expires_ms - now_ms() - day).abs() < 60_000, "{channel:?}");
        assert_eq!(channel.token_generation, 1);
        assert!(!format!("{:?}", serde_json::to_value(&channel)).contains("ws://"), "connectUri is a credential");

        assert!(api.channel_exists(&channel.id).await.expect("head"));
        assert!(!api.channel_exists("streaming-0-doesnotexist").await.expect("head unknown"));

        let listed = api.list_channels(ChannelScope::Token).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id.as_deref(), Some(channel.id.as_str()));
        let listed_expiry = listed[0].expires_ms.expect("expires");
        assert!((listed_expiry - channel.expires_ms).abs() < 1_000, "{listed:?}");
        assert_eq!(api.list_channels(ChannelScope::OauthClient).await.expect("list").len(), 1);

        let topics: Vec<String> = queues.iter().map(|q| queue_topic(q)).collect();
        let answer = api.put_subscriptions(&channel.id, &topics).await.expect("put subscriptions");
        assert_eq!(answer.len(), 3, "{answer:?}");
        let rejected: Vec<_> = answer.iter().filter(|t| t.state == TopicState::Rejected).collect();
        assert_eq!(rejected.len(), 1, "{answer:?}");
        assert_eq!(rejected[0].id, topics[2]);
        assert_eq!(rejected[0].missing_permissions, vec![genesys_cloud_sim::QUEUE_TOPIC_PERMISSION.to_string()]);
        assert!(rejected[0].rejection_reason.is_some());

        let current = api.get_subscriptions(&channel.id).await.expect("get subscriptions");
        let ids: BTreeSet<&str> = current.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, topics[..2].iter().map(String::as_str).collect());
        assert!(current.iter().all(|t| t.state == TopicState::Permitted));

        // PUT replaces: an empty list clears.
        assert!(api.put_subscriptions(&channel.id, &[]).await.expect("clear").is_empty());
        assert!(api.get_subscriptions(&channel.id).await.expect("get").is_empty());

        // A dead channel's subscriptions are a 404.
        sim.inject(genesys_cloud_sim::Fault::ChannelExpiry {
            target: genesys_cloud_sim::Target::Channel(channel.id.clone()),
        });
        assert!(!api.channel_exists(&channel.id).await.expect("head"));
        let err = api.get_subscriptions(&channel.id).await.expect_err("dead channel");
        assert!(err.is_not_found(), "{err:?}");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn list_queues_pages_through_everything() {
    bounded(TEST_LIMIT, async {
        let mut cfg = quiet(1.0);
        cfg.queues.count = 230;
        let sim = start(cfg).await;
        let api = api(&sim);
        let all = api.list_queues(None).await.expect("queues");
        assert_eq!(all.len(), 230);
        let ids: BTreeSet<&str> = all.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, sim.queue_ids().iter().map(String::as_str).collect());
        assert!(all.iter().all(|q| q.name.starts_with("Queue ")));
        assert_eq!(client_stats(&sim).requests_by_endpoint.get("queues"), Some(&3));

        // "Queue 1", "Queue 10".."Queue 19", "Queue 100".."Queue 199".
        let named = api.list_queues(Some("queue 1*")).await.expect("filtered");
        assert_eq!(named.len(), 111);
        assert!(named.iter().all(|q| q.name.starts_with("Queue 1")));
        assert_eq!(client_stats(&sim).requests_by_endpoint.get("queues"), Some(&5));
        assert!(api.list_queues(Some("no such queue")).await.expect("none").is_empty());
        sim.shutdown().await;
    })
    .await;
}

/// A fast org: analytics data lands within about 0.15 s, jobs finish in about 20 ms and the data
/// lake lags by one protocol second.
fn analytics_org() -> SimConfig {
    let mut cfg = quiet(600.0);
    cfg.queues.count = 3;
    cfg.analytics.data_lake_lag = Duration::from_secs(1);
    cfg
}

/// Starts `n` conversations on each of the first two queues; returns their ids.
fn start_conversations(sim: &genesys_cloud_sim::SimHandle, n: usize) -> BTreeSet<String> {
    let queues = sim.queue_ids();
    let mut ids = BTreeSet::new();
    for i in 0..2 * n {
        ids.insert(sim.start_conversation(&queues[i % 2]).expect("conversation"));
    }
    ids
}

fn conversation_id(row: &serde_json::Value) -> String {
    row["conversationId"].as_str().expect("conversationId").to_string()
}

#[tokio::test]
async fn details_query_pages() {
    bounded(TEST_LIMIT, async {
        let sim = start(analytics_org()).await;
        let api = api(&sim);
        let queues = sim.queue_ids();
        let from = now_ms() - 60_000;
        let started = start_conversations(&sim, 12);
        // A conversation on the third queue must not match the filter.
        let outsider = sim.start_conversation(&queues[2]).expect("conversation");
        tokio::time::sleep(Duration::from_millis(600)).await;

        let mut query = DetailsQuery::new(from, now_ms() + 60_000).queues(queues[..2].to_vec()).page(5, 1);
        let mut seen = BTreeSet::new();
        let mut pages = 0;
        loop {
            let page = api.details_query(&query).await.expect("details page");
            if page.conversations.is_empty() {
                break;
            }
            assert!(page.conversations.len() <= 5);
            assert_eq!(page.total_hits, 24);
            seen.extend(page.conversations.iter().map(conversation_id));
            pages += 1;
            query = query.next_page();
        }
        assert_eq!(pages, 5);
        assert_eq!(seen, started);
        assert!(!seen.contains(&outsider));

        // By conversation id.
        let one = started.iter().next().expect("one").clone();
        let page = api
            .details_query(&DetailsQuery::new(from, now_ms() + 60_000).conversations([one.clone()]))
            .await
            .expect("by id");
        assert_eq!(page.total_hits, 1);
        assert_eq!(conversation_id(&page.conversations[0]), one);
        assert!(page.conversations[0]["participants"].is_array(), "rows stay raw JSON");
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn details_job_end_to_end() {
    bounded(TEST_LIMIT, async {
        let sim = start(analytics_org()).await;
        let api = api(&sim);
        let queues = sim.queue_ids();
        let from = now_ms() - 60_000;
        let started = start_conversations(&sim, 8);
        // Past the data lake's lag (one protocol second = 2 ms) and the analytics delay.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let availability = api.data_availability().await.expect("availability");
        assert!((now_ms() - availability).abs() < 5_000, "{availability}");

        let job = api
            .create_details_job(&JobQuery::new(from, now_ms() + 60_000, queues[..2].to_vec()))
            .await
            .expect("create job");
        let mut status = api.job_status(&job).await.expect("status");
        for _ in 0..100 {
            if status.state.is_terminal() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            status = api.job_status(&job).await.expect("status");
        }
        assert_eq!(status.state, JobState::Fulfilled, "{status:?}");

        let mut seen = BTreeSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = api.job_results(&job, cursor.as_deref(), 7).await.expect("results");
            assert!(page.data_availability_ms.is_some());
            seen.extend(page.conversations.iter().map(conversation_id));
            pages += 1;
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, started);

        api.cancel_job(&job).await.expect("cancel");
        assert_eq!(api.job_status(&job).await.expect("status").state, JobState::Cancelled);
        let err = api.job_status("no-such-job").await.expect_err("unknown job");
        assert!(err.is_not_found());
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn get_conversation_found_or_none() {
    bounded(TEST_LIMIT, async {
        let sim = start(quiet(1.0)).await;
        let api = api(&sim);
        let id = sim.start_conversation(&sim.queue_ids()[0]).expect("conversation");
        let conversation = api.get_conversation(&id).await.expect("get").expect("found");
        assert_eq!(conversation["id"].as_str(), Some(id.as_str()));
        assert!(api.get_conversation("4d4b0d9e-0000-4000-8000-000000000000").await.expect("get").is_none());
        assert!(api.get_conversation("../routing/queues").await.expect("escaped").is_none());
        sim.shutdown().await;
    })
    .await;
}

/// Two gaps of one outage with overlapping windows and the same open conversations: each
/// conversation is fetched by id once, for the first gap; the second gap is served by that answer
/// (it ended before the answer was asked), and both gaps close.
#[tokio::test]
async fn overlapping_gaps_recheck_each_open_conversation_once() {
    use std::sync::{Arc, Mutex};
    use tributary_genesys::backfill::{BackfillOutput, BackfillRequest, Progress, Worker};
    use tributary_genesys::config::BackfillSettings;
    use tributary_genesys::coverage::Gap;

    bounded(TEST_LIMIT, async {
        let sim = start(analytics_org()).await;
        let queues = sim.queue_ids();
        let open: Vec<String> = (0..5).map(|_| sim.start_conversation(&queues[0]).expect("conversation")).collect();
        let settings = BackfillSettings {
            max_wait: tributary_connector_api::Duration::from_secs(0),
            confirm_with_jobs: false,
            ..BackfillSettings::default()
        };
        let progress = Arc::new(Mutex::new(Progress::default()));
        let (out, mut done) = tokio::sync::mpsc::channel(64);
        let worker = Worker::new(api(&sim), settings, Arc::default(), progress.clone(), out, "recheck-once".to_owned());
        let (requests, rx) = tokio::sync::mpsc::channel(8);
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(worker.run(rx, stop.clone()));
        let now = now_ms();
        for (id, (from, to)) in [(now - 60_000, now - 20_000), (now - 50_000, now - 10_000)].into_iter().enumerate() {
            let gap =
                Gap { id: id as u64, queue_id: queues[0].clone(), from_ms: from, to_ms: to, truncated_from_ms: None };
            requests.send(BackfillRequest { gap, open_conversations: open.clone() }).await.expect("request");
        }
        let mut closed = 0;
        while closed < 2 {
            match done.recv().await.expect("worker output") {
                BackfillOutput::GapDone { .. } => closed += 1,
                BackfillOutput::Conversation { .. } => {}
            }
        }
        stop.cancel();
        running.await.expect("worker");
        let progress = progress.lock().expect("progress").clone();
        assert_eq!((progress.rechecked, progress.rechecks_shared), (5, 5), "{progress:?}");
        sim.shutdown().await;
    })
    .await;
}
