//! One generic handler per operation over the entity-set descriptors of `rosterflow_model::sets`: list,
//! `$count`, get, create, update, delete, navigation aliases and bound operations. Business rules live in the
//! model; storage rules in the store. What is here is HTTP: status codes, bodies, context URLs and paging.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::document::{self, Binding, Mode};
use rosterflow_model::permissions::{self, Access};
use rosterflow_model::reference::{self, Catalog};
use rosterflow_model::schema::{schema, ElemType, TypeDef};
use rosterflow_model::sets::{EntitySet, KeyRule, Source};
use rosterflow_model::{render, rules, time, DomainError, ErrorKind, TenantId};
use rosterflow_odata::{select_properties, QueryOptions};
use rosterflow_store::{Constraints, Expect, Ref, Resource, StoreError, Write};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::route::{self, Target};
use crate::AppState;

/// Items per page when the client gives no `$top`; and the most a page may hold.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;
/// How often an update is recomputed when another write to the same item lands first.
const UPDATE_ATTEMPTS: usize = 5;
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

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

pub async fn dispatch(State(app): State<Arc<AppState>>, req: Request) -> Response {
    match handle(&app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(app: &AppState, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let rest =
        path.get(..5).filter(|p| p.eq_ignore_ascii_case("/beta")).map(|_| &path[5..]).ok_or_else(|| {
            ApiError::new(ErrorKind::NotFound, format!("Resource not found for the segment '{path}'."))
        })?;
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal =
        app.auth.authenticate(authorization).await.map_err(|e| ApiError::new(ErrorKind::Unauthenticated, e.0))?;
    let target = route::resolve(rest)?;
    let access = access_for(&parts.method, &target)?;
    let set = target.set();
    let granting = permissions::granting(set.name, access);
    if !principal.holds_any(granting) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            format!("Insufficient privileges to complete the operation. Requires one of: {}.", granting.join(", ")),
        ));
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

/// The body of a request that must carry a JSON object: its media type, size and presence checked; its content
/// is checked against the schema as it is parsed (`document::check_entity`).
async fn read_json(app: &AppState, parts: &axum::http::request::Parts, body: Body) -> ApiResult<Bytes> {
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("The content type '{content_type}' is not supported; send application/json."),
        ));
    }
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body exceeds the limit of {} bytes.", app.max_body_bytes),
        )
    };
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, app.max_body_bytes).await.map_err(|_| too_large())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorKind::BadRequest, "The request body is empty; a JSON object is required."));
    }
    Ok(bytes)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

fn no_content(status: StatusCode) -> Response {
    status.into_response()
}

// ---- reading ---------------------------------------------------------------------------------------------

/// One item as this tenant sees it.
struct Item {
    ty: &'static TypeDef,
    doc: Arc<Map<String, Value>>,
    /// The stored row, when there is one (built-ins have none until a tenant changes them).
    stored: Option<Resource>,
}

fn item_from(r: Resource) -> ApiResult<Item> {
    let ty = schema()
        .ty(&r.odata_type)
        .ok_or_else(|| ApiError::new(ErrorKind::Internal, format!("stored type '{}' is unknown", r.odata_type)))?;
    Ok(Item { ty, doc: r.doc.clone(), stored: Some(r) })
}

fn builtin_items(set: &EntitySet) -> Vec<Item> {
    let ty = schema().ty(&set.item_type_name()).expect("set types exist");
    match set.name {
        "roleGroups" => {
            reference::role_groups().iter().map(|g| Item { ty, doc: Arc::new(g.clone()), stored: None }).collect()
        }
        "referenceDefinitions" => reference::builtin_definitions()
            .iter()
            .map(|d| Item { ty, doc: Arc::new(d.to_document()), stored: None })
            .collect(),
        _ => Vec::new(),
    }
}

fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Every item of a set (under `parent`), built-ins first where the set has them.
async fn load_all(app: &AppState, tenant: &TenantId, set: &EntitySet, parent: Option<&str>) -> ApiResult<Vec<Item>> {
    ensure_parent(app, tenant, set, parent).await?;
    let stored = match set.source {
        Source::Builtin => Vec::new(),
        _ => app.store.list(tenant, set.name, parent).await?,
    };
    let mut items = builtin_items(set);
    for r in stored {
        let item = item_from(r)?;
        let id = item.doc.get("id").and_then(Value::as_str).unwrap_or_default();
        match items.iter_mut().find(|i| i.doc.get("id").and_then(Value::as_str).is_some_and(|b| same_id(b, id))) {
            Some(builtin) => *builtin = item, // the tenant's changed copy of a built-in
            None => items.push(item),
        }
    }
    Ok(items)
}

/// 404 unless the containing item of a contained set's collection exists in this tenant.
async fn ensure_parent(app: &AppState, tenant: &TenantId, set: &EntitySet, parent: Option<&str>) -> ApiResult<()> {
    if let (Some(parent_set), Some(parent_id)) = (set.parent.and_then(rosterflow_model::sets::by_name), parent) {
        load(app, tenant, parent_set, None, parent_id).await?;
    }
    Ok(())
}

/// One item, or 404.
async fn load(app: &AppState, tenant: &TenantId, set: &EntitySet, parent: Option<&str>, id: &str) -> ApiResult<Item> {
    let missing = || ApiError(DomainError::not_found(format_args!("The {} item '{id}'", set.name)));
    if set.source != Source::Builtin {
        if let Some(r) = app.store.get(tenant, set.name, id).await? {
            let parent_ok = match (parent, r.parent.as_deref()) {
                (Some(want), Some(have)) => same_id(want, have),
                (None, _) => set.parent.is_none(),
                (Some(_), None) => false,
            };
            return if parent_ok { item_from(r) } else { Err(missing()) };
        }
    }
    builtin_items(set)
        .into_iter()
        .find(|i| i.doc.get("id").and_then(Value::as_str).is_some_and(|b| same_id(b, id)))
        .ok_or_else(missing)
}

/// One item, or 404 when it is missing or not of the type a cast segment named.
async fn load_as(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
    cast: Option<&TypeDef>,
) -> ApiResult<Item> {
    let item = load(app, tenant, set, parent, id).await?;
    match cast {
        Some(c) if !schema().derives_from(&item.ty.name, &c.name) => Err(ApiError(DomainError::not_found(
            format_args!("The {} item '{id}' of type '{}'", set.name, c.odata_type()),
        ))),
        _ => Ok(item),
    }
}

fn wire(set: &EntitySet, item: &Item) -> Value {
    Value::Object(render::entity(item.ty, &item.doc, set.typed_items))
}

/// `external/industryData/{set}` or `.../{parentSet}('{parent}')/{set}`, for `@odata.context`.
fn collection_path(set: &EntitySet, parent: Option<&str>) -> String {
    match (set.parent, parent) {
        (Some(parent_set), Some(p)) => format!("external/industryData/{parent_set}('{p}')/{}", set.name),
        _ => format!("external/industryData/{}", set.name),
    }
}

fn with_context(context: String, body: Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context));
    if let Value::Object(m) = body {
        out.extend(m);
    }
    Value::Object(out)
}

/// Query options, with every property they name checked against the set's types.
fn query_options(ctx: &Ctx<'_>, set: &EntitySet, collection: bool) -> ApiResult<QueryOptions> {
    let q = QueryOptions::parse(ctx.query)?;
    if !collection && (q.filter.is_some() || !q.orderby.is_empty() || q.top.is_some() || q.skip.is_some() || q.count) {
        return Err(ApiError::new(ErrorKind::BadRequest, "Only $select applies to a single entity."));
    }
    let referenced = q.referenced_properties();
    if referenced.is_empty() {
        return Ok(q);
    }
    let types = schema().concrete_types_of(&set.item_type_name());
    for path in referenced {
        let first = path.split('/').next().unwrap_or_default();
        let known = first.starts_with('@') || types.iter().any(|t| t.prop(first).is_some_and(|p| !p.write_only));
        if !known {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("Could not find a property named '{first}' on type '{}'.", set.item_type_name()),
            ));
        }
    }
    Ok(q)
}

