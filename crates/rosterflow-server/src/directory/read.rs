//! Reading the directory: keyset-paged lists (`@odata.nextLink` with an opaque `$skiptoken`), `$count`, single
//! objects (users also by `userPrincipalName`), navigation lists and aliases. Every `$filter`, `$search`,
//! `$orderby` and `$count` runs in SQL (`rosterflow_store::query`); an unsupported shape is Graph's 400.
//!
//! Advanced queries (`concepts/query-parameters.md`, the user and group list pages): on directory objects,
//! `$count` (as `$count=true` or `/$count`) and `$search` need `ConsistencyLevel: eventual`; `ne`, `not` and
//! `$orderby` together with `$filter` need it and `$count=true`. Without them the answer is 400 saying so.
//! A continuation page (`$skiptoken`) is not asked again: its token is bound to the first page's query.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_model::directory::render::{self, Shape};
use rosterflow_model::directory::{
    is_guid, ObjectKind, View, DIRECTORY_OBJECT, EDUCATION_CLASS, EDUCATION_USER, GROUP, TEAM,
};
use rosterflow_model::{DomainError, ErrorKind};
use rosterflow_odata::{CmpOp, Expr, Literal, QueryOptions};
use rosterflow_store::directory::{ListQuery, Object, QueryError, Related, StoredPage};
use rosterflow_store::query::Cursor;
use serde_json::{Map, Value};

use super::route::{Alias, Collection, Direction, Nav};
use super::Ctx;
use crate::body::{collection_json, json_response, json_text_response};
use crate::error::{ApiError, ApiResult};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

pub(super) fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Unsupported(m) => bad(format!("Unsupported query: {m}")),
        QueryError::Store(e) => e.into(),
    }
}

/// A request's query options, `$search` included (`rosterflow_odata`'s one parser; the store translates it
/// with the same semantics as `Search::matches`).
pub(super) struct Options {
    pub q: QueryOptions,
}

pub(super) fn options(ctx: &Ctx) -> ApiResult<Options> {
    Ok(Options { q: QueryOptions::parse(ctx.query)? })
}

/// Whether the filter uses `ne` or `not` (advanced-query operators on directory objects).
fn negates(e: &Expr) -> bool {
    match e {
        Expr::Not(_) | Expr::Compare(_, rosterflow_odata::CmpOp::Ne, _) => true,
        Expr::Or(v) | Expr::And(v) => v.iter().any(negates),
        Expr::Lambda { predicate: Some(p), .. } => negates(p),
        _ => false,
    }
}

/// Graph's advanced-query rules for a list or count of directory objects.
fn check_advanced(ctx: &Ctx, view: &View, o: &Options, count_segment: bool) -> ApiResult<()> {
    if !view.directory_object || o.q.skiptoken.is_some() {
        return Ok(());
    }
    let needs = |what: &str| {
        bad(format!("{what} on directory objects is an advanced query: send the header 'ConsistencyLevel: eventual'."))
    };
    if (o.q.count || count_segment) && !ctx.eventual() {
        return Err(needs("$count"));
    }
    if o.q.search.is_some() && !ctx.eventual() {
        return Err(needs("$search"));
    }
    let advanced_filter = o.q.filter.as_ref().is_some_and(|f| negates(f.expr()));
    let filter_and_order = o.q.filter.is_some() && !o.q.orderby.is_empty();
    if (advanced_filter || filter_and_order) && !(ctx.eventual() && (o.q.count || count_segment)) {
        let what = if advanced_filter { "'ne' and 'not' in $filter" } else { "$orderby with $filter" };
        return Err(bad(format!(
            "{what} on directory objects is an advanced query: send the header 'ConsistencyLevel: eventual' and $count=true."
        )));
    }
    Ok(())
}

/// The scope of a list: which objects, seen through which view.
struct Scope {
    view: &'static View,
    kind: Option<ObjectKind>,
    education: bool,
    related: Option<Related>,
    /// A delegated caller's list of classes: only its own ([`visible_to`]).
    visible_to: Option<String>,
    /// A `directoryObject` list: each item through its own kind's view, with `@odata.type`.
    mixed: bool,
    context: String,
}

