//! The directory store: objects (users, groups, administrative units, with their education and team facets)
//! and relations (members, owners), tenant-first, on SQLite and PostgreSQL
//! (`migrations/0002_directory.*.sql`).
//!
//! Reads are keyset-paged with `$filter`, `$search`, `$orderby` and `$count` pushed into SQL through
//! [`crate::query`] over a [`ViewMapping`] of the model's descriptors. Writes come in two sizes: single API
//! writes ([`DirectoryStore::create`], `update`, `delete`, `link`, `unlink`), and bulk writes of a run
//! ([`Bulk`], through [`DirectoryStore::apply`] or, inside a transaction of the caller's own, the
//! crate-internal `sqlite::apply` / `postgres::apply`).

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::rc::Rc;
use std::sync::Arc;

use async_trait::async_trait;
use rosterflow_model::directory::{render, Filter, Kind, ObjectKind, Prop, Relation, View};
use rosterflow_odata::{Expr, Search};
use serde_json::{Map, Value};

use crate::query::{search_tokens, Cursor, Element, Field, Key, Loc, Mapping, Ops, Searched, Type, Unsupported};
use crate::{Result, StoreError, TenantId};

/// Who wrote an object or relation: a run distinguishes what it wrote from an administrator's manual edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Through the API (or any writer that is not a run).
    Api,
    /// By a provisioning run.
    Run,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Run => "run",
        }
    }

    fn parse(s: &str) -> Source {
        if s == "run" {
            Source::Run
        } else {
            Source::Api
        }
    }
}

/// One directory object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// A lower-case GUID.
    pub id: String,
    pub kind: ObjectKind,
    /// An education class (group) or school (administrative unit).
    pub education: bool,
    /// A group with a team.
    pub team: bool,
    pub source: Source,
    /// Every property of every facet, canonical (as `directory::body` checks them); secrets sealed.
    pub doc: Arc<Map<String, Value>>,
    /// Incremented by every write: a run that remembers the version it wrote sees an administrator's edit.
    pub version: i64,
}

impl Object {
    pub fn new(id: String, kind: ObjectKind, doc: Map<String, Value>) -> Object {
        Object { id, kind, education: false, team: false, source: Source::Api, doc: Arc::new(doc), version: 0 }
    }

    /// The values the store indexes and filters on, derived from the document by the model's one set of rules.
    pub(crate) fn index(&self) -> Indexed {
        let mut fold = render::folded(self.kind, &self.doc);
        let tokens: Map<String, Value> = TOKENIZED
            .iter()
            .filter_map(|p| Some((p.to_string(), Value::String(search_tokens(self.doc.get(*p)?.as_str()?)))))
            .collect();
        if !tokens.is_empty() {
            fold.insert(SEARCH_TOKENS.into(), Value::Object(tokens));
        }
        Indexed {
            columns: render::columns(self.kind, &self.doc),
            fold: serde_json::to_string(&fold).expect("JSON serialises"),
            body: serde_json::to_string(&*self.doc).expect("JSON serialises"),
        }
    }
}

/// An object as the store writes it ([`Object::render`]): its flags, its document as JSON text and the values
/// the store indexes, computed once. A run holds the objects it creates this way from planning to its commit:
/// a created user's document as a map (keys, values and nested facets each allocated) took several times the
/// memory of the same document as text, and a first run creates 130k objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub id: String,
    pub kind: ObjectKind,
    pub education: bool,
    pub team: bool,
    ix: Indexed,
}

impl Object {
    /// The object as the store writes it (its `source` and `version` are the writer's).
    pub fn render(&self) -> Rendered {
        Rendered { id: self.id.clone(), kind: self.kind, education: self.education, team: self.team, ix: self.index() }
    }
}

impl Rendered {
    /// The document, as JSON text.
    pub fn body(&self) -> &str {
        &self.ix.body
    }

    /// The document, parsed again from its text (samples, tests: not for every object of a run).
    pub fn doc(&self) -> Map<String, Value> {
        serde_json::from_str(&self.ix.body).unwrap_or_default()
    }

    /// The folded `userPrincipalName` (`rosterflow_model::directory::fold`), when it has one.
    pub fn upn_folded(&self) -> Option<&str> {
        self.ix.columns.get(1).and_then(|c| c.as_deref())
    }
}

/// An object row as the bulk writers take it: an [`Object`] (indexed as it is written) or a [`Rendered`] one.
pub(crate) trait ObjectRow {
    fn head(&self) -> (&str, ObjectKind, bool, bool);
    fn indexed(&self) -> std::borrow::Cow<'_, Indexed>;
}

