//! The directory on SQLite. Single API writes run inside the writer's group commit (`SqliteStore::write`);
//! a bulk write runs alone in a transaction of its own (`write_exclusive`); large reads run on the blocking
//! pool (`read_blocking`).
//!
//! The bulk functions here take the open transaction's connection, so that another module of this crate
//! (the runs engine's state) can write its own tables and the directory in **one** transaction:
//! `store.write_exclusive(tenant, move |conn| { runs::save(conn, ..)?; directory::sqlite::apply(conn, &t, &bulk) })`.
//! Every statement is prepared once and cached on the connection; rows are bound and stepped in process, with
//! no round trip per row.

use rosterflow_model::directory::Relation;
use std::borrow::Cow;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};

use super::{
    plan, stored_from, user_keys_from_text, Bulk, Edit, Indexed, Link, LinkParts, ListQuery, Object, ObjectRow, Patch,
    QueryError, Rendered, Source, Stored, StoredPage, UserKeys,
};
use crate::query::{Cursor, Dialect, Param};
use crate::sqlite::SqliteStore;
use crate::{backend, Result, StoreError, TenantId};

const COLUMNS: &str = "o.id, o.kind, o.edu, o.team, o.source, o.body, o.version";

/// Insert or replace objects (bumping their versions), marked with `source`.
pub(crate) fn upsert(conn: &Connection, tenant: &TenantId, objects: &[Object], source: Source) -> Result<()> {
    write_objects(conn, tenant, objects, source, true)
}

fn object_sql(replace: bool) -> &'static str {
    if replace {
        "INSERT INTO dir_object (tenant, id, kind, edu, team, source, display_fold, upn_fold, mail_fold, nick_fold,
             ext_fold, created, body, fold, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1)
         ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, edu = excluded.edu, team = excluded.team,
             source = excluded.source, display_fold = excluded.display_fold, upn_fold = excluded.upn_fold,
             mail_fold = excluded.mail_fold, nick_fold = excluded.nick_fold, ext_fold = excluded.ext_fold,
             created = excluded.created, body = excluded.body, fold = excluded.fold, version = dir_object.version + 1"
    } else {
        "INSERT INTO dir_object (tenant, id, kind, edu, team, source, display_fold, upn_fold, mail_fold, nick_fold,
             ext_fold, created, body, fold, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1)"
    }
}

/// One object's row through [`object_sql`]'s statement.
fn insert_object(
    stmt: &mut rusqlite::CachedStatement,
    tenant: &TenantId,
    o: &impl ObjectRow,
    ix: &Indexed,
    source: Source,
) -> Result<()> {
    let (id, kind, education, team) = o.head();
    let c = &ix.columns;
    stmt.execute(params![
        tenant.as_str(),
        lower(id),
        kind.as_str(),
        education,
        team,
        source.as_str(),
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        ix.body,
        ix.fold
    ])
    .map(drop)
    .map_err(constraint)
}

fn write_objects(
    conn: &Connection,
    tenant: &TenantId,
    objects: &[Object],
    source: Source,
    replace: bool,
) -> Result<()> {
    let mut sorted: Vec<&Object> = objects.iter().collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let rebuild = worth_rebuilding(conn, "dir_object", objects.len())?;
    with_indexes_rebuilt(conn, "dir_object", rebuild, || {
        let mut stmt = conn.prepare_cached(object_sql(replace)).map_err(backend)?;
        each_indexed(&sorted, |o, ix| insert_object(&mut stmt, tenant, o, &ix, source))
    })
}

/// Insert or replace objects already rendered (a run's new objects), as [`upsert`] does.
pub(crate) fn upsert_rendered(
    conn: &Connection,
    tenant: &TenantId,
    objects: &[Rendered],
    source: Source,
) -> Result<()> {
    let rebuild = worth_rebuilding(conn, "dir_object", objects.len())?;
    with_indexes_rebuilt(conn, "dir_object", rebuild, || write_rendered(conn, tenant, objects, source))
}

