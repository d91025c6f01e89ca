//! The runs' operations as HTTP: `runs/start` (202 + `Location`, 409 while a run holds the tenant, 429 past
//! the on-demand limit), `getStatistics`, and a provisioning flow's `reset`. What they do is in
//! [`crate::runs`].

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::{DomainError, ErrorKind};
use serde_json::Value;

use super::read::{with_context, Item};
use super::{no_content, Ctx};
use crate::body::json_response;
use crate::error::{ApiError, ApiResult};
use crate::runs::{self, Started, Trigger};
use crate::throttle::Throttled;
use crate::AppState;

fn busy(lease_run: &str) -> ApiError {
    let what = if lease_run.starts_with("reset-") { "A reset".to_string() } else { format!("The run '{lease_run}'") };
    ApiError::new(
        ErrorKind::Conflict,
        format!("{what} is in progress for this tenant; one run at a time. Retry after it ends."),
    )
}

pub(super) async fn start(app: &Arc<AppState>, ctx: &Ctx<'_>) -> ApiResult<Response> {
    match runs::start(app, ctx.tenant, Trigger::OnDemand).await? {
        Started::Run(id) => {
            let location = format!("{}/external/industryData/runs/{id}", ctx.base());
            let mut r = no_content(StatusCode::ACCEPTED);
            let value =
                HeaderValue::from_str(&location).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
            r.headers_mut().insert(header::LOCATION, value);
            Ok(r)
        }
        Started::Busy(lease) => Err(busy(&lease.run_id)),
        Started::Limited { retry_after_seconds } => Ok(Throttled { retry_after_seconds }.into_response()),
    }
}

pub(super) async fn statistics(app: &AppState, ctx: &Ctx<'_>, run: Option<&Item>) -> ApiResult<Response> {
    let id = run.and_then(|r| r.doc.get("id")).and_then(Value::as_str);
    let body = runs::statistics(app, ctx.tenant, id)
        .await?
        .ok_or_else(|| ApiError(DomainError::not_found("A run of this tenant")))?;
    let context = format!("{}/$metadata#microsoft.graph.industryData.industryDataRunStatistics", ctx.base());
    Ok(json_response(StatusCode::OK, &with_context(context, body)))
}

/// `reset`: the next run reprovisions the flow as if it were its first, and its errors are cleared.
pub(super) async fn reset(app: &AppState, ctx: &Ctx<'_>, flow: &Item) -> ApiResult<Response> {
    let id = flow.doc.get("id").and_then(Value::as_str).unwrap_or_default();
    match runs::reset(app, ctx.tenant, id).await.map_err(runs::preview::run_error)? {
        None => Ok(no_content(StatusCode::ACCEPTED)),
        Some(lease) => Err(busy(&lease.run_id)),
    }
}