/// The filtered, sorted wire items of a collection.
async fn query(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<&str>,
    cast: Option<&TypeDef>,
    q: &QueryOptions,
) -> ApiResult<Vec<Value>> {
    let items = load_all(app, ctx.tenant, set, parent).await?;
    let s = schema();
    let docs = items
        .iter()
        .filter(|i| cast.is_none_or(|c| s.derives_from(&i.ty.name, &c.name)))
        .map(|i| wire(set, i))
        .collect();
    Ok(q.apply(docs))
}

async fn list(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let q = query_options(ctx, set, true)?;
    let all = query(app, ctx, set, parent.as_deref(), cast, &q).await?;
    let offset = q.skip.unwrap_or(0)
        + match q.skiptoken.as_deref() {
            Some(t) => {
                t.parse::<usize>().map_err(|_| ApiError::new(ErrorKind::BadRequest, "The $skiptoken is not valid."))?
            }
            None => 0,
        };
    // As in Graph's directory APIs, $top sets the page size; the rest is reachable through @odata.nextLink.
    let page = q.top.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let total = all.len();
    let mut value: Vec<Value> = all.into_iter().skip(offset).take(page).collect();
    if let Some(select) = &q.select {
        for v in &mut value {
            if let Value::Object(m) = v {
                select_properties(m, select);
            }
        }
    }
    let mut context = format!("{}/$metadata#{}", ctx.base(), collection_path(set, parent.as_deref()));
    if let Some(c) = cast {
        context.push('/');
        context.push_str(&c.name);
    }
    let mut body = Map::new();
    body.insert("@odata.context".into(), Value::String(context));
    if q.count {
        body.insert("@odata.count".into(), total.into());
    }
    if offset + page < total {
        body.insert("@odata.nextLink".into(), Value::String(next_link(ctx, offset + page)));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

/// The same request, continuing at `offset`.
fn next_link(ctx: &Ctx<'_>, offset: usize) -> String {
    let kept: Vec<&str> = ctx
        .query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default().to_ascii_lowercase().replace("%24", "$");
            !p.is_empty() && name != "$skiptoken" && name != "$skip"
        })
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    format!("http://{}{}?{query}$skiptoken={offset}", ctx.host, ctx.path)
}