fn write_rendered(conn: &Connection, tenant: &TenantId, objects: &[Rendered], source: Source) -> Result<()> {
    let mut sorted: Vec<&Rendered> = objects.iter().collect();
    sorted.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut stmt = conn.prepare_cached(object_sql(true)).map_err(backend)?;
    sorted.iter().try_for_each(|o| insert_object(&mut stmt, tenant, *o, &o.ix, source))
}

/// Insert one new object whose index is computed already (a create through the API).
fn insert_one(conn: &Connection, tenant: &TenantId, o: &Object, ix: &Indexed) -> Result<()> {
    let mut stmt = conn.prepare_cached(object_sql(false)).map_err(backend)?;
    insert_object(&mut stmt, tenant, o, ix, o.source)
}

/// Objects per chunk of [`each_indexed`]'s indexing thread.
const INDEX_CHUNK: usize = 256;

/// `write(object, its index)` for every object, in order. The index (the document and its folded values as
/// JSON) costs about as much CPU as SQLite's insert of the row: for a bulk, a thread of its own computes it a
/// few chunks ahead of the writes, so the two overlap on two cores.
fn each_indexed(objects: &[&Object], mut write: impl FnMut(&Object, Indexed) -> Result<()>) -> Result<()> {
    if objects.len() < 4 * INDEX_CHUNK {
        return objects.iter().try_for_each(|o| write(o, o.index()));
    }
    std::thread::scope(|scope| {
        let (ahead, indexed) = std::sync::mpsc::sync_channel::<Vec<Indexed>>(4);
        scope.spawn(move || {
            for chunk in objects.chunks(INDEX_CHUNK) {
                // The writer stopped (a failed write): nothing more to index.
                if ahead.send(chunk.iter().map(|o| o.index()).collect()).is_err() {
                    return;
                }
            }
        });
        // A panic of the indexing thread ends `indexed` early, and the scope then panics as the thread did.
        for (chunk, ixs) in objects.chunks(INDEX_CHUNK).zip(indexed) {
            for (o, ix) in chunk.iter().zip(ixs) {
                write(o, ix)?;
            }
        }
        Ok(())
    })
}

/// Merge patches into the objects they name, keeping each object's `source` ([`Patch`]); an object that is
/// gone is skipped.
pub(crate) fn patch(conn: &Connection, tenant: &TenantId, patches: &[Patch]) -> Result<()> {
    let mut update = conn
        .prepare_cached(
            "UPDATE dir_object SET team = ?3, display_fold = ?4, upn_fold = ?5, mail_fold = ?6, nick_fold = ?7,
                 ext_fold = ?8, created = ?9, body = ?10, fold = ?11, version = version + 1
             WHERE tenant = ?1 AND id = ?2",
        )
        .map_err(backend)?;
    for p in patches {
        let id = p.id.to_ascii_lowercase();
        let Some(current) = select_one(conn, tenant, "id", &id)? else { continue };
        let o = p.applied(current);
        let ix = o.index();
        let c = &ix.columns;
        update
            .execute(params![tenant.as_str(), id, o.team, c[0], c[1], c[2], c[3], c[4], c[5], ix.body, ix.fold])
            .map_err(constraint)?;
    }
    Ok(())
}

/// Delete objects and every relation they are in, both ways; returns how many objects were deleted.
pub(crate) fn delete(conn: &Connection, tenant: &TenantId, ids: &[String]) -> Result<usize> {
    let mut objects = conn.prepare_cached("DELETE FROM dir_object WHERE tenant = ?1 AND id = ?2").map_err(backend)?;
    let mut from = conn
        .prepare_cached("DELETE FROM dir_relation WHERE tenant = ?1 AND rel = ?2 AND from_id = ?3")
        .map_err(backend)?;
    let mut to = conn
        .prepare_cached("DELETE FROM dir_relation WHERE tenant = ?1 AND rel = ?2 AND to_id = ?3")
        .map_err(backend)?;
    let mut n = 0;
    for id in ids {
        let id = id.to_ascii_lowercase();
        for rel in [Relation::Members, Relation::Owners] {
            from.execute(params![tenant.as_str(), rel.as_str(), id]).map_err(backend)?;
            to.execute(params![tenant.as_str(), rel.as_str(), id]).map_err(backend)?;
        }
        n += objects.execute(params![tenant.as_str(), id]).map_err(backend)?;
    }
    Ok(n)
}

