//! `POST /beta/$batch` over real HTTP (`graph-docs-directory/concepts/json-batching.md`), against the
//! industryData endpoints: each request answers as it would alone (status, headers, body, envelope,
//! permissions), `dependsOn` orders them and a failed dependency answers 424, and a malformed batch answers 400
//! with nothing run. [`limits`]: the bounds, the throttle and the log; [`property`]: arbitrary batches.

mod limits;
mod property;

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common::*;

pub const BATCH: &str = "/beta/$batch";
const SETS: &str = "/external/industryData/outboundProvisioningFlowSets";

/// The batch's answer, its responses by id (ids as sent).
pub struct Answered {
    pub reply: Reply,
    pub by_id: HashMap<String, Value>,
}

impl Answered {
    #[track_caller]
    pub fn get(&self, id: &str) -> &Value {
        self.by_id.get(id).unwrap_or_else(|| panic!("no response '{id}' in {}", self.reply.text))
    }

    #[track_caller]
    pub fn status(&self, id: &str) -> u64 {
        self.get(id)["status"].as_u64().unwrap()
    }

    /// The response's Graph error envelope, checked to be whole and to carry the response's own `request-id`.
    #[track_caller]
    pub fn error(&self, id: &str, status: u64) -> &Value {
        let r = self.get(id);
        assert_eq!(r["status"], status, "{r}");
        assert!(r["headers"]["Content-Type"].as_str().unwrap().starts_with("application/json"), "{r}");
        let e = &r["body"]["error"];
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()) && e["message"].is_string(), "{r}");
        assert_eq!(e["innerError"]["request-id"], r["headers"]["request-id"], "{r}");
        e
    }
}

/// POST `requests` as a batch; the answer must be 200 with one response per request.
pub async fn batch(c: &Client, requests: Value) -> Answered {
    let sent = requests.as_array().map_or(0, Vec::len);
    let reply = c.post(BATCH, json!({ "requests": requests })).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    let responses = reply.body["responses"].as_array().unwrap_or_else(|| panic!("{}", reply.text));
    assert_eq!(responses.len(), sent, "{}", reply.text);
    let by_id = responses.iter().map(|r| (r["id"].as_str().unwrap().to_string(), r.clone())).collect();
    Answered { reply, by_id }
}

pub fn get(id: &str, url: &str) -> Value {
    json!({"id": id, "method": "GET", "url": url})
}

pub fn write(id: &str, method: &str, url: &str, body: Value) -> Value {
    json!({"id": id, "method": method, "url": url, "headers": {"Content-Type": "application/json"}, "body": body})
}

fn named_set(name: &str) -> Value {
    let mut body = flow_set_body();
    body["displayName"] = json!(name);
    body
}

/// How many flow sets are named `name`, asked directly.
async fn stored(c: &Client, name: &str) -> u64 {
    let count = c.get(&format!("outboundProvisioningFlowSets/$count?$filter=displayName%20eq%20'{name}'")).await;
    count.text.parse().unwrap_or_else(|_| panic!("{}", count.text))
}