async fn count(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let q = query_options(ctx, set, true)?;
    let n = query(app, ctx, set, parent.as_deref(), cast, &q).await?.len();
    let mut r = n.to_string().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

async fn get(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let q = query_options(ctx, set, false)?;
    let item = load_as(app, ctx.tenant, set, parent, id, cast).await?;
    let mut value = wire(set, &item);
    if let (Some(select), Value::Object(m)) = (&q.select, &mut value) {
        select_properties(m, select);
    }
    let context = format!("{}/$metadata#{}/$entity", ctx.base(), collection_path(set, parent));
    Ok(json_response(StatusCode::OK, &with_context(context, value)))
}

// ---- writing ---------------------------------------------------------------------------------------------

/// The tenant's reference codes, cached per tenant; any write to referenceDefinitions through this process
/// drops the tenant's entry (see docs/architecture.md on replicas).
async fn catalog(app: &AppState, tenant: &TenantId) -> ApiResult<Arc<Catalog>> {
    if let Some(c) = app.catalogs.get(tenant) {
        return Ok(c);
    }
    let stored = app.store.list(tenant, "referenceDefinitions", None).await?;
    let c = Arc::new(Catalog::new(stored.iter().map(|r| &*r.doc)));
    app.catalogs.insert(tenant.clone(), c.clone());
    Ok(c)
}

/// Binds to built-ins (role groups) are checked here; binds to stored items become refs the store checks in
/// the write itself.
fn check_builtin_binds(bindings: &[Binding]) -> ApiResult<()> {
    match bindings.iter().find(|b| b.set.source == Source::Builtin && reference::role_group(&b.id).is_none()) {
        Some(b) => Err(missing_bind(&b.path, b.set.name, &b.id)),
        None => Ok(()),
    }
}

/// The unique keys and references a document must keep: top-level binds live in the document and hold for as
/// long as it does.
fn constraints(set: &EntitySet, ty: &TypeDef, doc: &Map<String, Value>) -> Constraints {
    let refs = doc
        .iter()
        .filter_map(|(k, v)| {
            let nav = k.strip_suffix("@odata.bind")?;
            let target = match &ty.prop(nav)?.elem {
                ElemType::Structured(t) => t,
                _ => return None,
            };
            let (set, id) = (rosterflow_model::sets::for_type(target)?, v.as_str()?);
            (set.source == Source::Stored).then(|| Ref { set: set.name.into(), id: id.into(), path: nav.into() })
        })
        .collect();
    Constraints { unique: rules::unique_keys(set, ty, doc), refs }
}

fn missing_bind(path: &str, set: &str, id: &str) -> ApiError {
    ApiError(DomainError::invalid(path, format_args!("no {set} item with id '{id}' exists")))
}

/// Translate the store's rule violations into messages naming what was violated.
fn write_error(set: &EntitySet, e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate(key) => ApiError::new(ErrorKind::Conflict, rules::duplicate_message(set, &key)),
        StoreError::Exists => {
            ApiError::new(ErrorKind::Conflict, format!("An item with this id already exists in {}.", set.name))
        }
        StoreError::MissingRef { path, set, id } => missing_bind(&path, &set, &id),
        StoreError::InUse { set, id, by_set, by_id } => ApiError::new(
            ErrorKind::Conflict,
            format!("The {set} item '{id}' can't be deleted: {by_set} item '{by_id}' refers to it."),
        ),
        other => other.into(),
    }
}

async fn create(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    body: Bytes,
) -> ApiResult<Response> {
    // The body before the parent: an OData service deserialises the body before its handler looks anything up.
    let catalog = catalog(app, ctx.tenant).await?;
    let mut checked = document::check_entity(set, &body, Mode::Create, &catalog)?;
    ensure_parent(app, ctx.tenant, set, parent.as_deref()).await?;
    app.secrets.seal_document(ctx.tenant, checked.ty, &mut checked.props);
    let id = match set.key {
        KeyRule::Guid => uuid::Uuid::new_v4().to_string(),
        KeyRule::ReferenceDefinition => reference_definition_id(&mut checked.props)?,
    };
    if set.key == KeyRule::ReferenceDefinition {
        check_reference_definition(app, ctx.tenant, None, &checked.props).await?;
    }
    let mut doc = Map::new();
    doc.insert("id".into(), Value::String(id.clone()));
    doc.extend(checked.props);
    rules::initialize(set, checked.ty, &mut doc, &time::now());
    rules::complete(&mut doc);
    check_builtin_binds(&checked.bindings)?;
    let Constraints { unique, refs } = constraints(set, checked.ty, &doc);
    let doc = Arc::new(doc);
    let write = Write {
        resource: Resource {
            set: set.name.into(),
            id: id.clone(),
            parent: parent.clone(),
            odata_type: checked.ty.name.clone(),
            doc: doc.clone(),
            version: 0,
        },
        expect: Expect::Absent,
        unique,
        refs,
    };
    app.store.put(ctx.tenant, write).await.map_err(|e| write_error(set, e))?;
    if set.name == "referenceDefinitions" {
        app.catalogs.invalidate(ctx.tenant);
    }
    let item = Item { ty: checked.ty, doc, stored: None };
    let context = format!("{}/$metadata#{}/$entity", ctx.base(), collection_path(set, parent.as_deref()));
    Ok(json_response(StatusCode::CREATED, &with_context(context, wire(set, &item))))
}

