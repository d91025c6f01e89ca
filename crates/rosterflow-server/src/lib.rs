//! rosterflow's HTTP server: Microsoft Graph's beta industryData API (`/beta/external/industryData`) over axum.
//!
//! The request path, outermost first: the canonical spelling of path roots, request ids, the per-request span
//! and the error envelope ([`request`]); then one router per area ([`industry_data`], ...), whose handlers take
//! the authenticated [`auth::Caller`], check the permission table (`rosterflow_model::permissions`) and work
//! over the model's descriptors and the store.

pub mod auth;
pub mod config;
pub mod error;
pub mod industry_data;
mod keyfile;
pub mod request;
pub mod roster_cli;
pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::middleware;
use axum::routing::get;
use axum::Router;
use rosterflow_model::reference::Catalog;
use rosterflow_model::{ErrorKind, TenantId};
use rosterflow_store::Stores;

use crate::auth::Authenticator;
use crate::error::ApiError;
use crate::secrets::Sealer;

/// What every request shares.
pub struct AppState {
    pub stores: Stores,
    pub auth: Authenticator,
    pub max_body_bytes: usize,
    /// Seals the credentials in request bodies before they are stored.
    pub secrets: Sealer,
    /// Each tenant's reference codes (see `industry_data::write::catalog`).
    pub catalogs: moka::sync::Cache<TenantId, Arc<Catalog>>,
}

impl AppState {
    pub fn new(stores: Stores, auth: Authenticator, secrets: Sealer, max_body_bytes: usize) -> AppState {
        AppState {
            stores,
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

/// The whole HTTP application: one router per area, composed here. Each area owns its path roots (listed in
/// [`request::ROOTS`], spelled canonically before routing) and takes the caller as the [`auth::Caller`]
/// extractor; nothing else needs to know about it.
pub fn app(state: Arc<AppState>) -> Router {
    let areas = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(industry_data::router())
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::new(ErrorKind::NotFound, format!("Resource not found for the segment '{}'.", uri.path()))
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::new(ErrorKind::MethodNotAllowed, format!("'{method}' is not allowed here."))
        })
        .with_state(state);
    // An outer router whose layers run before the areas' routing (an axum router's own layers run after it).
    Router::new()
        .fallback_service(areas)
        .layer(middleware::from_fn(request::context))
        .layer(middleware::from_fn(request::canonical_path))
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
    let stores = rosterflow_store::open(&args.database_url()).await?;
    let min_refresh = std::time::Duration::from_secs(args.jwks_min_refresh_seconds);
    let auth = Authenticator::new(args.key_source(), &args.issuers, &args.audiences(), min_refresh).await?;
    let secrets = Sealer::from_key_file(&args.secrets_key_file())?;
    let state = Arc::new(AppState::new(stores, auth, secrets, args.max_body_bytes));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    Ok((listener, state, addr))
}
