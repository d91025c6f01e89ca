//! The PostgreSQL backend: the store that several stateless `rosterflow serve` replicas share. Each write is
//! one transaction (a PATCH usually one autocommitted statement, see `edits.rs`); the row lock taken by
//! `SELECT ... FOR UPDATE` or the version in an `UPDATE`'s `WHERE` orders concurrent writers of one item, and
//! the unique and reference tables' keys decide races between items.

pub(crate) mod coalesce;
pub(crate) mod copy;
mod edits;
mod leases;
mod reads;
mod roster;
mod runs;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::directory::postgres::creates::Creates;
use crate::migrations::{CREATE_TABLE, MIGRATIONS};
use crate::query::{resource_page_conditions, Dialect};
use crate::{
    backend, id_key, item_key, Edit, InboundStamp, Page, PageQuery, Position, Resource, Result, Store, StoreError,
    TenantId, Write,
};
use edits::{Edits, Known};
use reads::{Pages, Reads};

pub struct PgStore {
    pub(crate) pool: PgPool,
    edits: Arc<Edits>,
    /// Item reads, coalesced into one statement per batch (`reads.rs`).
    reads: Arc<Reads>,
    /// Page reads, requests for the same page sharing statements (`reads.rs`).
    pages: Arc<Pages>,
    pages_reader: PageReader,
    /// The directory's single-object creates, committed in groups.
    pub(crate) creates: Arc<Creates>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore> {
        // No test query before handing a connection out (sqlx's default): it is a round trip per request, and
        // a connection that broke fails its statement, which the caller sees as a 503 the SDKs retry.
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        // The coalesced item reads' connections of their own, which plan their statements once: a prepared
        // statement is otherwise planned anew on every execution whenever PostgreSQL estimates a plan for its
        // parameters cheaper than the generic one, which it does for the batch statement (it knows the arrays'
        // lengths then), and planning cost more than executing a small batch (docs/benchmarks.md, "GET one
        // item"). The generic plan is the same primary-key probe per read. Opened when first used.
        let read_pool = PgPoolOptions::new()
            .max_connections(coalesce::IN_FLIGHT as u32)
            .test_before_acquire(false)
            .connect_lazy_with(options.options([("plan_cache_mode", "force_generic_plan")]));
        let edits = Edits::new(pool.clone());
        let reads = Reads::new(read_pool, edits.clone());
        let pages_reader = PageReader { pool: pool.clone(), edits: edits.clone() };
        let store =
            PgStore { edits, reads, pages: Arc::default(), pages_reader, creates: Creates::new(pool.clone()), pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // One migrator at a time across replicas.
        sqlx::query("SELECT pg_advisory_xact_lock(7213400)").execute(&mut *tx).await.map_err(backend)?;
        sqlx::query(CREATE_TABLE).execute(&mut *tx).await.map_err(backend)?;
        for m in MIGRATIONS {
            let done: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1)")
                .bind(m.version)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
            if done {
                continue;
            }
            sqlx::raw_sql(m.postgres).execute(&mut *tx).await.map_err(backend)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now()::text)")
                .bind(m.version)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    /// One item, and the tenant's inbound stamp read by the same statement (0 when there is no such item:
    /// nothing is shown then). The document comes back only when it is not the one this replica already holds
    /// (same row, same version): a read of an unchanged item neither ships nor parses it again. Concurrent
    /// reads share statements (`reads.rs`).
    async fn read_item(&self, tenant: &TenantId, set: &str, id: &str) -> Result<(Option<Resource>, InboundStamp)> {
        self.reads.read(tenant.as_str(), set, item_key(tenant.as_str(), set, id), id_key(id)).await
    }
}

/// A page's item: its position, the item, and the tenant's inbound stamp the statement read with it.
type PageItem = (Position, Resource, InboundStamp);

/// A page's row read without its body: position, version, the tenant's inbound stamp.
type PageHead = (Position, i64, InboundStamp);

/// What reads pages: the pool and the replica's memory of items, owned, so that the task that reads a page for
/// every request waiting on it (`reads::Pages`) outlives any one of them.
#[derive(Clone)]
struct PageReader {
    pool: PgPool,
    edits: Arc<Edits>,
}

/// One page to read: the query and whom it is for, owned by the task that reads it.
struct PageRead {
    reader: PageReader,
    tenant: TenantId,
    set: String,
    parent: Option<String>,
    /// The query but its borrowed `parent` (`parent` above).
    query: PageQuery<'static>,
}

impl PageRead {
    /// Requests for the same page of the same collection share this key, and so the statements that read it.
    fn key(&self) -> String {
        let q = &self.query;
        format!(
            "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.tenant.as_str(),
            self.set,
            self.parent,
            q.types,
            q.after,
            q.skip,
            q.limit,
            q.count
        )
    }