/// `{referenceType}-{code}` for a new reference definition, which must be of an extensible type; its
/// `referenceType` is stored canonically.
fn reference_definition_id(props: &mut Map<String, Value>) -> ApiResult<String> {
    let field = |k: &str| props.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (ty, code) = (field("referenceType"), field("code"));
    let canonical = reference::canonical_reference_type(&ty).ok_or_else(|| {
        ApiError(DomainError::invalid("referenceType", format_args!("'{ty}' is not a reference type")))
    })?;
    if !reference::is_extensible(canonical) {
        return Err(ApiError(DomainError::invalid(
            "referenceType",
            format_args!("'{canonical}' is not one of the reference types tenants may extend"),
        )));
    }
    if code.is_empty() || code.contains(['/', '\'', '?', '#']) {
        return Err(ApiError(DomainError::invalid("code", "must be a non-empty code without '/', '?', '#' or quotes")));
    }
    props.insert("referenceType".into(), canonical.into());
    Ok(reference::definition_id(canonical, &code))
}

/// Codes and sort indexes are unique within a reference type, among built-ins and the tenant's own
/// definitions alike (as the tenant sees them: a built-in it re-sorted counts with its new index). The store's
/// unique keys keep concurrent writes of the tenant's rows apart; this covers the built-ins, which aren't rows.
/// `updating` names the definition being changed, which doesn't clash with itself.
async fn check_reference_definition(
    app: &AppState,
    tenant: &TenantId,
    updating: Option<&str>,
    doc: &Map<String, Value>,
) -> ApiResult<()> {
    let field = |d: &Map<String, Value>, k: &str| d.get(k).cloned().unwrap_or(Value::Null);
    let same_type = |d: &Map<String, Value>| {
        let (a, b) = (field(d, "referenceType"), field(doc, "referenceType"));
        a.as_str().zip(b.as_str()).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    let set = rosterflow_model::sets::by_name("referenceDefinitions").expect("the set exists");
    for other in load_all(app, tenant, set, None).await? {
        let other_id = other.doc.get("id").and_then(Value::as_str).unwrap_or_default();
        if updating.is_some_and(|id| same_id(other_id, id)) || !same_type(&other.doc) {
            continue;
        }
        let code_clash = field(&other.doc, "code")
            .as_str()
            .zip(field(doc, "code").as_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        if code_clash {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("The reference definition '{other_id}' already exists."),
            ));
        }
        if field(&other.doc, "sortIndex") == field(doc, "sortIndex") {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("The sortIndex {} is already used by '{other_id}'.", field(doc, "sortIndex")),
            ));
        }
    }
    Ok(())
}

