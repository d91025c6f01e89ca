//! Writing the directory by hand: create, update and delete users, groups, administrative units and
//! education classes, schools and users; add and remove members, owners and teachers with `$ref`.
//! (Runs write through the store's bulk API instead.) Passwords are sealed before they are stored and never
//! returned; server-set properties (`createdDateTime`, a group's `mail`, a class's group shape) are set here.

use axum::http::StatusCode;
use axum::response::Response;
use rosterflow_model::directory::body::{self, bound_id, Checked, Mode};
use rosterflow_model::directory::render::{self, Shape};
use rosterflow_model::directory::{new_id, Facet, ObjectKind, Relation, View};
use rosterflow_model::{time, DomainError, ErrorKind};
use rosterflow_store::directory::{Link, Object};
use rosterflow_store::StoreError;
use serde_json::{json, Map, Value};

use super::read::load;
use super::route::{Collection, Direction, Nav};
use super::{no_content, Ctx};
use crate::body::json_response;
use crate::error::{ApiError, ApiResult};

/// Seal the password of a checked body's `passwordProfile` (sealed like connector secrets).
fn seal_password(ctx: &Ctx, props: &mut Map<String, Value>) {
    if let Some(Value::String(pw)) = props.get_mut("passwordProfile").and_then(|p| p.get_mut("password")) {
        *pw = ctx.app.secrets.seal(ctx.tenant, pw);
    }
}

fn conflict_or(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate(prop) => ApiError::new(
            ErrorKind::Conflict,
            format!("Another object with the same value for property {prop} already exists."),
        ),
        StoreError::Exists => ApiError::new(ErrorKind::Conflict, "An object with this id already exists."),
        StoreError::MissingRef { path, id, .. } => ApiError(DomainError::invalid(
            &format!("{path}@odata.bind"),
            format_args!("no directory object with id '{id}' exists"),
        )),
        other => other.into(),
    }
}

/// The properties the server sets on a new object of `view`.
fn complete(ctx: &Ctx, view: &View, doc: &mut Map<String, Value>) {
    doc.insert("createdDateTime".into(), Value::String(time::now()));
    let education = view.facet == Some(Facet::Education);
    if view.prop("externalSource").is_some() {
        doc.entry("externalSource").or_insert(json!("manual")); // made by hand, not synced
    }
    if view.kind == ObjectKind::Group && education {
        // An education class is a Microsoft 365 group (directory-output.md §1.5).
        for (k, v) in [
            ("mailEnabled", json!(true)),
            ("securityEnabled", json!(false)),
            ("groupTypes", json!(["Unified"])),
            ("creationOptions", json!(["classAssignments"])),
            ("visibility", json!("HiddenMembership")),
        ] {
            doc.entry(k).or_insert(v);
        }
    }
    if view.kind == ObjectKind::Group && doc.get("mailEnabled") == Some(&json!(true)) {
        if let Some(nick) = doc.get("mailNickname").and_then(Value::as_str) {
            let mail = format!("{nick}@{}.onmicrosoft.com", ctx.tenant.as_str());
            doc.insert("proxyAddresses".into(), json!([format!("SMTP:{mail}")]));
            doc.insert("mail".into(), Value::String(mail));
        }
    }
}

pub(super) async fn create(ctx: &Ctx<'_>, coll: &Collection, body: &[u8]) -> ApiResult<Response> {
    let view = coll.view;
    let Checked { mut props, binds } = body::check(view, body, Mode::Create)?;
    seal_password(ctx, &mut props);
    complete(ctx, view, &mut props);
    let id = new_id();
    let mut links: Vec<Link> =
        binds.into_iter().map(|(relation, to)| Link { relation, from: id.clone(), to }).collect();
    // A delegated caller creating a group without owners becomes its owner (group-post-groups), when the
    // caller is a user of this directory; an application does not.
    if view.kind == ObjectKind::Group && ctx.caller.delegated && !links.iter().any(|l| l.relation == Relation::Owners) {
        if let Some(me) = ctx.caller.user_id.as_deref() {
            if ctx.app.stores.directory.get(ctx.tenant, me).await?.is_some_and(|o| o.kind == ObjectKind::User) {
                links.push(Link { relation: Relation::Owners, from: id.clone(), to: me.to_ascii_lowercase() });
            }
        }
    }
    let mut object = Object::new(id.clone(), view.kind, props);
    object.education = view.facet == Some(Facet::Education);
    let shown = render::render(view, &id, &object.doc, Shape::default());
    ctx.app.stores.directory.create(ctx.tenant, object, links).await.map_err(conflict_or)?;
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(format!("{}/$metadata#{}/$entity", ctx.base(), coll.path)));
    out.extend(shown);
    Ok(json_response(StatusCode::CREATED, &Value::Object(out)))
}

