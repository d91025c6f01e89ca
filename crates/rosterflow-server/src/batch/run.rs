//! Running a batch's requests: each one becomes an HTTP request of its own and goes through the same router,
//! layers and handlers as a direct request (`crate::app` builds that router once and hands it here), so
//! authentication, permissions, the throttle, the limits, the error envelope and the log line apply to each as
//! they would to it alone, and every area, present or future, is batchable without code of its own.
//!
//! Order: a request starts as soon as the requests it depends on have answered; requests that are ready run at
//! once, each on a task of its own (so a batch of 20 writes reaches the SQLite writer together and shares its
//! commits). A request whose dependency failed (answered other than 2xx) is not run: it answers 424
//! `FailedDependency`, and so do the requests that depend on it. Answers are collected in the order they
//! complete (the doc: "Individual responses might appear in a different order than the requests").
//!
//! Bounds: at most [`super::parse::MAX_REQUESTS`] requests of one batch run at once, and across the server
//! no more batch requests are held at once than `--max-connections` allows connections (at least 20): a batch
//! takes a slot for each of its requests before any runs, and keeps them until its answer is written.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::any;
use axum::{middleware, Extension, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use rosterflow_model::ErrorKind;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::parse::{Item, MAX_HEADERS, MAX_REQUESTS};
use crate::error::ApiError;
use crate::limits::Limits;

/// What a request's answer is, once it has answered.
pub struct Answer {
    /// The request's position in the batch.
    pub index: usize,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the outer request gives each of its requests: its token, its host (for context URLs and next links) and
/// its `client-request-id` (unless a request sends its own).
struct Outer {
    authorization: Option<HeaderValue>,
    host: Option<HeaderValue>,
    client_request_id: Option<HeaderValue>,
}

impl Outer {
    fn of(parts: &Parts) -> Outer {
        let get = |name| parts.headers.get(name).cloned();
        Outer {
            authorization: get(header::AUTHORIZATION),
            host: get(header::HOST),
            client_request_id: get(HeaderName::from_static("client-request-id")),
        }
    }
}

pub struct Runner {
    /// Every area but `$batch`, under the layers of a direct request.
    subrequests: Router,
    /// Answers what the batch refuses to run (424, and a request over a limit) through `request::context` too,
    /// so that those answers have the envelope, their own `request-id` and a log line (route `/beta/$batch`).
    refusals: Router,
    /// Slots for batch requests held across the server.
    slots: Arc<Semaphore>,
    limits: Arc<Limits>,
}

impl Runner {
    pub fn new(subrequests: Router, limits: Arc<Limits>) -> Runner {
        let refusals = Router::new()
            .route(super::ROOT, any(|Extension(refused): Extension<ApiError>| async move { refused }))
            .layer(middleware::from_fn(crate::request::context));
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(MAX_REQUESTS)));
        Runner { subrequests, refusals, slots, limits }
    }

    /// Run `items` on behalf of the outer request `parts`; their answers in the order they complete.
    pub async fn run(&self, items: &[Item], parts: &Parts) -> Vec<Answer> {
        let outer = Outer::of(parts);
        let _slots = self.slots.clone().acquire_many_owned(items.len() as u32).await.expect("never closed");
        let mut statuses: Vec<Option<StatusCode>> = vec![None; items.len()];
        let mut started = vec![false; items.len()];
        let mut answers = Vec::with_capacity(items.len());
        let mut running = JoinSet::new();
        let mut tasks = HashMap::new();
        loop {
            // Dependencies come before their dependents, so one pass in order settles a chain of failures.
            for (i, item) in items.iter().enumerate() {
                if started[i] || item.depends_on.iter().any(|&d| statuses[d].is_none()) {
                    continue;
                }
                started[i] = true;
                let failed = item.depends_on.iter().find(|&&d| statuses[d].is_some_and(|s| !s.is_success()));
                let request = match failed {
                    Some(&d) => Err(ApiError::new(
                        ErrorKind::FailedDependency,
                        format!("Request '{}' depends on request '{}', which failed.", item.id, items[d].id),
                    )),
                    None => request(item, &outer, &self.limits),
                };
                match request {
                    Ok(request) => {
                        let router = self.subrequests.clone();
                        let task = running.spawn(async move { answer(i, router.oneshot(request).await).await });
                        tasks.insert(task.id(), i);
                    }
                    Err(refused) => {
                        let answer = self.refuse(i, item, &outer, refused).await;
                        statuses[i] = Some(answer.status);
                        answers.push(answer);
                    }
                }
            }
            let answer = match running.join_next_with_id().await {
                None => break,
                Some(Ok((_, answer))) => answer,
                // The request's own layers turn a panic into a 500; this is a task that could not finish at all.
                Some(Err(e)) => {
                    let i = tasks[&e.id()];
                    let failed = ApiError::new(ErrorKind::Internal, "The server failed to complete the request.");
                    self.refuse(i, &items[i], &outer, failed).await
                }
            };
            statuses[answer.index] = Some(answer.status);
            answers.push(answer);
        }
        answers
    }

    /// The answer to a request the batch does not run, written as any other error answer.
    async fn refuse(&self, index: usize, item: &Item, outer: &Outer, refused: ApiError) -> Answer {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = item.method.clone();
        *request.uri_mut() = Uri::from_static(super::ROOT);
        if let Some(id) = client_request_id(item, outer) {
            request.headers_mut().insert(HeaderName::from_static("client-request-id"), id);
        }
        request.extensions_mut().insert(refused);
        answer(index, self.refusals.clone().oneshot(request).await).await
    }
}

