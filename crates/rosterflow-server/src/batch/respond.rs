//! The batch response: `{"responses": [{"id", "status", "headers", "body"}]}` (`concepts/json-batching.md`,
//! "Processing the JSON batch response").
//!
//! Written straight into one buffer: a JSON body goes in as the text its handler wrote (checked to be one JSON
//! value, never parsed into a tree and written again); any other body (a `/$count`'s `text/plain` integer, a
//! file) goes in as a base64 string, as the doc says bodies that are not JSON are carried and as the SDKs decode
//! them (standard alphabet, padded: the Python SDK's `base64.b64decode`, .NET's `Convert.FromBase64String`). A
//! body-less answer (204) has no `body`. Headers are the request's own answer's, under their usual spelling
//! (`Content-Type`, `Retry-After`, `Location`), without those that describe the connection.

use std::io::Write as _;

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::value::RawValue;

use super::parse::Item;
use super::run::Answer;

/// The 200 answer to a batch whose requests answered `answers`.
pub fn batch(items: &[Item], answers: &[Answer]) -> Response {
    let size: usize = answers.iter().map(|a| a.body.len() * 4 / 3 + 512).sum();
    let mut out = Vec::with_capacity(size + 16);
    out.extend_from_slice(b"{\"responses\":[");
    for (n, answer) in answers.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        item(&mut out, &items[answer.index].id, answer);
    }
    out.extend_from_slice(b"]}");
    let mut response = out.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn item(out: &mut Vec<u8>, id: &str, answer: &Answer) {
    out.extend_from_slice(b"{\"id\":");
    string(out, id);
    let _ = write!(out, ",\"status\":{},\"headers\":{{", answer.status.as_u16());
    let mut first = true;
    for name in answer.headers.keys() {
        if matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        string(out, spelling(name.as_str()));
        out.push(b':');
        let values: Vec<String> =
            answer.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        string(out, &values.join(", "));
    }
    out.push(b'}');
    if !answer.body.is_empty() {
        out.extend_from_slice(b",\"body\":");
        body(out, &answer.headers, &answer.body);
    }
    out.push(b'}');
}

fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec never fails");
}

fn body(out: &mut Vec<u8>, headers: &HeaderMap, body: &[u8]) {
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
    match json.then(|| serde_json::from_slice::<&RawValue>(body).ok()).flatten() {
        Some(raw) => out.extend_from_slice(raw.get().as_bytes()),
        None => string(out, &base64::engine::general_purpose::STANDARD.encode(body)),
    }
}

/// `application/json`, with parameters or without, and the `+json` media types.
fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The spelling Graph's answers use for the headers a client reads; others as HTTP/2 spells every name.
fn spelling(name: &str) -> &str {
    const SPELLINGS: &[&str] = &[
        "Content-Type",
        "Retry-After",
        "Location",
        "Cache-Control",
        "OData-Version",
        "ETag",
        "WWW-Authenticate",
        "Preference-Applied",
    ];
    SPELLINGS.iter().find(|s| s.eq_ignore_ascii_case(name)).copied().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use axum::http::StatusCode;

    fn answer(status: u16, headers: &[(&'static str, &'static str)], body: &'static [u8]) -> Answer {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(*n, HeaderValue::from_static(v));
        }
        Answer { index: 0, status: StatusCode::from_u16(status).unwrap(), headers: map, body: Bytes::from_static(body) }
    }

    fn written(a: &Answer) -> serde_json::Value {
        let mut out = Vec::new();
        item(&mut out, "a\"b", a);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn json_bodies_are_embedded_others_are_base64_and_204_has_none() {
        let json =
            written(&answer(200, &[("content-type", "application/json;odata.metadata=minimal")], b" {\"v\":1} "));
        assert_eq!(
            json,
            serde_json::json!({"id": "a\"b", "status": 200,
            "headers": {"Content-Type": "application/json;odata.metadata=minimal"}, "body": {"v": 1}})
        );
        let count = written(&answer(200, &[("content-type", "text/plain"), ("content-length", "1")], b"5"));
        assert_eq!(count["body"], "NQ==");
        assert_eq!(count["headers"], serde_json::json!({"Content-Type": "text/plain"}));
        let broken = written(&answer(500, &[("content-type", "application/json")], b"{not json"));
        assert_eq!(broken["body"], base64::engine::general_purpose::STANDARD.encode("{not json"));
        let none = written(&answer(204, &[("request-id", "r")], b""));
        assert!(none.get("body").is_none(), "{none}");
        assert_eq!(none["headers"]["request-id"], "r");
    }

    #[test]
    fn repeated_headers_are_joined_and_known_ones_spelled_as_graph_does() {
        let a = written(&answer(429, &[("retry-after", "3"), ("x-many", "1"), ("x-many", "2")], b""));
        assert_eq!(a["headers"], serde_json::json!({"Retry-After": "3", "x-many": "1, 2"}));
    }
}
