//! rosterflow's HTTP server: Microsoft Graph's beta industryData API (`/beta/external/industryData`) over axum.
//!
//! The request path, outermost first: request ids and the per-request span ([`app`]), bearer authentication
//! ([`auth`]), path resolution ([`route`]), the permission table (`rosterflow_model::permissions`), then one
//! generic handler per operation ([`handlers`]) over the model's entity-set descriptors and the store.

pub mod auth;
pub mod config;
pub mod error;
pub mod handlers;
mod keyfile;
pub mod route;
pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rosterflow_model::reference::Catalog;
use rosterflow_model::TenantId;
use rosterflow_store::Store;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::error::{envelope, ApiError};
use crate::secrets::Sealer;

/// What every request shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub max_body_bytes: usize,
    /// Seals the credentials in request bodies before they are stored.
    pub secrets: Sealer,
    /// Each tenant's reference codes (see `handlers::catalog`).
    pub catalogs: moka::sync::Cache<TenantId, Arc<Catalog>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, auth: Authenticator, secrets: Sealer, max_body_bytes: usize) -> AppState {
        AppState {
            store,
            auth,
            max_body_bytes,
            secrets,
            catalogs: moka::sync::Cache::builder()
                .max_capacity(10_000)
                // Bounds how long a change made through another replica takes to be seen here.
                .time_to_live(std::time::Duration::from_secs(30))
                .build(),
        }
    }
}

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback(handlers::dispatch)
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::new(rosterflow_model::ErrorKind::MethodNotAllowed, format!("'{method}' is not allowed here."))
        })
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

/// Gives each request its `request-id` (echoing `client-request-id`) and span, and writes Graph's error
/// envelope for every error response, whichever layer produced it.
async fn request_context(req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(100).collect::<String>());
    // The path only: query strings may carry filter values taken from roster data; tokens and bodies never logged.
    let span =
        // Debug level: formatting the fields of an enabled span for every request costs more than a cached read.
        tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        let body = envelope(&error, &request_id, client_request_id.as_deref());
        *response.body_mut() = Body::from(body);
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

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

/// Open the store and key source that `args` name, bind the listener, and return the bound address.
pub async fn start(args: &config::ServeArgs) -> anyhow::Result<(tokio::net::TcpListener, Arc<AppState>, SocketAddr)> {
    let store = rosterflow_store::open(&args.database_url()).await?;
    let min_refresh = std::time::Duration::from_secs(args.jwks_min_refresh_seconds);
    let auth = Authenticator::new(args.key_source(), &args.issuers, &args.audiences(), min_refresh).await?;
    let secrets = Sealer::from_key_file(&args.secrets_key_file())?;
    let state = Arc::new(AppState::new(store, auth, secrets, args.max_body_bytes));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    Ok((listener, state, addr))
}
