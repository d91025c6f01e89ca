//! Bounds on what one client can make the server do: the size of a request's head, how long its body may idle,
//! how long a whole request may take, how many connections are served at once, and how many requests a tenant's
//! application may make (the throttle, [`crate::throttle`]).
//!
//! Every limit answers in Graph's error envelope where HTTP leaves room for an answer: 414 for a long URL, 431
//! for large header fields, 408 for a stalled body or a request over its time limit, 413 for a large body, 429
//! when throttled. Two limits live below the request, in the connection ([`crate::connections`]), and answer
//! as hyper does: a head not complete within the header timeout closes the connection without an answer, and a
//! head larger than hyper's read buffer (sized above the limits here) gets an empty 431 (or 400 when malformed)
//! before the request exists. README "Limits" and docs/decisions.md say what each answer is and why.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Args;
use rosterflow_model::ErrorKind;

use crate::error::ApiError;

/// Defaults, in one place for the flags and [`Limits::default`].
pub const DEFAULT_MAX_URI_BYTES: usize = 16 * 1024;
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 30;
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 300;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_THROTTLE_WINDOW_SECONDS: u64 = 10;

/// The configurable limits of `serve` (flattened into [`crate::config::ServeArgs`]).
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Longest request target (path and query) in bytes, below hyper's own 65,534; longer ones get 414.
    #[arg(long, env = "ROSTERFLOW_MAX_URI_BYTES", default_value_t = DEFAULT_MAX_URI_BYTES, value_parser = uri_limit)]
    pub max_uri_bytes: usize,
    /// Most bytes of header fields (names and values) a request may carry; more gets 431.
    #[arg(long, env = "ROSTERFLOW_MAX_HEADER_BYTES", default_value_t = DEFAULT_MAX_HEADER_BYTES)]
    pub max_header_bytes: usize,
    /// Seconds a client has to send a request's head (also how long an idle keep-alive connection stays open).
    #[arg(long, env = "ROSTERFLOW_HEADER_TIMEOUT_SECONDS", default_value_t = DEFAULT_HEADER_TIMEOUT_SECONDS)]
    pub header_timeout_seconds: u64,
    /// Longest pause, in seconds, while a request body is being received (an idle timeout); then 408.
    #[arg(long, env = "ROSTERFLOW_BODY_TIMEOUT_SECONDS", default_value_t = DEFAULT_BODY_TIMEOUT_SECONDS)]
    pub body_timeout_seconds: u64,
    /// Longest time, in seconds, from a request's head to its answer, body included; then 408. 0: no limit.
    #[arg(long, env = "ROSTERFLOW_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS)]
    pub request_timeout_seconds: u64,
    /// Most connections served at once; further ones wait in the listen backlog until one closes.
    #[arg(long, env = "ROSTERFLOW_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Requests each application may make in a tenant per throttle window (429 beyond). 0: no throttling.
    /// Graph's figure for its education APIs: 35000 per 10 seconds.
    #[arg(long, env = "ROSTERFLOW_THROTTLE_LIMIT", default_value_t = 0)]
    pub throttle_limit: u32,
    /// The throttle window in seconds: the limit refills evenly over it.
    #[arg(long, env = "ROSTERFLOW_THROTTLE_WINDOW_SECONDS", default_value_t = DEFAULT_THROTTLE_WINDOW_SECONDS)]
    pub throttle_window_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_timeout_seconds: DEFAULT_HEADER_TIMEOUT_SECONDS,
            body_timeout_seconds: DEFAULT_BODY_TIMEOUT_SECONDS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            throttle_limit: 0,
            throttle_window_seconds: DEFAULT_THROTTLE_WINDOW_SECONDS,
        }
    }
}

impl Limits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_seconds.max(1))
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_seconds.max(1))
    }

    pub fn request_timeout(&self) -> Option<Duration> {
        (self.request_timeout_seconds > 0).then(|| Duration::from_secs(self.request_timeout_seconds))
    }

    /// hyper's read buffer: room for a head at both limits and a request line around them, so that a head over
    /// a limit reaches [`guard`] (and gets an envelope) rather than hyper's own empty 431.
    pub fn read_buffer_bytes(&self) -> usize {
        (self.max_uri_bytes + self.max_header_bytes + HEAD_SLACK).max(MIN_READ_BUFFER)
    }
}

