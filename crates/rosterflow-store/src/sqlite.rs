//! The embedded SQLite backend.
//!
//! One writer thread owns the write connection and commits every write that arrives while the previous commit
//! was in flight in the same transaction (group commit). With WAL and `synchronous=FULL` a commit is durable
//! when `put` returns, and one sync of the WAL (`fdatasync`, see `.cargo/config.toml`) serves a whole batch,
//! which is what lets a single file take tens of thousands of writes a second. A write refused for a reason of
//! its own (a conflict, a missing item) is refused before it changes anything (`put`, `delete` check first),
//! so one failing write needs no savepoint to leave the others of its batch alone; a storage failure fails the
//! whole batch. An item edited several times in one batch (concurrent PATCHes of one flow) is serialised and
//! written once, with its last state.
//!
//! The writer also keeps every item it wrote since start in memory, updated only once the batch that wrote it
//! has committed: a point read of such an item costs a map lookup, no SQL and no JSON. The cache is exact
//! because this process is the only writer of the file (the data directory belongs to one `serve`; replicas
//! share PostgreSQL instead). Other reads use a small pool of read connections and run inline: WAL readers
//! never wait for the writer, and a point read takes microseconds, less than a hop to a blocking thread would.

mod leases;
mod roster;
mod runs;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use crate::migrations::{CREATE_TABLE, MIGRATIONS};
use crate::query::{resource_page_conditions, Dialect};
use crate::{
    backend, id_key, item_key, Constraints, Edit, Expect, InboundStamp, Page, PageQuery, Position, Resource, Result,
    Store, StoreError, TenantId, Write,
};

/// Most writes committed together.
const MAX_BATCH: usize = 1024;
/// Read connections kept open.
const READERS: usize = 8;

/// A write to tables other than `resource` (directory, roster, jobs, files), run by the writer thread on its
/// connection inside a transaction. It must not touch the `resource` tables, whose rows the writer caches.
pub(crate) type TxFn = Box<dyn FnOnce(&Connection) -> Result<Output> + Send>;
/// What a [`TxFn`] hands back to its caller once its transaction has committed.
pub(crate) type Output = Box<dyn std::any::Any + Send>;

// The `Run` / `Exclusive` jobs serve the other table families: the directory (`directory/sqlite.rs`) today,
// roster and job stores as they land.
enum Op {
    Put(Write),
    Edit {
        set: String,
        id: String,
        edit: Edit,
    },
    Delete {
        set: String,
        id: String,
    },
    /// Runs inside the group commit, under a savepoint of its own: its failure undoes only its own changes.
    Run(TxFn),
    /// Runs alone in a transaction of its own: bulk writes (a run's changes, a snapshot) that should neither
    /// wait for nor hold up the small writes of a batch.
    Exclusive(TxFn),
}

struct Job {
    tenant: TenantId,
    op: Op,
    reply: oneshot::Sender<Result<Output>>,
}

impl Job {
    fn exclusive(&self) -> bool {
        matches!(self.op, Op::Exclusive(_))
    }
}

fn unit() -> Output {
    Box::new(())
}

/// An item as the writer last committed it, with the constraints written with it.
#[derive(Clone)]
struct Stored {
    resource: Resource,
    constraints: String,
}

/// Items written since start, by [`item_key`](crate::item_key); only the writer thread changes it.
type Cache = Arc<RwLock<FxHashMap<String, Stored>>>;

pub struct SqliteStore {
    /// An exclusive lock on `<database>.lock`, held while the store is open: the cache is exact only while
    /// this process is the file's one writer.
    _lock: std::fs::File,
    writer: mpsc::Sender<Job>,
    readers: Arc<Readers>,
    cache: Cache,
}

/// Read connections, opened on demand and kept for reuse.
struct Readers {
    path: std::path::PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.read_with(|c| f(c).map_err(backend))
    }

    fn read_with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.pool.lock().expect("reader pool").pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect_reader(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.pool.lock().expect("reader pool");
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
        .map_err(backend)?;
    Ok(conn)
}

