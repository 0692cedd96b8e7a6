//! `Connector::check` against the simulated org: every check passes with good credentials and
//! leaves nothing subscribed; a refused client, an unreachable login host, an unknown queue and a
//! rejected topic are each named, with a fix; no check text ever holds the secret.

use std::time::Duration;

use genesys_cloud_sim::{QueueSpec, SimConfig};
use serde_json::{Value, json};
use tributary_connector_api::{Check, DynConnector, Outcome};
use tributary_genesys::GenesysCloud;
use tributary_genesys::check::names;
use tributary_test_support::{
    genesys::connector_config,
    simulator::{sim_config, start_sim},
    wait::bounded,
};

const LIMIT: Duration = Duration::from_secs(90);

/// Runs the checks; prints them for `--nocapture`.
async fn run(config: &Value) -> Vec<Check> {
    let checks = DynConnector::check(&GenesysCloud::new(), config).await;
    eprintln!("{}", render(&checks));
    checks
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check `{name}` in {}", render(checks)))
}

fn render(checks: &[Check]) -> String {
    checks.iter().map(|c| format!("\n  {c}")).collect()
}

/// The text of a check: detail, or cause and fix.
fn text(check: &Check) -> String {
    check.to_string()
}

fn assert_no_secret(checks: &[Check], secret: &str) {
    for c in checks {
        assert!(!text(c).contains(secret), "a check shows the secret: {c}");
    }
}