/// Rows per multi-row `INSERT` of a bulk write: the per-statement work (reset, bind, step) is paid once per
/// this many rows instead of once per row (a first run inserts about two million relation rows).
const ROWS: usize = 100;

/// `INSERT` `rows` in statements of [`ROWS`] rows: `head` is the statement up to `VALUES`, `shape` one row's
/// tuple, where `?1`.. name the `shared` parameters and each `@` the next of the row's own values (`row`, in
/// order); `tail` follows the rows (`ON CONFLICT ...`).
pub(crate) fn insert_rows<T, const N: usize>(
    conn: &Connection,
    [head, shape, tail]: [&str; 3],
    shared: &[&dyn ToSql],
    rows: &[T],
    row: impl Fn(&T) -> [Cow<'_, str>; N],
) -> Result<()> {
    let sql = |n: usize| {
        let mut p = shared.len();
        let tuples: Vec<String> = (0..n)
            .map(|_| {
                let mut t = String::from("(");
                for part in shape.split_inclusive('@') {
                    match part.strip_suffix('@') {
                        Some(before) => {
                            p += 1;
                            t.push_str(before);
                            t.push_str(&format!("?{p}"));
                        }
                        None => t.push_str(part),
                    }
                }
                t.push(')');
                t
            })
            .collect();
        format!("{head} VALUES {} {tail}", tuples.join(", "))
    };
    let full = sql(ROWS);
    for chunk in rows.chunks(ROWS) {
        let text = if chunk.len() == ROWS { Cow::Borrowed(&full) } else { Cow::Owned(sql(chunk.len())) };
        let mut stmt = conn.prepare_cached(&text).map_err(backend)?;
        for (i, s) in shared.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, s).map_err(backend)?;
        }
        let mut p = shared.len();
        for r in chunk {
            for v in row(r) {
                p += 1;
                stmt.raw_bind_parameter(p, v.as_ref()).map_err(backend)?;
            }
        }
        stmt.raw_execute().map_err(constraint)?;
    }
    Ok(())
}

/// An id as stored (lower case), borrowed when it is already.
pub(crate) fn lower(id: &str) -> Cow<'_, str> {
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// A bulk write of at least this many rows, into a table at most [`REBUILD_RATIO`] times as large, builds the
/// table's secondary indexes again after its inserts instead of maintaining them row by row
/// ([`with_indexes_rebuilt`]).
const REBUILD_AT: usize = 50_000;
const REBUILD_RATIO: usize = 2;

/// Whether a write of `rows` rows into `table` should rebuild its indexes: at least [`REBUILD_AT`] rows, into
/// a table that holds at most [`REBUILD_RATIO`] times as many (counting no further than that).
fn worth_rebuilding(conn: &Connection, table: &str, rows: usize) -> Result<bool> {
    if rows < REBUILD_AT {
        return Ok(false);
    }
    let limit = (rows * REBUILD_RATIO + 1) as i64;
    let existing: i64 = conn
        .query_row(&format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT ?1)"), [limit], |r| r.get(0))
        .map_err(backend)?;
    Ok(existing < limit)
}

/// Run `write`; when `rebuild`, with `table`'s secondary indexes dropped first and built again after it, in the
/// same transaction (readers see the old indexes or the new ones). A bulk write's keys come in the order of
/// the table's key, so a secondary index's arrive in random order: maintained row by row they touch a page
/// per row (pages left half full, written and checkpointed); built, each is one sort into full pages. Their
/// definitions and planner statistics are kept as they were; a unique index that the written rows break
/// fails its build as the insert would have failed.
fn with_indexes_rebuilt<T>(
    conn: &Connection,
    table: &str,
    rebuild: bool,
    write: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !rebuild {
        return write();
    }
    let indexes = drop_indexes(conn, table)?;
    let out = write()?;
    build_indexes(conn, table, indexes)?;
    Ok(out)
}