/// How much of the database file a read connection maps into memory (SQLite's cap on Linux, 2 GiB). A mapped
/// page is read in place, shared with the kernel's page cache: no `pread` system call and no copy into the
/// connection's own page cache, which holds only 2 MB. A list that looks up rows all over the file (a class's
/// ~29 members among 100k users) spent a sixth of its CPU time in those reads (docs/benchmarks.md, "The
/// directory"). Pages still in the WAL are read from it as before.
const READER_MMAP: i64 = 2_147_418_112;

/// Whether read connections map the file: yes in the server (its reads are many and small, all over the
/// file); a one-shot `rosterflow run` / `plan` turns it off ([`map_reads`]), since it reads the roster and the
/// state once, in order, and every mapped page would count in its resident memory until it exits (its peak RSS
/// went from ~180 to ~560 MiB for a preview of the district).
static MAP_READS: AtomicBool = AtomicBool::new(true);

/// Whether SQLite read connections opened from now on map the database file (on by default).
pub fn map_reads(on: bool) {
    MAP_READS.store(on, Ordering::Relaxed);
}

fn connect_reader(path: &Path) -> Result<Connection> {
    let conn = connect(path)?;
    if MAP_READS.load(Ordering::Relaxed) {
        conn.execute_batch(&format!("PRAGMA mmap_size = {READER_MMAP}")).map_err(backend)?;
    }
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let lock = std::fs::File::create(path.with_extension("lock")).map_err(backend)?;
        lock.try_lock()
            .map_err(|_| StoreError::Backend(format!("{} is in use by another rosterflow process", path.display())))?;
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        leases::clear(&conn)?;
        // The writer's page cache: 32 MiB from the start, as a run's bulk write leaves it (directory::sqlite::apply),
        // rather than SQLite's 2 MB. A group commit of a hundred creates (a `$batch` load) dirties a few hundred
        // pages scattered over the directory's indexes; with 2 MB they were spilled to the WAL before the commit
        // and read back, writing ~21 pages a created user (docs/benchmarks.md, "The directory").
        conn.execute_batch("PRAGMA cache_size = -32768").map_err(backend)?;
        // The writer checkpoints after 8,192 WAL pages (32 MiB) rather than 1,000: a group commit of a `$batch`
        // load writes a few hundred pages, so with 1,000 every few commits copied the same hot pages (the table's
        // and the indexes' growing ends) into the database file again, on the writer thread. Measured: 11-14 %
        // less server CPU for 100k creates (docs/benchmarks.md, "The directory"). Readers find pages in a WAL
        // of any size through its index; a restart replays at most these 32 MiB.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 8192").map_err(backend)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let cache = Cache::default();
        let writer_cache = cache.clone();
        std::thread::Builder::new()
            .name("rosterflow-sqlite-writer".into())
            .spawn(move || write_loop(conn, rx, writer_cache))
            .map_err(backend)?;
        let readers = Arc::new(Readers { path: path.to_path_buf(), pool: Mutex::new(Vec::new()) });
        Ok(SqliteStore { _lock: lock, writer: tx, readers, cache })
    }

    /// A point read, inline on the calling thread: WAL readers never wait for the writer, and a point read
    /// takes microseconds, less than a hop to a blocking thread would.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.readers.read(f)
    }

    /// A point read, inline, with the store's own error type.
    pub(crate) fn read_with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.read_with(f)
    }

    /// A read that may scan many rows (a page of a large collection, a snapshot), on tokio's blocking pool so
    /// that it never stalls the threads serving requests.
    pub(crate) async fn read_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.read_with(f)).await.map_err(backend)?
    }

    /// Run `f` on the writer's connection inside its next group commit, under a savepoint of its own; its
    /// result is returned once the transaction has committed (durably). `f` must not touch `resource` tables.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit_fn(tenant, f, false).await
    }

    /// Run `f` alone in a transaction of its own on the writer's connection (bulk writes); see [`Self::write`].
    pub(crate) async fn write_exclusive<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit_fn(tenant, f, true).await
    }

    async fn submit_fn<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
        exclusive: bool,
    ) -> Result<T> {
        let f: TxFn = Box::new(move |conn| f(conn).map(|t| Box::new(t) as Output));
        let out = self.submit(tenant, if exclusive { Op::Exclusive(f) } else { Op::Run(f) }).await?;
        Ok(*out.downcast::<T>().expect("a job's output has the job's type"))
    }

    async fn submit(&self, tenant: &TenantId, op: Op) -> Result<Output> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { tenant: tenant.clone(), op, reply })
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute(CREATE_TABLE, []).map_err(backend)?;
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let done: bool = tx
            .query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)", [m.version], |r| r.get(0))
            .map_err(backend)?;
        if !done {
            tx.execute_batch(m.sqlite).map_err(backend)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, datetime('now'))", [m.version])
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, cache: Cache) {
    // An exclusive job that ended the previous batch, run before anything that arrived after it.
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if first.exclusive() {
            let Job { op: Op::Exclusive(f), reply, .. } = first else { unreachable!("checked above") };
            let _ = reply.send(commit_alone(&mut conn, f));
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) if job.exclusive() => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut replaced = Vec::new();
        for (reply, result) in commit_batch(&mut conn, batch, &cache, &mut replaced) {
            let _ = reply.send(result);
        }
        drop(replaced); // freeing the states the batch replaced is nobody's wait: after the answers
    }
}

