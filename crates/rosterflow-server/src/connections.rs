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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
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
