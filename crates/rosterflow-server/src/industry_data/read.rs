//! Reading: items as a tenant sees them (stored rows over the built-ins), lists with OData query options and
//! paging, `$count`, single items.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::reference::{self};
use rosterflow_model::schema::{schema, TypeDef};
use rosterflow_model::sets::{EntitySet, Source};
use rosterflow_model::{render, DomainError, ErrorKind, TenantId};
use rosterflow_odata::{select_properties, QueryOptions};
use rosterflow_store::query::{Cursor, Param};
use rosterflow_store::{InboundStamp, PageQuery, Position, Resource};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

use super::Ctx;
use crate::body::{collection_json, entity_json, json_response, json_text_response};

/// Items per page when the client gives no `$top`; and the most a page may hold.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// One item as this tenant sees it.
pub(super) struct Item {
    pub(super) ty: &'static TypeDef,
    pub(super) doc: Arc<Map<String, Value>>,
    /// The stored row, when there is one (built-ins have none until a tenant changes them).
    pub(super) stored: Option<Resource>,
}

fn item_from(r: Resource) -> ApiResult<Item> {
    let ty = schema()
        .ty(&r.odata_type)
        .ok_or_else(|| ApiError::new(ErrorKind::Internal, format!("stored type '{}' is unknown", r.odata_type)))?;
    let mut doc = r.doc.clone();
    if r.set == "operations" {
        super::validate::settle(&mut doc);
    }
    Ok(Item { ty, doc, stored: Some(r) })
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

pub(super) fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Every item of a set (under `parent`), built-ins first where the set has them.
pub(super) async fn load_all(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
) -> ApiResult<Vec<Item>> {
    ensure_parent(app, tenant, set, parent).await?;
    let stored = match set.source {
        Source::Builtin => Vec::new(),
        _ => app.stores.resources.list(tenant, set.name, parent).await?,
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
pub(super) async fn ensure_parent(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
) -> ApiResult<()> {
    if let (Some(parent_set), Some(parent_id)) = (set.parent.and_then(rosterflow_model::sets::by_name), parent) {
        load(app, tenant, parent_set, None, parent_id).await?;
    }
    Ok(())
}

/// One item, or 404.
pub(super) async fn load(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
) -> ApiResult<Item> {
    Ok(find(app, tenant, set, parent, id, Read::Current).await?.0)
}

/// One item as the store last saw it ([`rosterflow_store::Store::peek`]), or 404: for the checks before an
/// edit, which the store then applies to the item as it is.
pub(super) async fn load_recent(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
) -> ApiResult<Item> {
    Ok(find(app, tenant, set, parent, id, Read::Recent).await?.0)
}

pub(super) fn missing(set: &EntitySet, id: &str) -> ApiError {
    ApiError(DomainError::not_found(format_args!("The {} item '{id}'", set.name)))
}

/// How [`find`] reads a stored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// As it is ([`rosterflow_store::Store::get`]).
    Current,
    /// As the store last saw it ([`rosterflow_store::Store::peek`]).
    Recent,
    /// As it is, with the tenant's inbound stamp ([`rosterflow_store::Store::get_stamped`]), to be shown.
    Stamped,
}

/// One item, or 404; with [`Read::Stamped`], the tenant's inbound stamp read with it.
async fn find(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
    read: Read,
) -> ApiResult<(Item, Option<InboundStamp>)> {
    let missing = || missing(set, id);
    if set.source != Source::Builtin {
        let stores = &app.stores.resources;
        let (found, stamp) = match read {
            Read::Current => (stores.get(tenant, set.name, id).await?, None),
            Read::Recent => (stores.peek(tenant, set.name, id).await?, None),
            Read::Stamped => {
                let (found, stamp) = stores.get_stamped(tenant, set.name, id).await?;
                (found, Some(stamp))
            }
        };
        if let Some(r) = found {
            let parent_ok = match (parent, r.parent.as_deref()) {
                (Some(want), Some(have)) => same_id(want, have),
                (None, _) => set.parent.is_none(),
                (Some(_), None) => false,
            };
            return if parent_ok { Ok((item_from(r)?, stamp)) } else { Err(missing()) };
        }
    }
    builtin_items(set)
        .into_iter()
        .find(|i| i.doc.get("id").and_then(Value::as_str).is_some_and(|b| same_id(b, id)))
        .map(|i| (i, None))
        .ok_or_else(missing)
}

/// One item, or 404 when it is missing or not of the type a cast segment named.
pub(super) async fn load_as(
    app: &AppState,
    tenant: &TenantId,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
    cast: Option<&TypeDef>,
) -> ApiResult<Item> {
    let item = load(app, tenant, set, parent, id).await?;
    of_cast(set, id, item, cast)
}

/// 404 unless `item` is of the type a cast segment named.
fn of_cast(set: &EntitySet, id: &str, item: Item, cast: Option<&TypeDef>) -> ApiResult<Item> {
    match cast {
        Some(c) if !schema().derives_from(&item.ty.name, &c.name) => Err(ApiError(DomainError::not_found(
            format_args!("The {} item '{id}' of type '{}'", set.name, c.odata_type()),
        ))),
        _ => Ok(item),
    }
}

pub(super) fn wire(set: &EntitySet, item: &Item) -> Value {
    Value::Object(render::entity(item.ty, &item.doc, set.typed_items))
}

/// [`wire`] as JSON text, rendered once per document ([`super::rendered`]).
fn wire_text(set: &EntitySet, item: &Item) -> Arc<str> {
    super::rendered::entity(item.ty, &item.doc, set.typed_items)
}

/// `external/industryData/{set}` or `.../{parentSet}('{parent}')/{set}`, for `@odata.context`.
pub(super) fn collection_path(set: &EntitySet, parent: Option<&str>) -> String {
    match (set.parent, parent) {
        (Some(parent_set), Some(p)) => format!("external/industryData/{parent_set}('{p}')/{}", set.name),
        _ => format!("external/industryData/{}", set.name),
    }
}

pub(super) fn with_context(context: String, body: Value) -> Value {
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
    // The industryData collections have no searchable properties (decision 13 in docs/decisions.md).
    if q.search.is_some() {
        return Err(ApiError::new(ErrorKind::BadRequest, "The query option '$search' is not supported."));
    }
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

/// A page's wire items: JSON text when nothing reshapes them (a page in SQL without `$select`), else values.
enum Items {
    Text(Vec<Arc<str>>),
    Values(Vec<Value>),
}

/// A page of a collection's wire items: where the next page starts, and the count when `$count` asked.
struct Listed {
    value: Items,
    next: Option<Cursor>,
    total: Option<usize>,
}

/// Whether the store pages a collection in SQL: stored sets in creation order. `$filter` and `$orderby`
/// are evaluated over the wire documents in memory (`rosterflow_odata`), as are sets with built-in items.
fn paged_in_sql(set: &EntitySet, q: &QueryOptions) -> bool {
    matches!(set.source, Source::Stored | Source::System) && q.filter.is_none() && q.orderby.is_empty()
}

/// The page of a collection after `cursor`, `page` items at most. A cursor in SQL is the last item's
/// position; in memory, the offset reached.
async fn query(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<&str>,
    cast: Option<&TypeDef>,
    q: &QueryOptions,
    (cursor, page): (Option<Cursor>, usize),
) -> ApiResult<Listed> {
    let invalid = || ApiError::new(ErrorKind::BadRequest, "The $skiptoken is not valid for this query.");
    let s = schema();
    if paged_in_sql(set, q) {
        let after = match cursor {
            Some(Cursor { keys, id }) => match keys.as_slice() {
                [Param::Int(seq)] => Some(Position { seq: *seq, id_key: id }),
                _ => return Err(invalid()),
            },
            None => None,
        };
        ensure_parent(app, ctx.tenant, set, parent).await?;
        let types = cast.map(|c| s.concrete_types_of(&c.name).iter().map(|t| t.name.clone()).collect());
        let query = PageQuery {
            parent,
            types,
            after: after.clone(),
            skip: q.skip.unwrap_or(0) as u64,
            limit: page as u64 + 1, // one more than the page: whether there is a next one
            count: q.count,
        };
        let mut found = app.stores.resources.page(ctx.tenant, set.name, &query).await?;
        let more = found.items.len() > page;
        found.items.truncate(page);
        let last = found.items.last().map(|(p, _)| p.clone()).or(after);
        let next = more.then(|| last.map(|p| Cursor { keys: vec![Param::Int(p.seq)], id: p.id_key })).flatten();
        let mut items = found.items.into_iter().map(|(_, r)| item_from(r)).collect::<Result<Vec<_>, _>>()?;
        let docs = items.iter_mut().map(|i| &mut i.doc);
        crate::runs::readiness::show(app, ctx.tenant, set.name, found.stamp, docs).await?;
        let value = match q.select {
            None => Items::Text(items.iter().map(|i| wire_text(set, i)).collect()),
            Some(_) => Items::Values(items.iter().map(|i| wire(set, i)).collect()),
        };
        return Ok(Listed { value, next, total: found.total.map(|n| n as usize) });
    }
    let offset = match cursor {
        Some(Cursor { keys, id }) if keys.is_empty() => id.parse::<usize>().map_err(|_| invalid())?,
        Some(_) => return Err(invalid()),
        None => 0,
    } + q.skip.unwrap_or(0);
    let mut items = load_all(app, ctx.tenant, set, parent).await?;
    crate::runs::readiness::show(app, ctx.tenant, set.name, None, items.iter_mut().map(|i| &mut i.doc)).await?;
    let docs = items
        .iter()
        .filter(|i| cast.is_none_or(|c| s.derives_from(&i.ty.name, &c.name)))
        .map(|i| wire(set, i))
        .collect();
    let all = q.apply(docs);
    let total = all.len();
    let next = (offset + page < total).then(|| Cursor { keys: Vec::new(), id: (offset + page).to_string() });
    let value = Items::Values(all.into_iter().skip(offset).take(page).collect());
    Ok(Listed { value, next, total: q.count.then_some(total) })
}

pub(super) async fn list(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let q = query_options(ctx, set, true)?;
    // A token is good for the query it was made for: the request's options but the position.
    let kept = continued_query(ctx);
    let scope = token_scope(ctx.path, &kept);
    let cursor = match q.skiptoken.as_deref() {
        Some(t) => Some(
            Cursor::decode(t, &scope)
                .ok_or_else(|| ApiError::new(ErrorKind::BadRequest, "The $skiptoken is not valid for this query."))?,
        ),
        None => None,
    };
    // As in Graph's directory APIs, $top sets the page size; the rest is reachable through @odata.nextLink.
    let page = q.top.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let Listed { value, next, total } = query(app, ctx, set, parent.as_deref(), cast, &q, (cursor, page)).await?;
    let items = match value {
        Items::Text(texts) => texts.join(","),
        Items::Values(mut values) => {
            if let Some(select) = &q.select {
                for v in &mut values {
                    if let Value::Object(m) = v {
                        select_properties(m, select);
                    }
                }
            }
            values.iter().map(Value::to_string).collect::<Vec<_>>().join(",")
        }
    };
    let mut context = format!("{}/$metadata#{}", ctx.base(), collection_path(set, parent.as_deref()));
    if let Some(c) = cast {
        context.push('/');
        context.push_str(&c.name);
    }
    let link = next.map(|next| {
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!("http://{}{}?{query}$skiptoken={}", ctx.host, ctx.path, next.encode(&scope))
    });
    let body = collection_json(&context, total.map(|n| n as u64), link.as_deref(), &items);
    Ok(json_text_response(StatusCode::OK, body))
}

/// The request's query options but `$skiptoken` and `$skip` (a next link's position replaces both), as sent.
fn continued_query<'q>(ctx: &Ctx<'q>) -> Vec<&'q str> {
    ctx.query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default().to_ascii_lowercase().replace("%24", "$");
            !p.is_empty() && name != "$skiptoken" && name != "$skip"
        })
        .collect()
}