/// Run an exclusive job in a transaction of its own.
fn commit_alone(conn: &mut Connection, f: TxFn) -> Result<Output> {
    exec(conn, "BEGIN IMMEDIATE", [])?;
    match f(conn).and_then(|out| exec(conn, "COMMIT", []).map(|()| out)) {
        Ok(out) => Ok(out),
        Err(e) => {
            let _ = exec(conn, "ROLLBACK", []);
            Err(e)
        }
    }
}

/// Run a job of a group commit under a savepoint: a failure rolls back the job's own changes only. A
/// savepoint that can't be rolled back is a storage failure of the whole batch.
fn run_in_savepoint(conn: &Connection, f: TxFn) -> Result<Output> {
    exec(conn, "SAVEPOINT job", [])?;
    match f(conn) {
        Ok(out) => exec(conn, "RELEASE job", []).map(|()| out),
        Err(e) => {
            exec(conn, "ROLLBACK TO job", []).and_then(|()| exec(conn, "RELEASE job", []))?;
            Err(match e {
                // Undone: a failure of this job alone, not of the batch.
                StoreError::Backend(msg) => StoreError::Backend(format!("{msg} (rolled back)")),
                other => other,
            })
        }
    }
}

/// Apply and commit one batch; returns each write's outcome. The item states the batch replaced (in its own
/// changes and in the cache) go to `replaced`, for the caller to free once the writes are answered.
fn commit_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    cache: &Cache,
    replaced: &mut Vec<Stored>,
) -> Vec<(oneshot::Sender<Result<Output>>, Result<Output>)> {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE", []) {
        return batch.into_iter().map(|job| (job.reply, Err(e.clone()))).collect();
    }
    let mut results = Vec::with_capacity(batch.len());
    // This batch's committed writes, ahead of the cache: later writes in the batch must see them.
    let mut changes: FxHashMap<String, Option<Stored>> = FxHashMap::default();
    let mut failure = None;
    // Whether a job of another table family changed something (then the batch commits even without resources).
    let mut ran_jobs = false;
    // Items whose edits this batch has applied but not yet written: an item edited several times in one batch
    // (concurrent PATCHes of one flow) is serialised and written once, with its last state.
    let mut unwritten: FxHashMap<String, TenantId> = FxHashMap::default();
    for job in batch {
        let t = job.tenant.as_str();
        let key_of = |s: &Stored| item_key(t, &s.resource.set, &s.resource.id);
        // A write that fails for a reason of its own (a conflict, a missing item) fails before it changes
        // anything (`put`, `delete`), so it needs no savepoint; a storage failure fails the whole batch.
        let resource_change = match job.op {
            Op::Put(w) => write_unwritten(conn, &changes, &mut unwritten)
                .and_then(|()| put(conn, &job.tenant, w, None, false))
                .map(|(s, _)| vec![(key_of(&s), Some(s))]),
            Op::Edit { set, id, edit } => {
                edit_in_place(conn, &job.tenant, &set, &id, edit, &changes, cache).map(|(s, deferred)| {
                    let key = key_of(&s);
                    if deferred {
                        unwritten.insert(key.clone(), job.tenant.clone());
                    } else {
                        unwritten.remove(&key);
                    }
                    vec![(key, Some(s))]
                })
            }
            Op::Delete { set, id } => write_unwritten(conn, &changes, &mut unwritten)
                .and_then(|()| delete(conn, &job.tenant, &set, &id))
                .map(|doomed| doomed.into_iter().map(|(set, key)| (item_key(t, &set, &key), None)).collect()),
            Op::Run(f) => {
                let result = run_in_savepoint(conn, f);
                ran_jobs |= result.is_ok();
                if let Err(StoreError::Backend(e)) = &result {
                    if !e.ends_with("(rolled back)") {
                        failure.get_or_insert_with(|| e.clone());
                    }
                }
                results.push((job.reply, result));
                continue;
            }
            Op::Exclusive(_) => unreachable!("exclusive jobs are committed alone"),
        };
        let result = match resource_change {
            Ok(changed) => {
                replaced.extend(changed.into_iter().filter_map(|(key, change)| changes.insert(key, change)?));
                Ok(unit())
            }
            Err(StoreError::Backend(e)) => {
                failure.get_or_insert_with(|| e.clone());
                Err(StoreError::Backend(e))
            }
            Err(e) => Err(e),
        };
        results.push((job.reply, result));
    }
    if failure.is_none() {
        if let Err(StoreError::Backend(e)) = write_unwritten(conn, &changes, &mut unwritten) {
            failure = Some(e);
        }
    }
    let committed = match failure {
        Some(e) => Err(StoreError::Backend(e)),
        None if changes.is_empty() && !ran_jobs => {
            let _ = exec(conn, "ROLLBACK", []); // every write was refused: nothing to make durable
            return results;
        }
        None => exec(conn, "COMMIT", []),
    };
    match committed {
        Ok(()) => {
            let mut cache = cache.write().expect("cache lock");
            for (key, change) in changes {
                replaced.extend(match change {
                    Some(stored) => cache.insert(key, stored),
                    None => cache.remove(&key),
                });
            }
            results
        }
        Err(e) => {
            // A failed COMMIT may leave the transaction open; ROLLBACK fails harmlessly when it didn't.
            let _ = exec(conn, "ROLLBACK", []);
            // Nothing of the batch is durable: every write of it fails, even those that had succeeded.
            results.into_iter().map(|(reply, _)| (reply, Err(e.clone()))).collect()
        }
    }
}