impl ObjectRow for Object {
    fn head(&self) -> (&str, ObjectKind, bool, bool) {
        (&self.id, self.kind, self.education, self.team)
    }
    fn indexed(&self) -> std::borrow::Cow<'_, Indexed> {
        std::borrow::Cow::Owned(self.index())
    }
}

impl ObjectRow for Rendered {
    fn head(&self) -> (&str, ObjectKind, bool, bool) {
        (&self.id, self.kind, self.education, self.team)
    }
    fn indexed(&self) -> std::borrow::Cow<'_, Indexed> {
        std::borrow::Cow::Borrowed(&self.ix)
    }
}

impl<O: ObjectRow> ObjectRow for &O {
    fn head(&self) -> (&str, ObjectKind, bool, bool) {
        (**self).head()
    }
    fn indexed(&self) -> std::borrow::Cow<'_, Indexed> {
        (**self).indexed()
    }
}

/// The properties `$search` matches by tokens (`Search::is_tokenized`); their tokens are kept in the folded
/// document under [`SEARCH_TOKENS`] (no property's name starts with `@`).
const TOKENIZED: [&str; 2] = ["displayName", "description"];
const SEARCH_TOKENS: &str = "@search";

/// What is written for an object besides its id and flags.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Indexed {
    /// `display_fold, upn_fold, mail_fold, nick_fold, ext_fold, created`.
    pub columns: Vec<Option<String>>,
    pub fold: String,
    pub body: String,
}

/// A relation row: `from` (a group or administrative unit) has `to` as a member or owner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub relation: Relation,
    pub from: String,
    pub to: String,
}

/// A relation as the bulk writers take it: a [`Link`], or the parts of one lent by a run's
/// [`crate::runs::LinkSet`].
pub(crate) trait LinkParts {
    fn parts(&self) -> (Relation, &str, &str);
}

impl LinkParts for Link {
    fn parts(&self) -> (Relation, &str, &str) {
        (self.relation, &self.from, &self.to)
    }
}

impl<L: LinkParts> LinkParts for &L {
    fn parts(&self) -> (Relation, &str, &str) {
        (**self).parts()
    }
}

impl LinkParts for (Relation, &str, &str) {
    fn parts(&self) -> (Relation, &str, &str) {
        *self
    }
}

/// A run's changes, applied in one transaction: upserts first, then patches, then deletes (with their
/// relations, both ways), then unlinks, then links. Statements are batched (multi-row `UNNEST` on PostgreSQL, prepared and
/// cached on SQLite), never one round trip per row. Links and unlinks are idempotent; the endpoints of
/// links are the caller's to keep consistent (rows whose objects are missing are never shown).
#[derive(Debug, Clone, Default)]
pub struct Bulk {
    pub upserts: Vec<Object>,
    /// Objects already rendered ([`Object::render`]), inserted or replaced as `upserts` are, after them.
    pub rendered: Vec<Rendered>,
    pub patches: Vec<Patch>,
    pub deletes: Vec<String>,
    pub unlink: Vec<Link>,
    pub link: Vec<Link>,
    /// Marks the rows written (`Source::Run` for a run).
    pub source: Option<Source>,
}

/// A change of some properties of an existing object: a run setting what it manages and leaving the rest
/// (an administrator's edits of other properties) alone. `set` is merged into the document ([`merge`]);
/// `team` sets the team facet. The object keeps its `source`; an object that is gone stays gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub id: String,
    pub set: Map<String, Value>,
    pub team: Option<bool>,
}