fn unique(prefix: &str) -> String {
    format!("{prefix} {}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[tokio::test]
async fn creates_several_flow_sets_in_one_batch_each_answered_as_alone() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let name = unique("Batch");
    let requests: Vec<Value> = (0..5).map(|i| write(&format!("s{i}"), "POST", SETS, named_set(&name))).collect();
    let done = batch(&c, json!(requests)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = done.get(&format!("s{i}"));
        assert_eq!(r["status"], 201, "{r}");
        assert!(r["headers"]["Content-Type"].as_str().unwrap().starts_with("application/json;odata.metadata=minimal"));
        assert!(r["headers"]["request-id"].is_string(), "{r}");
        assert_eq!(r["body"]["displayName"], name.as_str(), "the body is embedded as JSON: {r}");
        assert!(r["body"]["@odata.context"].as_str().unwrap().starts_with(&server.url), "{r}");
        ids.push(r["body"]["id"].as_str().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    for id in &ids {
        c.get(&format!("outboundProvisioningFlowSets/{id}")).await.expect(200);
    }
    // Each response has its own request-id, and none is the batch's.
    let mut request_ids: Vec<&str> =
        done.by_id.values().map(|r| r["headers"]["request-id"].as_str().unwrap()).collect();
    request_ids.push(done.reply.header("request-id").unwrap());
    request_ids.sort();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 6);
}

#[tokio::test]
async fn twenty_writes_run_together_and_all_land() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let name = unique("Twenty");
    let requests: Vec<Value> = (0..20).map(|i| write(&i.to_string(), "POST", SETS, named_set(&name))).collect();
    let done = batch(&c, json!(requests)).await;
    assert!(done.by_id.values().all(|r| r["status"] == 201), "{}", done.reply.text);
    assert_eq!(stored(&c, &name).await, 20);
}

/// Creates that run together and are committed together (PostgreSQL groups them into one statement) still
/// answer each for itself: a UPN taken before the batch, or twice inside it, is one 409; the others land.
#[tokio::test]
async fn user_creates_in_a_batch_fail_alone_on_a_duplicate_upn() {
    let server = TestServer::start().await;
    let c = server.as_("User.ReadWrite.All");
    let taken = format!("{}@c.test", unique("taken").replace(' ', "."));
    c.post("/beta/users", crate::directory::user_body(&taken, "Taken")).await.expect(201);
    let twice = format!("{}@c.test", unique("twice").replace(' ', "."));
    let upns: Vec<String> = (0..20)
        .map(|i| match i {
            5 => taken.to_uppercase(),
            9 | 14 => twice.clone(),
            _ => format!("{}@c.test", unique(&format!("u{i}")).replace(' ', ".")),
        })
        .collect();
    let requests: Vec<Value> = (0..20)
        .map(|i| write(&i.to_string(), "POST", "/users", crate::directory::user_body(&upns[i], &format!("U{i}"))))
        .collect();
    let done = batch(&c, json!(requests)).await;
    done.error("5", 409);
    let twins = [done.status("9"), done.status("14")];
    assert!(twins == [201, 409] || twins == [409, 201], "one of two creates with one UPN wins: {twins:?}");
    for (i, upn) in upns.iter().enumerate() {
        if ![5, 9, 14].contains(&i) {
            assert_eq!(done.status(&i.to_string()), 201, "{}", done.reply.text);
            let id = done.get(&i.to_string())["body"]["id"].as_str().unwrap().to_string();
            assert_eq!(c.get(&format!("/beta/users/{upn}")).await.expect(200).id(), id);
        }
    }
    let f = format!("/beta/users/$count?$filter=userPrincipalName%20eq%20'{twice}'");
    let count = crate::directory::send(&c, reqwest::Method::GET, &f, crate::directory::EVENTUAL, None).await;
    assert_eq!(count.text, "1", "{}", count.text);
}

#[tokio::test]
async fn patches_the_seed_and_reads_it_back_in_order() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let url = format!("{SETS}/{set}/provisioningFlows/{flow}");
    let seed: Value = serde_json::from_str(SEED_PATCH).unwrap();
    let read = json!({"id": "read", "method": "GET", "url": url, "dependsOn": ["seed"]});
    let done = batch(&c, json!([write("seed", "PATCH", &url, seed), read])).await;
    let patched = done.get("seed");
    assert_eq!(patched["status"], 204, "{patched}");
    assert!(patched.get("body").is_none(), "204 has no body: {patched}");
    let r = done.get("read");
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(
        r["body"]["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"],
        json!([{"code": "substitute"}])
    );
    assert_eq!(r["body"]["@odata.type"], "#microsoft.graph.industryData.classGroupProvisioningFlow");
}

