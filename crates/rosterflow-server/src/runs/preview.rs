//! `GET /rosterflow/runs/preview`: what the next run would create, update and remove per provisioning flow,
//! with counts and samples, without writing anything (the engine's `preview`). Not part of Graph (SDS gives
//! admins no such view), so it lives under rosterflow's own prefix. It reads what a run reads and shows
//! samples of roster data, so it needs a permission that may see runs: `IndustryData-Run.Read.All` (or
//! `IndustryData-Run.Start`, which includes reading runs), as `GET /runs` does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use rosterflow_engine::run::{self as engine, RunContext, RunError};
use rosterflow_model::permissions::{self, Access};
use rosterflow_model::ErrorKind;

use crate::auth::Caller;
use crate::body::json_response;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub const PATH: &str = "/rosterflow/runs/preview";

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(PATH, get(preview))
}

async fn preview(State(app): State<Arc<AppState>>, caller: Caller) -> ApiResult<Response> {
    crate::request::record_route(|| PATH.to_string());
    caller.require_any(permissions::granting("runs", Access::Read))?;
    let ctx = RunContext { stores: &app.stores, sealer: &app.secrets, tenant: &caller.tenant, now: Utc::now() };
    let preview = engine::preview(&ctx).await.map_err(run_error)?;
    let body = serde_json::to_value(&preview).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
    Ok(json_response(StatusCode::OK, &body))
}

/// An engine error as an answer: a storage fault is a 503 (the SDKs retry), an unavailable engine a 501.
pub(crate) fn run_error(e: RunError) -> ApiError {
    match e {
        RunError::Store(e) => e.into(),
        RunError::Unavailable(m) => ApiError::new(ErrorKind::NotImplemented, m),
    }
}