/// Merge `set` into `doc`: objects recursively (so `{"student": {"grade": "09"}}` keeps the student's other
/// properties), `null` removes, anything else replaces.
pub fn merge(doc: &mut Map<String, Value>, set: &Map<String, Value>) {
    for (k, v) in set {
        match (doc.get_mut(k), v) {
            (_, Value::Null) => {
                doc.remove(k);
            }
            (Some(Value::Object(have)), Value::Object(sub)) => merge(have, sub),
            _ => {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Patch {
    /// The object as the patch leaves it.
    pub(crate) fn applied(&self, mut object: Object) -> Object {
        merge(Arc::make_mut(&mut object.doc), &self.set);
        if let Some(team) = self.team {
            object.team = team;
        }
        object
    }
}

/// Whose neighbours a list reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Related {
    /// The members / owners of `of` (`/groups/{id}/members`).
    Of { relation: Relation, of: String },
    /// The objects that have `of` as a member / owner (`/education/users/{id}/classes`).
    Having { relation: Relation, of: String },
}

/// A page request.
#[derive(Clone)]
pub struct ListQuery<'a> {
    /// The view whose properties `$filter`, `$search` and `$orderby` name.
    pub view: &'static View,
    /// Only objects of this kind (`None` in mixed `directoryObject` lists).
    pub kind: Option<ObjectKind>,
    /// Only objects with the education facet (classes, schools).
    pub education: bool,
    pub related: Option<Related>,
    /// Only objects this user is a member or owner of (a delegated caller's classes); an id that is no user's
    /// (`""`) sees nothing.
    pub visible_to: Option<String>,
    pub filter: Option<&'a Expr>,
    pub search: Option<&'a Search>,
    /// `$orderby`: property names and `desc`.
    pub order: &'a [(String, bool)],
    pub after: Option<Cursor>,
    pub limit: usize,
}

/// A page of objects; `next` when more follow.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub objects: Vec<Object>,
    pub next: Option<Cursor>,
}

/// One object as the store keeps it, its document still the JSON text of the `body` column: a page is written
/// to the answer from that text (`render::write`) without parsing every document into a `Map`, rebuilding it
/// through the view and serialising it again (most of the CPU of a members list or a page of 999 users).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: String,
    pub kind: ObjectKind,
    pub education: bool,
    pub team: bool,
    pub source: Source,
    /// [`Object::doc`] as JSON.
    pub body: String,
    pub version: i64,
}

impl Stored {
    pub fn parse(self) -> Result<Object> {
        let doc: Map<String, Value> = serde_json::from_str(&self.body).map_err(crate::backend)?;
        let Stored { id, kind, education, team, source, version, .. } = self;
        Ok(Object { id, kind, education, team, source, doc: Arc::new(doc), version })
    }
}

/// A page of stored objects; `next` when more follow.
#[derive(Debug, Clone, Default)]
pub struct StoredPage {
    pub items: Vec<Stored>,
    pub next: Option<Cursor>,
}

/// The keys user matching compares, folded, for every user of a tenant (one streaming read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserKeys {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub employee_id: Option<String>,
    pub student_external_id: Option<String>,
    pub teacher_external_id: Option<String>,
    pub source: Option<Source>,
}

/// A list that can't be served: a shape the view does not support, or a stale token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Unsupported> for QueryError {
    fn from(u: Unsupported) -> Self {
        QueryError::Unsupported(u.0)
    }
}