/// What a `$skiptoken` is bound to: the collection and those options decoded and sorted, so that a client that
/// re-encodes or reorders the next link's query (`'` as `%27`) still presents the same query.
fn token_scope(path: &str, options: &[&str]) -> String {
    let mut decoded: Vec<String> =
        options.iter().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned()).collect();
    decoded.sort_unstable();
    format!("{}?{}", path.to_ascii_lowercase(), decoded.join("&"))
}

pub(super) async fn count(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<String>,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let mut q = query_options(ctx, set, true)?;
    q.count = true;
    let n = query(app, ctx, set, parent.as_deref(), cast, &q, (None, 0)).await?.total.unwrap_or(0);
    let mut r = n.to_string().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

pub(super) async fn get(
    app: &AppState,
    ctx: &Ctx<'_>,
    set: &EntitySet,
    parent: Option<&str>,
    id: &str,
    cast: Option<&TypeDef>,
) -> ApiResult<Response> {
    let q = query_options(ctx, set, false)?;
    // A flow is read with the tenant's inbound stamp: its readiness then needs no statement of its own.
    let read = if crate::runs::readiness::applies(set.name) { Read::Stamped } else { Read::Current };
    let (item, stamp) = find(app, ctx.tenant, set, parent, id, read).await?;
    let mut item = of_cast(set, id, item, cast)?;
    crate::runs::readiness::show(app, ctx.tenant, set.name, stamp, std::iter::once(&mut item.doc)).await?;
    let context = format!("{}/$metadata#{}/$entity", ctx.base(), collection_path(set, parent));
    let Some(select) = &q.select else {
        return Ok(json_text_response(StatusCode::OK, entity_json(&context, &wire_text(set, &item))));
    };
    let mut value = wire(set, &item);
    if let Value::Object(m) = &mut value {
        select_properties(m, select);
    }
    Ok(json_response(StatusCode::OK, &with_context(context, value)))
}
