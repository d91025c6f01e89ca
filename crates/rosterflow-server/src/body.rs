//! JSON bodies, the same way in every area. Reading a request's: its media type, its size against
//! `--max-body-bytes` (at once on `Content-Length`, else as it arrives) and its presence; a read that fails is
//! answered as [`crate::limits::body_error`] says (408, 413 or 400). Writing a response's, with Graph's
//! content type.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::ErrorKind;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The body of a request that must carry JSON: its media type, size and presence checked; what it holds is the
/// caller's to check (`document::check_entity` for an entity, `batch::parse` for a batch).
pub async fn read_json(app: &AppState, parts: &Parts, body: Body) -> ApiResult<Bytes> {
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("The content type '{content_type}' is not supported; send application/json."),
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body exceeds the limit of {} bytes.", app.max_body_bytes),
        )
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, app.max_body_bytes)
        .await
        .map_err(|e| crate::limits::body_error(&e, app.max_body_bytes))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorKind::BadRequest, "The request body is empty; a JSON object is required."));
    }
    Ok(bytes)
}

/// The content type Graph answers JSON with.
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// A JSON response with Graph's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    json_text_response(status, body.to_string())
}

/// A response of JSON already written as text (a page assembled from stored documents), with Graph's
/// content type.
pub fn json_text_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

/// A collection's answer, written as text: `@odata.context`, `@odata.count`, `@odata.nextLink`, then `value`
/// from its items already written as JSON (comma-separated), in the order Graph gives them.
pub fn collection_json(context: &str, count: Option<u64>, next: Option<&str>, items: &str) -> String {
    let string = |s: &str| Value::String(s.to_string()).to_string();
    let mut body = String::with_capacity(items.len() + context.len() + 128);
    body.push_str("{\"@odata.context\":");
    body.push_str(&string(context));
    if let Some(n) = count {
        body.push_str(&format!(",\"@odata.count\":{n}"));
    }
    if let Some(next) = next {
        body.push_str(",\"@odata.nextLink\":");
        body.push_str(&string(next));
    }
    body.push_str(",\"value\":[");
    body.push_str(items);
    body.push_str("]}");
    body
}

/// An entity's answer, written as text: `@odata.context`, then the members of `entity` (a JSON object as text).
pub fn entity_json(context: &str, entity: &str) -> String {
    let members = entity.trim_start().strip_prefix('{').unwrap_or("}").trim_start();
    let mut body = String::with_capacity(entity.len() + context.len() + 24);
    body.push_str("{\"@odata.context\":");
    body.push_str(&Value::String(context.to_string()).to_string());
    if !members.starts_with('}') {
        body.push(',');
    }
    body.push_str(members);
    body
}