pub(super) async fn update(ctx: &Ctx<'_>, coll: &Collection, key: &str, body: &[u8]) -> ApiResult<Response> {
    let Checked { mut props, .. } = body::check(coll.view, body, Mode::Update)?;
    let current = load(ctx, coll, key).await?;
    if props.is_empty() {
        return Ok(no_content());
    }
    seal_password(ctx, &mut props);
    let edit = Box::new(move |o: &mut Object| {
        let doc = std::sync::Arc::make_mut(&mut o.doc);
        for (k, v) in props {
            if v.is_null() {
                doc.remove(&k);
            } else {
                doc.insert(k, v);
            }
        }
        Ok(())
    });
    ctx.app.stores.directory.update(ctx.tenant, &current.id, edit).await.map_err(conflict_or)?;
    Ok(no_content())
}

pub(super) async fn delete(ctx: &Ctx<'_>, coll: &Collection, key: &str) -> ApiResult<Response> {
    let current = load(ctx, coll, key).await?;
    ctx.app.stores.directory.delete(ctx.tenant, &current.id).await?;
    Ok(no_content())
}

fn missing_object(id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// `POST .../{nav}/$ref` with `{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{id}"}`.
pub(super) async fn add_ref(ctx: &Ctx<'_>, coll: &Collection, id: &str, nav: &Nav, body: &[u8]) -> ApiResult<Response> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorKind::BadRequest, format!("The request body is not valid JSON: {e}.")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::new(ErrorKind::BadRequest, "The request body must be a JSON object."));
    };
    let mut target = None;
    for (k, v) in &obj {
        if k.eq_ignore_ascii_case("@odata.id") {
            target = Some(v.as_str().and_then(bound_id).ok_or_else(|| {
                ApiError(DomainError::invalid(
                    "@odata.id",
                    "expected a link to a directory object ('https://graph.microsoft.com/v1.0/directoryObjects/{id}')",
                ))
            })?);
        } else if !k.starts_with('@') {
            return Err(ApiError(DomainError::invalid(k, "a reference body holds only '@odata.id'")));
        }
    }
    let target = target.ok_or_else(|| ApiError(DomainError::invalid("@odata.id", "the property is required")))?;
    let parent = load(ctx, coll, id).await?;
    let other = ctx.app.stores.directory.get(ctx.tenant, &target).await?.ok_or_else(|| missing_object(&target))?;
    let needs_education = nav.education || (coll.path == "education/schools" && other.kind == ObjectKind::Group);
    if !nav.accepts.contains(&other.kind) || (needs_education && !other.education) {
        let kinds: Vec<&str> = nav.accepts.iter().map(|k| k.as_str()).collect();
        return Err(ApiError(DomainError::invalid(
            "@odata.id",
            format_args!("'{}' takes only {} objects", nav.name, kinds.join(" and ")),
        )));
    }
    let link = match nav.direction {
        Direction::Of => Link { relation: nav.relation, from: parent.id.clone(), to: other.id.clone() },
        Direction::Having => Link { relation: nav.relation, from: other.id.clone(), to: parent.id.clone() },
    };
    match ctx.app.stores.directory.link(ctx.tenant, link).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Exists) => Err(ApiError::new(
            ErrorKind::BadRequest,
            format!(
                "One or more added object references already exist for the following modified properties: '{}'.",
                nav.name
            ),
        )),
        Err(StoreError::MissingRef { id, .. }) => Err(missing_object(&id)),
        Err(e) => Err(e.into()),
    }
}

/// `DELETE .../{nav}/{member}/$ref`.
pub(super) async fn remove_ref(
    ctx: &Ctx<'_>,
    coll: &Collection,
    id: &str,
    nav: &Nav,
    member: &str,
) -> ApiResult<Response> {
    let parent = load(ctx, coll, id).await?;
    let member = member.to_ascii_lowercase();
    let link = match nav.direction {
        Direction::Of => Link { relation: nav.relation, from: parent.id.clone(), to: member.clone() },
        Direction::Having => Link { relation: nav.relation, from: member.clone(), to: parent.id.clone() },
    };
    match ctx.app.stores.directory.unlink(ctx.tenant, link).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::NotFound) => Err(missing_object(&member)),
        Err(e) => Err(e.into()),
    }
}