#[tokio::test]
async fn lists_filters_counts_and_pages_as_direct_requests_do() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let name = unique("Listed");
    for _ in 0..3 {
        c.post("outboundProvisioningFlowSets", named_set(&name)).await.expect(201);
    }
    let filter = format!("displayName eq '{name}'");
    let done = batch(
        &c,
        json!([
            // Unencoded spaces, as the doc's own example has them; no leading slash.
            get("plain", &format!("external/industryData/outboundProvisioningFlowSets?$filter={filter}&$count=true")),
            get("paged", &format!("{SETS}?$filter={}&$top=2", filter.replace(' ', "%20"))),
            get("count", &format!("{SETS}/$count?$filter={filter}")),
            get("cased", &format!("/External/INDUSTRYDATA/outboundProvisioningFlowSets?$filter={filter}")),
        ]),
    )
    .await;
    let plain = done.get("plain");
    assert_eq!(plain["status"], 200, "{plain}");
    assert_eq!(plain["body"]["@odata.count"], 3, "{plain}");
    assert_eq!(plain["body"]["value"].as_array().unwrap().len(), 3);
    let paged = done.get("paged");
    assert_eq!(paged["body"]["value"].as_array().unwrap().len(), 2, "{paged}");
    let next = paged["body"]["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&format!("{}/beta/", server.url)), "a next link the client can follow: {next}");
    assert_eq!(c.get(&next[server.url.len()..]).await.body["value"].as_array().unwrap().len(), 1);
    // `/$count` is text/plain: not JSON, so its body is base64, as the doc and the SDKs have it.
    let count = done.get("count");
    assert_eq!(count["status"], 200, "{count}");
    assert_eq!(count["headers"]["Content-Type"].as_str().unwrap().split(';').next(), Some("text/plain"));
    assert_eq!(count["body"], "Mw==", "base64 of '3': {count}");
    assert_eq!(done.get("cased")["body"]["value"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn deletes_and_missing_items_answer_as_alone() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let item = format!("{SETS}/{set}");
    let done = batch(
        &c,
        json!([
            {"id": "delete", "method": "DELETE", "url": item},
            {"id": "gone", "method": "GET", "url": item, "dependsOn": ["delete"]},
            {"id": "missing", "method": "DELETE", "url": format!("{SETS}/0f8fad5b-d9cb-469f-a165-70867728950e")},
            get("nowhere", "/no/such/area"),
            {"id": "method", "method": "PUT", "url": SETS, "headers": {"Content-Type": "application/json"}, "body": {}},
        ]),
    )
    .await;
    assert_eq!(done.status("delete"), 204);
    assert!(done.get("delete").get("body").is_none());
    assert_eq!(done.error("gone", 404)["code"], "ResourceNotFound");
    assert_eq!(done.error("missing", 404)["code"], "ResourceNotFound");
    assert_eq!(done.error("nowhere", 404)["code"], "ResourceNotFound");
    assert_eq!(done.error("method", 405)["code"], "MethodNotAllowed");
    c.get(&format!("outboundProvisioningFlowSets/{set}")).await.error(404);
}

#[tokio::test]
async fn each_request_is_authorized_as_itself_and_the_batch_needs_only_a_valid_token() {
    let server = TestServer::start().await;
    let writer = server.as_(OUTBOUND_RW);
    let set = create_set(&writer).await;
    let reader = server.as_(OUTBOUND_R);
    let done = batch(
        &reader,
        json!([
            get("read", &format!("{SETS}/{set}")),
            write("create", "POST", SETS, flow_set_body()),
            write("patch", "PATCH", &format!("{SETS}/{set}"), json!({"displayName": "no"})),
            {"id": "delete", "method": "DELETE", "url": format!("{SETS}/{set}")},
        ]),
    )
    .await;
    assert_eq!(done.status("read"), 200);
    for id in ["create", "patch", "delete"] {
        let e = done.error(id, 403);
        assert_eq!(e["code"], "Authorization_RequestDenied");
        assert!(e["message"].as_str().unwrap().contains(OUTBOUND_RW), "{e}");
    }
    // A token that holds no permission at all may still batch; its requests are refused one by one.
    let nobody = server.as_("User.Read");
    let done = batch(&nobody, json!([get("1", SETS)])).await;
    done.error("1", 403);
    // No token, or a bad one: the batch itself is refused.
    let anonymous = server.anonymous().post(BATCH, json!({"requests": [get("1", SETS)]})).await;
    assert_eq!(anonymous.error(401)["code"], "InvalidAuthenticationToken");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    // Another tenant's token sees nothing of this tenant's.
    let other = Client { token: Some(server.token_for("another-tenant", OUTBOUND_RW)), ..server.anonymous() };
    let done = batch(&other, json!([get("1", &format!("{SETS}/{set}"))])).await;
    done.error("1", 404);
}

#[tokio::test]
async fn depends_on_orders_requests_and_a_failed_dependency_answers_424_down_the_chain() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    // Created, then found by the request that waits for it.
    let name = unique("Chained");
    let done = batch(
        &c,
        json!([
            write("create", "POST", SETS, named_set(&name)),
            {"id": "find", "method": "GET", "url": format!("{SETS}?$filter=displayName eq '{name}'"),
             "dependsOn": ["CREATE"]},
        ]),
    )
    .await;
    assert_eq!(done.status("create"), 201);
    assert_eq!(done.get("find")["body"]["value"][0]["displayName"], name.as_str());

    // A serial chain of PATCHes applies in order, every time.
    let set = create_set(&c).await;
    let url = format!("{SETS}/{set}");
    let mut requests: Vec<Value> = (0..10)
        .map(|i| {
            let mut r = write(&format!("p{i}"), "PATCH", &url, json!({"displayName": format!("v{i}")}));
            if i > 0 {
                r["dependsOn"] = json!([format!("p{}", i - 1)]);
            }
            r
        })
        .collect();
    requests.push(json!({"id": "last", "method": "GET", "url": url, "dependsOn": ["p9"]}));
    let done = batch(&c, json!(requests)).await;
    assert!((0..10).all(|i| done.status(&format!("p{i}")) == 204), "{}", done.reply.text);
    assert_eq!(done.get("last")["body"]["displayName"], "v9");

    // A request that fails takes down those that wait for it, and only those.
    let mut bad = flow_set_body();
    bad["displayName"] = json!("x".repeat(101));
    let done = batch(
        &c,
        json!([
            write("bad", "POST", SETS, bad),
            {"id": "after", "method": "GET", "url": SETS, "dependsOn": ["bad"]},
            {"id": "after-after", "method": "GET", "url": SETS, "dependsOn": ["after"]},
            get("free", SETS),
            {"id": "both", "method": "GET", "url": SETS, "dependsOn": ["free", "bad"]},
        ]),
    )
    .await;
    assert_eq!(done.error("bad", 400)["target"], "displayName");
    for id in ["after", "after-after", "both"] {
        let e = done.error(id, 424);
        assert_eq!(e["code"], "FailedDependency");
    }
    assert!(done.error("after-after", 424)["message"].as_str().unwrap().contains("'after'"));
    assert_eq!(done.status("free"), 200);
    assert_eq!(done.reply.status, 200, "the batch itself succeeds");
}

#[tokio::test]
async fn a_depends_on_naming_a_later_request_is_refused_and_nothing_runs() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let name = unique("Refused");
    // A request depending on a later one is a forward reference: the batch is refused and nothing runs.
    let r = c
        .post(
            BATCH,
            json!({"requests": [
                {"id": "1", "method": "POST", "url": SETS, "headers": {"Content-Type": "application/json"},
                 "body": named_set(&name), "dependsOn": ["2"]},
                get("2", SETS),
            ]}),
        )
        .await;
    assert!(r.error(400)["message"].as_str().unwrap().contains("'2'"), "{}", r.text);
    assert_eq!(stored(&c, &name).await, 0, "nothing ran");
}

