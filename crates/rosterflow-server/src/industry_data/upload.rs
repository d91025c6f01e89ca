//! `azureDataLakeConnector: getUploadSession` (`graph-docs/api/industrydata-azuredatalakeconnector-getuploadsession.md`,
//! `resources/industrydata-fileuploadsession.md`): the connector's upload container and a session to write to
//! it. The container lives on past its session (Graph's example: 34 hours); calling again returns the same
//! container, with a new session once the old one has ended; `resetSession=true` (as a function parameter,
//! `getUploadSession(resetSession=true)`, or in the query) discards the files uploaded so far and starts an
//! empty container. The `sessionUrl` is served by `crate::storage`.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use rosterflow_model::{time, DomainError, ErrorKind};
use rosterflow_store::files::FileError;
use serde_json::json;

use super::read::Item;
use super::Ctx;
use crate::body::json_response;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

const LAKE: &str = "microsoft.graph.industryData.azureDataLakeConnector";

/// `resetSession` from the function's parameters or the query; a value other than true/false is a 400.
fn reset_session(ctx: &Ctx<'_>) -> ApiResult<bool> {
    let last = ctx.path.rsplit('/').next().unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    let params = decoded.split_once('(').map(|(_, p)| p.trim_end_matches(')').to_string()).unwrap_or_default();
    let query = ctx.query.split('&').map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    let mut reset = false;
    for pair in params.split(',').map(str::to_string).chain(query) {
        let Some((k, v)) = pair.split_once('=') else { continue };
        if !k.trim().eq_ignore_ascii_case("resetSession") {
            continue;
        }
        reset = match v.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(ApiError(DomainError::invalid(
                    "resetSession",
                    format_args!("'{}' is not a Boolean (true or false)", other.chars().take(40).collect::<String>()),
                )))
            }
        };
    }
    Ok(reset)
}

fn timestamp(micros: i64) -> String {
    time::format(DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default())
}

pub(super) async fn get_upload_session(app: &AppState, ctx: &Ctx<'_>, connector: &Item) -> ApiResult<Response> {
    // The function is bound to azureDataLakeConnector: on any other connector it names nothing.
    if !rosterflow_model::schema::schema().derives_from(&connector.ty.name, LAKE) {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "Resource not found for the segment 'getUploadSession': it is bound to azureDataLakeConnector.",
        ));
    }
    let reset = reset_session(ctx)?;
    let id = connector.doc.get("id").and_then(|v| v.as_str()).unwrap_or_default();
    let container = app.stores.files.session(ctx.tenant, id, reset).await.map_err(|e| match e {
        FileError::TooManyContainers(n) => ApiError::new(
            ErrorKind::Conflict,
            format!(
                "The tenant already has {n} open upload sessions, the most this server allows; reset or validate one."
            ),
        ),
        other => {
            tracing::error!(error = %other, "getUploadSession");
            ApiError::new(ErrorKind::Unavailable, "The store is unavailable; retry the request.")
        }
    })?;
    let body = json!({
        "@odata.context": format!("{}/$metadata#microsoft.graph.industryData.fileUploadSession", ctx.base()),
        "containerExpirationDateTime": timestamp(container.container_expires),
        "containerId": container.id,
        "sessionExpirationDateTime": timestamp(container.session_expires),
        "sessionUrl": app.storage.session_url(ctx.host, &container),
    });
    Ok(json_response(StatusCode::OK, &body))
}
