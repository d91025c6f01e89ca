//! Logs fit for a server: to stderr, as text (without colour unless stderr is a terminal) or as one JSON object
//! a line (`--log-format json`), with one line for every request.
//!
//! The request line (target `rosterflow::request`, level INFO, message `request`) is written once, when the
//! answer is ready, with `method`, `route` (the route template an area recorded through
//! [`crate::request::record_route`], else the area's root, `/healthz` or `unmatched`: never the raw path or
//! query, whose ids and filter values may be roster data), `status`, `latency_us`, `request_id`,
//! `client_request_id` (when the client sent one) and `tenant` (once authenticated). Never a token, a header
//! value, a body or a query value. `ROSTERFLOW_LOG=warn` (or `info,rosterflow::request=off`) turns it off; the
//! route template is then not even built.
//!
//! Cost: what areas record goes into a task-local cell, not into a span, so a request pays no span formatting;
//! the line itself is one event with fields borrowed from the request (docs/benchmarks.md).

use std::cell::RefCell;
use std::future::Future;
use std::io::IsTerminal;
use std::time::Instant;

use axum::http::Method;
use rosterflow_model::TenantId;

/// The target of the request line, for `ROSTERFLOW_LOG` directives.
pub const REQUEST_TARGET: &str = "rosterflow::request";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object a line, fields at the top level (for log shippers).
    Json,
}

/// Install the subscriber (`ROSTERFLOW_LOG` filter, default `info`) and a panic hook that logs through it.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROSTERFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).init();
        }
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init();
        }
    }
    std::panic::set_hook(Box::new(|info| {
        let cause = info.to_string();
        // Inside a request, the cause goes with the request's own error line (`request::context`).
        if !stash_panic(&cause) {
            tracing::error!(panic = %cause, "panic");
        }
    }));
}

/// What a request's areas record for its log line.
#[derive(Debug, Default)]
pub struct Record {
    pub route: Option<String>,
    pub tenant: Option<TenantId>,
    /// The panic message and location, when the request panicked.
    pub panic: Option<String>,
}

tokio::task_local! {
    static RECORD: RefCell<Record>;
}

/// Run a request's future with a [`Record`] of its own; returns its output and what was recorded.
pub async fn scope<F: Future>(future: F) -> (F::Output, Record) {
    RECORD
        .scope(RefCell::new(Record::default()), async move {
            let output = future.await;
            (output, RECORD.with(RefCell::take))
        })
        .await
}

/// Whether request lines are being written.
pub fn request_lines_enabled() -> bool {
    tracing::enabled!(target: REQUEST_TARGET, tracing::Level::INFO)
}

/// Record the request's route template; `template` runs only when request lines are written.
pub fn record_route(template: impl FnOnce() -> String) {
    if request_lines_enabled() {
        let _ = RECORD.try_with(|r| r.borrow_mut().route = Some(template()));
    }
}

/// Record the caller's tenant.
pub fn record_tenant(tenant: &TenantId) {
    if request_lines_enabled() {
        let _ = RECORD.try_with(|r| r.borrow_mut().tenant = Some(tenant.clone()));
    }
}

/// Keep a panic's cause in the current request's record; false outside a request.
fn stash_panic(cause: &str) -> bool {
    RECORD
        .try_with(|r| match r.try_borrow_mut() {
            Ok(mut r) => {
                r.panic = Some(cause.to_string());
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// The route a request logs when its area recorded none: the root of the area it went to (a Graph root,
/// rosterflow's own `/rosterflow`, `/healthz`), or `unmatched`.
pub fn fallback_route(path: &str) -> &'static str {
    crate::request::ROOTS
        .iter()
        .chain(&["/rosterflow", "/healthz"])
        .find(|root| path.starts_with(**root) && matches!(path.as_bytes().get(root.len()), None | Some(b'/' | b'(')))
        .copied()
        .unwrap_or("unmatched")
}

/// A request's log line, begun when the request arrives.
pub struct RequestLine {
    started: Instant,
    fallback: &'static str,
}

impl RequestLine {
    /// `None` when request lines are off: nothing more is done for them.
    pub fn begin(path: &str) -> Option<RequestLine> {
        request_lines_enabled().then(|| RequestLine { started: Instant::now(), fallback: fallback_route(path) })
    }

    pub fn write(
        self,
        method: &Method,
        status: u16,
        record: &Record,
        request_id: &str,
        client_request_id: Option<&str>,
    ) {
        tracing::info!(
            target: REQUEST_TARGET,
            method = method.as_str(),
            route = record.route.as_deref().unwrap_or(self.fallback),
            status,
            latency_us = self.started.elapsed().as_micros() as u64,
            request_id,
            client_request_id,
            tenant = record.tenant.as_ref().map(TenantId::as_str),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecorded_routes_log_their_area_root() {
        assert_eq!(fallback_route("/beta/users/a@b.c"), "/beta/users");
        assert_eq!(fallback_route("/beta/users('x')"), "/beta/users");
        assert_eq!(fallback_route("/beta/external/industryData/x"), "/beta/external/industryData");
        assert_eq!(fallback_route("/healthz"), "/healthz");
        assert_eq!(fallback_route("/rosterflow/storage/c/b"), "/rosterflow");
        assert_eq!(fallback_route("/beta/usersX"), "unmatched");
        assert_eq!(fallback_route("/secret-value"), "unmatched");
    }
}
