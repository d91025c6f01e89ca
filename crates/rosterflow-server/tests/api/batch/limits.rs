//! The bounds of a batch and of each of its requests, the throttle applied request by request, and the log lines
//! of a batch and of its requests.

use std::fs::File;
use std::process::Stdio;
use std::time::Duration;

use rosterflow_server::config::ServeArgs;
use serde_json::{json, Value};

use super::{batch, get, write, BATCH, SETS};
use crate::common::*;
use crate::hardening::Binary;

/// A server of this test's own, its flags as `configure` sets them.
async fn server(configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
    let mut args = serve_args(&temp_dir()).await;
    configure(&mut args);
    TestServer::start_with(args, &format!("tenant-{}", uuid::Uuid::new_v4())).await
}

#[tokio::test]
async fn throttled_requests_answer_429_with_retry_after_inside_a_200_batch() {
    let server = server(|args| {
        args.limits.throttle_limit = 3;
        args.limits.throttle_window_seconds = 60;
    })
    .await;
    let c = server.as_(OUTBOUND_RW);
    let requests: Vec<Value> = (0..5).map(|i| get(&i.to_string(), SETS)).collect();
    let done = batch(&c, json!(requests)).await;
    let statuses: Vec<u64> = (0..5).map(|i| done.status(&i.to_string())).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
    for i in (0..5).map(|i| i.to_string()).filter(|i| done.status(i) == 429) {
        let e = done.error(&i, 429);
        assert_eq!(e["code"], "TooManyRequests");
        let retry = done.get(&i)["headers"]["Retry-After"].as_str().unwrap().parse::<u64>().unwrap();
        assert!((1..=20).contains(&retry), "{retry}");
    }
    // The batch's own request is not counted: with the bucket empty, a batch still answers 200.
    let done = batch(&c, json!([get("again", SETS)])).await;
    done.error("again", 429);
}

#[tokio::test]
async fn each_request_is_held_to_a_direct_requests_limits() {
    let server = server(|args| {
        args.limits.max_uri_bytes = 1024;
        args.limits.max_header_bytes = 4096;
    })
    .await;
    let c = server.as_(OUTBOUND_RW);
    let many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let done = batch(
        &c,
        json!([
            get("long", &format!("{SETS}?$filter=displayName eq '{}'", "a".repeat(1024))),
            get("fits", &format!("{SETS}?$filter=displayName eq '{}'", "a".repeat(100))),
            {"id": "many", "method": "GET", "url": SETS, "headers": many},
            {"id": "large", "method": "GET", "url": SETS, "headers": {"x-large": "l".repeat(5000)}},
            {"id": "bad-header", "method": "GET", "url": SETS, "headers": {"x-bad": "a\r\nInjected: yes"}},
            {"id": "after-long", "method": "GET", "url": SETS, "dependsOn": ["long"]},
        ]),
    )
    .await;
    assert_eq!(done.error("long", 414)["code"], "RequestUriTooLong");
    assert_eq!(done.status("fits"), 200);
    assert_eq!(done.error("many", 431)["code"], "RequestHeaderFieldsTooLarge");
    assert_eq!(done.error("large", 431)["code"], "RequestHeaderFieldsTooLarge");
    assert_eq!(done.error("bad-header", 400)["code"], "BadRequest");
    done.error("after-long", 424);
}

#[tokio::test]
async fn the_batch_body_is_held_to_max_body_bytes() {
    let server = server(|args| args.max_body_bytes = 64 * 1024).await;
    let c = server.as_(OUTBOUND_RW);
    let mut body = flow_set_body();
    body["displayName"] = json!("x".repeat(64 * 1024));
    let r = c.post(BATCH, json!({"requests": [write("1", "POST", SETS, body)]})).await;
    assert_eq!(r.error(413)["code"], "RequestEntityTooLarge");
    // Under the limit, a request's body reaches its handler whole, and the handler's own checks answer.
    let mut body = flow_set_body();
    body["displayName"] = json!("x".repeat(32 * 1024));
    let done = batch(&c, json!([write("1", "POST", SETS, body)])).await;
    assert_eq!(done.error("1", 400)["target"], "displayName");
}

#[tokio::test]
async fn the_batch_logs_as_itself_and_each_request_as_its_route_with_nothing_secret() {
    const SECRET_ID: &str = "secretid-3b8e55d0";
    const ROSTER_VALUE: &str = "Rostervalue Jamal Student 5521";
    let log = std::env::temp_dir().join(format!("rosterflow-batch-log-{}.txt", uuid::Uuid::new_v4()));
    let server = Binary::start(&["--log-format", "json"], Stdio::from(File::create(&log).unwrap())).await;
    let token = server.token("batch-log-tenant");
    let c = client_for(&format!("http://{}", server.addr), token.clone());
    let mut named = flow_set_body();
    named["displayName"] = json!(ROSTER_VALUE);
    let done = batch(
        &c,
        json!([
            get("item", &format!("{SETS}/{SECRET_ID}?$filter=displayName eq '{ROSTER_VALUE}'")),
            write("create", "POST", SETS, named),
            {"id": "failed", "method": "GET", "url": SETS, "dependsOn": ["item"]},
        ]),
    )
    .await;
    assert_eq!(done.status("create"), 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "rosterflow::request")
        .collect();
    let line_of = |request_id: &str| -> &Value {
        let mine: Vec<&Value> = lines.iter().filter(|l| l["request_id"] == request_id).collect();
        assert_eq!(mine.len(), 1, "one line for {request_id}: {text}");
        mine[0]
    };
    let outer = line_of(done.reply.header("request-id").unwrap());
    assert_eq!((outer["route"].as_str(), outer["status"].as_u64()), (Some(BATCH), Some(200)), "{outer}");
    assert_eq!(outer["tenant"], "batch-log-tenant");
    let expected = [
        ("item", "GET", "/beta/external/industryData/outboundProvisioningFlowSets/{id}"),
        ("create", "POST", "/beta/external/industryData/outboundProvisioningFlowSets"),
        ("failed", "GET", BATCH),
    ];
    assert_eq!(done.status("failed"), 424, "{}", done.reply.text);
    for (id, method, route) in expected {
        let line = line_of(done.get(id)["headers"]["request-id"].as_str().unwrap());
        assert_eq!(line["route"], route, "{line}");
        assert_eq!(line["method"], method, "{line}");
        assert_eq!(line["status"], done.status(id), "{line}");
    }
    for secret in [SECRET_ID, "Rostervalue", token.as_str()] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
}