/// A table's secondary indexes as [`drop_indexes`] found them: name, definition, planner statistics.
pub(crate) type Indexes = Vec<(String, String, Option<String>)>;

/// Drop `table`'s secondary indexes (for [`build_indexes`] to build again in the same transaction).
fn drop_indexes(conn: &Connection, table: &str) -> Result<Indexes> {
    let indexes: Indexes = conn
        .prepare(
            "SELECT i.name, i.sql, s.stat FROM sqlite_schema i
             LEFT JOIN sqlite_stat1 s ON s.tbl = i.tbl_name AND s.idx = i.name
             WHERE i.type = 'index' AND i.tbl_name = ?1 AND i.sql IS NOT NULL ORDER BY i.name",
        )
        .and_then(|mut s| s.query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(backend)?;
    for (name, ..) in &indexes {
        conn.execute_batch(&format!("DROP INDEX {name}")).map_err(backend)?;
    }
    Ok(indexes)
}

/// Build the indexes [`drop_indexes`] dropped, with their statistics.
fn build_indexes(conn: &Connection, table: &str, mut indexes: Indexes) -> Result<()> {
    // A build sorts in memory up to the page cache's size (on top of the cache): with a small cache for the
    // builds, their sorted runs go to a temporary file instead, and the pages the cache gives up are written to
    // the WAL, as the commit would have written them. (A 128 MiB cache, one sort in memory for a first run's
    // ~1M relations, took the run's peak from 460 to 580 MiB for ~7 % less CPU: not worth the memory.) The sort
    // may use a second thread (`PRAGMA threads`): the planner is done by then.
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0)).map_err(backend)?;
    conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA threads = 2").map_err(backend)?;
    let built = indexes.iter().try_for_each(|(_, ddl, _)| conn.execute_batch(ddl).map_err(constraint));
    conn.execute_batch(&format!("PRAGMA cache_size = {cache}; PRAGMA threads = 0")).map_err(backend)?;
    built?;
    indexes.retain(|(.., stat)| stat.is_some());
    if !indexes.is_empty() {
        // DROP INDEX took the indexes' statistics with them; `ANALYZE sqlite_schema` reloads them.
        let mut restore =
            conn.prepare_cached("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?1, ?2, ?3)").map_err(backend)?;
        for (name, _, stat) in &indexes {
            restore.execute(params![table, name, stat]).map_err(backend)?;
        }
        conn.execute_batch("ANALYZE sqlite_schema").map_err(backend)?;
    }
    Ok(())
}

/// A bulk write made of several writes in one transaction (a run's flows, written as they are planned): the
/// first write large enough to rebuild a table's indexes ([`with_indexes_rebuilt`]) drops them, and they stay
/// dropped for the writes that follow until [`BulkWriter::finish`] builds them, once.
pub(crate) struct BulkWriter<'c> {
    conn: &'c Connection,
    tenant: &'c TenantId,
    source: Source,
    dropped: Vec<(&'static str, Indexes)>,
}

impl<'c> BulkWriter<'c> {
    pub(crate) fn new(conn: &'c Connection, tenant: &'c TenantId, source: Source) -> Result<Self> {
        conn.execute_batch(BULK_CACHE).map_err(backend)?;
        Ok(BulkWriter { conn, tenant, source, dropped: vec![] })
    }

    /// Drop `table`'s indexes before a write of `rows` rows when [`with_indexes_rebuilt`] would.
    fn before(&mut self, table: &'static str, rows: usize) -> Result<()> {
        if !self.dropped.iter().any(|(t, _)| *t == table) && worth_rebuilding(self.conn, table, rows)? {
            let indexes = drop_indexes(self.conn, table)?;
            self.dropped.push((table, indexes));
        }
        Ok(())
    }