/// Write the documents of the items edited in this batch whose rows still hold an earlier state.
fn write_unwritten(
    tx: &Connection,
    changes: &FxHashMap<String, Option<Stored>>,
    unwritten: &mut FxHashMap<String, TenantId>,
) -> Result<()> {
    for (key, tenant) in unwritten.drain() {
        if let Some(Some(s)) = changes.get(&key) {
            update_body(tx, &tenant, &s.resource, &s.constraints)?;
        }
    }
    Ok(())
}

/// Rewrite an existing row with `r` (its document, type, constraints and version).
fn update_body(tx: &Connection, tenant: &TenantId, r: &Resource, constraints: &str) -> Result<()> {
    with_json(&r.doc, |body| {
        exec(
            tx,
            "UPDATE resource SET body = ?4, odata_type = ?5, constraints = ?6, version = ?7
             WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3",
            params![tenant.as_str(), r.set, id_key(&r.id), body, r.odata_type, constraints, r.version],
        )
    })
}

/// `doc` as JSON text, serialised into the writer's reused buffer.
fn with_json<T>(doc: &serde_json::Map<String, serde_json::Value>, f: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    BODY.with_borrow_mut(|buf| {
        buf.clear();
        serde_json::to_writer(&mut *buf, doc).map_err(backend)?;
        f(std::str::from_utf8(buf).map_err(backend)?)
    })
}

