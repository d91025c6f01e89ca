//! Writing: create, update (the merge runs inside the store's write), delete, and bound operations, with the
//! checks that need the store (binds, reference codes, unique keys).

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use rosterflow_model::document::{self, Binding, Mode};
use rosterflow_model::reference::{self, Catalog};
use rosterflow_model::schema::{ElemType, TypeDef};
use rosterflow_model::sets::{EntitySet, KeyRule, Source};
use rosterflow_model::{rules, time, DomainError, ErrorKind, TenantId};
use rosterflow_store::{Constraints, Expect, Ref, Resource, StoreError, Write};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

use super::read::{
    collection_path, ensure_parent, load, load_all, load_as, load_recent, missing, same_id, wire, with_context, Item,
};
use super::{no_content, Ctx};
use crate::body::json_response;

/// How often an update is recomputed when another write to the same item lands first.
const UPDATE_ATTEMPTS: usize = 5;

/// The tenant's reference codes, cached per tenant; any write to referenceDefinitions through this process
/// drops the tenant's entry (see docs/architecture.md on replicas).
pub(super) async fn catalog(app: &AppState, tenant: &TenantId) -> ApiResult<Arc<Catalog>> {
    if let Some(c) = app.catalogs.get(tenant) {
        return Ok(c);
    }
    let stored = app.stores.resources.list(tenant, "referenceDefinitions", None).await?;
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
pub(crate) fn constraints(set: &EntitySet, ty: &TypeDef, doc: &Map<String, Value>) -> Constraints {
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

pub(super) async fn create(
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
    app.stores.resources.put(ctx.tenant, write).await.map_err(|e| write_error(set, e))?;
    if set.name == "referenceDefinitions" {
        app.catalogs.invalidate(ctx.tenant);
    }
    let mut item = Item { ty: checked.ty, doc, stored: None };
    // The created entity as a GET would show it: readiness is computed, not stored.
    crate::runs::readiness::show(app, ctx.tenant, set.name, None, std::iter::once(&mut item.doc)).await?;
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

pub(super) async fn update(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &'static EntitySet,
    parent: Option<&str>,
    id: &str,
    body: Bytes,
) -> ApiResult<Response> {
    // The type the body was first checked against: an item replaced meanwhile by one of another type is the
    // client's to decide about again (409), not something to apply the body to (docs/decisions.md).
    let mut checked_as: Option<&'static TypeDef> = None;
    for _ in 0..UPDATE_ATTEMPTS {
        // The item as last seen is enough for the checks (its type and parent never change); the store applies
        // the change to the item as it is, and answers NotFound if it is gone.
        let item = match load_recent(app, ctx.tenant, set, parent, id).await {
            Ok(item) => item,
            // A body that no item could take is a 400 even for a missing item, as when the body is read first.
            Err(e) => return Err(document::syntax_error(&body).map_or(e, ApiError::from)),
        };
        let ty = item.ty;
        if checked_as.is_some_and(|first| !std::ptr::eq(first, ty)) {
            break;
        }
        checked_as = Some(ty);
        let catalog = catalog(app, ctx.tenant).await?;
        let stored_id = item.doc.get("id").and_then(Value::as_str).unwrap_or(id).to_string();
        // Checked again on each attempt (the bytes are kept): cheaper than keeping the checked props around.
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
                    r.doc = Arc::new(patched(ty, &r.doc, props.clone()));
                    Ok(constraints(set, ty, &r.doc))
                });
                app.stores.resources.edit(ctx.tenant, set.name, &stored_id, edit).await
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
                app.stores.resources.put(ctx.tenant, Write { resource, expect: Expect::Absent, unique, refs }).await
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
            Err(StoreError::NotFound) => return Err(missing(set, id)),
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

pub(super) async fn delete(
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
    app.stores.resources.delete(ctx.tenant, set.name, stored_id).await.map_err(|e| write_error(set, e))?;
    if set.name == "inboundFlows" {
        // Its roster snapshots go with it. The flow is gone already; rows left by a failure here are only
        // unreachable (flow ids are never reused), so the delete still succeeds.
        if let Err(e) = app.stores.roster.delete_flow(ctx.tenant, stored_id).await {
            tracing::error!(error = %e, "deleting an inbound flow's snapshots");
        }
    }
    Ok(no_content(StatusCode::NO_CONTENT))
}

pub(super) async fn operation(
    app: &Arc<AppState>,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    id: Option<String>,
    cast: Option<&TypeDef>,
    name: &str,
) -> ApiResult<Response> {
    let item = match &id {
        Some(id) => Some(load_as(app, ctx.tenant, set, parent.as_deref(), id, cast).await?),
        None => None,
    };
    match (name, item) {
        ("reset", Some(flow)) => super::runs::reset(app, ctx, &flow).await,
        ("start", None) => super::runs::start(app, ctx).await,
        ("getStatistics", run) => super::runs::statistics(app, ctx, run.as_ref()).await,
        ("getUploadSession", Some(connector)) => super::upload::get_upload_session(app, ctx, &connector).await,
        ("validate", Some(connector)) => super::validate::validate(app, ctx, &connector).await,
        _ => {
            debug_assert!(!rosterflow_model::sets::IMPLEMENTED_OPERATIONS.contains(&name));
            Err(ApiError::new(
                ErrorKind::NotImplemented,
                format!("'{name}' belongs to inbound data and runs, which this server does not carry out yet."),
            ))
        }
    }
}