/// The request's `client-request-id`: its own, else the batch's.
fn client_request_id(item: &Item, outer: &Outer) -> Option<HeaderValue> {
    let own = item.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("client-request-id"));
    match own {
        Some((_, value)) => HeaderValue::from_str(value).ok(),
        None => outer.client_request_id.clone(),
    }
}

async fn answer(index: usize, response: Result<Response, std::convert::Infallible>) -> Answer {
    let Ok(response) = response;
    let (parts, body) = response.into_parts();
    // The areas' answers are in memory already; a body that fails to arrive is the server's fault.
    let (status, headers, body) = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => (parts.status, parts.headers, bytes),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, HeaderMap::new(), Bytes::new()),
    };
    Answer { index, status, headers, body }
}

/// Characters a URL in a batch may hold that an HTTP request target may not (the doc's own example has spaces in
/// its `$filter`): percent-encoded, as a client would have encoded them.
const NOT_IN_A_TARGET: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'\\').add(b'^').add(b'`').add(b'{').add(b'|').add(b'}');

/// Headers of the connection, or that the batch sets itself: a request's own are ignored.
const NOT_PASSED_ON: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// The HTTP request of `item`, or the answer it gets without running: 414 for a URL over `--max-uri-bytes`, 431
/// for more header fields than a direct request may have, 400 for a URL or header HTTP can't carry.
fn request(item: &Item, outer: &Outer, limits: &Limits) -> Result<Request, ApiError> {
    let encoded = utf8_percent_encode(&item.url, NOT_IN_A_TARGET);
    let separator = if item.url.starts_with('/') { "" } else { "/" };
    let target = format!("/beta{separator}{encoded}");
    if target.len() > limits.max_uri_bytes {
        return Err(crate::limits::uri_too_long(limits.max_uri_bytes));
    }
    let uri: Uri = target.parse().map_err(|_| {
        ApiError::new(ErrorKind::BadRequest, format!("Request '{}' has a URL that is not valid.", item.id))
    })?;
    if item.headers.len() > MAX_HEADERS {
        return Err(ApiError::new(
            ErrorKind::HeaderFieldsTooLarge,
            format!("Request '{}' has more than {MAX_HEADERS} header fields.", item.id),
        ));
    }
    let mut headers = HeaderMap::with_capacity(item.headers.len() + 4);
    for (name, value) in &item.headers {
        if NOT_PASSED_ON.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        let invalid = || {
            ApiError::new(
                ErrorKind::BadRequest,
                format!("Request '{}' has a header '{name}' that is not valid.", item.id),
            )
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        headers.append(name, value);
    }
    for (name, value) in [(header::AUTHORIZATION, &outer.authorization), (header::HOST, &outer.host)] {
        if let Some(value) = value {
            headers.insert(name, value.clone());
        }
    }
    if let (false, Some(id)) = (headers.contains_key("client-request-id"), &outer.client_request_id) {
        headers.insert(HeaderName::from_static("client-request-id"), id.clone());
    }
    let body = match &item.body {
        Some(bytes) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            Body::from(bytes.clone())
        }
        None => Body::empty(),
    };
    let mut request = Request::new(body);
    *request.method_mut() = item.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(url: &str, headers: &[(&str, &str)]) -> Item {
        Item {
            id: "1".into(),
            method: axum::http::Method::GET,
            url: url.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: None,
            depends_on: vec![],
        }
    }

    fn outer() -> Outer {
        Outer {
            authorization: Some(HeaderValue::from_static("Bearer outer")),
            host: Some(HeaderValue::from_static("example.test")),
            client_request_id: Some(HeaderValue::from_static("outer-id")),
        }
    }

    #[test]
    fn urls_are_rooted_at_the_version_and_encoded_as_a_client_would() {
        let limits = Limits::default();
        let r = request(&item("users?$filter=city eq null&$count=true", &[]), &outer(), &limits).unwrap();
        assert_eq!(r.uri(), "/beta/users?$filter=city%20eq%20null&$count=true");
        let r = request(&item("/external/industryData/years('a%20b')", &[]), &outer(), &limits).unwrap();
        assert_eq!(r.uri(), "/beta/external/industryData/years('a%20b')", "what is encoded stays as it is");
        let r = request(&item("/users/ünïcode", &[]), &outer(), &limits).unwrap();
        assert_eq!(r.uri(), "/beta/users/%C3%BCn%C3%AFcode");
    }

    #[test]
    fn the_batch_token_and_host_apply_and_a_request_keeps_its_own_headers() {
        let limits = Limits::default();
        let own = [("Authorization", "Bearer own"), ("Host", "evil.test"), ("ConsistencyLevel", "eventual")];
        let r = request(&item("/users", &own), &outer(), &limits).unwrap();
        assert_eq!(r.headers()["authorization"], "Bearer outer");
        assert_eq!(r.headers()["host"], "example.test");
        assert_eq!(r.headers()["consistencylevel"], "eventual");
        assert_eq!(r.headers()["client-request-id"], "outer-id");
        let r = request(&item("/users", &[("client-request-id", "mine")]), &outer(), &limits).unwrap();
        assert_eq!(r.headers().get_all("client-request-id").iter().collect::<Vec<_>>(), ["mine"]);
    }

    #[test]
    fn requests_over_a_limit_are_refused_with_a_direct_requests_answer() {
        let limits = Limits { max_uri_bytes: 100, ..Limits::default() };
        let long = format!("/users?$filter={}", "a".repeat(100));
        assert_eq!(request(&item(&long, &[]), &outer(), &limits).unwrap_err().0.kind, ErrorKind::UriTooLong);
        let huge = format!("/users?$filter={}", "a".repeat(70_000));
        let limits = Limits::default();
        assert_eq!(request(&item(&huge, &[]), &outer(), &limits).unwrap_err().0.kind, ErrorKind::UriTooLong);
        let many: Vec<(String, String)> = (0..=MAX_HEADERS).map(|i| (format!("x-h{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let refused = request(&item("/users", &many), &outer(), &limits).unwrap_err();
        assert_eq!(refused.0.kind, ErrorKind::HeaderFieldsTooLarge);
        let bad = request(&item("/users", &[("bad name", "v")]), &outer(), &limits).unwrap_err();
        assert_eq!(bad.0.kind, ErrorKind::BadRequest);
        let bad = request(&item("/users", &[("x-ok", "line\nbreak")]), &outer(), &limits).unwrap_err();
        assert_eq!(bad.0.kind, ErrorKind::BadRequest);
    }
}
