//! Hostile input against the real binary over HTTP, on every collection route ([`collections`]: the model's
//! entity sets, so a new collection is covered without anyone thinking of it, plus one table for the areas the
//! model does not describe). Each case must get a 4xx in Graph's envelope (or, for the header timeout and the
//! connection cap, what README "Limits" says happens), and the server must answer `/healthz` afterwards.
//!
//! The limits are small here (`FLAGS`) so that the slow cases take seconds; the URI limit is large enough for
//! the `$filter` cases to reach the parser rather than stop at 414.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rosterflow_model::sets::endpoints;

use super::raw::{self, exchange, head, request, RawReply, Sending};
use super::Binary;
use crate::common::BASE;

const FLAGS: &[&str] = &[
    "--max-uri-bytes",
    "60000",
    "--max-header-bytes",
    "8192",
    "--header-timeout-seconds",
    "1",
    "--body-timeout-seconds",
    "1",
    "--request-timeout-seconds",
    "3",
    "--max-body-bytes",
    "1048576",
    "--max-connections",
    "64",
];
const MAX_URI: usize = 60000;
const MAX_HEADERS: usize = 8192;
const ANSWER: Duration = Duration::from_secs(20);

/// Collections of areas that `rosterflow_model::sets` does not describe (the directory, education, uploads under
/// `/rosterflow/storage/`): each as its full path, `{id}` for ids, with the methods it takes. The cases run
/// against these as against the model's collections.
const OTHER_COLLECTIONS: &[(&str, &[&str])] = &[
    ("/beta/$batch", &["POST"]),
    ("/beta/users", &["GET", "POST"]),
    ("/beta/users/$count", &["GET"]),
    ("/beta/groups", &["GET", "POST"]),
    ("/beta/groups/$count", &["GET"]),
    ("/beta/groups/{id}/members", &["GET"]),
    ("/beta/groups/{id}/members/$ref", &["POST"]),
    ("/beta/groups/{id}/owners", &["GET"]),
    ("/beta/administrativeUnits", &["GET", "POST"]),
    ("/beta/administrativeUnits/{id}/members", &["GET"]),
    ("/beta/education/classes", &["GET", "POST"]),
    ("/beta/education/classes/{id}/members", &["GET"]),
    ("/beta/education/classes/{id}/teachers", &["GET"]),
    ("/beta/education/classes/{id}/schools", &["GET"]),
    ("/beta/education/schools", &["GET", "POST"]),
    ("/beta/education/schools/{id}/classes", &["GET"]),
    ("/beta/education/schools/{id}/users", &["GET"]),
    ("/beta/education/users", &["GET", "POST"]),
    ("/beta/education/users/{id}/classes", &["GET"]),
    ("/beta/education/users/{id}/schools", &["GET"]),
];

/// A collection route: a path (ids filled in) and whether it takes GET (queries) and POST (bodies).
#[derive(Debug, Clone)]
pub struct Collection {
    pub path: String,
    pub get: bool,
    pub post: bool,
}

/// Every collection route: the industryData sets' collections and `/$count`s (from the model's endpoint
/// inventory), then [`OTHER_COLLECTIONS`].
pub fn collections() -> Vec<Collection> {
    let mut out: Vec<Collection> = Vec::new();
    let ours = endpoints()
        .into_iter()
        .filter(|e| is_collection(&e.path, e.set))
        .map(|e| (format!("{BASE}{}", e.path), e.method));
    let others = OTHER_COLLECTIONS.iter().flat_map(|(path, methods)| methods.iter().map(|m| (path.to_string(), *m)));
    for (path, method) in ours.chain(others) {
        let path = path.replace("{id}", "0f8fad5b-d9cb-469f-a165-70867728950e");
        let i = out.iter().position(|c| c.path == path).unwrap_or_else(|| {
            out.push(Collection { path: path.clone(), get: false, post: false });
            out.len() - 1
        });
        match method {
            "GET" => out[i].get = true,
            "POST" => out[i].post = true,
            _ => {}
        }
    }
    out
}

fn is_collection(path: &str, set: &str) -> bool {
    let path = path.strip_suffix("/$count").unwrap_or(path);
    path.rsplit('/').next() == Some(set)
}

