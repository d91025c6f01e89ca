//! The industryData area (`/beta/external/industryData/...`): one generic handler per operation over the
//! entity-set descriptors of `rosterflow_model::sets`: list, `$count`, get, create, update, delete, navigation
//! aliases and bound operations. Business rules live in the model; storage rules in the store. What is here is
//! HTTP: status codes, bodies, context URLs and paging. Paths below the root resolve in [`route`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use rosterflow_model::permissions::{self, Access};
use rosterflow_model::{ErrorKind, TenantId};
use serde_json::Value;

use crate::auth::Caller;
use crate::body::read_json;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use route::Target;

mod read;
mod rendered;
pub mod route;
mod runs;
mod upload;
mod validate;
mod write;

/// The area's root, as [`crate::request::ROOTS`] spells it.
const ROOT: &str = "/beta/external/industryData";

use read::{count, get, list, load};
pub(crate) use write::constraints;
use write::{create, delete, operation, update};

/// The request, once authenticated and routed.
struct Ctx<'a> {
    tenant: &'a TenantId,
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

impl Ctx<'_> {
    /// `http://host/beta`, for context URLs and next links.
    fn base(&self) -> String {
        format!("http://{}/beta", self.host)
    }
}

/// The area's routes: everything below the root goes through [`route::resolve`].
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(ROOT, any(dispatch)).route(&format!("{ROOT}/{{*rest}}"), any(dispatch))
}

async fn dispatch(State(app): State<Arc<AppState>>, caller: Caller, req: Request) -> Response {
    match handle(&app, &caller, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(app: &Arc<AppState>, principal: &Caller, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let target = route::resolve(&path["/beta".len()..])?;
    crate::request::record_route(|| target.template());
    let access = access_for(&parts.method, &target)?;
    let set = target.set();
    principal.require_any(permissions::granting(set.name, access))?;
    if matches!(set.name, "runs" | "activities") {
        // A run whose process died reads as failed, never as running forever.
        crate::runs::settle(app, &principal.tenant).await?;
    }
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let ctx = Ctx { tenant: &principal.tenant, host, path, query: parts.uri.query().unwrap_or_default() };
    let method = parts.method.clone();
    match (method, target) {
        (Method::GET, Target::Collection { set, parent, cast }) => list(app, &ctx, set, parent, cast).await,
        (Method::GET, Target::Count { set, parent, cast }) => count(app, &ctx, set, parent, cast).await,
        (Method::POST, Target::Collection { set, parent, cast: None }) => {
            let body = read_json(app, &parts, body).await?;
            create(app, &ctx, set, parent, body).await
        }
        (Method::GET, Target::Item { set, parent, id, cast }) => {
            get(app, &ctx, set, parent.as_deref(), &id, cast).await
        }
        (_, Target::Item { cast: Some(_), .. }) => Err(method_not_allowed(&parts.method)),
        (Method::PATCH, Target::Item { set, parent, id, .. }) => {
            let body = read_json(app, &parts, body).await?;
            update(app, &ctx, set, parent.as_deref(), &id, body).await
        }
        (Method::DELETE, Target::Item { set, parent, id, .. }) => delete(app, &ctx, set, parent.as_deref(), &id).await,
        (method, Target::Navigation { set, id, nav, target, operation: op }) => {
            let flow = load(app, ctx.tenant, set, None, &id).await?;
            let bound = flow.doc.get(&format!("{nav}@odata.bind")).and_then(Value::as_str).unwrap_or_default();
            if let Some((name, _)) = op {
                operation(app, &ctx, target, None, Some(bound.to_string()), None, name).await
            } else if method == Method::PATCH {
                let body = read_json(app, &parts, body).await?;
                update(app, &ctx, target, None, bound, body).await
            } else {
                get(app, &ctx, target, None, bound, None).await
            }
        }
        (_, Target::Operation { set, parent, id, cast, name, .. }) => {
            operation(app, &ctx, set, parent, id, cast, name).await
        }
        (method, _) => Err(method_not_allowed(&method)),
    }
}

fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, format!("The HTTP method '{method}' is not allowed on this resource."))
}

/// The access an operation needs, or 405 when the resource has no such operation.
fn access_for(method: &Method, target: &Target) -> ApiResult<Access> {
    let set = target.set();
    let writable = set.writable();
    let ok = |cond: bool, access| if cond { Ok(access) } else { Err(method_not_allowed(method)) };
    match (target, method) {
        (
            Target::Operation { name, function, .. } | Target::Navigation { operation: Some((name, function)), .. },
            m,
        ) => {
            let expected = if *function { Method::GET } else { Method::POST };
            ok(*m == expected, permissions::operation_access(name))
        }
        (_, &Method::GET) => Ok(Access::Read),
        (Target::Collection { cast: None, .. }, &Method::POST) => ok(writable, Access::Write),
        (Target::Item { .. } | Target::Navigation { .. }, &Method::PATCH) => ok(writable, Access::Write),
        (Target::Item { .. }, &Method::DELETE) => ok(writable, Access::Write),
        _ => Err(method_not_allowed(method)),
    }
}

fn no_content(status: StatusCode) -> Response {
    status.into_response()
}