/// Run one statement through the connection's statement cache.
fn exec(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<()> {
    tx.prepare_cached(sql).and_then(|mut s| s.execute(params)).map(drop).map_err(backend)
}

/// Create or update; returns the resource as stored (its new version, its parent as a key) and whether writing
/// its document was left to the caller (`defer`: allowed for an update that keeps its constraints, see
/// [`write_unwritten`]). `known`: the stored version and constraints, when the writer's memory already has
/// them. Every check comes before the first change, so a refused write leaves nothing behind without a
/// savepoint.
fn put(
    tx: &Connection,
    tenant: &TenantId,
    w: Write,
    known: Option<(i64, String)>,
    defer: bool,
) -> Result<(Stored, bool)> {
    let (t, key) = (tenant.as_str(), id_key(&w.resource.id));
    let parent = w.resource.parent.as_deref().map(id_key).unwrap_or_default();
    let stored: Option<(i64, String)> = match known {
        Some(known) => Some(known),
        None => tx
            .prepare_cached(
                "SELECT version, constraints FROM resource WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![t, w.resource.set, key], |row| Ok((row.get(0)?, row.get(1)?))).optional()
            })
            .map_err(backend)?,
    };
    w.expect.check(stored.as_ref().map(|(v, _)| *v))?;
    let constraints = w.constraints();
    let Write { resource: r, unique, refs, .. } = w;
    let keeps_constraints = stored.as_ref().is_some_and(|(_, c)| *c == constraints);
    if !keeps_constraints {
        for target in &refs {
            let found: bool = tx
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM resource WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3)",
                )
                .and_then(|mut s| s.query_row(params![t, target.set, id_key(&target.id)], |row| row.get(0)))
                .map_err(backend)?;
            if !found {
                return Err(StoreError::MissingRef {
                    path: target.path.clone(),
                    set: target.set.clone(),
                    id: target.id.clone(),
                });
            }
        }
        for u in &unique {
            let owner: Option<String> = tx
                .prepare_cached(
                    "SELECT id_key FROM resource_unique
                     WHERE tenant = ?1 AND set_name = ?2 AND parent_key = ?3 AND unique_key = ?4",
                )
                .and_then(|mut s| s.query_row(params![t, r.set, parent, u], |row| row.get(0)).optional())
                .map_err(backend)?;
            if owner.is_some_and(|owner| owner != key) {
                return Err(StoreError::Duplicate(u.clone()));
            }
        }
        exec(
            tx,
            "DELETE FROM resource_unique WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3",
            params![t, r.set, key],
        )?;
        for u in &unique {
            exec(
                tx,
                "INSERT INTO resource_unique (tenant, set_name, parent_key, unique_key, id_key) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t, r.set, parent, u, key],
            )?;
        }
        exec(
            tx,
            "DELETE FROM resource_ref WHERE tenant = ?1 AND from_set = ?2 AND from_key = ?3",
            params![t, r.set, key],
        )?;
        for target in &refs {
            exec(
                tx,
                "INSERT INTO resource_ref (tenant, from_set, from_key, to_set, to_key) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![t, r.set, key, target.set, id_key(&target.id)],
            )?;
        }
    }
    let version = stored.as_ref().map_or(1, |(v, _)| v + 1);
    let resource = Resource { parent: (!parent.is_empty()).then_some(parent), version, ..r };
    // Deferred, the caller writes the document (once, however often the batch edits the item).
    let deferred = defer && keeps_constraints;
    if stored.is_none() {
        with_json(&resource.doc, |body| {
            exec(
                tx,
                "INSERT INTO resource (tenant, set_name, id_key, parent_key, odata_type, body, version, seq, constraints)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM resource), ?7)",
                params![t, resource.set, key, resource.parent.as_deref().unwrap_or_default(), resource.odata_type, body, constraints],
            )
        })?;
    } else if !deferred {
        update_body(tx, tenant, &resource, &constraints)?;
    }
    Ok((Stored { resource, constraints }, deferred))
}