async fn update(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &'static EntitySet,
    parent: Option<&str>,
    id: &str,
    body: Bytes,
) -> ApiResult<Response> {
    for _ in 0..UPDATE_ATTEMPTS {
        let item = match load(app, ctx.tenant, set, parent, id).await {
            Ok(item) => item,
            // A body that no item could take is a 400 even for a missing item, as when the body is read first.
            Err(e) => return Err(document::syntax_error(&body).map_or(e, ApiError::from)),
        };
        let catalog = catalog(app, ctx.tenant).await?;
        let stored_id = item.doc.get("id").and_then(Value::as_str).unwrap_or(id).to_string();
        let ty = item.ty;
        // Checked against the item's type on each attempt: another request may have replaced the item meanwhile.
        let mut checked =
            document::check_entity(set, &body, Mode::Update { id: &stored_id, stored_type: &ty.name }, &catalog)?;
        if checked.props.is_empty() {
            return Ok(no_content(StatusCode::NO_CONTENT)); // only annotations: nothing to change
        }
        app.secrets.seal_document(ctx.tenant, ty, &mut checked.props);
        check_builtin_binds(&checked.bindings)?;
        if set.key == KeyRule::ReferenceDefinition {
            let preview = patched(ty, &item.doc, checked.props.clone());
            check_reference_definition(app, ctx.tenant, Some(&stored_id), &preview).await?;
        }
        let result = match item.stored {
            // The merge runs inside the write, against the item as it is then: concurrent PATCHes of one
            // item apply one after another, none lost and none refused.
            Some(_) => {
                let props = checked.props;
                let edit: rosterflow_store::Edit = Box::new(move |r: &mut Resource| {
                    if r.odata_type != ty.name {
                        return Err(StoreError::VersionConflict); // replaced by another item meanwhile
                    }
                    r.doc = Arc::new(patched(ty, &r.doc, props));
                    Ok(constraints(set, ty, &r.doc))
                });
                app.store.edit(ctx.tenant, set.name, &stored_id, edit).await
            }
            // The first change to a built-in stores the tenant's copy (if another request stores it first, the
            // next attempt edits that copy instead).
            None => {
                let doc = patched(ty, &item.doc, checked.props);
                let Constraints { unique, refs } = constraints(set, ty, &doc);
                let resource = Resource {
                    set: set.name.into(),
                    id: stored_id.clone(),
                    parent: None,
                    odata_type: ty.name.clone(),
                    doc: Arc::new(doc),
                    version: 0,
                };
                app.store.put(ctx.tenant, Write { resource, expect: Expect::Absent, unique, refs }).await
            }
        };
        match result {
            Ok(()) => {
                if set.name == "referenceDefinitions" {
                    app.catalogs.invalidate(ctx.tenant);
                }
                return Ok(no_content(StatusCode::NO_CONTENT));
            }
            Err(StoreError::VersionConflict | StoreError::Exists) => continue, // someone else wrote first: redo
            Err(e) => return Err(write_error(set, e)),
        }
    }
    Err(ApiError::new(ErrorKind::Conflict, "The item is being changed concurrently; retry the request."))
}

/// `props` PATCHed onto a stored document: merged, server-computed members, a later `lastModifiedDateTime`.
fn patched(ty: &TypeDef, stored: &Map<String, Value>, props: Map<String, Value>) -> Map<String, Value> {
    let mut doc = document::merged(stored, props);
    rules::complete(&mut doc);
    if ty.prop("lastModifiedDateTime").is_some_and(|p| p.computed) {
        let previous = stored.get("lastModifiedDateTime").and_then(Value::as_str);
        doc.insert("lastModifiedDateTime".into(), Value::String(time::advance(previous)));
    }
    doc
}

async fn delete(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &'static EntitySet,
    parent: Option<&str>,
    id: &str,
) -> ApiResult<Response> {
    let item = load(app, ctx.tenant, set, parent, id).await?;
    if set.source == Source::BuiltinOverlay {
        // Reference definitions can't be deleted, only disabled: data already loaded may still use them.
        return update(app, ctx, set, parent, id, Bytes::from_static(br#"{"isDisabled": true}"#)).await;
    }
    let stored_id = item.doc.get("id").and_then(Value::as_str).unwrap_or(id);
    app.store.delete(ctx.tenant, set.name, stored_id).await.map_err(|e| write_error(set, e))?;
    Ok(no_content(StatusCode::NO_CONTENT))
}

async fn operation(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    id: Option<String>,
    cast: Option<&TypeDef>,
    name: &str,
) -> ApiResult<Response> {
    if let Some(id) = &id {
        load_as(app, ctx.tenant, set, parent.as_deref(), id, cast).await?;
    }
    match name {
        // Reset re-provisions a flow from scratch at its next run and clears its errors. Until runs exist there is
        // nothing to clear, so accepting it is the whole effect.
        "reset" => Ok(no_content(StatusCode::ACCEPTED)),
        _ => {
            debug_assert!(!rosterflow_model::sets::IMPLEMENTED_OPERATIONS.contains(&name));
            Err(ApiError::new(
                ErrorKind::NotImplemented,
                format!("'{name}' belongs to inbound data and runs, which this server does not carry out yet."),
            ))
        }
    }
}
