//! What every request goes through before and after its area's router: the canonical spelling of Graph's
//! case-insensitive path roots (so that per-area axum routers can match them), request ids, the log span, and
//! Graph's error envelope for every error response, whichever layer produced it.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use rosterflow_model::TenantId;
use tracing::Instrument;

use crate::error::{envelope, ApiError};

/// The path roots of every area, spelled canonically. Graph matches path segments case-insensitively; axum's
/// router does not, so [`canonical_path`] rewrites a request's root to this spelling before routing (ids and
/// everything below a root are left alone: each area resolves the rest itself).
pub const ROOTS: &[&str] = &[
    "/beta/external/industryData",
    "/beta/$metadata",
    "/beta/$batch",
    "/beta/users",
    "/beta/groups",
    "/beta/administrativeUnits",
    "/beta/directoryObjects",
    "/beta/teams",
    "/beta/education",
];

/// Rewrites the request path's root (see [`ROOTS`]) to its canonical spelling.
pub async fn canonical_path(mut req: Request, next: Next) -> Response {
    if let Some(uri) = canonical_uri(req.uri()) {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

fn canonical_uri(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let root = ROOTS.iter().find(|root| {
        path.get(..root.len()).is_some_and(|p| p.eq_ignore_ascii_case(root))
            && matches!(path.as_bytes().get(root.len()), None | Some(b'/' | b'('))
    })?;
    // A key right after a root (`/beta/users('$x@y.com')`) becomes a segment of its own, so that the area's
    // router matches `{root}/{*rest}`.
    let keyed = path.as_bytes().get(root.len()) == Some(&b'(');
    if path.starts_with(root) && !keyed {
        return None; // already canonical: the common case costs no allocation
    }
    let mut rewritten = String::with_capacity(uri.path_and_query().map_or(path.len(), |pq| pq.as_str().len()) + 1);
    rewritten.push_str(root);
    if keyed {
        rewritten.push('/');
    }
    rewritten.push_str(&path[root.len()..]);
    if let Some(q) = uri.query() {
        rewritten.push('?');
        rewritten.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = rewritten.parse().ok();
    Uri::from_parts(parts).ok()
}

/// Record the caller's tenant in the current request's log span.
pub fn record_tenant(tenant: &TenantId) {
    tracing::Span::current().record("tenant", tenant.as_str());
}

/// Record the route template (`/beta/users/{id}`, never the raw path with its ids) in the request's log span;
/// `template` is only called when the span is being logged.
pub fn record_route(template: impl FnOnce() -> String) {
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("route", template());
    }
}

/// Gives each request its `request-id` (echoing `client-request-id`) and span, and writes Graph's error
/// envelope for every error response, whichever layer produced it.
pub async fn context(req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(100).collect::<String>());
    // Never the raw path or query: ids and filter values may be roster data. Areas record their route template.
    let span = tracing::debug_span!(
        "request",
        method = %req.method(),
        route = tracing::field::Empty,
        tenant = tracing::field::Empty,
        request_id = %request_id
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        let body = envelope(&error, &request_id, client_request_id.as_deref());
        *response.body_mut() = Body::from(body);
        // The length of the empty body the error was raised with no longer holds.
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if error.0.kind == rosterflow_model::ErrorKind::Internal {
            tracing::error!(parent: &span, %request_id, message = %error.0.message, "internal error");
        }
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", v);
    }
    if let Some(v) = client_request_id.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("client-request-id", v);
    }
    tracing::debug!(parent: &span, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "done");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_spelled_canonically_and_the_rest_is_left_alone() {
        let canon = |s: &str| canonical_uri(&s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(
            canon("/BETA/External/INDUSTRYDATA/outboundProvisioningFlowSets/AbC?$top=1").as_deref(),
            Some("/beta/external/industryData/outboundProvisioningFlowSets/AbC?$top=1")
        );
        assert_eq!(canon("/beta/Users/Some.One@x.com").as_deref(), Some("/beta/users/Some.One@x.com"));
        assert_eq!(canon("/beta/USERS('a')").as_deref(), Some("/beta/users/('a')"));
        assert_eq!(canon("/beta/users('$a@b')/x").as_deref(), Some("/beta/users/('$a@b')/x"));
        assert_eq!(canon("/beta/users/x"), None, "already canonical");
        assert_eq!(canon("/beta/usersX"), None, "not a root");
        assert_eq!(canon("/healthz"), None);
    }
}
