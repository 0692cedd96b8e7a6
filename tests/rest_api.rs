//! The REST API over real HTTP against a real runtime (embedded broker and registry): listing,
//! info, status, state changes, the offsets lifecycle, plugins and validation, error shapes.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tributary_test_support::{rest::*, wait::wait_for};

fn names(body: &Value) -> Vec<String> {
    body.as_array().expect("a list").iter().map(|v| v.as_str().expect("a name").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connectors_listing_status_and_state_changes() {
    let connectors = "  - {name: alpha, class: datagen, topic: alpha.records, rate: 50, generators: 2, record_bytes: 100}\n  - {name: beta, class: probe, topic: beta.records, rate: 20}\n";
    let h = Harness::start(&config_text("", connectors), TestEnv::default()).await;

    let (code, body) = h.get("/health").await;
    assert_eq!((code, body), (StatusCode::OK, json!({"status": "UP"})));
    h.wait_state("alpha", "RUNNING").await;
    h.wait_state("beta", "RUNNING").await;

    let (code, body) = h.get("/connectors").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(names(&body), ["alpha", "beta"]);

    let (code, body) = h.get("/connectors?expand=status").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["alpha"]["status"]["connector"]["state"], "RUNNING", "{body}");
    assert_eq!(body["alpha"]["status"]["type"], "source");
    assert_eq!(body["alpha"]["status"]["tasks"].as_array().map(Vec::len), Some(2));
    assert!(body["alpha"].get("info").is_none());
    let (_, body) = h.get("/connectors?expand=info").await;
    assert_eq!(body["beta"]["info"]["config"]["topic"], "beta.records", "{body}");
    assert_eq!(
        body["alpha"]["info"]["tasks"],
        json!([{"connector": "alpha", "task": 0}, {"connector": "alpha", "task": 1}])
    );
    assert!(body["alpha"].get("status").is_none());
    let (_, body) = h.get("/connectors?expand=status&expand=info").await;
    assert!(body["alpha"]["status"].is_object() && body["alpha"]["info"].is_object(), "{body}");
    let (code, body) = h.get("/connectors?expand=everything").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], 400, "{body}");

    let (code, info) = h.get("/connectors/alpha").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(info["name"], "alpha");
    assert_eq!(info["type"], "source");
    assert_eq!(
        info["config"],
        json!({"name": "alpha", "class": "datagen", "topic": "alpha.records", "rate": 50, "generators": 2, "record_bytes": 100})
    );
    assert_eq!(info["tasks"].as_array().map(Vec::len), Some(2));
    let (code, config) = h.get("/connectors/alpha/config").await;
    assert_eq!((code, config), (StatusCode::OK, info["config"].clone()));

    let status = h.wait_committed("alpha").await;
    let worker = h.base.trim_start_matches("http://");
    assert_eq!(status["name"], "alpha");
    assert_eq!(status["class"], "datagen");
    assert_eq!(status["connector"]["worker_id"], worker);
    assert!(status["connector"].get("trace").is_none(), "{status}");
    for (id, task) in status["tasks"].as_array().expect("tasks").iter().enumerate() {
        assert_eq!(task["id"], id);
        assert_eq!(task["state"], "RUNNING");
        assert_eq!(task["worker_id"], worker);
        assert_eq!(task["health"], json!({"state": "HEALTHY"}), "{status}");
    }
    assert_eq!(status["runtime"]["runs"], 1);
    assert!(status["runtime"]["running_since"].is_string(), "{status}");
    assert!(status["runtime"]["records_acknowledged"].as_u64() > Some(0), "{status}");
    assert!(status["runtime"]["records_in_flight"].is_u64());
    let partitions: BTreeSet<String> = status["runtime"]["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| o["partition"]["generator"].as_str().expect("generator").to_owned())
        .collect();
    assert_eq!(partitions, BTreeSet::from(["0".to_owned(), "1".to_owned()]));
    let (code, task) = h.get("/connectors/alpha/tasks/1/status").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!((task["id"].clone(), task["state"].clone()), (json!(1), json!("RUNNING")), "{task}");
    for missing in ["/connectors/alpha/tasks/2/status", "/connectors/alpha/tasks/x/status"] {
        let (code, body) = h.get(missing).await;
        assert_eq!((code, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)), "{missing}");
    }
    let beta = h.status("beta").await;
    assert_eq!(beta["tasks"][0]["detail"]["topic"], "beta.records", "the connector's own detail: {beta}");

    // Pause and resume.
    let (code, body) = h.call(Method::PUT, "/connectors/alpha/pause", None).await;
    assert_eq!((code, body), (StatusCode::ACCEPTED, Value::Null));
    let paused = h.wait_state("alpha", "PAUSED").await;
    assert_eq!(paused["tasks"][0]["state"], "PAUSED");
    let (code, _) = h.call(Method::PUT, "/connectors/alpha/resume", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    h.wait_state("alpha", "RUNNING").await;

    // Stop, then restart starts it again as a new run.
    let (code, _) = h.call(Method::PUT, "/connectors/alpha/stop", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let stopped = h.wait_state("alpha", "STOPPED").await;
    assert_eq!(stopped["tasks"], json!([]));
    assert_eq!(stopped["runtime"]["runs"], 1);
    let (code, body) = h.call(Method::POST, "/connectors/alpha/restart", None).await;
    assert_eq!((code, body), (StatusCode::NO_CONTENT, Value::Null));
    h.wait_status("alpha", "second run", |s| s["connector"]["state"] == "RUNNING" && s["runtime"]["runs"] == 2).await;

    // onlyFailed on a healthy connector restarts nothing; includeTasks restarts and answers 202.
    let (code, body) = h.call(Method::POST, "/connectors/alpha/restart?onlyFailed=true", None).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["name"], "alpha");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.status("alpha").await["runtime"]["runs"], 2);
    let (code, body) = h.call(Method::POST, "/connectors/alpha/restart?includeTasks=true&onlyFailed=false", None).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    h.wait_status("alpha", "third run", |s| s["connector"]["state"] == "RUNNING" && s["runtime"]["runs"] == 3).await;
    let (code, body) = h.call(Method::POST, "/connectors/alpha/restart?includeTasks=maybe", None).await;
    assert_eq!((code, body["error_code"].clone()), (StatusCode::BAD_REQUEST, json!(400)));

    // Unknown connectors.
    for (method, path) in [
        (Method::GET, "/connectors/nope"),
        (Method::GET, "/connectors/nope/config"),
        (Method::GET, "/connectors/nope/status"),
        (Method::PUT, "/connectors/nope/pause"),
        (Method::PUT, "/connectors/nope/resume"),
        (Method::PUT, "/connectors/nope/stop"),
        (Method::POST, "/connectors/nope/restart"),
        (Method::GET, "/connectors/nope/offsets"),
        (Method::DELETE, "/connectors/nope/offsets"),
    ] {
        let (code, body) = h.call(method.clone(), path, None).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error_code"], 404, "{method} {path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("`nope`")), "{body}");
    }
    // Connectors come from the file; unknown paths and methods answer JSON errors.
    let (code, body) = h.call(Method::POST, "/connectors", Some(json!({"name": "x", "config": {}}))).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["message"].as_str().is_some_and(|m| m.contains("config file")), "{body}");
    let (code, _) = h.call(Method::DELETE, "/connectors/alpha", None).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    let (code, body) = h.get("/no/such/thing").await;
    assert_eq!((code, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    let (code, body) = h.call(Method::PUT, "/health", None).await;
    assert_eq!((code, body["error_code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!(405)));

    h.shutdown().await;
}

fn seq_of(offsets: &Value, generator: &str) -> Option<i64> {
    offsets["offsets"]
        .as_array()?
        .iter()
        .find(|o| o["partition"] == json!({"generator": generator}))
        .and_then(|o| o["offset"]["seq"].as_i64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offsets_lifecycle_stop_read_patch_resume() {
    let connectors =
        "  - {name: gen, class: datagen, topic: gen.records, rate: 100, generators: 1, record_bytes: 100}\n";
    let h = Harness::start(&config_text("", connectors), TestEnv::default()).await;
    h.wait_state("gen", "RUNNING").await;
    h.wait_committed("gen").await;

    // Reading works while running.
    let running = wait_for(WAIT, "committed offsets visible", || async {
        let (code, body) = h.get("/connectors/gen/offsets").await;
        (code == StatusCode::OK && seq_of(&body, "0").is_some()).then_some(body)
    })
    .await;
    assert_eq!(running["offsets"].as_array().map(Vec::len), Some(1), "{running}");

    // Editing needs STOPPED.
    let patch = json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": 1000}}]});
    let (code, body) = h.call(Method::PATCH, "/connectors/gen/offsets", Some(patch.clone())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], 400);
    assert!(body["message"].as_str().is_some_and(|m| m.contains("RUNNING") && m.contains("STOPPED")), "{body}");
    let (code, _) = h.call(Method::DELETE, "/connectors/gen/offsets", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    let (code, _) = h.call(Method::PUT, "/connectors/gen/stop", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    h.wait_state("gen", "STOPPED").await;
    let (code, stopped) = h.get("/connectors/gen/offsets").await;
    assert_eq!(code, StatusCode::OK);
    let last = seq_of(&stopped, "0").expect("a stored seq");
    assert!(last > 0 && last < 900, "the run produced a few hundred records at most: {last}");

    // Bad bodies.
    for bad in [
        json!("nope"),
        json!({"offsets": []}),
        json!({"offsets": [{"partition": {"generator": ["0"]}, "offset": {"seq": 1}}]}),
        json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": {"deep": 1}}}]}),
        json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": 1}, "extra": 1}]}),
        json!({"partitions": []}),
    ] {
        let (code, body) = h.call(Method::PATCH, "/connectors/gen/offsets", Some(bad.clone())).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error_code"], 400, "{body}");
    }
    let raw = h.http.patch(h.url("/connectors/gen/offsets")).body("{not json").send().await.expect("sent");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

    // Patch, read back, resume: the generator continues after the patched position.
    let (code, body) = h.call(Method::PATCH, "/connectors/gen/offsets", Some(patch)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(body["message"].is_string());
    let (_, patched) = h.get("/connectors/gen/offsets").await;
    assert_eq!(patched, json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": 1000}}]}));
    let (code, _) = h.call(Method::PUT, "/connectors/gen/resume", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    h.wait_status("gen", "records past the patched offset", |s| {
        s["runtime"]["offsets"][0]["committed"]["seq"].as_i64().is_some_and(|n| n >= 1020)
    })
    .await;
    let (code, _) = h.call(Method::PUT, "/connectors/gen/stop", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    h.wait_state("gen", "STOPPED").await;

    let seqs: Vec<i64> = h.consume("gen.records").await.iter().map(|v| v["seq"].as_i64().expect("seq")).collect();
    let distinct: BTreeSet<i64> = seqs.iter().copied().collect();
    assert!((0..=last).all(|n| distinct.contains(&n)), "every record of the first run is in Kafka");
    assert!(
        distinct.contains(&1001),
        "the resumed run starts at 1001: {:?}",
        distinct.range(last - 2..).take(5).collect::<Vec<_>>()
    );
    assert!(!distinct.iter().any(|n| *n > last && *n < 1001), "nothing between the first run's end and 1001");
    let top = *distinct.last().expect("records");
    assert!((1001..=top).all(|n| distinct.contains(&n)), "no gap after 1001");

    // PATCH only touches the partitions it lists; a null offset resets one.
    let two = json!({"offsets": [
        {"partition": {"generator": "0"}, "offset": {"seq": 5}},
        {"partition": {"generator": "9"}, "offset": {"seq": 1}},
    ]});
    assert_eq!(h.call(Method::PATCH, "/connectors/gen/offsets", Some(two)).await.0, StatusCode::OK);
    let (_, both) = h.get("/connectors/gen/offsets").await;
    assert_eq!((seq_of(&both, "0"), seq_of(&both, "9")), (Some(5), Some(1)), "{both}");
    let reset_one = json!({"offsets": [{"partition": {"generator": "9"}, "offset": null}]});
    assert_eq!(h.call(Method::PATCH, "/connectors/gen/offsets", Some(reset_one)).await.0, StatusCode::OK);
    let (_, one) = h.get("/connectors/gen/offsets").await;
    assert_eq!(one, json!({"offsets": [{"partition": {"generator": "0"}, "offset": {"seq": 5}}]}));

    // DELETE resets everything: the next run starts from scratch.
    let (code, body) = h.call(Method::DELETE, "/connectors/gen/offsets", None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(h.get("/connectors/gen/offsets").await.1, json!({"offsets": []}));
    assert_eq!(h.call(Method::POST, "/connectors/gen/restart", None).await.0, StatusCode::NO_CONTENT);
    h.wait_committed("gen").await;
    let (code, _) = h.call(Method::PUT, "/connectors/gen/stop", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    h.wait_state("gen", "STOPPED").await;
    let zeros = h.consume("gen.records").await.iter().filter(|v| v["seq"] == 0).count();
    assert_eq!(zeros, 2, "seq 0 again after the reset");

    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugins_and_offline_validation() {
    let h = Harness::start(&config_text("", ""), TestEnv::default()).await;

    let (code, plugins) = h.get("/connector-plugins").await;
    assert_eq!(code, StatusCode::OK);
    let classes: Vec<&str> = plugins.as_array().expect("list").iter().filter_map(|p| p["class"].as_str()).collect();
    assert_eq!(classes, ["datagen", "probe"]);
    for p in plugins.as_array().expect("list") {
        assert_eq!(p["type"], "source");
        assert!(p["version"].as_str().is_some_and(|v| !v.is_empty()), "{p}");
    }

    let validate = |class: &str, body: Value| {
        let path = format!("/connector-plugins/{class}/config/validate");
        let h = &h;
        async move { h.call(Method::PUT, &path, Some(body)).await }
    };
    let errors_of = |answer: &Value, key: &str| -> Vec<String> {
        answer["configs"]
            .as_array()
            .expect("configs")
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| {
                c["value"]["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .map(|e| e.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (code, good) = validate("datagen", json!({"name": "x", "class": "datagen", "topic": "t", "rate": 5})).await;
    assert_eq!(code, StatusCode::OK, "{good}");
    assert_eq!(good["name"], "datagen");
    assert_eq!(good["error_count"], 0, "{good}");
    assert!(good["groups"].is_array());
    let topic =
        good["configs"].as_array().expect("configs").iter().find(|c| c["value"]["name"] == "topic").expect("topic");
    assert_eq!(topic["value"]["value"], "t");
    assert_eq!(topic["value"]["errors"], json!([]));

    let (_, bad) = validate("datagen", json!({"topic": "t", "rate": -1, "generators": 0})).await;
    assert_eq!(bad["error_count"], 2, "{bad}");
    assert_eq!(errors_of(&bad, "rate").len(), 1, "{bad}");
    assert_eq!(errors_of(&bad, "generators").len(), 1, "{bad}");
    assert!(errors_of(&bad, "topic").is_empty());

    let (_, unknown) = validate("datagen", json!({"topic": "t", "topik": 1})).await;
    assert_eq!(unknown["error_count"], 1, "{unknown}");
    assert!(errors_of(&unknown, "topik")[0].contains("unknown field"), "{unknown}");
    let (_, missing) = validate("datagen", json!({})).await;
    assert_eq!(missing["error_count"], 1);
    assert!(errors_of(&missing, "topic")[0].contains("missing field"), "{missing}");
    let (_, wrong_class) = validate("datagen", json!({"class": "probe", "topic": "t"})).await;
    assert_eq!(wrong_class["error_count"], 1);
    assert_eq!(errors_of(&wrong_class, "class").len(), 1, "{wrong_class}");
    let (_, producer) = validate("datagen", json!({"topic": "t", "producer": "fast"})).await;
    assert_eq!(errors_of(&producer, "producer").len(), 1, "{producer}");

    // Secrets in a validated entry are shown redacted and never quoted.
    let (_, secret) = validate("probe", json!({"topic": "t", "client_secret": "validate-secret-123", "rate": 0})).await;
    assert_eq!(secret["error_count"], 1, "{secret}");
    let shown = secret["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["value"]["name"] == "client_secret")
        .expect("key");
    assert_eq!(shown["value"]["value"], "[redacted]");
    assert!(!secret.to_string().contains("validate-secret-123"));

    let (code, body) = validate("nope", json!({})).await;
    assert_eq!((code, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    let (code, _) = validate("datagen", json!([1, 2])).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let raw = h.http.put(h.url("/connector-plugins/datagen/config/validate")).body("{").send().await.expect("sent");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

    h.shutdown().await;
}