    async fn run(&self) -> Result<Page> {
        let q = &self.query;
        let query = PageQuery {
            parent: self.parent.as_deref(),
            types: q.types.clone(),
            after: q.after.clone(),
            skip: q.skip,
            limit: q.limit,
            count: q.count,
        };
        self.reader.read(&self.tenant, &self.set, &query).await
    }
}

impl PageReader {
    /// A page as [`Store::page`] answers it, read by statements sent after this call.
    async fn read(&self, tenant: &TenantId, set: &str, q: &PageQuery<'_>) -> Result<Page> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        // The positions and versions first: the bodies this replica holds (same row, same version) are not
        // shipped, decoded or looked up again; those it lacks come by one more statement. If that one finds an
        // item gone or replaced meanwhile (a concurrent delete), the page is read again with its bodies, so it
        // never has a hole a next link would skip over.
        let items = match self.page_known(&mut conn, tenant, set, q).await? {
            Some(items) => items,
            None => self.page_rows(&mut conn, tenant, set, q, true).await?.0,
        };
        let stamp = items.first().map(|(_, _, stamp)| *stamp);
        let items = items.into_iter().map(|(position, resource, _)| (position, resource)).collect();
        let total = match q.count {
            true => {
                let parent = q.parent.map(id_key);
                let conditions =
                    resource_page_conditions(Dialect::Postgres, parent.is_some(), q.types.is_some(), false);
                let sql = format!("SELECT COUNT(*) FROM resource WHERE {}", conditions.0);
                let mut count = sqlx::query_scalar::<_, i64>(&sql).bind(tenant.as_str()).bind(set);
                if let Some(p) = &parent {
                    count = count.bind(p);
                }
                if let Some(t) = &q.types {
                    count = count.bind(t);
                }
                Some(count.fetch_one(&mut *conn).await.map_err(backend)? as u64)
            }
            false => None,
        };
        Ok(Page { items, total, stamp })
    }