#[tokio::test]
async fn malformed_batches_answer_400_in_the_envelope_and_run_nothing() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let name = unique("Never");
    let create = write("create", "POST", SETS, named_set(&name));
    let many: Vec<Value> = (0..21).map(|i| get(&i.to_string(), SETS)).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"requests": [create.clone(), get("CREATE", SETS)]}), "more than one request with id 'CREATE'"),
        (json!({"requests": many}), "at most 20 requests"),
        (
            json!({"requests": [create.clone(), {"id": "2", "method": "POST", "url": SETS, "body": named_set(&name)}]}),
            "Write request id : 2 does not contain Content-Type header or body.",
        ),
        (
            json!({"requests": [create.clone(), {"id": "2", "method": "POST", "url": format!("{SETS}/x/reset")}]}),
            "Write request id : 2 does not contain Content-Type header or body.",
        ),
        (
            json!({"requests": [create.clone(), get("2", &format!("https://graph.microsoft.com/beta{SETS}"))]}),
            "absolute URL",
        ),
        (json!({"requests": [create.clone(), write("2", "POST", "/$BATCH", json!({"requests": []}))]}), "nested"),
        (json!({"requests": [create.clone(), {"id": "2", "method": "GET"}]}), "needs a 'url'"),
        (json!({"requests": [create.clone(), {"id": "2", "method": "GET", "url": SETS, "dependsOn": ["9"]}]}), "'9'"),
        (json!({"requests": create.clone()}), "must be an array"),
        (json!({"request": [create.clone()]}), "no 'requests'"),
    ];
    for (body, expected) in cases {
        let r = c.post(BATCH, body.clone()).await;
        let e = r.error(400);
        assert_eq!(e["code"], "BadRequest");
        assert!(e["message"].as_str().unwrap().contains(expected), "{body}: {}", r.text);
    }
    let not_json = c.send(reqwest::Method::POST, BATCH, None).await;
    assert_eq!(not_json.status, 415, "no Content-Type: {}", not_json.text);
    assert_eq!(stored(&c, &name).await, 0, "nothing ran");
}

