//! A JSON batch request body as `concepts/json-batching.md` documents it, read and checked before anything runs:
//! `{"requests": [{"id", "method", "url", "headers", "body", "dependsOn"}]}`.
//!
//! Whatever breaks the format answers 400 for the whole batch and nothing runs (the doc: "If the batch request
//! itself is malformed, the status code is 400"): more than 20 requests, ids missing or repeated (ids are not
//! case-sensitive), a `body` without a `Content-Type` header (Graph's own message), a write without a body, a
//! `dependsOn` naming no earlier request (OData JSON 4.01 §19.1: "forward references are not allowed", which
//! also rules out cycles), an absolute URL or a nested `$batch` (the doc's known issues). What a direct request
//! would be answered for (its URL, headers, body, route, permissions) is answered for that request alone, in the
//! 200 batch response ([`super::run`]).
//!
//! The parse is bounded: the body is at most `--max-body-bytes`; values the batch does not read (bodies, unknown
//! properties) are skipped by serde_json without recursion, so nesting costs no stack; at most 20 requests, 20
//! ids a `dependsOn` and 101 header fields a request are kept, whatever the body holds. Bodies are not parsed here: a JSON body is
//! passed on as the slice of the batch's bytes that holds it, so it is parsed once, by the handler it goes to.

use std::collections::HashMap;
use std::fmt;

use axum::body::Bytes;
use axum::http::Method;
use base64::Engine as _;
use rosterflow_model::ErrorKind;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Graph's limit on the requests of one batch.
pub const MAX_REQUESTS: usize = 20;
/// Longest request id, in bytes (the SDKs use GUIDs and small integers).
pub const MAX_ID_BYTES: usize = 256;
/// Most header fields a request may carry, as hyper allows a direct request.
pub const MAX_HEADERS: usize = 100;

/// One request of a batch, checked.
#[derive(Debug)]
pub struct Item {
    pub id: String,
    pub method: Method,
    /// Relative to the version root, as sent (`/users?$top=1` or `users?$top=1`).
    pub url: String,
    /// At most [`MAX_HEADERS`] + 1 fields: more are refused with that request's 431 ([`super::run`]).
    pub headers: Vec<(String, String)>,
    /// The body's bytes: a JSON body's text as it stands in the batch, or a base64 string's decoded bytes.
    pub body: Option<Bytes>,
    /// The positions of the requests this one waits for, all before it.
    pub depends_on: Vec<usize>,
}

/// The requests of a batch body, or the 400 that says what is wrong with it.
pub fn batch(bytes: &Bytes) -> Result<Vec<Item>, ApiError> {
    let top: Fields = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => bad("The batch request body must be a JSON object."),
        _ => bad(format!("The batch request body is not valid JSON (line {}, column {}).", e.line(), e.column())),
    })?;
    if let Some(field) = top.repeated {
        return Err(bad(format!("The batch request body has '{field}' more than once.")));
    }
    let requests = top.requests.ok_or_else(|| bad("The batch request body has no 'requests' array."))?;
    let list: Capped<&RawValue> = serde_json::from_str(requests.get())
        .map_err(|_| bad("The batch request body's 'requests' must be an array of request objects."))?;
    if list.more {
        return Err(bad(format!("A batch may hold at most {MAX_REQUESTS} requests.")));
    }
    let mut items: Vec<Item> = Vec::with_capacity(list.kept.len());
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(list.kept.len());
    for (n, raw) in list.kept.iter().enumerate() {
        let item = self::item(bytes, n, raw, &positions)?;
        positions.insert(item.id.to_lowercase(), n);
        items.push(item);
    }
    Ok(items)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

