//! rosterflow's HTTP server: Microsoft Graph's beta industryData API (`/beta/external/industryData`) over axum.
//!
//! The request path, outermost first: connections within their cap and header timeout ([`connections`]); the
//! canonical spelling of path roots, request ids, a 500 for a panic, the error envelope and the request's log
//! line ([`request`], [`logging`]); the head's size, the body's idle timeout and the request's time limit
//! ([`limits`]); then one router per area ([`industry_data`], ...), whose handlers take the authenticated
//! [`auth::Caller`] (which also applies the [`throttle`]), check the permission table
//! (`rosterflow_model::permissions`) and work over the model's descriptors and the store.

pub mod auth;
pub mod batch;
pub mod body;
pub mod config;
pub mod connections;
pub mod directory;
pub mod error;
pub mod industry_data;
mod keyfile;
pub mod limits;
pub mod logging;
pub mod request;
pub mod roster_cli;
pub mod run_cli;
pub mod runs;
pub mod secrets;
pub mod storage;
pub mod throttle;

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
    /// Bounds on connections and requests (`serve` and [`limits::guard`]).
    pub limits: Arc<limits::Limits>,
    /// Requests per tenant and application (the `Caller` extractor applies it).
    pub throttle: throttle::Throttle,
    /// Upload sessions' signing key and public URL.
    pub storage: storage::Storage,
    /// Runs' limits and timing, and this process as a lease holder.
    pub runs: runs::Runs,
    /// What flows' readiness reads of each tenant's inbound flows, kept under the tenant's inbound stamp.
    pub readiness: runs::readiness::Memory,
}

impl AppState {
    pub fn new(
        stores: Stores,
        auth: Authenticator,
        secrets: Sealer,
        max_body_bytes: usize,
        storage: storage::Storage,
    ) -> AppState {
        AppState {
            stores,
            auth,
            max_body_bytes,
            secrets,
            storage,
            catalogs: moka::sync::Cache::builder()
                .max_capacity(10_000)
                // Bounds how long a change made through another replica takes to be seen here.
                .time_to_live(std::time::Duration::from_secs(30))
                .build(),
            limits: Arc::default(),
            throttle: throttle::Throttle::off(),
            runs: runs::Runs::new(runs::RunArgs::default()),
            readiness: runs::readiness::Memory::default(),
        }
    }

    /// These runs' limits and timing.
    pub fn with_runs(mut self, args: runs::RunArgs) -> AppState {
        self.runs = runs::Runs::new(args);
        self
    }

    /// These limits, and the throttle they configure.
    pub fn with_limits(mut self, limits: limits::Limits) -> AppState {
        let window = std::time::Duration::from_secs(limits.throttle_window_seconds);
        self.throttle = throttle::Throttle::new(limits.throttle_limit, window);
        self.limits = Arc::new(limits);
        self
    }
}

/// The whole HTTP application: one router per area, composed here. Each area owns its path roots (listed in
/// [`request::ROOTS`], spelled canonically before routing) and takes the caller as the [`auth::Caller`]
/// extractor; nothing else needs to know about it.
pub fn app(state: Arc<AppState>) -> Router {
    // What the requests of a `$batch` go through: every other area, under the same layers (a batch holds no batch).
    let subrequests = layered(areas(Router::new(), state.clone()), &state);
    layered(areas(batch::router(&state, subrequests), state.clone()), &state)
        .layer(middleware::from_fn(connections::close_if_body_unread))
}

/// `router` with every area but `$batch` merged in, and the answers to paths and methods that none serves.
fn areas(router: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    let areas = router
        .route("/healthz", get(|| async { "ok" }))
        .merge(industry_data::router())
        .merge(directory::router())
        .merge(storage::router())
        .merge(runs::preview::router())
        .fallback(|uri: axum::http::Uri| async move {
            ApiError::new(ErrorKind::NotFound, format!("Resource not found for the segment '{}'.", uri.path()))
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::new(ErrorKind::MethodNotAllowed, format!("'{method}' is not allowed here."))
        })
        .with_state(state);
    // A handler that panics, in unit-test builds of this crate only (never in the binary): `tests::a_panic_*`.
    #[cfg(test)]
    let areas = areas.route("/rosterflow/test/panic", get(tests::panics));
    areas
}

/// The layers every request goes through, in an outer router whose layers run before the areas' routing (an
/// axum router's own layers run after it).
fn layered(areas: Router, state: &AppState) -> Router {
    Router::new()
        .fallback_service(areas)
        .layer(middleware::from_fn_with_state(state.limits.clone(), limits::guard))
        .layer(middleware::from_fn(request::context))
        .layer(middleware::from_fn(request::canonical_path))
        .layer(middleware::from_fn(storage::encoded_prefix))
}

/// Serve until `shutdown` resolves, then let the requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(storage::sweep(state.clone()));
    let scheduler = tokio::spawn(runs::schedule::run(state.clone()));
    let limits = state.limits.clone();
    let served = connections::serve(listener, app(state), &limits, shutdown).await;
    sweeper.abort();
    scheduler.abort();
    served
}

/// Open the store and key source that `args` name, bind the listener, and return the bound address.
pub async fn start(args: &config::ServeArgs) -> anyhow::Result<(tokio::net::TcpListener, Arc<AppState>, SocketAddr)> {
    let stores = rosterflow_store::open_with(&args.database_url(), args.files()).await?;
    let min_refresh = std::time::Duration::from_secs(args.jwks_min_refresh_seconds);
    let auth = Authenticator::new(args.key_source(), &args.issuers, &args.audiences(), min_refresh).await?;
    let secrets = Sealer::from_key_file(&args.secrets_key_file())?;
    let storage = storage::Storage {
        key: stores.files.signing_key(&secrets).await?,
        public_url: args.uploads.public_url.clone(),
        sweep_every: std::time::Duration::from_secs(args.uploads.upload_sweep_seconds.max(1)),
    };
    let state = Arc::new(
        AppState::new(stores, auth, secrets, args.max_body_bytes, storage)
            .with_limits(args.limits.clone())
            .with_runs(args.runs.clone()),
    );
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    Ok((listener, state, addr))
}

#[cfg(test)]
mod tests;
