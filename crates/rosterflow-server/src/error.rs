//! Graph's error envelope on the wire.
//!
//! Handlers return [`ApiError`]; its response carries the error as an extension, and the request-id layer
//! ([`crate::app`]) writes the envelope once the request's ids are known:
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::{DomainError, ErrorKind};
use rosterflow_store::StoreError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError(pub DomainError);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError(DomainError::new(kind, message))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError(e)
    }
}

impl From<rosterflow_odata::QueryError> for ApiError {
    fn from(e: rosterflow_odata::QueryError) -> Self {
        ApiError::new(ErrorKind::BadRequest, e.message)
    }
}

impl From<StoreError> for ApiError {
    /// Only storage faults land here; handlers translate the conditions they expect (duplicates, missing
    /// binds, items in use) into messages that name the resource.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(ErrorKind::NotFound, "The resource was not found."),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::new(ErrorKind::Unavailable, "The store is unavailable; retry the request.")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        if self.0.kind == ErrorKind::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.0.kind == ErrorKind::Unavailable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The envelope body for `error`, with the request's ids.
pub fn envelope(error: &ApiError, request_id: &str, client_request_id: Option<&str>) -> String {
    let mut inner = json!({
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": request_id,
    });
    inner["client-request-id"] = json!(client_request_id.unwrap_or(request_id));
    let mut err = json!({"code": error.0.kind.code(), "message": error.0.message, "innerError": inner});
    if let Some(target) = &error.0.target {
        err["target"] = json!(target);
    }
    json!({ "error": err }).to_string()
}