/// The directory API. Every method takes the tenant first. Implemented by both backends.
#[async_trait]
pub trait DirectoryStore: Send + Sync + 'static {
    async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<Object>>;
    /// A user by `userPrincipalName` (case-insensitively).
    async fn get_by_upn(&self, tenant: &TenantId, upn: &str) -> Result<Option<Object>>;
    /// A page of objects in `$orderby` order (then id), after the query's cursor.
    async fn list(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<Page, QueryError> {
        let page = self.list_stored(tenant, q).await?;
        let objects = page.items.into_iter().map(Stored::parse).collect::<Result<_>>()?;
        Ok(Page { objects, next: page.next })
    }
    /// The same page with each document as stored (JSON text), for writing it through to an answer.
    async fn list_stored(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<StoredPage, QueryError>;
    /// The object `id` names (as [`get`](Self::get)) and a page of the query's objects (as
    /// [`list_stored`](Self::list_stored)), read together: a navigation list (`/education/classes/{id}/members`)
    /// needs both, and PostgreSQL answers them in one statement (one round trip instead of two), SQLite in one
    /// trip to the blocking pool. The page is read whether or not the object exists (the caller discards it).
    async fn get_and_list_stored(
        &self,
        tenant: &TenantId,
        id: &str,
        q: &ListQuery<'_>,
    ) -> Result<(Option<Object>, StoredPage), QueryError> {
        let parent = self.get(tenant, id).await?;
        Ok((parent, self.list_stored(tenant, q).await?))
    }
    /// How many objects the query matches (its cursor and limit ignored).
    async fn count(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<u64, QueryError>;
    /// Create an object with its first relations (a group's owners and members); `Exists` when the id is
    /// taken, `Duplicate("userPrincipalName")` when the UPN is, `MissingRef` when a linked object is missing.
    async fn create(&self, tenant: &TenantId, object: Object, links: Vec<Link>) -> Result<()>;
    /// Change an object inside the write (concurrent updates apply in turn); returns it as stored.
    async fn update(&self, tenant: &TenantId, id: &str, edit: Edit) -> Result<Object>;
    /// Delete an object and every relation it is in; `NotFound` when there is none.
    async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()>;
    /// Add a relation; `MissingRef` when either end is missing, `Exists` when it is there already.
    async fn link(&self, tenant: &TenantId, link: Link) -> Result<()>;
    /// Remove a relation; `NotFound` when it is not there.
    async fn unlink(&self, tenant: &TenantId, link: Link) -> Result<()>;
    /// A run's changes (or a test's seed) in one transaction of their own.
    async fn apply(&self, tenant: &TenantId, bulk: Bulk) -> Result<()>;
    /// Every user's match keys, in id order.
    async fn user_keys(&self, tenant: &TenantId) -> Result<Vec<UserKeys>>;
}

/// A change of a stored object, run inside the write against its current state.
pub type Edit = Box<dyn FnOnce(&mut Object) -> Result<()> + Send>;

/// A view's properties as SQL: indexed columns, or paths into the folded JSON document (`fold`); and the
/// properties `$search` takes on it (`View::search`).
pub struct ViewMapping {
    pub props: &'static [Prop],
    pub search: &'static [&'static str],
}

impl ViewMapping {
    pub fn of(view: &'static View) -> ViewMapping {
        ViewMapping { props: view.props, search: view.search }
    }
}

fn sql_type(kind: Kind) -> Type {
    match kind {
        Kind::Bool => Type::Bool,
        Kind::Int => Type::Int,
        Kind::DateTime => Type::Time,
        Kind::Date => Type::Date,
        _ => Type::Text,
    }
}

fn ops(filter: Filter) -> Ops {
    if filter == Filter::Eq {
        Ops::Eq
    } else {
        Ops::Full
    }
}

fn find(props: &'static [Prop], name: &str) -> Option<&'static Prop> {
    props.iter().find(|p| p.name.eq_ignore_ascii_case(name) && p.filter != Filter::No)
}

impl Mapping for ViewMapping {
    fn field(&self, path: &[String]) -> Option<Field<'_>> {
        let prop = find(self.props, path.first()?)?;
        match (prop.kind, path.len()) {
            (Kind::Strings, 1) => {
                Some(Field::Collection { path: vec![prop.name], element: Element::Scalar(Type::Text, Ops::Full) })
            }
            (Kind::Objects(_, members), 1) => Some(Field::Collection {
                path: vec![prop.name],
                element: Element::Object(Rc::new(ViewMapping { props: members, search: &[] })),
            }),
            (Kind::Object(_, members), 2) => {
                let member = find(members, &path[1])?;
                (!member.kind.is_collection()).then(|| Field::Scalar {
                    loc: Loc::Json(vec![prop.name, member.name]),
                    ty: sql_type(member.kind),
                    ops: ops(member.filter),
                })
            }
            (Kind::Object(..) | Kind::Strings | Kind::Objects(..), _) => None,
            (kind, 1) => Some(Field::Scalar {
                loc: match prop.column {
                    Some(c) => Loc::Column(c.name()),
                    None => Loc::Json(vec![prop.name]),
                },
                ty: sql_type(kind),
                ops: ops(prop.filter),
            }),
            _ => None,
        }
    }

    fn searched(&self, property: &str) -> Option<Searched> {
        let name = *self.search.iter().find(|p| p.eq_ignore_ascii_case(property))?;
        if Search::is_tokenized(name) {
            debug_assert!(TOKENIZED.contains(&name), "{name} has stored tokens");
            return Some(Searched::Tokens(Loc::Json(vec![SEARCH_TOKENS, name])));
        }
        match self.field(&[name.to_string()])? {
            Field::Scalar { loc, ty: Type::Text, .. } => Some(Searched::Prefix(loc)),
            _ => None,
        }
    }
}

/// `$orderby` keys against a view: only sortable properties.
pub(crate) fn order_keys(view: &View, order: &[(String, bool)]) -> Result<Vec<Key>, QueryError> {
    order
        .iter()
        .map(|(name, descending)| {
            let prop = view.prop(name).filter(|p| p.sort).ok_or_else(|| {
                QueryError::Unsupported(format!(
                    "Sorting by the property '{name}' is not supported on {}.",
                    view.collection
                ))
            })?;
            let loc = match prop.column {
                Some(c) => Loc::Column(c.name()),
                None => Loc::Json(vec![prop.name]),
            };
            Ok(Key { loc, ty: sql_type(prop.kind), descending: *descending })
        })
        .collect()
}

/// The `WHERE` of a list (after the tenant) and its joins, in one dialect: scope, filter, search, cursor.
pub(crate) struct Plan {
    pub sql: crate::query::Sql,
    pub join: String,
    pub conditions: Vec<String>,
    pub keys: Vec<Key>,
    /// The relation's column that equals `o.id` in a navigation list (`r.to_id` for members): without `$orderby`
    /// the page is ordered by it, which the relation's key (or reverse index) already holds in that order, so
    /// no sort of the rows (and their documents) is needed; the order is the same as by `o.id`.
    pub related_id: Option<String>,
}

pub(crate) fn plan(
    dialect: crate::query::Dialect,
    tenant: &TenantId,
    q: &ListQuery<'_>,
    paged: bool,
) -> Result<Plan, QueryError> {
    use crate::query::{Param, Sql};
    let mut sql = Sql::new(dialect, "o", "fold");
    let t = sql.bind(Param::Text(tenant.as_str().to_string()));
    let mut conditions = vec![format!("o.tenant = {t}")];
    let mut join = String::new();
    let mut related_id = None;
    if let Some(kind) = q.kind {
        // A literal, not a parameter: SQLite matches a partial index's `WHERE kind = 'group'` against a bound
        // value by marking the statement to be prepared again whenever the value is bound, i.e. on every
        // execution (8 % of a members list's CPU). The kind is one of three names of the model's own.
        conditions.push(format!("o.kind = '{}'", kind.as_str()));
    }
    if q.education {
        conditions.push("o.edu = TRUE".into());
    }
    if let Some(related) = &q.related {
        let (relation, of, near, far) = match related {
            Related::Of { relation, of } => (relation, of, "to_id", "from_id"),
            Related::Having { relation, of } => (relation, of, "from_id", "to_id"),
        };
        let r = sql.bind(Param::Text(relation.as_str().into()));
        let id = sql.bind(Param::Text(of.to_ascii_lowercase()));
        join = format!(
            "JOIN dir_relation r ON r.tenant = o.tenant AND r.{near} = o.id AND r.rel = {r} AND r.{far} = {id}"
        );
        related_id = Some(format!("r.{near}"));
    }
    if let Some(user) = &q.visible_to {
        let u = sql.bind(Param::Text(user.to_ascii_lowercase()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM dir_relation v WHERE v.tenant = o.tenant AND v.rel IN ('members', 'owners') \
             AND v.from_id = o.id AND v.to_id = {u})"
        ));
    }
    let mapping = ViewMapping::of(q.view);
    if let Some(f) = q.filter {
        conditions.push(sql.filter(f, &mapping)?);
    }
    if let Some(s) = q.search {
        conditions.push(sql.search(s.expr(), &mapping)?);
    }
    let keys = order_keys(q.view, q.order)?;
    if let (true, Some(cursor)) = (paged, &q.after) {
        conditions.push(sql.after(&keys, "id", cursor)?);
    }
    Ok(Plan { sql, join, conditions, keys, related_id })
}