    /// [`upsert_rendered`]'s write.
    pub(crate) fn rendered(&mut self, objects: &[Rendered]) -> Result<()> {
        self.before("dir_object", objects.len())?;
        write_rendered(self.conn, self.tenant, objects, self.source)
    }

    /// Build the indexes the writes dropped.
    pub(crate) fn finish(self) -> Result<()> {
        for (table, indexes) in self.dropped {
            build_indexes(self.conn, table, indexes)?;
        }
        Ok(())
    }
}

/// Add relations (existing ones are left as they are); `links` in key order take the table's B-tree as
/// appends, and a first run's million relations build the reverse index after their inserts
/// ([`with_indexes_rebuilt`]).
pub(crate) fn link<L: LinkParts>(conn: &Connection, tenant: &TenantId, links: &[L], source: Source) -> Result<()> {
    let rebuild = worth_rebuilding(conn, "dir_relation", links.len())?;
    with_indexes_rebuilt(conn, "dir_relation", rebuild, || {
        insert_rows(
            conn,
            [
                "INSERT INTO dir_relation (tenant, rel, from_id, to_id, source)",
                "?1, @, @, @, ?2",
                "ON CONFLICT DO NOTHING",
            ],
            &[&tenant.as_str(), &source.as_str()],
            links,
            |l| {
                let (relation, from, to) = l.parts();
                [Cow::Borrowed(relation.as_str()), lower(from), lower(to)]
            },
        )
    })
}

/// Remove relations; returns how many were there.
pub(crate) fn unlink(conn: &Connection, tenant: &TenantId, links: &[Link]) -> Result<usize> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM dir_relation WHERE tenant = ?1 AND rel = ?2 AND from_id = ?3 AND to_id = ?4")
        .map_err(backend)?;
    let mut n = 0;
    for l in links {
        n += stmt
            .execute(params![
                tenant.as_str(),
                l.relation.as_str(),
                l.from.to_ascii_lowercase(),
                l.to.to_ascii_lowercase()
            ])
            .map_err(backend)?;
    }
    Ok(n)
}

/// The page cache of a bulk write ([`apply`]).
const BULK_CACHE: &str = "PRAGMA cache_size = -32768";

/// A run's changes on an open transaction (see the module's doc).
pub(crate) fn apply(conn: &Connection, tenant: &TenantId, bulk: &Bulk) -> Result<()> {
    // A run touches hundreds of thousands of rows, most of them in key order (B-tree appends) or into indexes
    // built after the inserts: a page is spilled to the WAL once it is full, and rarely touched again. A page
    // cache of 32 MiB keeps the few B-trees written out of order (a later run's patches and links) in memory
    // without adding much to a large run's peak (the writer's connection keeps this).
    conn.execute_batch(BULK_CACHE).map_err(backend)?;
    let source = bulk.source.unwrap_or(Source::Api);
    upsert(conn, tenant, &bulk.upserts, source)?;
    upsert_rendered(conn, tenant, &bulk.rendered, source)?;
    patch(conn, tenant, &bulk.patches)?;
    delete(conn, tenant, &bulk.deletes)?;
    unlink(conn, tenant, &bulk.unlink)?;
    link(conn, tenant, &bulk.link, source)
}

/// A unique-index violation as the rule it broke.
fn constraint(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return if msg.contains("upn_fold") {
                StoreError::Duplicate("userPrincipalName".into())
            } else if msg.contains("nick_fold") {
                StoreError::Duplicate("mailNickname".into())
            } else {
                StoreError::Exists
            };
        }
    }
    backend(e)
}

fn row_stored(row: &rusqlite::Row) -> rusqlite::Result<Result<Stored>> {
    let kind: String = row.get(1)?;
    let source: String = row.get(4)?;
    Ok(stored_from(row.get(0)?, &kind, row.get(2)?, row.get(3)?, &source, row.get(5)?, row.get(6)?))
}