async fn server() -> Binary {
    Binary::start(FLAGS, Stdio::null()).await
}

fn authorized(server: &Binary, method: &str, target: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut headers = vec![("Authorization", format!("Bearer {}", server.app_token("hostile")))];
    headers.extend(extra.iter().cloned());
    head(method, target, &headers)
}

/// The answer, or a panic that says whether the server is gone.
async fn answered(server: &mut Binary, reply: Option<RawReply>, what: &str) -> RawReply {
    match reply {
        Some(r) => r,
        None => {
            server.assert_alive().await;
            panic!("{what}: the connection closed without an answer");
        }
    }
}

/// `$filter=EXPR` (spaces encoded) on every collection that takes GET: each must answer 400 in the envelope.
async fn filter_on_every_collection(expr: &str) {
    let mut server = server().await;
    let query = format!("?$filter={}", expr.replace(' ', "%20"));
    assert!(query.len() + 200 < MAX_URI, "the filter must reach the parser, not the URI limit");
    for c in collections().iter().filter(|c| c.get) {
        let target = format!("{}{query}", c.path);
        let reply = request(&server.addr, &authorized(&server, "GET", &target, &[])).await;
        let reply = answered(&mut server, reply, &c.path).await;
        reply.envelope(&[400]);
    }
    server.assert_alive().await;
}

#[tokio::test]
async fn filter_of_5000_nested_parentheses_on_every_collection() {
    filter_on_every_collection(&format!("{}displayName eq 'x'{}", "(".repeat(5000), ")".repeat(5000))).await;
}

#[tokio::test]
async fn filter_of_3000_chained_nots_on_every_collection() {
    filter_on_every_collection(&format!("{}(displayName eq 'x')", "not ".repeat(3000))).await;
}

#[tokio::test]
async fn filter_of_2000_nested_any_lambdas_on_every_collection() {
    // Each lambda over the one before's variable, and each over a property of the item.
    let (mut over_variables, mut over_properties) = (String::from("displayName"), String::new());
    for i in 0..2000 {
        over_variables.push_str(&format!("/any(v{i}:v{i}"));
        over_properties.push_str(&format!("displayName/any(v{i}:"));
    }
    for expr in [over_variables, over_properties] {
        filter_on_every_collection(&format!("{expr} eq 'x'{}", ")".repeat(2000))).await;
    }
}

/// Nesting past the depth limit in a filter short enough to pass every length limit: the depth limit itself
/// answers, over the real binary, on every collection (the cases above are stopped by the length limit first).
#[tokio::test]
async fn short_filters_nested_past_the_depth_limit_on_every_collection() {
    let depth = rosterflow_odata::limits::MAX_FILTER_DEPTH + 8;
    let lambdas: String = (0..depth).map(|i| format!("displayName/any(v{i}:")).collect();
    for expr in [
        format!("{}displayName eq 'x'{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}(displayName eq 'x')", "not ".repeat(depth)),
        format!("{}startswith(displayName,'x'){}", "contains(".repeat(depth), ",'y')".repeat(depth)),
        format!("{lambdas}v0 eq 'x'{}", ")".repeat(depth)),
    ] {
        assert!(expr.len() < 4096, "short enough for every length limit");
        filter_on_every_collection(&expr).await;
    }
}

/// A JSON body, POSTed to every collection that takes POST.
async fn post_on_every_collection(server: &mut Binary, sending: impl Fn() -> (Sending, Option<u64>), statuses: &[u16]) {
    for c in collections().iter().filter(|c| c.post) {
        let (body, length) = sending();
        let framing = match length {
            Some(n) => ("Content-Length", n.to_string()),
            None => ("Transfer-Encoding", "chunked".to_string()),
        };
        let headers = [("Content-Type", "application/json".to_string()), framing];
        let (reply, _) = exchange(&server.addr, &authorized(server, "POST", &c.path, &headers), body, ANSWER).await;
        let reply = answered(server, reply, &c.path).await;
        reply.envelope(statuses);
    }
}