/// The request at position `n`, checked against those before it (`positions`: their ids, lowercased).
fn item(bytes: &Bytes, n: usize, raw: &RawValue, positions: &HashMap<String, usize>) -> Result<Item, ApiError> {
    let at = format!("The request at position {}", n + 1);
    let fields: Fields = serde_json::from_str(raw.get()).map_err(|_| bad(format!("{at} is not a JSON object.")))?;
    if let Some(field) = fields.repeated {
        return Err(bad(format!("{at} has '{field}' more than once.")));
    }
    let id = fields
        .id
        .and_then(string)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad(format!("{at} has no 'id': each request needs a string id, unique in the batch.")))?;
    if id.len() > MAX_ID_BYTES {
        return Err(bad(format!("{at} has an id longer than {MAX_ID_BYTES} bytes.")));
    }
    if positions.contains_key(&id.to_lowercase()) {
        return Err(bad(format!("The batch has more than one request with id '{id}' (ids are not case-sensitive).")));
    }
    let request = format!("Request '{id}'");
    let method = fields
        .method
        .and_then(string)
        .and_then(|m| method(&m))
        .ok_or_else(|| bad(format!("{request} needs a 'method': one of GET, POST, PUT, PATCH or DELETE.")))?;
    let url = fields
        .url
        .and_then(string)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad(format!("{request} needs a 'url', relative to the version root (such as '/users').")))?;
    check_url(&request, &url)?;
    let headers = match fields.headers {
        Some(raw) if raw.get() != "null" => headers(&request, raw)?,
        _ => Vec::new(),
    };
    let body = match fields.body {
        Some(raw) if raw.get() != "null" => Some(body(&request, bytes, raw)?),
        _ => None,
    };
    let typed = headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("content-type") && !value.is_empty());
    let writes = matches!(method, Method::POST | Method::PUT | Method::PATCH);
    if (body.is_some() && !typed) || (writes && (body.is_none() || !typed)) {
        // Graph's own answer, word for word: a write needs both, and a body needs its type.
        return Err(bad(format!("Write request id : {id} does not contain Content-Type header or body.")));
    }
    let depends_on = match fields.depends_on {
        Some(raw) if raw.get() != "null" => depends_on(&request, raw, positions)?,
        _ => Vec::new(),
    };
    Ok(Item { id, method, url, headers, body, depends_on })
}

/// A JSON string's value.
fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn method(name: &str) -> Option<Method> {
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
}

/// URLs are relative to the version root (the doc's known issue "URIs must be relative"), and a batch holds no
/// batch ("Nested batches are not supported").
fn check_url(request: &str, url: &str) -> Result<(), ApiError> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let scheme = path.split_once(':').is_some_and(|(s, _)| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if scheme || url.starts_with("//") || url.starts_with("\\\\") {
        return Err(bad(format!(
            "{request} has an absolute URL; URLs in a batch are relative to the version root, such as '/users'."
        )));
    }
    let first = path.trim_start_matches('/').split(['/', '(']).next().unwrap_or_default();
    if first.eq_ignore_ascii_case("$batch") {
        return Err(bad(format!("{request} is a batch: batches can't be nested.")));
    }
    Ok(())
}

/// A request's `headers`: an object whose values are strings (numbers and booleans are taken as their text).
fn headers(request: &str, raw: &RawValue) -> Result<Vec<(String, String)>, ApiError> {
    let not_an_object = || bad(format!("{request} has 'headers' that are not an object of header names and values."));
    let fields: Headers = serde_json::from_str(raw.get()).map_err(|_| not_an_object())?;
    fields
        .0
        .into_iter()
        .map(|(name, value)| {
            let text = match value.get().as_bytes().first() {
                Some(b'"') => string(value),
                Some(b't' | b'f' | b'-' | b'0'..=b'9') => Some(value.get().to_string()),
                _ => None,
            };
            let text =
                text.ok_or_else(|| bad(format!("{request} has a value of header '{name}' that is not a string.")))?;
            Ok((name, text))
        })
        .collect()
}

/// A JSON body as it stands in the batch's bytes (no copy, no parse); a string holds the body in base64 (the
/// doc: "a JSON object or a base64 URL-encoded value"; the SDKs send standard base64, either is read).
fn body(request: &str, bytes: &Bytes, raw: &RawValue) -> Result<Bytes, ApiError> {
    let text = raw.get();
    if !text.starts_with('"') {
        return Ok(bytes.slice_ref(text.as_bytes()));
    }
    let invalid = || bad(format!("{request} has a string 'body' that is not base64."));
    let encoded = string(raw).ok_or_else(invalid)?;
    let indifferent = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let standard = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, indifferent);
    let url_safe = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, indifferent);
    let decoded = standard.decode(&encoded).or_else(|_| url_safe.decode(&encoded)).map_err(|_| invalid())?;
    Ok(Bytes::from(decoded))
}