fn row_object(row: &rusqlite::Row) -> rusqlite::Result<Result<Object>> {
    Ok(row_stored(row)?.and_then(Stored::parse))
}

fn select_one(conn: &Connection, tenant: &TenantId, column: &str, value: &str) -> Result<Option<Object>> {
    let sql = format!("SELECT {COLUMNS} FROM dir_object o WHERE o.tenant = ?1 AND o.{column} = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant.as_str(), value], row_object).optional())
        .map_err(backend)?
        .transpose()
}

fn exists(conn: &Connection, tenant: &TenantId, id: &str) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM dir_object WHERE tenant = ?1 AND id = ?2)")
        .and_then(|mut s| s.query_row(params![tenant.as_str(), id.to_ascii_lowercase()], |r| r.get(0)))
        .map_err(backend)
}

#[async_trait::async_trait]
impl super::DirectoryStore for SqliteStore {
    async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<Object>> {
        let (t, id) = (tenant.clone(), id.to_ascii_lowercase());
        self.read_with(move |c| select_one(c, &t, "id", &id))
    }

    async fn get_by_upn(&self, tenant: &TenantId, upn: &str) -> Result<Option<Object>> {
        let (t, upn) = (tenant.clone(), rosterflow_model::directory::fold(upn));
        self.read_with(move |c| select_one(c, &t, "upn_fold", &upn))
    }

