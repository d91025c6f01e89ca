//! Serving HTTP/1.1 connections with hyper (what `axum::serve` does, plus the bounds it does not expose): at most
//! `--max-connections` at once, a head read within `--header-timeout-seconds`, a read buffer sized from the head
//! limits, and a graceful shutdown that lets requests in flight finish.
//!
//! What happens below the request, where the envelope can't be written (README "Limits"):
//! - **Connections over the cap** are not accepted: they wait in the kernel's listen backlog, unanswered, until a
//!   served connection closes (idle keep-alive connections close after the header timeout).
//! - **A head not complete within the header timeout** (a slow client, or an idle keep-alive connection): hyper
//!   closes the connection without an answer.
//! - **A head larger than the read buffer** ([`crate::limits::Limits::read_buffer_bytes`], above the URI and
//!   header limits), or more than 100 header fields: hyper answers 431 with an empty body and closes; a
//!   malformed head gets an empty 400.
//! - **A request body the server did not read to its end** (a request refused before its body was needed: 401,
//!   403, 404, 413, 408): the answer says `Connection: close` and the connection closes after it
//!   ([`close_if_body_unread`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::limits::Limits;

/// Serve `app` on `listener` within `limits` until `shutdown` resolves, then wait for the connections being
/// served to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout()).max_buf_size(limits.read_buffer_bytes());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then accept: connections over the cap stay in the backlog, costing us nothing.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Header timeouts, oversized heads, clients that hung up: the client's doing, not ours.
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An accept that failed: a connection reset before it was accepted is nothing; running out of file
/// descriptors (EMFILE) is worth a log line and a pause, so that the loop doesn't spin until some close.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Say `Connection: close` on the answer to a request whose body was not read to its end.
///
/// Why: hyper keeps a connection open after such an answer only if the rest of the body is already in its
/// buffer; otherwise it closes the connection once the answer is out. It decides that after the answer's head
/// has gone, so the head may promise keep-alive on a connection about to close, and a client that reuses it at
/// once (the Graph SDKs' pooled clients do) meets "server disconnected" on its next request. Saying so in the
/// head makes the close one the client knows of. The outer router's layer only: a `$batch` part's headers are
/// not a connection's.
pub async fn close_if_body_unread(req: Request, next: Next) -> Response {
    // Bodyless requests (most GETs) keep their body as it is: no allocation on the common path.
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let req = req.map(|inner| Body::new(ReadToEnd { inner, ended: ended.clone() }));
    let mut response = next.run(req).await;
    if !ended.load(Ordering::Acquire) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that records whether it was read to its end.
struct ReadToEnd {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl HttpBody for ReadToEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // The end: no more frames, or a last frame after which the body knows it has ended (a `Content-Length`).
        if matches!(polled, Poll::Ready(None))
            || matches!(polled, Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream())
        {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
