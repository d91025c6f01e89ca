//! The log as a log shipper reads it: the real binary's stderr (a file, not a terminal), one line per request
//! with its fields, JSON that parses, no colour codes, and never a token, a secret or a roster value.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use super::raw::{self, RawReply, Sending};
use super::Binary;
use crate::common::BASE;

/// Values that must never reach the log: in a path, a query, a header and a body.
const SECRET_ID: &str = "secretid-7f3a91c2";
const ROSTER_VALUE: &str = "Rostervalue Jane Student 4411";
const CLIENT_SECRET: &str = "clientsecret-e5d20b77";

struct Logged {
    server: Binary,
    log: PathBuf,
}

async fn start(flags: &[&str]) -> Logged {
    let log = std::env::temp_dir().join(format!("rosterflow-log-{}.txt", uuid::Uuid::new_v4()));
    let file = File::create(&log).unwrap();
    let server = Binary::start(flags, Stdio::from(file)).await;
    Logged { server, log }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The requests of the test: (answer, the route template its line must carry, tenant logged).
async fn requests(server: &Binary, token: &str) -> Vec<(RawReply, &'static str, bool)> {
    let auth = |extra: &[(&'static str, String)]| {
        let mut h = vec![("Authorization", format!("Bearer {token}")), ("client-request-id", "client-7".to_string())];
        h.extend(extra.iter().cloned());
        h
    };
    let flow_sets = format!("{BASE}/outboundProvisioningFlowSets");
    let mut out = Vec::new();
    let item = format!("{flow_sets}/{SECRET_ID}?$filter=displayName%20eq%20'{}'", ROSTER_VALUE.replace(' ', "%20"));
    let reply = raw::request(&server.addr, &raw::head("GET", &item, &auth(&[]))).await.unwrap();
    out.push((reply, "/beta/external/industryData/outboundProvisioningFlowSets/{id}", true));
    let list = format!("{flow_sets}?$filter=displayName%20eq%20'{}'", ROSTER_VALUE.replace(' ', "%20"));
    let reply = raw::request(&server.addr, &raw::head("GET", &list, &auth(&[]))).await.unwrap();
    out.push((reply, "/beta/external/industryData/outboundProvisioningFlowSets", true));
    let flow_set = json!({"displayName": ROSTER_VALUE, "filter": {
        "@odata.type": "#microsoft.graph.industryData.basicFilter", "attribute": "orgExternalId", "in": [ROSTER_VALUE]
    }});
    out.push((
        post(server, &auth, &flow_sets, flow_set).await,
        "/beta/external/industryData/outboundProvisioningFlowSets",
        true,
    ));
    let connector = json!({
        "@odata.type": "#microsoft.graph.industryData.oneRosterApiDataConnector",
        "displayName": ROSTER_VALUE,
        "apiFormat": "oneRoster", "baseUrl": "https://oneroster.example.com/v1p1", "apiVersion": "1.1",
        "credential": {"@odata.type": "#microsoft.graph.industryData.oAuth2ClientCredential",
                       "displayName": "cred", "clientId": "client-id", "clientSecret": CLIENT_SECRET,
                       "tokenUrl": "https://oneroster.example.com/token"}
    });
    let connectors = format!("{BASE}/dataConnectors");
    out.push((post(server, &auth, &connectors, connector).await, "/beta/external/industryData/dataConnectors", true));
    let reply = raw::request(&server.addr, &raw::head("GET", &format!("/{SECRET_ID}"), &[])).await.unwrap();
    out.push((reply, "unmatched", false));
    let reply = raw::request(&server.addr, &raw::head("GET", &format!("/beta/users/{SECRET_ID}"), &[])).await.unwrap();
    out.push((reply, "/beta/users", false));
    out
}

async fn post(
    server: &Binary,
    auth: &impl Fn(&[(&'static str, String)]) -> Vec<(&'static str, String)>,
    target: &str,
    body: Value,
) -> RawReply {
    let body = body.to_string().into_bytes();
    let headers = auth(&[("Content-Type", "application/json".into()), ("Content-Length", body.len().to_string())]);
    let (reply, _) =
        raw::exchange(&server.addr, &raw::head("POST", target, &headers), Sending::All(body), Duration::from_secs(20))
            .await;
    reply.expect("an answer")
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap()
}

#[tokio::test]
async fn json_log_has_one_parseable_line_per_request_with_its_fields_and_nothing_secret() {
    let mut logged = start(&["--log-format", "json"]).await;
    let token = logged.server.token("log-tenant");
    let sent = requests(&logged.server, &token).await;
    assert_eq!(sent[2].0.status, 201, "{}", sent[2].0.text());
    assert!(sent[3].0.status < 500, "{}", sent[3].0.text());
    logged.server.assert_alive().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = read(&logged.log);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request_lines: Vec<&Value> = lines.iter().filter(|l| l["target"] == "rosterflow::request").collect();
    for (reply, route, authenticated) in &sent {
        let id = reply.header("request-id").unwrap();
        let mine: Vec<&&Value> = request_lines.iter().filter(|l| l["request_id"] == id).collect();
        assert_eq!(mine.len(), 1, "one line for request {id}: {text}");
        let line = mine[0];
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["message"], "request", "{line}");
        assert_eq!(line["route"], *route, "{line}");
        assert_eq!(line["status"], reply.status, "{line}");
        assert!(line["latency_us"].as_u64().is_some(), "{line}");
        assert!(line["method"].is_string() && line["timestamp"].is_string(), "{line}");
        if *authenticated {
            assert_eq!(line["tenant"], "log-tenant", "{line}");
            assert_eq!(line["client_request_id"], "client-7", "{line}");
        } else {
            assert!(line.get("tenant").is_none(), "{line}");
        }
    }
    for secret in [SECRET_ID, "Rostervalue", CLIENT_SECRET, &token, token.split('.').nth(2).unwrap()] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
    assert!(!text.contains('\u{1b}'), "colour codes in a log that is not a terminal");
}

#[tokio::test]
async fn text_log_has_no_colour_codes_off_a_terminal_and_a_line_per_request() {
    let mut logged = start(&[]).await;
    let token = logged.server.token("log-tenant");
    let sent = requests(&logged.server, &token).await;
    logged.server.assert_alive().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = read(&logged.log);
    assert!(!text.contains('\u{1b}'), "colour codes in a log that is not a terminal: {text:?}");
    for (reply, route, _) in &sent {
        let id = reply.header("request-id").unwrap();
        let mine: Vec<&str> = text.lines().filter(|l| l.contains(id)).collect();
        assert_eq!(mine.len(), 1, "{text}");
        assert!(
            mine[0].contains(&format!("route={route}")) || mine[0].contains(&format!("route=\"{route}\"")),
            "{}",
            mine[0]
        );
    }
    for secret in [SECRET_ID, "Rostervalue", CLIENT_SECRET, &token] {
        assert!(!text.contains(secret), "{secret} in the log: {text}");
    }
}

#[tokio::test]
async fn rosterflow_log_at_warn_turns_request_lines_off() {
    let log = std::env::temp_dir().join(format!("rosterflow-log-{}.txt", uuid::Uuid::new_v4()));
    let stderr = Stdio::from(File::create(&log).unwrap());
    let server = Binary::start_with_env(&[], &[("ROSTERFLOW_LOG", "warn")], stderr).await;
    let reply = raw::request(&server.addr, &raw::head("GET", "/healthz", &[])).await.unwrap();
    assert_eq!(reply.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = read(&log);
    let _ = std::fs::remove_file(&log);
    assert!(!text.contains("request_id"), "{text}");
}