fn collection_scope(ctx: &Ctx, coll: &Collection) -> Scope {
    let view = coll.view;
    Scope {
        view,
        kind: Some(view.kind),
        education: view.facet == Some(rosterflow_model::directory::Facet::Education),
        related: None,
        visible_to: visible_to(ctx, view),
        mixed: false,
        context: format!("{}/$metadata#{}", ctx.base(), coll.path),
    }
}

/// What a delegated caller sees of classes (educationclass-get.md: "the user will only see classes in which they
/// are members"; -list-members.md: "members can only be seen by other members of the class"; -list-teachers.md,
/// educationuser-list-classes.md alike): the classes it is a member or owner (teacher) of, in every list of
/// classes and as the parent of every class route. An application sees every class.
fn visible_to(ctx: &Ctx, view: &View) -> Option<String> {
    (ctx.caller.delegated && std::ptr::eq(view, &EDUCATION_CLASS))
        .then(|| ctx.caller.user_id.clone().unwrap_or_default())
}

/// Whether a delegated caller may see this object through `view` (see [`visible_to`]; of education users, only
/// its own, as educationuser-get.md says: "members can only see information about their own account").
async fn may_see(ctx: &Ctx<'_>, view: &'static View, obj: &Object) -> ApiResult<bool> {
    if !ctx.caller.delegated {
        return Ok(true);
    }
    if std::ptr::eq(view, &EDUCATION_USER) {
        return Ok(ctx.caller.user_id.as_deref().is_some_and(|me| me.eq_ignore_ascii_case(&obj.id)));
    }
    let Some(me) = visible_to(ctx, view) else { return Ok(true) };
    let this = Expr::Compare(
        Box::new(Expr::Path(vec!["id".into()])),
        CmpOp::Eq,
        Box::new(Expr::Literal(Literal::Str(obj.id.clone()))),
    );
    let q = ListQuery {
        view,
        kind: Some(view.kind),
        education: true,
        related: None,
        visible_to: Some(me),
        filter: Some(&this),
        search: None,
        order: &[],
        after: None,
        limit: 0,
    };
    Ok(ctx.app.stores.directory.count(ctx.tenant, &q).await.map_err(query_error)? > 0)
}

/// A delegated caller of an education user sees the limited property set.
fn limited(ctx: &Ctx, view: &View) -> bool {
    ctx.caller.delegated && std::ptr::eq(view, &EDUCATION_USER)
}

fn store_query<'a>(s: &'a Scope, o: &'a Options, order: &'a [(String, bool)]) -> ListQuery<'a> {
    ListQuery {
        view: s.view,
        kind: s.kind,
        education: s.education,
        related: s.related.clone(),
        visible_to: s.visible_to.clone(),
        filter: o.q.filter.as_ref().map(|f| f.expr()),
        search: o.q.search.as_ref(),
        order,
        after: None,
        limit: 0,
    }
}

/// The request's query options but its `$skiptoken`.
fn without_token<'q>(ctx: &Ctx<'q>) -> Vec<&'q str> {
    let token =
        |p: &str| p.split('=').next().unwrap_or_default().replace("%24", "$").eq_ignore_ascii_case("$skiptoken");
    ctx.query.split('&').filter(|p| !p.is_empty() && !token(p)).collect()
}

/// What a `$skiptoken` is bound to: the path and every option but the token itself.
fn signature(ctx: &Ctx) -> String {
    let mut opts = without_token(ctx);
    opts.sort_unstable();
    format!("{}?{}", ctx.path.to_ascii_lowercase(), opts.join("&"))
}

fn next_link(ctx: &Ctx, token: &str) -> String {
    let kept = without_token(ctx);
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    format!("http://{}{}?{query}$skiptoken={token}", ctx.host, ctx.path)
}

/// A list's page request, checked: the store's query (its cursor and limit set) and what the `$skiptoken` is
/// bound to.
struct Listing<'a> {
    q: ListQuery<'a>,
    sig: String,
}