#[tokio::test]
async fn the_batch_endpoint_is_graphs() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    // Case-insensitive root, as every Graph path.
    let r = c.post("/BETA/$Batch", json!({"requests": [get("1", SETS)]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["responses"][0]["status"], 200);
    // An empty batch is answered with no responses.
    let r = c.post(BATCH, json!({"requests": []})).await;
    assert_eq!((r.status.as_u16(), r.body.clone()), (200, json!({"responses": []})));
    // Only POST.
    assert_eq!(c.get(BATCH).await.error(405)["code"], "MethodNotAllowed");
    // JSON only, and JSON that parses.
    let r = c.http.post(format!("{}{BATCH}", c.url)).bearer_auth(c.token.as_ref().unwrap());
    let r = r.header("content-type", "application/xml").body("<requests/>").send().await.unwrap();
    assert_eq!(r.status(), 415);
    let r = c
        .http
        .post(format!("{}{BATCH}", c.url))
        .bearer_auth(c.token.as_ref().unwrap())
        .header("content-type", "application/json")
        .body("{\"requests\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{body}");
}

#[tokio::test]
async fn headers_pass_through_and_the_batch_token_and_ids_apply_to_each_request() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let reply = c
        .http
        .post(format!("{}{BATCH}", c.url))
        .bearer_auth(c.token.as_ref().unwrap())
        .header("client-request-id", "outer-7")
        .json(&json!({"requests": [
            get("inherits", &format!("{SETS}/0f8fad5b-d9cb-469f-a165-70867728950e")),
            {"id": "own", "method": "GET", "url": format!("{SETS}/0f8fad5b-d9cb-469f-a165-70867728950e"),
             "headers": {"client-request-id": "inner-8"}},
            {"id": "token", "method": "GET", "url": SETS, "headers": {"Authorization": "Bearer not-a-token"}},
            {"id": "accept", "method": "GET", "url": format!("{SETS}/$count"), "headers": {"Accept": "text/plain"}},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["client-request-id"], "outer-7");
    let body: Value = reply.json().await.unwrap();
    let by_id: HashMap<&str, &Value> =
        body["responses"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap(), r)).collect();
    let inherits = by_id["inherits"];
    assert_eq!(inherits["headers"]["client-request-id"], "outer-7", "{inherits}");
    assert_eq!(inherits["body"]["error"]["innerError"]["client-request-id"], "outer-7");
    assert_eq!(by_id["own"]["body"]["error"]["innerError"]["client-request-id"], "inner-8");
    assert_eq!(by_id["token"]["status"], 200, "a request's own Authorization is not used: {}", by_id["token"]);
    assert_eq!(by_id["accept"]["status"], 200);
}