    async fn list_stored(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<StoredPage, QueryError> {
        let p = plan(Dialect::Sqlite, tenant, q, true)?;
        let sql = p.page_sql(q.limit);
        let (params, limit, n_keys) = (p.sql.params, q.limit, p.keys.len());
        let rows = self.read_blocking(move |c| page_rows(c, &sql, &params, limit, n_keys)).await?;
        Ok(page(rows, limit))
    }

    async fn get_and_list_stored(
        &self,
        tenant: &TenantId,
        id: &str,
        q: &ListQuery<'_>,
    ) -> Result<(Option<Object>, StoredPage), QueryError> {
        // Both reads on one reader, in one trip to the blocking pool (the object's point read was a trip to the
        // reader pool of its own on the calling thread).
        let p = plan(Dialect::Sqlite, tenant, q, true)?;
        let sql = p.page_sql(q.limit);
        let (params, limit, n_keys) = (p.sql.params, q.limit, p.keys.len());
        let (t, id) = (tenant.clone(), id.to_ascii_lowercase());
        let (parent, rows) = self
            .read_blocking(move |c| {
                let parent = select_one(c, &t, "id", &id)?;
                Ok((parent, page_rows(c, &sql, &params, limit, n_keys)?))
            })
            .await?;
        Ok((parent, page(rows, limit)))
    }

    async fn count(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<u64, QueryError> {
        let p = plan(Dialect::Sqlite, tenant, q, false)?;
        let sql = p.count_sql();
        let params = p.sql.params;
        let n: i64 = self
            .read_blocking(move |c| {
                c.prepare_cached(&sql)
                    .and_then(|mut s| s.query_row(params_from_iter(params.iter()), |r| r.get(0)))
                    .map_err(backend)
            })
            .await?;
        Ok(n as u64)
    }

    async fn create(&self, tenant: &TenantId, object: Object, links: Vec<Link>) -> Result<()> {
        let t = tenant.clone();
        // The row's index (the document and its folded values as JSON) is computed here, on the caller's thread,
        // not on the one writer thread that every create of a `$batch` waits for.
        let ix = object.index();
        self.write(tenant, move |c| {
            insert_one(c, &t, &object, &ix)?;
            if links.is_empty() {
                return Ok(());
            }
            for l in &links {
                for end in [&l.from, &l.to] {
                    if !exists(c, &t, end)? {
                        return Err(StoreError::MissingRef {
                            path: l.relation.as_str().into(),
                            set: "directoryObjects".into(),
                            id: end.clone(),
                        });
                    }
                }
            }
            link(c, &t, &links.iter().collect::<Vec<_>>(), object.source)
        })
        .await
    }

    async fn update(&self, tenant: &TenantId, id: &str, edit: Edit) -> Result<Object> {
        let (t, id) = (tenant.clone(), id.to_ascii_lowercase());
        self.write(tenant, move |c| {
            let mut object = select_one(c, &t, "id", &id)?.ok_or(StoreError::NotFound)?;
            edit(&mut object)?;
            upsert(c, &t, std::slice::from_ref(&object), object.source)?;
            object.version += 1;
            Ok(object)
        })
        .await
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let (t, id) = (tenant.clone(), id.to_string());
        self.write(tenant, move |c| match delete(c, &t, &[id])? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        })
        .await
    }

    async fn link(&self, tenant: &TenantId, l: Link) -> Result<()> {
        let t = tenant.clone();
        self.write(tenant, move |c| {
            for end in [&l.from, &l.to] {
                if !exists(c, &t, end)? {
                    return Err(StoreError::MissingRef { path: l.relation.as_str().into(), set: "directoryObjects".into(), id: end.clone() });
                }
            }
            let n = c
                .prepare_cached("INSERT INTO dir_relation (tenant, rel, from_id, to_id, source) VALUES (?1, ?2, ?3, ?4, 'api') ON CONFLICT DO NOTHING")
                .and_then(|mut s| s.execute(params![t.as_str(), l.relation.as_str(), l.from.to_ascii_lowercase(), l.to.to_ascii_lowercase()]))
                .map_err(backend)?;
            if n == 0 {
                Err(StoreError::Exists)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn unlink(&self, tenant: &TenantId, l: Link) -> Result<()> {
        let t = tenant.clone();
        self.write(tenant, move |c| match unlink(c, &t, std::slice::from_ref(&l))? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        })
        .await
    }

    async fn apply(&self, tenant: &TenantId, bulk: Bulk) -> Result<()> {
        let t = tenant.clone();
        self.write_exclusive(tenant, move |c| apply(c, &t, &bulk)).await
    }

    async fn user_keys(&self, tenant: &TenantId) -> Result<Vec<UserKeys>> {
        let t = tenant.clone();
        self.read_blocking(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, upn_fold, mail_fold, nick_fold, fold, source FROM dir_object
                     WHERE tenant = ?1 AND kind = 'user' ORDER BY id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![t.as_str()], |r| {
                    // Lent from SQLite's row buffer, parsed typed (`user_keys_from_text`).
                    let fold = r.get_ref(4)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
                    })?;
                    let source = r.get_ref(5)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
                    })?;
                    Ok(user_keys_from_text(r.get(0)?, &[r.get(1)?, r.get(2)?, r.get(3)?], fold, source))
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }
}

/// The rows of a page's `SELECT` ([`super::Plan::page_sql`]): at most `limit + 1`, each with its sort keys.
fn page_rows(
    c: &Connection,
    sql: &str,
    params: &[Param],
    limit: usize,
    n_keys: usize,
) -> Result<Vec<(Stored, Vec<Param>)>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let object = row_stored(row).map_err(backend)??;
        let keys =
            (0..n_keys).map(|i| row.get_ref(7 + i).map(Param::from_sqlite)).collect::<rusqlite::Result<Vec<_>>>();
        out.push((object, keys.map_err(backend)?));
        if out.len() > limit {
            break;
        }
    }
    Ok(out)
}

/// The first `limit` rows, and the cursor after the last of them when more follow.
pub(crate) fn page(mut rows: Vec<(Stored, Vec<Param>)>, limit: usize) -> StoredPage {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match (more, rows.last()) {
        (true, Some((o, keys))) => Some(Cursor { keys: keys.clone(), id: o.id.clone() }),
        _ => None,
    };
    StoredPage { items: rows.into_iter().map(|(o, _)| o).collect(), next }
}