/// Check a list's options against its scope and build the store's query; `order` is `o`'s `$orderby`.
fn listing<'a>(ctx: &Ctx, s: &'a Scope, o: &'a Options, order: &'a [(String, bool)]) -> ApiResult<Listing<'a>> {
    if o.q.skip.is_some() {
        return Err(bad("$skip is not supported on this resource; follow @odata.nextLink."));
    }
    if let Some(select) = &o.q.select {
        select_check(s.view, select, true, s.mixed)?;
    }
    check_advanced(ctx, s.view, o, false)?;
    let page = match o.q.top {
        None => s.view.default_page,
        Some(n) if (1..=s.view.max_page).contains(&n) => n,
        Some(n) => {
            return Err(bad(format!("Invalid page size specified: '{n}'. Must be between 1 and {}.", s.view.max_page)))
        }
    };
    let sig = signature(ctx);
    let after = match &o.q.skiptoken {
        Some(t) => Some(Cursor::decode(t, &sig).ok_or_else(|| bad("The $skiptoken is not valid for this query."))?),
        None => None,
    };
    let mut q = store_query(s, o, order);
    q.after = after;
    q.limit = page;
    Ok(Listing { q, sig })
}

fn order_of(o: &Options) -> Vec<(String, bool)> {
    o.q.orderby.iter().map(|k| (k.property.clone(), k.descending)).collect()
}

async fn list_scope(ctx: &Ctx<'_>, s: Scope, o: Options) -> ApiResult<Response> {
    let order = order_of(&o);
    let l = listing(ctx, &s, &o, &order)?;
    let result = ctx.app.stores.directory.list_stored(ctx.tenant, &l.q).await.map_err(query_error)?;
    write_page(ctx, &s, &o, &l, result).await
}

/// The answer to a list: its page (and `$count` when asked), each item written straight from its stored JSON
/// (`render::write`).
async fn write_page(ctx: &Ctx<'_>, s: &Scope, o: &Options, l: &Listing<'_>, result: StoredPage) -> ApiResult<Response> {
    let count = if o.q.count && o.q.skiptoken.is_none() {
        Some(ctx.app.stores.directory.count(ctx.tenant, &l.q).await.map_err(query_error)?)
    } else {
        None
    };
    let shape = |view: &View| Shape { select: o.q.select.as_deref(), limited: limited(ctx, view), typed: s.mixed };
    let mut items = String::with_capacity(result.items.iter().map(|i| i.body.len() + 64).sum());
    for (n, obj) in result.items.iter().enumerate() {
        if n > 0 {
            items.push(',');
        }
        let view = if s.mixed { obj.kind.base_view() } else { s.view };
        render::write(view, &obj.id, &obj.body, shape(view), &mut items)?;
    }
    let next = result.next.map(|next| next_link(ctx, &next.encode(&l.sig)));
    let body = collection_json(&context_with_select(&s.context, &o.q), count, next.as_deref(), &items);
    Ok(json_text_response(StatusCode::OK, body))
}

/// `#users(displayName,id)` when `$select` is given.
fn context_with_select(context: &str, q: &QueryOptions) -> String {
    match &q.select {
        Some(s) => format!("{context}({})", s.join(",")),
        None => context.to_string(),
    }
}

/// `$select` against the view (a mixed list: against any kind's view).
fn select_check(view: &View, select: &[String], collection: bool, mixed: bool) -> ApiResult<()> {
    if mixed {
        let ok = [ObjectKind::User, ObjectKind::Group, ObjectKind::AdministrativeUnit]
            .iter()
            .any(|k| render::check_select(k.base_view(), select, collection).is_ok());
        return if ok { Ok(()) } else { render::check_select(view, select, collection).map_err(ApiError) };
    }
    render::check_select(view, select, collection).map_err(ApiError)
}