impl Plan {
    /// A page's `SELECT`: the object's columns, then its sort keys' values (for the next cursor), one row more
    /// than the page (to know whether another follows).
    pub fn page_sql(&self, limit: usize) -> String {
        let keys: String = self.sql.key_values(&self.keys).iter().map(|k| format!(", {k}")).collect();
        let order = match (&self.related_id, self.keys.is_empty()) {
            (Some(id), true) => format!("ORDER BY {id} ASC"),
            _ => self.sql.order_by(&self.keys, "id"),
        };
        format!(
            "SELECT o.id, o.kind, o.edu, o.team, o.source, o.body, o.version{keys} FROM dir_object o {} WHERE {} {} LIMIT {}",
            self.join,
            self.conditions.join(" AND "),
            order,
            limit + 1
        )
    }

    /// The `SELECT COUNT(*)` of the same objects.
    pub fn count_sql(&self) -> String {
        format!("SELECT COUNT(*) FROM dir_object o {} WHERE {}", self.join, self.conditions.join(" AND "))
    }
}

/// The folded document of a user as JSON, for the match keys.
pub(crate) fn user_keys_from(id: String, cols: &[Option<String>], fold: &Value, source: &str) -> UserKeys {
    let s =
        |v: &Value, path: &[&str]| path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).map(str::to_string);
    UserKeys {
        id,
        user_principal_name: cols.first().cloned().flatten(),
        mail: cols.get(1).cloned().flatten(),
        mail_nickname: cols.get(2).cloned().flatten(),
        employee_id: s(fold, &["employeeId"]),
        student_external_id: s(fold, &["student", "externalId"]),
        teacher_external_id: s(fold, &["teacher", "externalId"]),
        source: Some(Source::parse(source)),
    }
}

