//! Tenant-first storage for industryData resources.
//!
//! Every method takes the [`TenantId`] first: no query can forget the tenant, and another tenant's ids are
//! simply absent. Configuration entities are stored as JSON documents with a few indexed columns
//! (`migrations/0001_resources.sql`); uniqueness rules and bindings between resources are rows the store
//! checks inside the same transaction as the write, so they hold under concurrency and never half-apply.
//!
//! Two backends, chosen at run time from the URL: SQLite (embedded default; one writer thread that commits
//! concurrent writes together) and PostgreSQL (shared by stateless replicas).

pub mod directory;
pub mod files;
pub mod leases;
mod migrations;
mod parsed;
mod postgres;
pub mod query;
pub mod roster;
pub mod runs;
pub mod secrets;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
pub use rosterflow_model::TenantId;
use serde_json::{Map, Value};
pub use sqlite::map_reads as map_sqlite_reads;

/// One stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The entity set's canonical name.
    pub set: String,
    pub id: String,
    /// The id of the containing item (a provisioning flow's set), if the set is contained.
    pub parent: Option<String>,
    /// Full type name without `#`.
    pub odata_type: String,
    /// The whole stored document; shared, so handing a resource out or caching it copies no JSON.
    pub doc: Arc<Map<String, Value>>,
    /// Incremented by every write; updates name the version they were computed from.
    pub version: i64,
}

/// Another resource a write binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub set: String,
    pub id: String,
    /// Where the bind appeared in the body, for the error message.
    pub path: String,
}

/// The unique keys and references of a resource as an [`Edit`] left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    pub unique: Vec<String>,
    pub refs: Vec<Ref>,
}

/// A change to a stored resource, run inside the write against the resource's current state, so that
/// concurrent changes of one item apply one after another instead of racing. It edits the document in place
/// and returns the constraints that must hold afterwards; `Err(VersionConflict)` asks the caller to start over
/// (the item is no longer what it was checked against). The store may run it more than once (PostgreSQL
/// computes a write from the state it last knew and redoes it from the row when another replica wrote
/// first), so it must depend on nothing but the resource it is given.
pub type Edit = Box<dyn FnMut(&mut Resource) -> Result<Constraints> + Send>;

/// Where an item stands in its set's creation order: `seq`, then the id key (concurrent creations on
/// PostgreSQL may share a `seq`). Keyset paging continues after a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub seq: i64,
    pub id_key: String,
}

/// A page of a set's items in creation order, filtered and counted in SQL.
#[derive(Debug, Clone, Default)]
pub struct PageQuery<'a> {
    /// The containing item (a flow set's flows); `None`: items under any parent, or none.
    pub parent: Option<&'a str>,
    /// Only items of these types (a type-cast segment: the type named and those derived from it).
    pub types: Option<Vec<String>>,
    /// Only items after this position.
    pub after: Option<Position>,
    /// Items to leave out first (`$skip`).
    pub skip: u64,
    /// Items to return at most.
    pub limit: u64,
    /// Also count every item the query matches (without `after`, `skip` and `limit`).
    pub count: bool,
}

/// What [`Store::page`] found.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<(Position, Resource)>,
    pub total: Option<u64>,
    /// The tenant's [`InboundStamp`], read by the statement that read the items (`None` when it read none).
    pub stamp: Option<InboundStamp>,
}

/// A tenant's inbound stamp: a number that changes, in the same transaction, with every change to the tenant's
/// inbound flows (`inboundFlows` items) or their roster snapshots (`migrations/0007_reads.*.sql`'s
/// triggers); 0 before the first. What a reader derives from those and keeps under the stamp it read before
/// reading them is current for as long as a later read returns the same stamp, whichever replica wrote.
pub type InboundStamp = i64;

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Creating: the id must be free.
    Absent,
    /// Updating: the stored version must still be this one.
    Version(i64),
}

impl Expect {
    /// Whether a write expecting `self` may proceed over the stored version (`None`: no such item).
    pub(crate) fn check(self, stored: Option<i64>) -> Result<()> {
        match (self, stored) {
            (Expect::Absent, Some(_)) => Err(StoreError::Exists),
            (Expect::Version(_), None) => Err(StoreError::NotFound),
            (Expect::Version(v), Some(s)) if v != s => Err(StoreError::VersionConflict),
            _ => Ok(()),
        }
    }
}

impl Write {
    /// The write's unique keys and references as one string, stored with the row: when an update's equals the
    /// stored one, the constraint rows are already right and need no upkeep.
    pub(crate) fn constraints(&self) -> String {
        let unique = self.unique.iter().map(|u| format!("u:{u}"));
        let refs = self.refs.iter().map(|r| format!("r:{}/{}", r.set, id_key(&r.id)));
        unique.chain(refs).collect::<Vec<_>>().join("\n")
    }
}