#[tokio::test]
async fn json_nested_100000_deep_on_every_collection() {
    let mut server = server().await;
    let body = format!(r#"{{"displayName":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let n = body.len() as u64;
    post_on_every_collection(&mut server, || (Sending::All(body.clone()), Some(n)), &[400]).await;
    server.assert_alive().await;
}

#[tokio::test]
async fn body_of_100_mb_on_every_collection() {
    const TOTAL: u64 = 100 * 1024 * 1024;
    let mut server = server().await;
    // Declared: refused on its Content-Length, before it is read.
    let stream = |chunked| Sending::Stream { total: TOTAL, chunk: 64 * 1024, chunked };
    post_on_every_collection(&mut server, || (stream(false), Some(TOTAL)), &[413]).await;
    // Chunked, no length declared: refused once the first 1 MiB (`--max-body-bytes`) has been read.
    post_on_every_collection(&mut server, || (stream(true), None), &[413]).await;
    server.assert_alive().await;
}

#[tokio::test]
async fn an_answer_that_leaves_the_body_unread_says_the_connection_closes() {
    let mut server = server().await;
    let target = format!("{BASE}/outboundProvisioningFlowSets");
    let json = |n: usize| [("Content-Type", "application/json".to_string()), ("Content-Length", n.to_string())];
    // Refused (no token: 401) before any of its body arrived: hyper closes the connection after the answer, so
    // the answer must say so, or a pooled client reuses a connection that is closing (the CI flake of stop 18).
    let unread = Sending::Stall { prefix: Vec::new() };
    let (reply, _) = exchange(&server.addr, &head("POST", &target, &json(40)), unread, ANSWER).await;
    let reply = answered(&mut server, reply, &target).await;
    reply.envelope(&[401]);
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    // Read to its end (then refused for what it holds): the connection stays open for the next request.
    let body = br#"{"displayName": 5}"#.to_vec();
    let (reply, _) =
        exchange(&server.addr, &authorized(&server, "POST", &target, &json(body.len())), Sending::All(body), ANSWER)
            .await;
    let reply = answered(&mut server, reply, &target).await;
    reply.envelope(&[400]);
    assert_eq!(reply.header("connection"), None, "{reply:?}");
    server.assert_alive().await;
}

#[tokio::test]
async fn a_head_sent_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let mut server = server().await;
    let head = authorized(&server, "GET", &format!("{BASE}/outboundProvisioningFlowSets"), &[]);
    let (received, closed_after) =
        raw::trickle_head(&server.addr, &head, Duration::from_millis(100), Duration::from_secs(10)).await;
    // As documented: hyper closes the connection without an answer once the header timeout (1 s) has passed.
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    assert!(closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(4), "{closed_after:?}");
    server.assert_alive().await;
}