thread_local! {
    /// The writer's buffer for serialising documents: one allocation, reused, instead of one per write.
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn edit_in_place(
    tx: &Connection,
    tenant: &TenantId,
    set: &str,
    id: &str,
    mut edit: Edit,
    pending: &FxHashMap<String, Option<Stored>>,
    cache: &Cache,
) -> Result<(Stored, bool)> {
    let key = item_key(tenant.as_str(), set, id);
    let remembered = match pending.get(&key) {
        Some(change) => Some(change.clone().ok_or(StoreError::NotFound)?),
        None => cache.read().expect("cache lock").get(&key).cloned(),
    };
    let (mut current, known) = match remembered {
        Some(Stored { resource, constraints }) => {
            let known = (resource.version, constraints);
            (resource, Some(known))
        }
        None => (select_item(tx, tenant, set, id).map_err(backend)?.ok_or(StoreError::NotFound)?, None),
    };
    let version = current.version;
    let Constraints { unique, refs } = edit(&mut current)?;
    put(tx, tenant, Write { resource: current, expect: Expect::Version(version), unique, refs }, known, true)
}

/// Delete an item and its contained items; returns the (set, key) of every row deleted.
fn delete(tx: &Connection, tenant: &TenantId, set: &str, id: &str) -> Result<Vec<(String, String)>> {
    let (t, key) = (tenant.as_str(), id_key(id));
    let gone = tx
        .query_row(
            "SELECT NOT EXISTS(SELECT 1 FROM resource WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3)",
            params![t, set, key],
            |row| row.get::<_, bool>(0),
        )
        .map_err(backend)?;
    if gone {
        return Err(StoreError::NotFound);
    }
    // The item and everything contained in it (a flow set's flows).
    let doomed = "(SELECT set_name, id_key FROM resource WHERE tenant = ?1
                     AND ((set_name = ?2 AND id_key = ?3) OR parent_key = ?3))";
    let referrer: Option<(String, String, String, String)> = tx
        .query_row(
            &format!(
                "SELECT r.to_set, r.to_key, r.from_set, r.from_key FROM resource_ref r
                 WHERE r.tenant = ?1 AND (r.to_set, r.to_key) IN {doomed}
                   AND (r.from_set, r.from_key) NOT IN {doomed} LIMIT 1"
            ),
            params![t, set, key],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .map_err(backend)?;
    if let Some((set, id, by_set, by_id)) = referrer {
        return Err(StoreError::InUse { set, id, by_set, by_id });
    }
    for table in ["resource_ref", "resource_unique"] {
        let (set_col, key_col) =
            if table == "resource_ref" { ("from_set", "from_key") } else { ("set_name", "id_key") };
        tx.execute(
            &format!("DELETE FROM {table} WHERE tenant = ?1 AND ({set_col}, {key_col}) IN {doomed}"),
            params![t, set, key],
        )
        .map_err(backend)?;
    }
    let deleted = tx
        .prepare(&format!("SELECT set_name, id_key FROM {doomed}"))
        .and_then(|mut s| s.query_map(params![t, set, key], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .map_err(backend)?;
    tx.execute(
        "DELETE FROM resource WHERE tenant = ?1 AND ((set_name = ?2 AND id_key = ?3) OR parent_key = ?3)",
        params![t, set, key],
    )
    .map_err(backend)?;
    Ok(deleted)
}

/// One stored item, read through `conn` (the writer's transaction or a reader).
fn select_item(conn: &Connection, tenant: &TenantId, set: &str, id: &str) -> rusqlite::Result<Option<Resource>> {
    conn.prepare_cached(
        "SELECT odata_type, body, parent_key, version FROM resource
         WHERE tenant = ?1 AND set_name = ?2 AND id_key = ?3",
    )?
    .query_row(params![tenant.as_str(), set, id_key(id)], |row| row_to_resource(set, row))
    .optional()
}

/// The tenant's inbound stamp ([`crate::InboundStamp`]).
fn select_stamp(conn: &Connection, tenant: &str) -> rusqlite::Result<InboundStamp> {
    conn.prepare_cached("SELECT stamp FROM inbound_stamp WHERE tenant = ?1")?
        .query_row([tenant], |row| row.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

fn row_to_resource(set: &str, row: &rusqlite::Row) -> rusqlite::Result<Resource> {
    let body: &str = row.get_ref(1)?.as_str()?;
    let doc = crate::parsed::document(body)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
    let parent: String = row.get(2)?;
    Ok(Resource {
        set: set.to_string(),
        id: doc.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        parent: (!parent.is_empty()).then_some(parent),
        odata_type: row.get(0)?,
        doc,
        version: row.get(3)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, tenant: &TenantId, set: &str, id: &str) -> Result<Option<Resource>> {
        if let Some(s) = self.cache.read().expect("cache lock").get(&item_key(tenant.as_str(), set, id)) {
            return Ok(Some(s.resource.clone()));
        }
        self.read(|c| select_item(c, tenant, set, id))
    }

    async fn get_stamped(&self, tenant: &TenantId, set: &str, id: &str) -> Result<(Option<Resource>, InboundStamp)> {
        let cached = self.cache.read().expect("cache lock").get(&item_key(tenant.as_str(), set, id)).cloned();
        self.read(|c| {
            let stamp = select_stamp(c, tenant.as_str())?;
            match cached {
                Some(s) => Ok((Some(s.resource), stamp)),
                None => Ok((select_item(c, tenant, set, id)?, stamp)),
            }
        })
    }

    async fn list(&self, tenant: &TenantId, set: &str, parent: Option<&str>) -> Result<Vec<Resource>> {
        let parent = parent.map(id_key);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT odata_type, body, parent_key, version FROM resource
                 WHERE tenant = ?1 AND set_name = ?2 AND (?3 IS NULL OR parent_key = ?3) ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![tenant.as_str(), set, parent], |row| row_to_resource(set, row))?;
            rows.collect()
        })
    }

    async fn page(&self, tenant: &TenantId, set: &str, q: &PageQuery<'_>) -> Result<Page> {
        let (tenant, set) = (tenant.as_str().to_string(), set.to_string());
        let parent = q.parent.map(id_key);
        let types = q.types.as_ref().map(|t| serde_json::to_string(t).expect("strings serialise"));
        let (after_seq, after_key) = q.after.clone().map(|p| (p.seq, p.id_key)).unzip();
        let (skip, limit, count) = (q.skip as i64, q.limit as i64, q.count);
        // Up to a thousand documents to parse: off the threads that serve requests.
        self.read_blocking(move |c| {
            let conditions =
                |after| resource_page_conditions(Dialect::Sqlite, parent.is_some(), types.is_some(), after);
            let (matches, n) = conditions(after_seq.is_some());
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&tenant, &set];
            values.extend(parent.as_ref().map(|p| p as &dyn rusqlite::ToSql));
            values.extend(types.as_ref().map(|t| t as &dyn rusqlite::ToSql));
            let filters = values.len();
            if let (Some(seq), Some(key)) = (&after_seq, &after_key) {
                values.extend([seq as &dyn rusqlite::ToSql, key]);
            }
            values.extend([&limit as &dyn rusqlite::ToSql, &skip]);
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT odata_type, body, parent_key, version, seq, id_key FROM resource
                     WHERE {matches} ORDER BY seq, id_key LIMIT ?{} OFFSET ?{}",
                    n + 1,
                    n + 2
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(values.as_slice(), |row| {
                    let position = Position { seq: row.get(4)?, id_key: row.get(5)? };
                    Ok((position, row_to_resource(&set, row)?))
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(backend)?;
            let stamp = match rows.is_empty() {
                true => None,
                false => Some(select_stamp(c, &tenant).map_err(backend)?),
            };
            let total = match count {
                true => Some(
                    c.prepare_cached(&format!("SELECT COUNT(*) FROM resource WHERE {}", conditions(false).0))
                        .and_then(|mut s| s.query_row(&values[..filters], |r| r.get::<_, i64>(0)))
                        .map_err(backend)? as u64,
                ),
                false => None,
            };
            Ok(Page { items: rows, total, stamp })
        })
        .await
    }

    async fn put(&self, tenant: &TenantId, write: Write) -> Result<()> {
        self.submit(tenant, Op::Put(write)).await.map(drop)
    }

    async fn edit(&self, tenant: &TenantId, set: &str, id: &str, edit: Edit) -> Result<()> {
        self.submit(tenant, Op::Edit { set: set.to_string(), id: id.to_string(), edit }).await.map(drop)
    }

    async fn delete(&self, tenant: &TenantId, set: &str, id: &str) -> Result<()> {
        self.submit(tenant, Op::Delete { set: set.to_string(), id: id.to_string() }).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SqliteStore {
        let dir = std::env::temp_dir().join(format!("rf-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.sqlite3", rand_suffix()));
        SqliteStore::open(&path).unwrap()
    }

    fn rand_suffix() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
        h.finish()
    }

    fn count(s: &SqliteStore) -> i64 {
        s.read(|c| c.query_row("SELECT COUNT(*) FROM scratch", [], |r| r.get(0))).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_undoes_only_itself_and_exclusive_jobs_commit_alone() {
        let s = std::sync::Arc::new(store());
        let t = TenantId("t".into());
        s.write_exclusive(&t, |c| exec(c, "CREATE TABLE scratch (k TEXT PRIMARY KEY)", [])).await.unwrap();
        // Many jobs at once, so that they share group commits; every third one fails after writing.
        let jobs = (0..60).map(|i| {
            let (s, t) = (s.clone(), t.clone());
            tokio::spawn(async move {
                s.write(&t, move |c| {
                    exec(c, "INSERT INTO scratch (k) VALUES (?1)", [format!("k{i}")])?;
                    if i % 3 == 0 {
                        return Err(StoreError::Duplicate(format!("k{i}")));
                    }
                    Ok(i)
                })
                .await
            })
        });
        let mut ok = 0;
        for (i, job) in jobs.enumerate() {
            match job.await.unwrap() {
                Ok(v) => {
                    assert_eq!(v, i);
                    ok += 1;
                }
                Err(e) => assert_eq!(e, StoreError::Duplicate(format!("k{i}"))),
            }
        }
        assert_eq!(ok, 40);
        assert_eq!(count(&s), 40, "the failed jobs' rows are gone, the others' committed");
        let n = s
            .read_blocking(|c| c.query_row("SELECT COUNT(*) FROM scratch", [], |r| r.get::<_, i64>(0)).map_err(backend))
            .await
            .unwrap();
        assert_eq!(n, 40);
        let failed = s
            .write_exclusive(&t, |c| {
                exec(c, "INSERT INTO scratch (k) VALUES ('bulk')", [])?;
                Err::<(), _>(StoreError::Backend("boom".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(count(&s), 40, "a failed exclusive job leaves nothing behind");
    }
}