/// A create or update of one resource, with the rules that must hold when it lands.
#[derive(Debug, Clone)]
pub struct Write {
    pub resource: Resource,
    pub expect: Expect,
    /// Keys that must be unique among the items of the same set and parent.
    pub unique: Vec<String>,
    /// Resources that must exist in the tenant; while this one binds them, they can't be deleted.
    pub refs: Vec<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("an item with this id already exists")]
    Exists,
    #[error("duplicate value for unique key {0}")]
    Duplicate(String),
    #[error("the item changed concurrently")]
    VersionConflict,
    #[error("{path}: no {set} item with id '{id}'")]
    MissingRef { path: String, set: String, id: String },
    #[error("{set} '{id}' is in use by {by_set} '{by_id}'")]
    InUse { set: String, id: String, by_set: String, by_id: String },
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The storage API. Implementations: [`sqlite::SqliteStore`], [`postgres::PgStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, tenant: &TenantId, set: &str, id: &str) -> Result<Option<Resource>>;
    /// [`Store::get`], and the tenant's [`InboundStamp`] read with it (by the same statement on PostgreSQL).
    async fn get_stamped(&self, tenant: &TenantId, set: &str, id: &str) -> Result<(Option<Resource>, InboundStamp)>;
    /// Items of a set in creation order; `parent` restricts a contained set to one parent's items.
    async fn list(&self, tenant: &TenantId, set: &str, parent: Option<&str>) -> Result<Vec<Resource>>;
    /// An item as a recent read or write left it, possibly older than the row: for checks that depend only on
    /// what an item's id fixes (its type, its parent) before an [`Store::edit`], which works on the current
    /// state. Saves a read per write where the store remembers the item; otherwise it is [`Store::get`].
    async fn peek(&self, tenant: &TenantId, set: &str, id: &str) -> Result<Option<Resource>> {
        self.get(tenant, set, id).await
    }
    /// A page of a set's items in creation order (see [`PageQuery`]).
    async fn page(&self, tenant: &TenantId, set: &str, query: &PageQuery<'_>) -> Result<Page>;
    /// Create or update; committed (durable) when this returns `Ok`.
    async fn put(&self, tenant: &TenantId, write: Write) -> Result<()>;
    /// Change a stored item in place (see [`Edit`]); `NotFound` when there is no such item.
    async fn edit(&self, tenant: &TenantId, set: &str, id: &str, edit: Edit) -> Result<()>;
    /// Delete an item and the items contained in it; fails with `InUse` while another item binds any of them.
    async fn delete(&self, tenant: &TenantId, set: &str, id: &str) -> Result<()>;
}

/// One backend seen through each of its stores. Every store is tenant-first; callers take the one they need.
/// One backend value implements them all, so one SQLite writer (or one PostgreSQL pool) serves every table.
#[derive(Clone)]
pub struct Stores {
    /// The configuration documents (industryData entity sets, operations, runs).
    pub resources: Arc<dyn Store>,
    /// The directory: users, groups, administrative units, their facets and relations.
    pub directory: Arc<dyn directory::DirectoryStore>,
    /// Uploaded files: upload containers, their blobs, and what the validator reads.
    pub files: files::Files,
    /// Inbound flows' roster snapshots.
    pub roster: Arc<dyn roster::RosterStore>,
    /// What provisioning runs wrote (each flow's managed objects and relations).
    pub runs: Arc<dyn runs::RunStore>,
    /// One run per tenant at a time, across replicas.
    pub leases: Arc<dyn leases::RunLeases>,
}

impl Stores {
    fn of<B>(backend: Arc<B>, files: files::FilesConfig) -> Result<Stores>
    where
        B: Store + directory::DirectoryStore + roster::RosterStore + runs::RunStore + leases::RunLeases + files::Meta,
    {
        Ok(Stores {
            resources: backend.clone(),
            directory: backend.clone(),
            roster: backend.clone(),
            runs: backend.clone(),
            leases: backend.clone(),
            files: files::Files::new(backend, files)?,
        })
    }
}

/// Open the stores a URL names: `postgres://...` / `postgresql://...`, or `sqlite://PATH` / a plain file path.
/// Uploaded files' bytes go to a `files` directory beside the SQLite file (`rosterflow-files` in the current
/// directory for PostgreSQL); [`open_with`] says where.
pub async fn open(url: &str) -> Result<Stores> {
    let dir = match sqlite_path(url) {
        Some(path) => std::path::Path::new(path).parent().unwrap_or(std::path::Path::new(".")).join("files"),
        None => std::path::PathBuf::from("rosterflow-files"),
    };
    open_with(url, files::FilesConfig::local(dir)).await
}

/// [`open`], with uploaded files kept as `files` says.
pub async fn open_with(url: &str, files: files::FilesConfig) -> Result<Stores> {
    match sqlite_path(url) {
        None => Stores::of(Arc::new(postgres::PgStore::connect(url).await?), files),
        Some(path) => Stores::of(Arc::new(sqlite::SqliteStore::open(path.as_ref())?), files),
    }
}

/// The SQLite file a URL names, or `None` for PostgreSQL.
fn sqlite_path(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        None
    } else {
        Some(url.strip_prefix("sqlite://").unwrap_or(url))
    }
}

/// Ids match case-insensitively: Graph treats GUIDs and `{referenceType}-{code}` keys that way.
pub(crate) fn id_key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// `tenant␟set␟id`, the id lower-cased as [`id_key`] does: the key of an item in a backend's per-process
/// memory of items (SQLite's writer cache, PostgreSQL's known versions). One allocation, no formatting
/// machinery (a lookup per request).
pub(crate) fn item_key(tenant: &str, set: &str, id: &str) -> String {
    let mut key = String::with_capacity(tenant.len() + set.len() + id.len() + 2);
    key.push_str(tenant);
    key.push('\u{1f}');
    key.push_str(set);
    key.push('\u{1f}');
    key.extend(id.chars().map(|c| c.to_ascii_lowercase()));
    key
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}