async fn count_scope(ctx: &Ctx<'_>, s: Scope, o: Options) -> ApiResult<Response> {
    check_advanced(ctx, s.view, &o, true)?;
    let order = Vec::new();
    let n = ctx.app.stores.directory.count(ctx.tenant, &store_query(&s, &o, &order)).await.map_err(query_error)?;
    let mut r = n.to_string().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

pub(super) async fn list(ctx: &Ctx<'_>, coll: &Collection) -> ApiResult<Response> {
    list_scope(ctx, collection_scope(ctx, coll), options(ctx)?).await
}

pub(super) async fn count(ctx: &Ctx<'_>, coll: &Collection) -> ApiResult<Response> {
    count_scope(ctx, collection_scope(ctx, coll), options(ctx)?).await
}

fn missing(coll: &Collection, key: &str) -> ApiError {
    ApiError(DomainError::new(ErrorKind::NotFound, format!("Resource '{key}' does not exist in {}.", coll.path)))
}

/// The object a key names in a collection (users also by UPN), or 404.
pub(super) async fn load(ctx: &Ctx<'_>, coll: &Collection, key: &str) -> ApiResult<Object> {
    let store = &ctx.app.stores.directory;
    let found = if key.contains('@') && coll.view.kind == ObjectKind::User {
        store.get_by_upn(ctx.tenant, key).await?
    } else if is_guid(key) {
        store.get(ctx.tenant, key).await?
    } else {
        None
    };
    shown(ctx, coll, key, found).await
}

/// The object found for a key, if `coll` shows it to the caller; else 404.
async fn shown(ctx: &Ctx<'_>, coll: &Collection, key: &str, found: Option<Object>) -> ApiResult<Object> {
    let any_kind = std::ptr::eq(coll.view, &DIRECTORY_OBJECT);
    let obj =
        found.filter(|o| any_kind || coll.view.shows(o.kind, o.education, o.team)).ok_or_else(|| missing(coll, key))?;
    if !may_see(ctx, coll.view, &obj).await? {
        return Err(missing(coll, key));
    }
    Ok(obj)
}

/// Only `$select` applies to a single object.
fn single_options(ctx: &Ctx, view: &View) -> ApiResult<Option<Vec<String>>> {
    let o = options(ctx)?;
    let q = &o.q;
    if q.filter.is_some()
        || !q.orderby.is_empty()
        || q.top.is_some()
        || q.skip.is_some()
        || q.count
        || q.search.is_some()
    {
        return Err(bad("Only $select applies to a single object."));
    }
    if let Some(select) = &q.select {
        render::check_select(view, select, false).map_err(ApiError)?;
    }
    Ok(q.select.clone())
}

fn entity(ctx: &Ctx, view: &View, context_path: &str, obj: &Object, select: Option<&[String]>) -> Response {
    // A directoryObject is shown through its own kind's type, which `@odata.type` names.
    let typed = std::ptr::eq(view, &DIRECTORY_OBJECT);
    let view = if typed { obj.kind.base_view() } else { view };
    let shape = Shape { select, limited: limited(ctx, view), typed };
    let mut body = Map::new();
    let context = match select {
        Some(s) => format!("{}/$metadata#{context_path}({})/$entity", ctx.base(), s.join(",")),
        None => format!("{}/$metadata#{context_path}/$entity", ctx.base()),
    };
    body.insert("@odata.context".into(), Value::String(context));
    body.extend(render::render(view, &obj.id, &obj.doc, shape));
    json_response(StatusCode::OK, &Value::Object(body))
}

pub(super) async fn get(ctx: &Ctx<'_>, coll: &Collection, key: &str) -> ApiResult<Response> {
    let select = single_options(ctx, coll.view)?;
    let obj = load(ctx, coll, key).await?;
    Ok(entity(ctx, coll.view, coll.path, &obj, select.as_deref()))
}

/// `/education/classes/{id}/group`, `/groups/{id}/team`: the same object through another view.
pub(super) async fn alias(ctx: &Ctx<'_>, coll: &Collection, id: &str, alias: Alias) -> ApiResult<Response> {
    let (view, path) = match alias {
        Alias::ClassGroup => (&GROUP, "groups"),
        Alias::GroupTeam => (&TEAM, "teams"),
    };
    let select = single_options(ctx, view)?;
    let obj = load(ctx, coll, id).await?;
    if !view.shows(obj.kind, obj.education, obj.team) {
        return Err(ApiError(DomainError::not_found(format_args!("The {} of '{id}'", view.name))));
    }
    Ok(entity(ctx, view, path, &obj, select.as_deref()))
}

/// A navigation list (`/groups/{id}/members`, `/education/users/{id}/classes`) or its `$count`.
pub(super) async fn related(
    ctx: &Ctx<'_>,
    coll: &Collection,
    id: &str,
    nav: &Nav,
    cast: Option<ObjectKind>,
    count: bool,
) -> ApiResult<Response> {
    // The query before the parent: a malformed query is a 400 whether or not the parent exists.
    let o = options(ctx)?;
    let kind = match (cast, nav.kind) {
        (Some(c), Some(k)) if c != k => None,
        (c, k) => Some(c.or(k)),
    };
    // A page of a parent named by its id, with a cast that fits: the parent and the page are read together
    // (`get_and_list_stored`), and the parent is checked once both are in. The answers are those of reading
    // the parent first: any other case, and a list whose options are refused, takes that way below (so that
    // a missing parent is still a 404 before an option's 400).
    if let (false, true, Some(kind)) = (count, is_guid(id), kind) {
        let scope = nav_scope(ctx, coll, &id.to_ascii_lowercase(), nav, cast, kind);
        let order = order_of(&o);
        if let Ok(l) = listing(ctx, &scope, &o, &order) {
            match ctx.app.stores.directory.get_and_list_stored(ctx.tenant, id, &l.q).await {
                Ok((found, page)) => {
                    let parent = shown(ctx, coll, id, found).await?;
                    check_hidden(ctx, coll, nav, &parent)?;
                    return write_page(ctx, &scope, &o, &l, page).await;
                }
                Err(QueryError::Unsupported(_)) => {} // refused below, after the parent
                Err(e) => return Err(query_error(e)),
            }
        }
    }
    let parent = load(ctx, coll, id).await?;
    check_hidden(ctx, coll, nav, &parent)?;
    let Some(kind) = kind else {
        let k = nav.kind.map_or("", ObjectKind::as_str);
        return Err(bad(format!("'{}' holds only {k} objects.", nav.name)));
    };
    let scope = nav_scope(ctx, coll, &parent.id, nav, cast, kind);
    if count {
        count_scope(ctx, scope, o).await
    } else {
        list_scope(ctx, scope, o).await
    }
}

/// The members of a group with hidden membership (a class) need their own permission.
fn check_hidden(ctx: &Ctx, coll: &Collection, nav: &Nav, parent: &Object) -> ApiResult<()> {
    let hidden = parent
        .doc
        .get("visibility")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("HiddenMembership"));
    if hidden && nav.relation == rosterflow_model::directory::Relation::Members && nav.view.is_none() {
        super::authorize(
            ctx.caller,
            &format!("{}/members/hidden", coll.path),
            rosterflow_model::permissions::Access::Read,
        )?;
    }
    Ok(())
}

/// The scope of a navigation list of the parent `parent_id` (as stored: lower case), of objects of `kind`.
fn nav_scope(
    ctx: &Ctx,
    coll: &Collection,
    parent_id: &str,
    nav: &Nav,
    cast: Option<ObjectKind>,
    kind: Option<ObjectKind>,
) -> Scope {
    let view = nav.view.or(cast.map(ObjectKind::base_view)).unwrap_or(&DIRECTORY_OBJECT);
    let related = match nav.direction {
        Direction::Of => Related::Of { relation: nav.relation, of: parent_id.to_string() },
        Direction::Having => Related::Having { relation: nav.relation, of: parent_id.to_string() },
    };
    let mut context = if nav.view.is_none() {
        format!("{}/$metadata#directoryObjects", ctx.base())
    } else {
        format!("{}/$metadata#{}('{}')/{}", ctx.base(), coll.path, parent_id, nav.name)
    };
    if let (None, Some(c)) = (nav.view, cast) {
        context.push_str(&format!("/microsoft.graph.{}", c.as_str()));
    }
    Scope {
        view,
        kind,
        education: nav.education,
        related: Some(related),
        visible_to: visible_to(ctx, view),
        mixed: nav.view.is_none(),
        context,
    }
}
