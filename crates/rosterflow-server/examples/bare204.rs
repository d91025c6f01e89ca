//! The benchmark baseline (see `bench/run.sh`, `docs/benchmarks.md`): a bare axum server on the same axum, hyper
//! and tokio runtime as rosterflow that answers any PATCH with 204 and any GET with a small JSON document, and
//! does nothing else: no authentication, no validation, no storage, no middleware.
//!
//! `cargo run --release --example bare204 -- 127.0.0.1:PORT` (port 0 picks a free one; the bound address is
//! printed as `listening on http://ADDR`, as `rosterflow serve` does).

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

const SMALL_JSON: &str =
    r#"{"@odata.context":"http://localhost/beta/$metadata#bare/$entity","id":"bare","displayName":"bare204"}"#;

async fn answer(method: Method) -> Response {
    match method {
        Method::PATCH => StatusCode::NO_CONTENT.into_response(),
        Method::GET => ([(header::CONTENT_TYPE, "application/json")], SMALL_JSON).into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, Router::new().fallback(answer)).await
}