/// hyper answers a longer request target itself, with an empty 414.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;

fn uri_limit(value: &str) -> Result<usize, String> {
    let n: usize = value.parse().map_err(|e| format!("{e}"))?;
    if n >= HYPER_MAX_URI_BYTES {
        return Err(format!("must be below {HYPER_MAX_URI_BYTES}, hyper's own limit"));
    }
    Ok(n)
}

/// The request line's method, spaces, version and line ends, and a pipelined request's first bytes.
const HEAD_SLACK: usize = 4 * 1024;
/// hyper's least read buffer.
const MIN_READ_BUFFER: usize = 8 * 1024;

/// The limits of each request, before its area's router: the size of the head (414, 431), the body's idle
/// timeout (read errors become 408 through [`body_error`]) and the request's time limit (408). Runs inside
/// [`crate::request::context`], so every answer carries the envelope with the request's ids.
pub async fn guard(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let target =
        uri.path_and_query().map_or(0, |pq| pq.as_str().len()) + uri.authority().map_or(0, |a| a.as_str().len());
    if target > limits.max_uri_bytes {
        return uri_too_long(limits.max_uri_bytes).into_response();
    }
    // As on the wire: "name: value\r\n".
    let header_bytes: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > limits.max_header_bytes {
        return ApiError::new(
            ErrorKind::HeaderFieldsTooLarge,
            format!("The request's header fields are larger than the limit of {} bytes.", limits.max_header_bytes),
        )
        .into_response();
    }
    // Bodyless requests (most GETs) keep their body as it is: no allocation on the common path.
    let req = if req.body().is_end_stream() {
        req
    } else {
        let idle = limits.body_timeout();
        req.map(|body| Body::new(tower_http::timeout::TimeoutBody::new(idle, body)))
    };
    match limits.request_timeout() {
        None => next.run(req).await,
        Some(limit) => match tokio::time::timeout(limit, next.run(req)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                ErrorKind::RequestTimeout,
                format!("The request took longer than the limit of {} seconds.", limit.as_secs()),
            )
            .into_response(),
        },
    }
}

/// The answer to a request target longer than `max_bytes` (a `$batch` request's too: [`crate::batch`]).
pub fn uri_too_long(max_bytes: usize) -> ApiError {
    ApiError::new(ErrorKind::UriTooLong, format!("The request URL is longer than the limit of {max_bytes} bytes."))
}

/// The answer to a request body that could not be read whole: 408 when it stalled past the body timeout, 413
/// when it grew past `max_bytes`, 400 otherwise (a client that hung up or broke the chunked encoding).
pub fn body_error(error: &(dyn StdError + 'static), max_bytes: usize) -> ApiError {
    if caused_by::<tower_http::timeout::TimeoutError>(error) {
        ApiError::new(ErrorKind::RequestTimeout, "The request body stalled; the server stopped waiting for it.")
    } else if caused_by::<http_body_util::LengthLimitError>(error) {
        ApiError::new(ErrorKind::PayloadTooLarge, format!("The request body exceeds the limit of {max_bytes} bytes."))
    } else {
        ApiError::new(ErrorKind::BadRequest, "The request body could not be read.")
    }
}

/// Whether `error` or anything in its chain of sources is a `T`.
fn caused_by<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn body_errors_are_told_apart() {
        let stalled = Body::new(tower_http::timeout::TimeoutBody::new(
            Duration::from_millis(10),
            Body::from_stream(futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>()),
        ));
        let err = axum::body::to_bytes(stalled, 100).await.unwrap_err();
        assert_eq!(body_error(&err, 100).0.kind, ErrorKind::RequestTimeout);

        let err = axum::body::to_bytes(Body::from(vec![b'x'; 101]), 100).await.unwrap_err();
        assert_eq!(body_error(&err, 100).0.kind, ErrorKind::PayloadTooLarge);

        let broken = Body::from_stream(futures_util::stream::iter([Err::<Vec<u8>, _>(std::io::Error::other("reset"))]));
        let err = axum::body::to_bytes(broken, 100).await.unwrap_err();
        assert_eq!(body_error(&err, 100).0.kind, ErrorKind::BadRequest);
    }
}
