//! The one place where rosterflow's error kinds, HTTP statuses and Graph error codes are decided.
//!
//! Graph's error page (`shared/reference/graph-docs-directory/concepts/errors.md`) fixes the envelope and the
//! status codes; the `code` strings are the ones Graph's workloads use for the same conditions.

use std::fmt;

/// What went wrong, independent of transport. Each kind has exactly one status and one Graph `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or violates a validation rule.
    BadRequest,
    /// No bearer token, or one that does not verify.
    Unauthenticated,
    /// The token lacks the permission the operation needs.
    Forbidden,
    /// The addressed resource does not exist (in this tenant).
    NotFound,
    /// The HTTP method is not defined on the addressed resource.
    MethodNotAllowed,
    /// The client took too long to send its request.
    RequestTimeout,
    /// The request contradicts current state (duplicate, in use).
    Conflict,
    /// A request of a `$batch` that depends on one that failed.
    FailedDependency,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The request URL is longer than the configured limit.
    UriTooLong,
    /// The request's header fields are larger than the configured limit.
    HeaderFieldsTooLarge,
    /// The caller exceeded a throttling limit; clients (and the Graph SDKs) retry after `Retry-After`.
    TooManyRequests,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// A documented operation that this server does not carry out yet.
    NotImplemented,
    /// A fault on our side; the cause goes to the log, never to the client.
    Internal,
    /// The store is overloaded or unavailable; clients (and the Graph SDKs) retry.
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status code.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::RequestTimeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UriTooLong => 414,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::FailedDependency => 424,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::HeaderFieldsTooLarge => 431,
            ErrorKind::Internal => 500,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
        }
    }

    /// The Graph error `code`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequest",
            ErrorKind::Unauthenticated => "InvalidAuthenticationToken",
            ErrorKind::Forbidden => "Authorization_RequestDenied",
            ErrorKind::NotFound => "ResourceNotFound",
            ErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ErrorKind::RequestTimeout => "RequestTimeout",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::PayloadTooLarge => "RequestEntityTooLarge",
            ErrorKind::UriTooLong => "RequestUriTooLong",
            ErrorKind::UnsupportedMediaType => "UnsupportedMediaType",
            ErrorKind::FailedDependency => "FailedDependency",
            ErrorKind::TooManyRequests => "TooManyRequests",
            ErrorKind::HeaderFieldsTooLarge => "RequestHeaderFieldsTooLarge",
            ErrorKind::Internal => "InternalServerError",
            ErrorKind::NotImplemented => "NotImplemented",
            ErrorKind::Unavailable => "ServiceUnavailable",
        }
    }
}

/// A client-facing error: kind, a message that names the offending field or id, and optionally that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub kind: ErrorKind,
    pub message: String,
    /// The JSON path of the offending property (`configuration/enrollmentMappings/...`), when there is one.
    pub target: Option<String>,
}

impl DomainError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DomainError { kind, message: message.into(), target: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// A 400 about one property; the path is both named in the message and kept as `target`.
    pub fn invalid(path: &str, message: impl fmt::Display) -> Self {
        DomainError {
            kind: ErrorKind::BadRequest,
            message: format!("Invalid value for property '{path}': {message}"),
            target: Some(path.to_string()),
        }
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} was not found."))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for DomainError {}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;