/// `dependsOn`: ids of requests before this one (case-insensitively), as positions.
fn depends_on(request: &str, raw: &RawValue, positions: &HashMap<String, usize>) -> Result<Vec<usize>, ApiError> {
    let ids: Vec<String> = serde_json::from_str::<Capped<String>>(raw.get())
        .ok()
        .filter(|ids| !ids.more)
        .map(|ids| ids.kept)
        .ok_or_else(|| bad(format!("{request} has a 'dependsOn' that is not an array of request ids.")))?;
    let mut out: Vec<usize> = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(&at) = positions.get(&id.to_lowercase()) else {
            return Err(bad(format!(
                "{request} depends on '{id}', which is not a request before it in the batch; a request may depend \
                 only on requests that come before it."
            )));
        };
        if !out.contains(&at) {
            out.push(at);
        }
    }
    Ok(out)
}

// ---- serde visitors: each reads one level, keeps raw values, and never fails on content it can report better --

/// An array's first [`MAX_REQUESTS`] entries, and whether there were more (skipped, not kept): the `requests` of a
/// batch, the ids of a `dependsOn` (a request can't depend on more requests than a batch holds).
struct Capped<T> {
    kept: Vec<T>,
    more: bool,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Capped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Capped<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capped<T>, A::Error> {
                let mut capped = Capped { kept: Vec::new(), more: false };
                while capped.kept.len() < MAX_REQUESTS {
                    match seq.next_element()? {
                        Some(value) => capped.kept.push(value),
                        None => return Ok(capped),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    capped.more = true;
                }
                Ok(capped)
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// The properties of a batch (`requests`) or of a request object, raw; names matched without regard to case.
#[derive(Default)]
struct Fields<'a> {
    requests: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    url: Option<&'a RawValue>,
    headers: Option<&'a RawValue>,
    body: Option<&'a RawValue>,
    depends_on: Option<&'a RawValue>,
    /// A property given twice (`dependsOn` and `depends_on` count as one).
    repeated: Option<&'static str>,
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let (slot, name) = match key.0 {
                        Some(Field::Id) => (&mut fields.id, "id"),
                        Some(Field::Method) => (&mut fields.method, "method"),
                        Some(Field::Url) => (&mut fields.url, "url"),
                        Some(Field::Headers) => (&mut fields.headers, "headers"),
                        Some(Field::Body) => (&mut fields.body, "body"),
                        Some(Field::DependsOn) => (&mut fields.depends_on, "dependsOn"),
                        Some(Field::Requests) => (&mut fields.requests, "requests"),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        fields.repeated.get_or_insert(name);
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(fields)
            }
        }
        d.deserialize_map(V)
    }
}

/// A request's `headers`: at most [`MAX_HEADERS`] + 1 of them kept (enough to know there are too many).
struct Headers<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Headers<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of headers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if out.len() > MAX_HEADERS {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        out.push((name, map.next_value()?));
                    }
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The properties a batch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Requests,
    Id,
    Method,
    Url,
    Headers,
    Body,
    DependsOn,
}

/// A property name, matched without regard to case (Graph reads JSON names so); `depends_on` is how the official
/// Python SDK (msgraph-core 1.5) spells `dependsOn`. `None`: a property the batch does not read.
struct Key(Option<Field>);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                const NAMES: &[(&str, Field)] = &[
                    ("requests", Field::Requests),
                    ("id", Field::Id),
                    ("method", Field::Method),
                    ("url", Field::Url),
                    ("headers", Field::Headers),
                    ("body", Field::Body),
                    ("dependsOn", Field::DependsOn),
                    ("depends_on", Field::DependsOn),
                ];
                Ok(Key(NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| *f)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests;