/// [`user_keys_from`] on the folded document's text: a typed parse that keeps the three keys and skips the
/// rest, instead of a `Value` (a map and a string per property) per user. A run reads every user's keys, the
/// unchanged run too: on 215k users the `Value`s were most of that read. A document the typed parse refuses
/// (not an object, a repeated key) goes through the `Value` as before.
pub(crate) fn user_keys_from_text(id: String, cols: &[Option<String>], fold: &str, source: &str) -> UserKeys {
    /// A property's string value; any other value as none (as `Value::as_str`).
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Str {
        Str(String),
        Other(serde::de::IgnoredAny),
    }
    impl Str {
        fn string(s: Option<Str>) -> Option<String> {
            match s {
                Some(Str::Str(s)) => Some(s),
                _ => None,
            }
        }
    }
    /// `student` / `teacher`: only its `externalId` (a facet that is not an object takes the `Value` way).
    #[derive(serde::Deserialize)]
    struct Facet {
        #[serde(rename = "externalId")]
        external_id: Option<Str>,
    }
    impl Facet {
        fn external_id(f: Option<Facet>) -> Option<String> {
            Str::string(f?.external_id)
        }
    }
    #[derive(serde::Deserialize)]
    struct Keys {
        #[serde(rename = "employeeId")]
        employee_id: Option<Str>,
        student: Option<Facet>,
        teacher: Option<Facet>,
    }
    match serde_json::from_str::<Keys>(fold) {
        Ok(k) => UserKeys {
            id,
            user_principal_name: cols.first().cloned().flatten(),
            mail: cols.get(1).cloned().flatten(),
            mail_nickname: cols.get(2).cloned().flatten(),
            employee_id: Str::string(k.employee_id),
            student_external_id: Facet::external_id(k.student),
            teacher_external_id: Facet::external_id(k.teacher),
            source: Some(Source::parse(source)),
        },
        Err(_) => user_keys_from(id, cols, &serde_json::from_str(fold).unwrap_or_default(), source),
    }
}

/// A stored row's parts, its body left as text.
pub(crate) fn stored_from(
    id: String,
    kind: &str,
    education: bool,
    team: bool,
    source: &str,
    body: String,
    version: i64,
) -> Result<Stored> {
    let kind = ObjectKind::parse(kind).ok_or_else(|| StoreError::Backend(format!("unknown object kind '{kind}'")))?;
    Ok(Stored { id, kind, education, team, source: Source::parse(source), body, version })
}

/// Sanity: the mapping serves every filterable property of every view.
#[cfg(test)]
mod tests {
    #[test]
    fn match_keys_parse_typed_as_through_a_value() {
        for fold in [
            r#"{"displayname":"a","employeeId":"e7","student":{"externalId":"s7","grade":"9"},"teacher":null}"#,
            r#"{"employeeId":7,"teacher":{"externalId":"t1"},"student":{"externalId":["x"]}}"#,
            r#"{"student":"not an object","employeeId":"e"}"#,
            r#"{"employeeId":"a","employeeId":"b"}"#,
            r#"{}"#,
            r#"[1]"#,
            r#"not json"#,
        ] {
            let cols = [Some("u@x".to_string()), None, Some("n".to_string())];
            let value = serde_json::from_str(fold).unwrap_or_default();
            assert_eq!(
                super::user_keys_from_text("id".into(), &cols, fold, "run"),
                super::user_keys_from("id".into(), &cols, &value, "run"),
                "{fold}"
            );
        }
    }

    use super::*;

    #[test]
    fn every_filterable_property_maps() {
        for view in rosterflow_model::directory::VIEWS {
            let m = ViewMapping::of(view);
            for p in view.props.iter().filter(|p| p.filter != Filter::No && !matches!(p.kind, Kind::Object(..))) {
                assert!(m.field(&[p.name.to_string()]).is_some(), "{}.{}", view.name, p.name);
            }
        }
    }
}
