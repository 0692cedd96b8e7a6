//! Bad input is an error that names the path of what is wrong, never a panic.

use serde_json::{Value, json};

use super::samples::*;
use crate::record::tests::from_snapshot;
use crate::record::{BackfillApi, MappingError, from_analytics, from_rest_conversation};

fn live(body: &Value) -> Result<(), MappingError> {
    from_snapshot("t", "q", "topic", None, body, "", 0).map(drop)
}

fn row(body: &Value) -> Result<(), MappingError> {
    from_analytics("t", "q", body, BackfillApi::AnalyticsQuery, 0).map(drop)
}

fn missing(path: &str) -> MappingError {
    MappingError::Missing { path: path.into() }
}

#[test]
fn not_an_object() {
    for body in [json!([]), json!("x"), Value::Null, json!(1)] {
        assert_eq!(live(&body), Err(MappingError::NotAnObject { path: "$".into() }));
        assert_eq!(row(&body), Err(MappingError::NotAnObject { path: "$".into() }));
        assert!(from_rest_conversation("t", "q", &body, 0).is_err());
    }
    let err = live(&json!({"id": "c", "participants": [{"id": "p"}, 3]})).expect_err("element");
    assert_eq!(err, MappingError::NotAnObject { path: "participants[1]".into() });
    assert_eq!(err.to_string(), "`participants[1]` is not a JSON object");
}

#[test]
fn missing_ids() {
    assert_eq!(live(&json!({"participants": []})), Err(missing("id")));
    assert_eq!(live(&json!({"id": ""})), Err(missing("id")));
    assert_eq!(live(&json!({"id": null})), Err(missing("id")));
    assert_eq!(
        live(&json!({"id": "c", "participants": [{"id": "p"}, {"purpose": "agent"}]})),
        Err(missing("participants[1].id"))
    );
    assert_eq!(row(&json!({"conversationStart": "2024-03-01T10:00:00Z"})), Err(missing("conversationId")));
    assert_eq!(
        row(&json!({"conversationId": "c", "participants": [{"purpose": "agent"}]})),
        Err(missing("participants[0].participantId"))
    );
    assert_eq!(
        row(&json!({"conversationId": "c", "participants": [{"participantId": "p", "sessions": [
            {"segments": [{"segmentType": "interact"}]}]}]})),
        Err(missing("participants[0].sessions[0].segments[0].segmentStart"))
    );
    let err = live(&json!({"id": "c", "participants": [{"id": "p", "wrapup": {"notes": "n"}}]})).expect_err("code");
    assert_eq!(err, missing("participants[0].wrapup.code"));
    assert_eq!(err.to_string(), "`participants[0].wrapup.code` is missing");
}

#[test]
fn wrong_types() {
    let err = live(&json!({"id": "c", "participants": [{"id": "p", "purpose": 7}]})).expect_err("purpose");
    assert_eq!(
        err,
        MappingError::WrongType { path: "participants[0].purpose".into(), expected: "a string", found: "a number" }
    );
    assert_eq!(err.to_string(), "`participants[0].purpose` must be a string, found a number");
    assert!(matches!(
        live(&json!({"id": "c", "participants": {"id": "p"}})),
        Err(MappingError::WrongType { path, expected: "an array", .. }) if path == "participants"
    ));
    assert!(matches!(
        live(&json!({"id": "c", "participants": [{"id": "p", "calls": [{"id": "x", "state": ["connected"]}]}]})),
        Err(MappingError::WrongType { path, .. }) if path == "participants[0].calls[0].state"
    ));
    assert!(matches!(
        live(&json!({"id": "c", "participants": [{"id": "p", "wrapup": {"code": "w", "durationSeconds": "19"}}]})),
        Err(MappingError::WrongType { path, expected: "an integer", .. }) if path == "participants[0].wrapup.durationSeconds"
    ));
}

#[test]
fn bad_timestamps_are_named_and_quoted_briefly() {
    let err = live(&json!({"id": "c", "participants": [{"id": "p", "calls": [{"disconnectedTime": "soon"}]}]}))
        .expect_err("time");
    assert_eq!(
        err,
        MappingError::BadTimestamp { path: "participants[0].calls[0].disconnectedTime".into(), value: "soon".into() }
    );
    let long = "x".repeat(10_000);
    let err = row(&json!({"conversationId": "c", "conversationEnd": long})).expect_err("time");
    assert!(err.to_string().len() < 200, "{err}");
    assert!(matches!(
        from_rest_conversation("t", "q", &json!({"id": "c", "startTime": 5}), 0),
        Err(MappingError::WrongType { path, .. }) if path == "startTime"
    ));
}

#[test]
fn out_of_range_numbers() {
    let err = live(&json!({"id": "c", "participants": [{"id": "p", "wrapup": {"code": "w", "durationSeconds": 5_000_000_000_i64}}]}))
        .expect_err("range");
    assert_eq!(
        err,
        MappingError::OutOfRange { path: "participants[0].wrapup.durationSeconds".into(), value: "5000000000".into() }
    );
    assert!(matches!(
        live(&json!({"id": "c", "participants": [{"id": "p", "wrapup": {"code": "w", "durationSeconds": 1.5}}]})),
        Err(MappingError::OutOfRange { .. })
    ));
}

#[test]
fn mutilated_samples_never_panic() {
    // Every sample with every field in turn replaced by each odd value: an error or a record.
    let odd = [Value::Null, json!(""), json!(-1), json!([]), json!({}), json!("9999-99-99T99:99:99Z"), json!(true)];
    for text in [LIVE_FINAL, ANALYTICS_FINAL, REST_FINAL] {
        let sample = json(text);
        let mut paths = Vec::new();
        collect_paths(&sample, &mut Vec::new(), &mut paths);
        for path in &paths {
            for value in &odd {
                let mut body = sample.clone();
                if let Some(slot) = pointer_mut(&mut body, path) {
                    *slot = value.clone();
                }
                let _ = from_snapshot("t", "q", "topic", None, &body, "", 0);
                let _ = from_analytics("t", "q", &body, BackfillApi::AnalyticsJobs, 0);
                let _ = from_rest_conversation("t", "q", &body, 0);
            }
        }
    }
}

fn collect_paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                at.push(key.clone());
                collect_paths(item, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(i.to_string());
                collect_paths(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    value.pointer_mut(&pointer)
}

#[test]
fn a_body_that_is_not_json_is_named() {
    let notification = crate::notification::Notification {
        queue_id: "q".into(),
        topic: "topic".into(),
        raw_body: "{not json".into(),
        received_ms: 0,
        channel_id: None,
    };
    let error = crate::record::from_notification("t", notification).expect_err("not JSON");
    assert!(matches!(error, MappingError::NotJson { .. }), "{error}");
}