    /// A page's rows in order: with their bodies, or (`bodies` false) only their heads.
    async fn page_rows(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: &TenantId,
        set: &str,
        q: &PageQuery<'_>,
        bodies: bool,
    ) -> Result<(Vec<PageItem>, Vec<PageHead>)> {
        let parent = q.parent.map(id_key);
        let after = q.after.clone().map(|p| (p.seq, p.id_key));
        let (matches, n) =
            resource_page_conditions(Dialect::Postgres, parent.is_some(), q.types.is_some(), after.is_some());
        let columns = match bodies {
            true => "odata_type, body, parent_key, version, seq, id_key",
            false => "version, seq, id_key",
        };
        let sql = format!(
            "SELECT {columns}, COALESCE((SELECT stamp FROM inbound_stamp WHERE tenant = $1), 0) AS stamp
             FROM resource WHERE {matches} ORDER BY seq, id_key LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(&sql).bind(tenant.as_str()).bind(set);
        if let Some(p) = &parent {
            query = query.bind(p);
        }
        if let Some(t) = &q.types {
            query = query.bind(t);
        }
        if let Some((seq, key)) = &after {
            query = query.bind(seq).bind(key);
        }
        let rows = query.bind(q.limit as i64).bind(q.skip as i64).fetch_all(&mut *conn).await.map_err(backend)?;
        let (mut items, mut heads) = (Vec::new(), Vec::new());
        for row in rows {
            let stamp: InboundStamp = row.get("stamp");
            let position = Position { seq: row.get("seq"), id_key: row.get("id_key") };
            match bodies {
                true => items.push((position, to_resource(set, row)?, stamp)),
                false => heads.push((position, row.get("version"), stamp)),
            }
        }
        Ok((items, heads))
    }

    /// The page from its heads, with the bodies this replica holds and those it lacks read by one more
    /// statement; `None` when an item of the page was gone or replaced (another `seq`) by then.
    async fn page_known(
        &self,
        conn: &mut sqlx::PgConnection,
        tenant: &TenantId,
        set: &str,
        q: &PageQuery<'_>,
    ) -> Result<Option<Vec<PageItem>>> {
        let (_, heads) = self.page_rows(conn, tenant, set, q, false).await?;
        let t = tenant.as_str();
        let mut items: Vec<Option<Resource>> = Vec::with_capacity(heads.len());
        let mut lacking: Vec<&str> = Vec::new();
        for (position, version, _) in &heads {
            let known = self.edits.known(&item_key(t, set, &position.id_key));
            match known {
                Some(k) if k.seq == position.seq && k.resource.version == *version => items.push(Some(k.resource)),
                _ => {
                    items.push(None);
                    lacking.push(&position.id_key);
                }
            }
        }
        if !lacking.is_empty() {
            let rows = sqlx::query(
                "SELECT id_key, odata_type, body, parent_key, version, constraints, seq FROM resource
                 WHERE tenant = $1 AND set_name = $2 AND id_key = ANY($3)",
            )
            .bind(t)
            .bind(set)
            .bind(&lacking)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
            let mut read: rustc_hash::FxHashMap<String, Known> = rustc_hash::FxHashMap::default();
            for row in rows {
                let (key, constraints, seq): (String, String, i64) =
                    (row.get("id_key"), row.get("constraints"), row.get("seq"));
                read.insert(key, Known { resource: to_resource(set, row)?, constraints, seq });
            }
            for ((position, _, _), item) in heads.iter().zip(&mut items) {
                if item.is_some() {
                    continue;
                }
                // Read after the heads, so at their version or a later one; the same `seq`: the same row.
                let Some(k) = read.remove(&position.id_key).filter(|k| k.seq == position.seq) else {
                    return Ok(None);
                };
                *item = Some(k.resource.clone());
                self.edits.remember(&item_key(t, set, &position.id_key), k);
            }
        }
        Ok(Some(
            heads
                .into_iter()
                .zip(items)
                .map(|((position, _, stamp), item)| (position, item.expect("every item found"), stamp))
                .collect(),
        ))
    }
}

type Tx<'a> = Transaction<'a, Postgres>;

async fn put(tx: &mut Tx<'_>, tenant: &TenantId, w: &Write) -> Result<()> {
    let r = &w.resource;
    let (t, key) = (tenant.as_str(), id_key(&r.id));
    let parent = r.parent.as_deref().map(id_key).unwrap_or_default();
    let stored: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, constraints FROM resource WHERE tenant = $1 AND set_name = $2 AND id_key = $3 FOR UPDATE",
    )
    .bind(t)
    .bind(&r.set)
    .bind(&key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    w.expect.check(stored.as_ref().map(|(v, _)| *v))?;
    let constraints = w.constraints();
    if stored.as_ref().is_none_or(|(_, c)| *c != constraints) {
        write_constraints(tx, t, &key, &parent, w).await?;
    }
    let body = serde_json::to_string(&r.doc).map_err(backend)?;
    let sql = if stored.is_some() {
        "UPDATE resource SET body = $6, odata_type = $5, constraints = $7, version = version + 1
         WHERE tenant = $1 AND set_name = $2 AND id_key = $3 AND parent_key = $4"
    } else {
        "INSERT INTO resource (tenant, set_name, id_key, parent_key, odata_type, body, version, seq, constraints)
         VALUES ($1, $2, $3, $4, $5, $6, 1, nextval('resource_seq'), $7)"
    };
    sqlx::query(sql)
        .bind(t)
        .bind(&r.set)
        .bind(&key)
        .bind(&parent)
        .bind(&r.odata_type)
        .bind(body)
        .bind(constraints)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Check the write's references and replace its unique-key and reference rows.
async fn write_constraints(tx: &mut Tx<'_>, t: &str, key: &str, parent: &str, w: &Write) -> Result<()> {
    let r = &w.resource;
    for target in &w.refs {
        // FOR SHARE: the target can't be deleted until this transaction ends.
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM resource WHERE tenant = $1 AND set_name = $2 AND id_key = $3 FOR SHARE")
                .bind(t)
                .bind(&target.set)
                .bind(id_key(&target.id))
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::MissingRef {
                path: target.path.clone(),
                set: target.set.clone(),
                id: target.id.clone(),
            });
        }
    }
    sqlx::query("DELETE FROM resource_unique WHERE tenant = $1 AND set_name = $2 AND id_key = $3")
        .bind(t)
        .bind(&r.set)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for u in &w.unique {
        let inserted = sqlx::query(
            "INSERT INTO resource_unique (tenant, set_name, parent_key, unique_key, id_key) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(&r.set)
        .bind(parent)
        .bind(u)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Duplicate(u.clone()));
        }
    }
    sqlx::query("DELETE FROM resource_ref WHERE tenant = $1 AND from_set = $2 AND from_key = $3")
        .bind(t)
        .bind(&r.set)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    for target in &w.refs {
        sqlx::query(
            "INSERT INTO resource_ref (tenant, from_set, from_key, to_set, to_key) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(&r.set)
        .bind(key)
        .bind(&target.set)
        .bind(id_key(&target.id))
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Delete an item and the items contained in it; returns the (set, id key) of each.
async fn delete(tx: &mut Tx<'_>, tenant: &TenantId, set: &str, id: &str) -> Result<Vec<(String, String)>> {
    let (t, key) = (tenant.as_str(), id_key(id));
    // Lock the item and everything contained in it (a flow set's flows).
    let doomed: Vec<(String, String)> = sqlx::query_as(
        "SELECT set_name, id_key FROM resource WHERE tenant = $1 AND ((set_name = $2 AND id_key = $3) OR parent_key = $3)
         FOR UPDATE",
    )
    .bind(t)
    .bind(set)
    .bind(&key)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    if !doomed.iter().any(|(s, k)| s == set && *k == key) {
        return Err(StoreError::NotFound);
    }
    let (sets, keys): (Vec<String>, Vec<String>) = doomed.into_iter().unzip();
    let referrer = sqlx::query(
        "SELECT r.to_set, r.to_key, r.from_set, r.from_key FROM resource_ref r
         WHERE r.tenant = $1
           AND (r.to_set, r.to_key) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))
           AND (r.from_set, r.from_key) NOT IN (SELECT * FROM UNNEST($2::text[], $3::text[]))
         LIMIT 1",
    )
    .bind(t)
    .bind(&sets)
    .bind(&keys)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    if let Some(row) = referrer {
        return Err(StoreError::InUse { set: row.get(0), id: row.get(1), by_set: row.get(2), by_id: row.get(3) });
    }
    for sql in [
        "DELETE FROM resource_ref WHERE tenant = $1 AND (from_set, from_key) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))",
        "DELETE FROM resource_unique WHERE tenant = $1 AND (set_name, id_key) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))",
        "DELETE FROM resource WHERE tenant = $1 AND (set_name, id_key) IN (SELECT * FROM UNNEST($2::text[], $3::text[]))",
    ] {
        sqlx::query(sql).bind(t).bind(&sets).bind(&keys).execute(&mut **tx).await.map_err(backend)?;
    }
    Ok(sets.into_iter().zip(keys).collect())
}

fn to_resource(set: &str, row: sqlx::postgres::PgRow) -> Result<Resource> {
    let doc = crate::parsed::document(row.get("body")).map_err(backend)?;
    let parent: String = row.get("parent_key");
    Ok(Resource {
        set: set.to_string(),
        id: doc.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        parent: (!parent.is_empty()).then_some(parent),
        odata_type: row.get("odata_type"),
        doc,
        version: row.get("version"),
    })
}

#[async_trait]
impl Store for PgStore {
    async fn get(&self, tenant: &TenantId, set: &str, id: &str) -> Result<Option<Resource>> {
        Ok(self.read_item(tenant, set, id).await?.0)
    }

