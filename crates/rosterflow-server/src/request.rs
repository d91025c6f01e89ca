//! What every request goes through before and after its area's router: the canonical spelling of Graph's
//! case-insensitive path roots (so that per-area axum routers can match them), request ids, a 500 for a panic,
//! Graph's error envelope for every error response, whichever layer produced it, and the request's log line
//! ([`crate::logging`]).

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use rosterflow_model::{ErrorKind, TenantId};
use tracing::Instrument;

use crate::error::{envelope, ApiError};
use crate::logging::{self, RequestLine};

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

/// Record the caller's tenant for the request's log line.
pub fn record_tenant(tenant: &TenantId) {
    crate::logging::record_tenant(tenant);
}

/// Record the route template (`/beta/users/{id}`, never the raw path with its ids) for the request's log line;
/// `template` is only called when request lines are being logged.
pub fn record_route(template: impl FnOnce() -> String) {
    crate::logging::record_route(template);
}

/// Gives each request its `request-id` (echoing `client-request-id`), turns a panic into a 500, writes Graph's
/// error envelope for every error response, whichever layer produced it, and logs the request's line.
pub async fn context(req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(100).collect::<String>());
    let method = req.method().clone();
    let line = RequestLine::begin(req.uri().path());
    // Never the raw path or query: ids and filter values may be roster data. Areas record their route template.
    let span = tracing::debug_span!("request", method = %method, request_id = %request_id);
    let (outcome, record) = logging::scope(AssertUnwindSafe(next.run(req)).catch_unwind()).instrument(span).await;
    let panicked = outcome.is_err();
    let mut response = match outcome {
        Ok(response) => response,
        Err(_) => {
            // The cause (message and location, kept by the panic hook) goes to the log, never to the client.
            let cause = record.panic.as_deref().unwrap_or("unknown");
            tracing::error!(%request_id, panic = %cause, "request panicked");
            ApiError::new(ErrorKind::Internal, "The server failed to complete the request.").into_response()
        }
    };
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        let body = envelope(&error, &request_id, client_request_id.as_deref());
        *response.body_mut() = Body::from(body);
        // The length of the empty body the error was raised with no longer holds.
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if error.0.kind == ErrorKind::Internal && !panicked {
            tracing::error!(%request_id, message = %error.0.message, "internal error");
        }
    }
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", v);
    }
    if let Some(v) = client_request_id.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("client-request-id", v);
    }
    if let Some(line) = line {
        line.write(&method, response.status().as_u16(), &record, &request_id, client_request_id.as_deref());
    }
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

/// Property tests of the root rewrite over arbitrary URIs; run longer with
/// `PROPTEST_CASES=10000 cargo test -p rosterflow-server --lib request::properties`.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::industry_data::route::properties::config;

    fn random_case(s: &str) -> impl Strategy<Value = String> {
        let s = s.to_string();
        prop::collection::vec(any::<bool>(), s.len()).prop_map(move |upper| {
            s.chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
        })
    }

    fn uri() -> impl Strategy<Value = String> {
        let root = prop_oneof![
            4 => proptest::sample::select(ROOTS).prop_flat_map(random_case),
            1 => "/[a-zA-Z$]{0,12}",
            1 => Just(String::new()),
        ];
        let rest = prop_oneof![Just(String::new()), "[/('a-zA-Z0-9%$._@-]{0,20}", any::<String>(),];
        let query = proptest::option::of("[a-zA-Z0-9$=&%'+ ]{0,12}");
        (root, rest, query).prop_map(|(root, rest, q)| match q {
            Some(q) => format!("{root}{rest}?{q}"),
            None => format!("{root}{rest}"),
        })
    }

    proptest! {
        #![proptest_config(config(512))]

        /// Any URI: no panic; a rewrite only changes the case of a root (and puts a `('key')` right after it in
        /// a segment of its own), never what follows it or the query.
        #[test]
        fn only_the_case_of_a_root_changes(s in uri()) {
            let Ok(uri) = s.parse::<Uri>() else {
                return Ok(()); // not a URI: the server never sees it
            };
            let Some(new) = canonical_uri(&uri) else {
                return Ok(());
            };
            let (old_path, new_path) = (uri.path(), new.path());
            let root = ROOTS.iter().find(|r| new_path.starts_with(*r)).expect("rewritten to a canonical root");
            prop_assert!(old_path[..root.len()].eq_ignore_ascii_case(root));
            let (old_rest, new_rest) = (&old_path[root.len()..], &new_path[root.len()..]);
            if old_rest.starts_with('(') {
                prop_assert_eq!(format!("/{old_rest}"), new_rest);
            } else {
                prop_assert_eq!(old_rest, new_rest);
            }
            prop_assert_eq!(uri.query(), new.query());
            prop_assert_eq!(uri.scheme(), new.scheme());
            prop_assert_eq!(uri.authority(), new.authority());
        }
    }
}