fn quiet(cfg: SimConfig) -> SimConfig {
    let mut cfg = cfg;
    cfg.traffic.enabled = false;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_pass_with_good_credentials_and_nothing_stays_subscribed() {
    bounded(LIMIT, async {
        let sim = start_sim(quiet(sim_config(60.0, 3, 0.0, 7))).await;
        let config = connector_config(&sim);
        let checks = run(&config).await;
        let all: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            all,
            vec![
                names::ROUTE,
                names::TOKEN,
                names::QUEUES,
                names::CHANNEL,
                names::SOCKET,
                names::CLEANUP,
                names::ANALYTICS,
                names::DATA_LAKE
            ],
            "{}",
            render(&checks)
        );
        for c in &checks {
            assert!(matches!(c.outcome, Outcome::Ok(_)), "not ok: {c}{}", render(&checks));
        }
        assert!(
            text(find(&checks, names::QUEUES)).contains("3 of 3 configured queue id(s) found"),
            "{}",
            render(&checks)
        );
        assert!(text(find(&checks, names::CHANNEL)).contains("3 queue topic(s) subscribed"), "{}", render(&checks));
        assert!(text(find(&checks, names::CLEANUP)).contains("expires by itself"), "{}", render(&checks));
        assert!(text(find(&checks, names::ROUTE)).contains("direct"), "{}", render(&checks));
        // The channel the check created is still there (no DELETE exists) but subscribed to nothing.
        let channels = sim.channels();
        assert_eq!(channels.len(), 1, "{channels:?}");
        assert!(channels[0].topics.is_empty(), "left subscribed: {:?}", channels[0].topics);
        assert!(!channels[0].connected, "the check's socket is still open");
        assert_no_secret(&checks, &sim.credentials().client_secret);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_the_token_check_and_skips_the_rest() {
    bounded(LIMIT, async {
        let sim = start_sim(quiet(sim_config(60.0, 2, 0.0, 7))).await;
        let mut config = connector_config(&sim);
        let wrong = "not-the-secret-7f3a";
        config["client_secret"] = json!(wrong);
        let checks = run(&config).await;
        let token = find(&checks, names::TOKEN);
        let Outcome::Fail { cause, fix } = &token.outcome else { panic!("token check passed: {token}") };
        assert!(cause.contains(&format!("`{}`", sim.credentials().client_id)), "client id not named: {cause}");
        assert!(cause.contains("rejected"), "{cause}");
        assert!(fix.contains("client_secret"), "{fix}");
        for name in [names::QUEUES, names::CHANNEL, names::SOCKET, names::CLEANUP, names::ANALYTICS] {
            let c = find(&checks, name);
            assert!(c.failed() && text(c).contains("not checked: no OAuth token"), "{c}");
        }
        assert!(sim.channels().is_empty(), "a channel was created without a token");
        assert_no_secret(&checks, wrong);
        assert_no_secret(&checks, &sim.credentials().client_secret);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_login_host_is_named() {
    bounded(LIMIT, async {
        let sim = start_sim(quiet(sim_config(60.0, 1, 0.0, 7))).await;
        // A port nothing listens on any more.
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            l.local_addr().expect("addr")
        };
        let mut config = connector_config(&sim);
        config["login_base_url"] = json!(format!("http://{closed}"));
        let checks = run(&config).await;
        let token = find(&checks, names::TOKEN);
        let Outcome::Fail { cause, fix } = &token.outcome else { panic!("token check passed: {token}") };
        assert!(cause.contains(&closed.to_string()), "login host not named: {cause}");
        assert!(fix.contains("login_base_url"), "{fix}");
        assert!(find(&checks, names::CHANNEL).failed());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_queue_id_is_named() {
    bounded(LIMIT, async {
        let sim = start_sim(quiet(sim_config(60.0, 2, 0.0, 7))).await;
        let mut config = connector_config(&sim);
        let unknown = "00000000-0000-4000-8000-00000000dead";
        let mut ids = sim.queue_ids();
        ids.push(unknown.into());
        config["queues"]["ids"] = json!(ids);
        let checks = run(&config).await;
        let queues = find(&checks, names::QUEUES);
        let Outcome::Fail { cause, .. } = &queues.outcome else { panic!("queues check passed: {queues}") };
        assert!(cause.contains(unknown) && cause.contains("2 of 3"), "{cause}");
        for known in sim.queue_ids() {
            assert!(!cause.contains(&known), "a known queue is named as missing: {cause}");
        }
        // The other checks still run: Genesys accepts a topic for a queue it does not have.
        assert!(!find(&checks, names::TOKEN).failed());
        assert!(!find(&checks, names::CLEANUP).failed(), "{}", render(&checks));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_says_how_many_queues_it_selects() {
    bounded(LIMIT, async {
        let mut cfg = quiet(sim_config(60.0, 0, 0.0, 7));
        cfg.queues.named = ["Support EMEA", "Support APAC", "Sales"]
            .iter()
            .map(|n| QueueSpec { name: (*n).into(), id: None })
            .collect();
        let sim = start_sim(cfg).await;
        let mut config = connector_config(&sim);
        config["queues"] = json!({"names": ["support *"]});
        let checks = run(&config).await;
        let queues = find(&checks, names::QUEUES);
        assert!(!queues.failed() && text(queues).contains("selects 2 of the org's 3 queues"), "{}", render(&checks));
        assert!(text(find(&checks, names::CHANNEL)).contains("2 queue topic(s) subscribed"), "{}", render(&checks));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_topic_is_named_with_its_missing_permission() {
    bounded(LIMIT, async {
        let forbidden = "11111111-2222-4333-8444-555555555555";
        let allowed = "66666666-7777-4888-9999-000000000000";
        let mut cfg = quiet(sim_config(60.0, 0, 0.0, 7));
        cfg.queues.named = vec![
            QueueSpec { name: "Allowed".into(), id: Some(allowed.into()) },
            QueueSpec { name: "Forbidden".into(), id: Some(forbidden.into()) },
        ];
        cfg.clients[0].forbidden_queue_ids = vec![forbidden.into()];
        let sim = start_sim(cfg).await;
        let checks = run(&connector_config(&sim)).await;
        let channel = find(&checks, names::CHANNEL);
        let Outcome::Fail { cause, fix } = &channel.outcome else { panic!("channel check passed: {channel}") };
        let topic = format!("v2.routing.queues.{forbidden}.conversations");
        assert!(cause.contains(&topic), "rejected topic not named: {cause}");
        assert!(cause.contains("1 of 2"), "{cause}");
        assert!(!cause.contains(allowed), "a permitted topic is named: {cause}");
        assert!(cause.contains("routing:queue:view") && fix.contains("routing:queue:view"), "{cause} / {fix}");
        // The queue itself is readable; the subscription is what is refused. Cleanup still ran.
        assert!(!find(&checks, names::QUEUES).failed(), "{}", render(&checks));
        assert!(!find(&checks, names::CLEANUP).failed(), "{}", render(&checks));
        assert!(sim.channels().iter().all(|c| c.topics.is_empty()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_with_issues_is_one_failed_check() {
    bounded(LIMIT, async {
        let checks = run(&json!({"topic": "t", "client_id": "x", "client_secret": "hunter2"})).await;
        assert_eq!(checks.len(), 1, "{}", render(&checks));
        assert_eq!(checks[0].name, names::CONFIG);
        assert!(checks[0].failed() && text(&checks[0]).contains("region"), "{}", checks[0]);
        assert_no_secret(&checks, "hunter2");
    })
    .await;
}
