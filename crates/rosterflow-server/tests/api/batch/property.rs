//! Arbitrary batches against a real server: whatever the body holds, the batch answers 200 or a 4xx in the
//! envelope, never a 5xx, and none of its requests answers 500 (a panic or a fault of ours); the server goes on.
//!
//! 64 cases in the normal test run; `PROPTEST_CASES=5000 cargo test -p rosterflow-server --test api
//! batch::property` runs longer.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

use super::BATCH;
use crate::common::*;

/// Any JSON, nested up to 5 deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".{0,10}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const SET: &str = "/external/industryData/outboundProvisioningFlowSets";

/// Relative URLs: the real routes (some with ids and queries), near misses under them, and paths nothing serves.
fn relative_url() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(SET)),
        Just(json!(format!("{SET}/0f8fad5b-d9cb-469f-a165-70867728950e"))),
        Just(json!(format!("{SET}?$filter=displayName eq 'x'&$count=true&$top=2"))),
        Just(json!(format!("{SET}/$count"))),
        Just(json!("external/industryData/years?$orderby=displayName desc")),
        Just(json!("/external/industryData/referenceDefinitions?$filter=(((code eq 'x')))")),
        Just(json!("/../../etc/passwd")),
        Just(json!("/users('a b')?$select=\"x\"")),
        "[a-zA-Z0-9/?$&=' ()%.-]{0,40}".prop_map(|s| json!(format!("{SET}{s}"))),
    ]
}

/// URLs of any kind: relative ones, absolute ones, nested batches, and noise.
fn url() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => relative_url(),
        1 => Just(json!("/$batch")),
        1 => Just(json!("https://graph.microsoft.com/beta/users")),
        1 => ".{0,40}".prop_map(Value::from),
        1 => any_json(),
    ]
}

fn method() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("GET")),
        Just(json!("POST")),
        Just(json!("patch")),
        Just(json!("DELETE")),
        Just(json!("PUT")),
        ".{0,8}".prop_map(Value::from),
        any_json(),
    ]
}

fn headers() -> impl Strategy<Value = Value> {
    let pair = prop_oneof![
        Just(("Content-Type".to_string(), json!("application/json"))),
        Just(("content-type".to_string(), json!("text/plain"))),
        Just(("client-request-id".to_string(), json!("c-1"))),
        Just(("ConsistencyLevel".to_string(), json!("eventual"))),
        (".{0,12}", ".{0,12}").prop_map(|(n, v)| (n, json!(v))),
        (".{0,12}", any_json()),
    ];
    prop_oneof![prop::collection::vec(pair, 0..5).prop_map(|p| Value::Object(p.into_iter().collect())), any_json()]
}

fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(flow_set_body()),
        Just(serde_json::from_str(SEED_PATCH).unwrap()),
        Just(json!("eyJkaXNwbGF5TmFtZSI6IngifQ==")),
        Just(json!({"displayName": "x".repeat(200)})),
        any_json(),
    ]
}

/// A request: each property present or not, each from its pool.
fn item(ids: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    (
        prop::option::of(ids.clone()),
        prop::option::of(method()),
        prop::option::of(url()),
        prop::option::of(headers()),
        prop::option::of(body()),
        prop::option::of(prop_oneof![prop::collection::vec(ids, 0..3).prop_map(Value::from), any_json()]),
    )
        .prop_map(|(id, method, url, headers, body, depends_on)| {
            let mut item = serde_json::Map::new();
            for (name, value) in [
                ("id", id),
                ("method", method),
                ("url", url),
                ("headers", headers),
                ("body", body),
                ("dependsOn", depends_on),
            ] {
                if let Some(v) = value {
                    item.insert(name.into(), v);
                }
            }
            Value::Object(item)
        })
}

/// A batch of well-formed requests to real routes, with bodies and dependencies of any kind: what reaches the
/// areas' handlers.
fn plausible_batch() -> impl Strategy<Value = Value> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("PATCH"), Just("DELETE"), Just("PUT")];
    let body = prop_oneof![
        Just(flow_set_body()),
        Just(serde_json::from_str(SEED_PATCH).unwrap()),
        Just(json!({"displayName": "x".repeat(200)})),
        prop::collection::btree_map(".{0,10}", any_json(), 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
    ];
    let request = (method, relative_url(), body, prop::collection::vec(0..8usize, 0..3));
    prop::collection::vec(request, 1..8).prop_map(|requests| {
        let requests: Vec<Value> = requests
            .into_iter()
            .enumerate()
            .map(|(n, (method, url, body, depends_on))| {
                let earlier: Vec<String> = depends_on.into_iter().filter(|d| *d < n).map(|d| format!("r{d}")).collect();
                let mut r = json!({"id": format!("r{n}"), "method": method, "url": url, "dependsOn": earlier});
                if method != "GET" && method != "DELETE" {
                    r["headers"] = json!({"Content-Type": "application/json"});
                    r["body"] = body;
                }
                r
            })
            .collect();
        json!({ "requests": requests })
    })
}

fn batch_body() -> impl Strategy<Value = Value> {
    let ids = prop_oneof![Just(json!("1")), Just(json!("2")), Just(json!("A")), Just(json!("a")), any_json()].boxed();
    prop_oneof![
        3 => plausible_batch(),
        2 => prop::collection::vec(item(ids), 0..24).prop_map(|requests| json!({ "requests": requests })),
        1 => any_json(),
        1 => any_json().prop_map(|requests| json!({ "requests": requests })),
    ]
}

#[test]
fn arbitrary_batches_answer_200_or_a_4xx_and_no_request_answers_500() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let c = server.admin();
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let ran = std::cell::Cell::new(0u32);
    let outcome = runner.run(&batch_body(), |body| {
        let reply = runtime.block_on(c.post(BATCH, body.clone()));
        let status = reply.status.as_u16();
        if status != 200 {
            prop_assert!((400..500).contains(&status), "{status}: {}", reply.text);
            prop_assert!(reply.body["error"]["code"].is_string(), "{}", reply.text);
            return Ok(());
        }
        let responses = reply.body["responses"].as_array().ok_or_else(|| TestCaseError::fail(reply.text.clone()))?;
        for r in responses {
            let status = r["status"].as_u64().unwrap_or_default();
            prop_assert!((200..600).contains(&status) && status != 500, "{r}");
            prop_assert!(r["id"].is_string() && r["headers"].is_object(), "{r}");
        }
        ran.set(ran.get() + u32::from(!responses.is_empty()));
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // The cases must reach the handlers, not only the batch's own checks.
    assert!(ran.get() >= cases / 8, "only {} of {cases} batches ran requests", ran.get());
    let alive = runtime.block_on(c.get("/healthz"));
    assert_eq!(alive.status, 200);
    runtime.block_on(server.stop());
}