    async fn get_stamped(&self, tenant: &TenantId, set: &str, id: &str) -> Result<(Option<Resource>, InboundStamp)> {
        self.read_item(tenant, set, id).await
    }

    async fn peek(&self, tenant: &TenantId, set: &str, id: &str) -> Result<Option<Resource>> {
        match self.edits.known(&item_key(tenant.as_str(), set, id)) {
            Some(k) => Ok(Some(k.resource)),
            None => self.get(tenant, set, id).await,
        }
    }

    async fn page(&self, tenant: &TenantId, set: &str, q: &PageQuery<'_>) -> Result<Page> {
        let read = PageRead {
            reader: self.pages_reader.clone(),
            tenant: tenant.clone(),
            set: set.to_string(),
            parent: q.parent.map(str::to_string),
            query: PageQuery {
                parent: None,
                types: q.types.clone(),
                after: q.after.clone(),
                skip: q.skip,
                limit: q.limit,
                count: q.count,
            },
        };
        self.pages.read(read.key(), read).await
    }

    async fn list(&self, tenant: &TenantId, set: &str, parent: Option<&str>) -> Result<Vec<Resource>> {
        sqlx::query(
            "SELECT odata_type, body, parent_key, version FROM resource
             WHERE tenant = $1 AND set_name = $2 AND ($3::text IS NULL OR parent_key = $3) ORDER BY seq",
        )
        .bind(tenant.as_str())
        .bind(set)
        .bind(parent.map(id_key))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .into_iter()
        .map(|r| to_resource(set, r))
        .collect()
    }

    async fn put(&self, tenant: &TenantId, write: Write) -> Result<()> {
        let key = item_key(tenant.as_str(), &write.resource.set, &write.resource.id);
        let mut tx = self.pool.begin().await.map_err(backend)?;
        put(&mut tx, tenant, &write).await?;
        tx.commit().await.map_err(backend)?;
        self.edits.forget(&key);
        Ok(())
    }

    async fn edit(&self, tenant: &TenantId, set: &str, id: &str, edit: Edit) -> Result<()> {
        self.edits.edit(tenant, set, id, edit).await
    }

    async fn delete(&self, tenant: &TenantId, set: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let deleted = delete(&mut tx, tenant, set, id).await?;
        tx.commit().await.map_err(backend)?;
        for (set, key) in deleted {
            self.edits.forget(&item_key(tenant.as_str(), &set, &key));
        }
        Ok(())
    }
}