#[tokio::test]
async fn a_stalled_body_gets_408_on_every_collection() {
    let mut server = server().await;
    let started = Instant::now();
    let prefix = || Sending::Stall { prefix: br#"{"displayName": "#.to_vec() };
    post_on_every_collection(&mut server, || (prefix(), Some(1000)), &[408]).await;
    // The body timeout (1 s) for each route, well before the request's time limit (3 s) would apply.
    let routes = collections().iter().filter(|c| c.post).count() as u32;
    assert!(started.elapsed() < routes * Duration::from_millis(2500), "{:?}", started.elapsed());
    server.assert_alive().await;
}

#[tokio::test]
async fn a_body_trickled_past_the_request_time_limit_gets_408_on_every_collection() {
    let mut server = server().await;
    // A byte every 400 ms never idles past the body timeout (1 s); the request's limit (3 s) ends it.
    let trickles = collections().into_iter().filter(|c| c.post).map(|c| {
        let head = authorized(
            &server,
            "POST",
            &c.path,
            &[("Content-Type", "application/json".to_string()), ("Content-Length", "100".to_string())],
        );
        let addr = server.addr.clone();
        async move {
            let started = Instant::now();
            let trickle = Sending::Trickle { bytes: vec![b' '; 100], every: Duration::from_millis(400) };
            let (reply, _) = exchange(&addr, &head, trickle, ANSWER).await;
            (c.path, reply, started.elapsed())
        }
    });
    for (path, reply, took) in join_all(trickles).await {
        let reply = answered(&mut server, reply, &path).await;
        assert_eq!(reply.envelope(&[408])["code"], "RequestTimeout");
        assert!(took >= Duration::from_millis(2900), "{path}: answered after {took:?}, before the time limit");
    }
    server.assert_alive().await;
}

#[tokio::test]
async fn urls_over_the_uri_limit_get_414_on_every_collection() {
    let mut server = server().await;
    for c in collections().iter().filter(|c| c.get) {
        let target = format!("{}?$filter=displayName%20eq%20'{}'", c.path, "a".repeat(MAX_URI));
        let reply = request(&server.addr, &authorized(&server, "GET", &target, &[])).await;
        let reply = answered(&mut server, reply, &c.path).await;
        assert_eq!(reply.envelope(&[414])["code"], "RequestUriTooLong");
    }
    // As documented: a request target over hyper's own limit (65,534 bytes) gets hyper's 414, and a head over
    // hyper's read buffer (the two limits plus 4 KiB) hyper's 431, both with an empty body.
    for (length, status) in [(65_535, 414), (4 * (MAX_URI + MAX_HEADERS), 431)] {
        let target = format!("{BASE}/years?$filter={}", "a".repeat(length));
        let reply = request(&server.addr, &authorized(&server, "GET", &target, &[])).await;
        assert_eq!(reply.map(|r| (r.status, r.body.len())), Some((status, 0)), "{length} bytes");
    }
    server.assert_alive().await;
}

#[tokio::test]
async fn headers_over_the_header_limit_get_431_on_every_collection() {
    let mut server = server().await;
    let padding: Vec<(&str, String)> = (0..9).map(|_| ("X-Padding", "p".repeat(1000))).collect();
    for c in collections().iter().filter(|c| c.get) {
        let reply = request(&server.addr, &authorized(&server, "GET", &c.path, &padding)).await;
        let reply = answered(&mut server, reply, &c.path).await;
        assert_eq!(reply.envelope(&[431])["code"], "RequestHeaderFieldsTooLarge");
    }
    // More than hyper's 100 header fields: hyper's own 431, empty, as documented.
    let many: Vec<(&str, String)> = (0..120).map(|_| ("X-Many", "m".to_string())).collect();
    let reply = request(&server.addr, &authorized(&server, "GET", &format!("{BASE}/years"), &many)).await;
    assert_eq!(reply.map(|r| (r.status, r.body.len())), Some((431, 0)));
    server.assert_alive().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let mut server = Binary::start(&["--max-connections", "2", "--header-timeout-seconds", "2"], Stdio::null()).await;
    // Two connections that send nothing take both slots.
    let idle_1 = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let idle_2 = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A third is not served while they hold them: it waits in the listen backlog, unanswered.
    let addr = server.addr.clone();
    let third = tokio::spawn(async move {
        let started = Instant::now();
        (request(&addr, &head("GET", "/healthz", &[])).await, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!third.is_finished(), "a third connection was served while two held the cap of 2");
    // The server closes the idle two at the header timeout (2 s); the third is then served.
    let (reply, waited) = third.await.unwrap();
    assert_eq!(reply.map(|r| r.status), Some(200));
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5), "{waited:?}");
    for mut idle in [idle_1, idle_2] {
        let mut buf = [0u8; 16];
        let n = tokio::io::AsyncReadExt::read(&mut idle, &mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "an idle connection is closed without an answer");
    }
    server.assert_alive().await;
}

#[test]
fn the_route_table_holds_every_collection() {
    let all = collections();
    let path = |p: &str| format!("{BASE}{p}");
    let flows = path("/outboundProvisioningFlowSets/0f8fad5b-d9cb-469f-a165-70867728950e/provisioningFlows");
    for (p, post) in [(path("/outboundProvisioningFlowSets"), true), (flows, true), (path("/runs/$count"), false)] {
        let c = all.iter().find(|c| c.path == p).unwrap_or_else(|| panic!("{p} missing from {all:?}"));
        assert!(c.get && c.post == post, "{c:?}");
    }
    assert!(all.iter().all(|c| !c.path.contains("{id}")));
    assert!(all.len() >= rosterflow_model::sets::SETS.len() * 2, "{all:?}");
}
