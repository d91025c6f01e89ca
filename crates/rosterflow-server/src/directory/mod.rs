//! The directory and education areas: `/beta/users`, `/beta/groups`, `/beta/administrativeUnits`,
//! `/beta/education/{classes,schools,users}`, `/beta/teams` (Graph's pages under
//! `shared/reference/graph-docs-directory/api/`), and the anonymous `/beta/$metadata`.
//!
//! Paths resolve in [`route`] against one table of collections and navigation properties; each operation's
//! permission comes from `rosterflow_model::permissions::directory_rule`; handlers are generic over the
//! model's views ([`read`], [`write`]) and the store's [`DirectoryStore`](rosterflow_store::directory::DirectoryStore).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use rosterflow_model::permissions::{self, Access};
use rosterflow_model::{ErrorKind, TenantId};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use route::{Alias, Target};

mod read;
pub mod route;
mod write;

/// The area's roots, as [`crate::request::ROOTS`] spells them.
const ROOTS: &[&str] = &[
    "/beta/users",
    "/beta/groups",
    "/beta/administrativeUnits",
    "/beta/education",
    "/beta/teams",
    "/beta/directoryObjects",
];

/// The request, once authenticated and routed.
pub(crate) struct Ctx<'a> {
    pub app: &'a AppState,
    pub caller: &'a Caller,
    pub tenant: &'a TenantId,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
}

impl Ctx<'_> {
    /// `http://host/beta`, for context URLs and next links.
    fn base(&self) -> String {
        format!("http://{}/beta", self.host)
    }

    /// `ConsistencyLevel: eventual`, which Graph's advanced queries on directory objects need.
    fn eventual(&self) -> bool {
        self.headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
    }
}

/// The area's routes, and the anonymous `$metadata`.
pub fn router() -> Router<Arc<AppState>> {
    let mut r = Router::new().route("/beta/$metadata", get(metadata));
    for root in ROOTS {
        r = r.route(root, any(dispatch)).route(&format!("{root}/{{*rest}}"), any(dispatch));
    }
    r
}

/// `GET /beta/$metadata`: anonymous, as in Graph.
async fn metadata() -> Response {
    let mut r = rosterflow_model::directory::metadata::document().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

async fn dispatch(State(app): State<Arc<AppState>>, caller: Caller, req: Request) -> Response {
    match handle(&app, &caller, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, format!("The HTTP method '{method}' is not allowed on this resource."))
}

/// The permission-table name and access an operation needs, or 405.
fn access_for(method: &Method, target: &Target) -> ApiResult<(&'static str, Access)> {
    let read = *method == Method::GET;
    let write = |ok: bool, perm| if ok { Ok((perm, Access::Write)) } else { Err(method_not_allowed(method)) };
    match target {
        Target::Collection { coll } | Target::Count { coll } if read && !items_only(coll) => {
            Ok((coll.list_perm.unwrap_or(coll.perm), Access::Read))
        }
        Target::Collection { coll } if *method == Method::POST => write(coll.writable, coll.perm),
        Target::Item { coll, .. } if read => Ok((coll.perm, Access::Read)),
        Target::Item { coll, .. } if matches!(*method, Method::PATCH | Method::DELETE) => {
            write(coll.writable, coll.perm)
        }
        Target::Related { nav, .. } if read => Ok((nav.perm, Access::Read)),
        Target::Ref { nav, member: None, .. } if *method == Method::POST => write(nav.refs, nav.write_perm),
        Target::Ref { nav, member: Some(_), .. } if *method == Method::DELETE => write(nav.refs, nav.write_perm),
        Target::Alias { alias: Alias::ClassGroup, .. } if read => Ok(("education/classes/group", Access::Read)),
        Target::Alias { alias: Alias::GroupTeam, .. } if read => Ok(("teams", Access::Read)),
        _ => Err(method_not_allowed(method)),
    }
}

/// `/directoryObjects` has items, not a list (Graph serves none either).
fn items_only(coll: &route::Collection) -> bool {
    std::ptr::eq(coll.view, &rosterflow_model::directory::DIRECTORY_OBJECT)
}

/// 403 unless the caller holds what the permission table asks of its kind of token.
pub(crate) fn authorize(caller: &Caller, set: &str, access: Access) -> ApiResult<()> {
    let rule = permissions::directory_rule(set, access).expect("every directory operation has a rule");
    if rule.allows(caller.delegated, |ps| caller.holds_any(ps)) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Forbidden,
            format!("Insufficient privileges to complete the operation. {}", rule.describe(caller.delegated)),
        ))
    }
}

async fn handle(app: &AppState, caller: &Caller, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let target = route::resolve(&path["/beta".len()..])?;
    crate::request::record_route(|| target.template());
    let (set, access) = access_for(&parts.method, &target)?;
    authorize(caller, set, access)?;
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let ctx = Ctx {
        app,
        caller,
        tenant: &caller.tenant,
        host,
        path,
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
    };
    let method = parts.method.clone();
    match (method, target) {
        (Method::GET, Target::Collection { coll }) => read::list(&ctx, coll).await,
        (Method::GET, Target::Count { coll }) => read::count(&ctx, coll).await,
        (Method::GET, Target::Item { coll, key }) => read::get(&ctx, coll, &key).await,
        (Method::GET, Target::Related { coll, id, nav, cast, count }) => {
            read::related(&ctx, coll, &id, nav, cast, count).await
        }
        (Method::GET, Target::Alias { coll, id, alias }) => read::alias(&ctx, coll, &id, alias).await,
        (Method::POST, Target::Collection { coll }) => {
            let body = crate::body::read_json(app, &parts, body).await?;
            write::create(&ctx, coll, &body).await
        }
        (Method::PATCH, Target::Item { coll, key }) => {
            let body = crate::body::read_json(app, &parts, body).await?;
            write::update(&ctx, coll, &key, &body).await
        }
        (Method::DELETE, Target::Item { coll, key }) => write::delete(&ctx, coll, &key).await,
        (Method::POST, Target::Ref { coll, id, nav, member: None }) => {
            let body = crate::body::read_json(app, &parts, body).await?;
            write::add_ref(&ctx, coll, &id, nav, &body).await
        }
        (Method::DELETE, Target::Ref { coll, id, nav, member: Some(member) }) => {
            write::remove_ref(&ctx, coll, &id, nav, &member).await
        }
        (method, _) => Err(method_not_allowed(&method)),
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
