//! The directory on PostgreSQL. Bulk writes are multi-row statements over `UNNEST` of arrays, at most
//! [`CHUNK`] rows each, or for a large one (a first run's) a `COPY` into a temporary table; the functions take an open connection of the caller's transaction, so a run writes its
//! own state and the directory in **one** transaction:
//! `let mut tx = pool.begin().await?; runs::save(&mut tx, ..).await?; directory::postgres::apply(&mut tx, &t, &bulk).await?; tx.commit()`.

use sqlx::{PgConnection, Row};

use super::sqlite::lower;
use super::{
    plan, stored_from, user_keys_from_text, Bulk, Edit, Link, LinkParts, ListQuery, Object, ObjectRow, Patch,
    QueryError, Source, Stored, StoredPage, UserKeys,
};
use crate::postgres::{copy, PgStore};
use crate::query::{Dialect, Param, Type};
use crate::{backend, Result, StoreError, TenantId};

pub(crate) mod creates;

/// Rows per statement.
const CHUNK: usize = 5000;
const COLUMNS: &str = "o.id, o.kind, o.edu, o.team, o.source, o.body, o.version";

/// Insert or replace objects (bumping their versions), marked with `source`. An id given twice keeps its
/// last state.
pub(crate) async fn upsert<O: ObjectRow + Sync>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    objects: &[O],
    source: Source,
) -> Result<()> {
    let mut last: rustc_hash::FxHashMap<String, usize> = Default::default();
    for (i, o) in objects.iter().enumerate() {
        last.insert(o.head().0.to_ascii_lowercase(), i);
    }
    let unique: Vec<&O> = objects
        .iter()
        .enumerate()
        .filter(|(i, o)| last[&o.head().0.to_ascii_lowercase()] == *i)
        .map(|(_, o)| o)
        .collect();
    if unique.len() >= COPY_AT {
        return upsert_copied(conn, tenant, &unique, source).await;
    }
    for chunk in unique.chunks(CHUNK) {
        write_objects(conn, tenant, chunk, source, true).await?;
    }
    Ok(())
}

/// A large upsert (a first run's objects): `COPY` into a temporary table, then one `INSERT ... SELECT`
/// ([`link_copied`] says why). `objects` have distinct ids.
async fn upsert_copied<O: ObjectRow + Sync>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    objects: &[&O],
    source: Source,
) -> Result<()> {
    sqlx::query(
        "CREATE TEMPORARY TABLE dir_object_load (id TEXT, kind TEXT, edu BOOLEAN, team BOOLEAN, d TEXT, u TEXT,
             m TEXT, n TEXT, e TEXT, c TEXT, body TEXT, fold TEXT) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let mut copy = conn.copy_in_raw("COPY dir_object_load FROM STDIN").await.map_err(backend)?;
    let mut buf = copy::buffer();
    for o in objects {
        let ix = o.indexed();
        let (id, kind, education, team) = o.head();
        copy::text(&mut buf, &lower(id));
        for v in [kind.as_str(), if education { "t" } else { "f" }, if team { "t" } else { "f" }] {
            buf.push('\t');
            buf.push_str(v);
        }
        for v in &ix.columns {
            buf.push('\t');
            match v {
                Some(v) => copy::text(&mut buf, v),
                None => buf.push_str("\\N"),
            }
        }
        for v in [&ix.body, &ix.fold] {
            buf.push('\t');
            copy::text(&mut buf, v);
        }
        buf.push('\n');
        copy::send_full(&mut copy, &mut buf).await?;
    }
    copy::end(copy, buf).await?;
    sqlx::query(
        "INSERT INTO dir_object (tenant, id, kind, edu, team, source, display_fold, upn_fold, mail_fold, nick_fold,
             ext_fold, created, body, fold, version)
         SELECT $1, id, kind, edu, team, $2, d, u, m, n, e, c, body, fold::jsonb, 1 FROM dir_object_load
         ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, edu = excluded.edu, team = excluded.team,
             source = excluded.source, display_fold = excluded.display_fold, upn_fold = excluded.upn_fold,
             mail_fold = excluded.mail_fold, nick_fold = excluded.nick_fold, ext_fold = excluded.ext_fold,
             created = excluded.created, body = excluded.body, fold = excluded.fold, version = dir_object.version + 1",
    )
    .bind(tenant.as_str())
    .bind(source.as_str())
    .execute(&mut *conn)
    .await
    .map_err(constraint)?;
    sqlx::query("DROP TABLE dir_object_load").execute(&mut *conn).await.map_err(backend)?;
    Ok(())
}

async fn write_objects<O: ObjectRow + Sync>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    objects: &[&O],
    source: Source,
    replace: bool,
) -> Result<()> {
    let n = objects.len();
    let (mut ids, mut kinds, mut edu, mut team, mut bodies, mut folds) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut cols: Vec<Vec<Option<String>>> = (0..6).map(|_| Vec::with_capacity(n)).collect();
    for o in objects {
        let ix = o.indexed().into_owned();
        let (id, kind, education, team_) = o.head();
        ids.push(id.to_ascii_lowercase());
        kinds.push(kind.as_str());
        edu.push(education);
        team.push(team_);
        for (col, v) in cols.iter_mut().zip(ix.columns) {
            col.push(v);
        }
        bodies.push(ix.body);
        folds.push(ix.fold);
    }
    let conflict = if replace {
        "ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, edu = excluded.edu, team = excluded.team,
             source = excluded.source, display_fold = excluded.display_fold, upn_fold = excluded.upn_fold,
             mail_fold = excluded.mail_fold, nick_fold = excluded.nick_fold, ext_fold = excluded.ext_fold,
             created = excluded.created, body = excluded.body, fold = excluded.fold, version = dir_object.version + 1"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO dir_object (tenant, id, kind, edu, team, source, display_fold, upn_fold, mail_fold, nick_fold,
             ext_fold, created, body, fold, version)
         SELECT $1, u.id, u.kind, u.edu, u.team, $2, u.d, u.u, u.m, u.n, u.e, u.c, u.body, u.fold::jsonb, 1
         FROM UNNEST($3::text[], $4::text[], $5::bool[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::text[], $13::text[], $14::text[])
              AS u(id, kind, edu, team, d, u, m, n, e, c, body, fold)
         {conflict}"
    );
    let mut q =
        sqlx::query(&sql).bind(tenant.as_str()).bind(source.as_str()).bind(&ids).bind(&kinds).bind(&edu).bind(&team);
    for col in &cols {
        q = q.bind(col);
    }
    q.bind(&bodies).bind(&folds).execute(&mut *conn).await.map_err(constraint)?;
    Ok(())
}

/// Merge patches into the objects they name, keeping each object's `source` ([`Patch`]); an object that is
/// gone is skipped. The objects are read and locked a chunk at a time, merged here, and written back with one
/// `UPDATE ... FROM UNNEST` per chunk.
pub(crate) async fn patch(conn: &mut PgConnection, tenant: &TenantId, patches: &[Patch]) -> Result<()> {
    for chunk in patches.chunks(CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|p| p.id.to_ascii_lowercase()).collect();
        let sql = format!("SELECT {COLUMNS} FROM dir_object o WHERE o.tenant = $1 AND o.id = ANY($2) FOR UPDATE");
        let rows = sqlx::query(&sql).bind(tenant.as_str()).bind(&ids).fetch_all(&mut *conn).await.map_err(backend)?;
        let mut current: rustc_hash::FxHashMap<String, Object> = Default::default();
        for row in &rows {
            let o = row_object(row)?;
            current.insert(o.id.clone(), o);
        }
        for (p, id) in chunk.iter().zip(&ids) {
            if let Some(o) = current.remove(id) {
                current.insert(id.clone(), p.applied(o));
            }
        }
        let n = current.len();
        let (mut out_ids, mut team, mut bodies, mut folds) =
            (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut cols: Vec<Vec<Option<String>>> = (0..6).map(|_| Vec::with_capacity(n)).collect();
        for (id, o) in current {
            let ix = o.index();
            out_ids.push(id);
            team.push(o.team);
            for (col, v) in cols.iter_mut().zip(ix.columns) {
                col.push(v);
            }
            bodies.push(ix.body);
            folds.push(ix.fold);
        }
        let mut q = sqlx::query(
            "UPDATE dir_object d SET team = u.team, display_fold = u.d, upn_fold = u.u, mail_fold = u.m,
                 nick_fold = u.n, ext_fold = u.e, created = u.c, body = u.body, fold = u.fold::jsonb,
                 version = d.version + 1
             FROM UNNEST($2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::text[]) AS u(id, team, d, u, m, n, e, c, body, fold)
             WHERE d.tenant = $1 AND d.id = u.id",
        )
        .bind(tenant.as_str())
        .bind(&out_ids)
        .bind(&team);
        for col in &cols {
            q = q.bind(col);
        }
        q.bind(&bodies).bind(&folds).execute(&mut *conn).await.map_err(constraint)?;
    }
    Ok(())
}

/// Delete objects and every relation they are in, both ways; returns how many objects were deleted.
pub(crate) async fn delete(conn: &mut PgConnection, tenant: &TenantId, ids: &[String]) -> Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|i| i.to_ascii_lowercase()).collect();
        for sql in [
            "DELETE FROM dir_relation WHERE tenant = $1 AND rel IN ('members', 'owners') AND from_id = ANY($2)",
            "DELETE FROM dir_relation WHERE tenant = $1 AND rel IN ('members', 'owners') AND to_id = ANY($2)",
        ] {
            sqlx::query(sql).bind(tenant.as_str()).bind(&ids).execute(&mut *conn).await.map_err(backend)?;
        }
        n += sqlx::query("DELETE FROM dir_object WHERE tenant = $1 AND id = ANY($2)")
            .bind(tenant.as_str())
            .bind(&ids)
            .execute(&mut *conn)
            .await
            .map_err(backend)?
            .rows_affected();
    }
    Ok(n)
}

fn columns<L: LinkParts>(links: &[L]) -> (Vec<&'static str>, Vec<String>, Vec<String>) {
    let rels = links.iter().map(|l| l.parts().0.as_str()).collect();
    let from = links.iter().map(|l| l.parts().1.to_ascii_lowercase()).collect();
    let to = links.iter().map(|l| l.parts().2.to_ascii_lowercase()).collect();
    (rels, from, to)
}

/// A link of at least this many relations is copied into a temporary table first ([`link_copied`]).
const COPY_AT: usize = 20_000;

/// Add relations (existing ones are left as they are); returns how many were added.
pub(crate) async fn link<L: LinkParts + Sync>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    links: &[L],
    source: Source,
) -> Result<u64> {
    if links.len() >= COPY_AT {
        return link_copied(conn, tenant, links, source).await;
    }
    let mut n = 0;
    for chunk in links.chunks(CHUNK) {
        let (rels, from, to) = columns(chunk);
        n += sqlx::query(
            "INSERT INTO dir_relation (tenant, rel, from_id, to_id, source)
             SELECT $1, u.rel, u.f, u.t, $5 FROM UNNEST($2::text[], $3::text[], $4::text[]) AS u(rel, f, t)
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(&rels)
        .bind(&from)
        .bind(&to)
        .bind(source.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    }
    Ok(n)
}

/// A large link (a first run's million relations): `COPY` into a temporary table (no WAL, no index, text
/// streamed as it is encoded), then one `INSERT ... SELECT` in key order, instead of hundreds of `UNNEST`
/// statements whose arrays are built, sent and unpacked row by row. `links` in key order take the B-tree of the
/// table's key as appends. The table is dropped at the end (or with the transaction, if it fails).
async fn link_copied<L: LinkParts>(
    conn: &mut PgConnection,
    tenant: &TenantId,
    links: &[L],
    source: Source,
) -> Result<u64> {
    sqlx::query(
        "CREATE TEMPORARY TABLE dir_relation_load (rel TEXT NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL)
         ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let mut copy =
        conn.copy_in_raw("COPY dir_relation_load (rel, from_id, to_id) FROM STDIN").await.map_err(backend)?;
    let mut buf = copy::buffer();
    for l in links {
        let (relation, from, to) = l.parts();
        buf.push_str(relation.as_str());
        for id in [from, to] {
            buf.push('\t');
            copy::text(&mut buf, &lower(id));
        }
        buf.push('\n');
        copy::send_full(&mut copy, &mut buf).await?;
    }
    copy::end(copy, buf).await?;
    let n = sqlx::query(
        "INSERT INTO dir_relation (tenant, rel, from_id, to_id, source)
         SELECT $1, rel, from_id, to_id, $2 FROM dir_relation_load
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(source.as_str())
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected();
    sqlx::query("DROP TABLE dir_relation_load").execute(&mut *conn).await.map_err(backend)?;
    Ok(n)
}

/// Remove relations; returns how many were there.
pub(crate) async fn unlink(conn: &mut PgConnection, tenant: &TenantId, links: &[Link]) -> Result<u64> {
    let mut n = 0;
    for chunk in links.chunks(CHUNK) {
        let (rels, from, to) = columns(chunk);
        n += sqlx::query(
            "DELETE FROM dir_relation d USING UNNEST($2::text[], $3::text[], $4::text[]) AS u(rel, f, t)
             WHERE d.tenant = $1 AND d.rel = u.rel AND d.from_id = u.f AND d.to_id = u.t",
        )
        .bind(tenant.as_str())
        .bind(&rels)
        .bind(&from)
        .bind(&to)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected();
    }
    Ok(n)
}

/// A run's changes on an open transaction (see the module's doc).
pub(crate) async fn apply(conn: &mut PgConnection, tenant: &TenantId, bulk: &Bulk) -> Result<()> {
    let source = bulk.source.unwrap_or(Source::Api);
    upsert(conn, tenant, &bulk.upserts, source).await?;
    upsert(conn, tenant, &bulk.rendered, source).await?;
    patch(conn, tenant, &bulk.patches).await?;
    delete(conn, tenant, &bulk.deletes).await?;
    unlink(conn, tenant, &bulk.unlink).await?;
    link(conn, tenant, &bulk.link, source).await.map(drop)
}

/// A unique-index violation as the rule it broke.
fn constraint(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error() {
        if db.code().as_deref() == Some("23505") {
            return match db.constraint() {
                Some("dir_object_upn") => StoreError::Duplicate("userPrincipalName".into()),
                Some("dir_object_group_nick") => StoreError::Duplicate("mailNickname".into()),
                _ => StoreError::Exists,
            };
        }
    }
    backend(e)
}

fn row_object(row: &sqlx::postgres::PgRow) -> Result<Object> {
    row_stored(row)?.parse()
}

fn row_stored(row: &sqlx::postgres::PgRow) -> Result<Stored> {
    stored_from(
        row.try_get(0).map_err(backend)?,
        row.try_get(1).map_err(backend)?,
        row.try_get(2).map_err(backend)?,
        row.try_get(3).map_err(backend)?,
        row.try_get(4).map_err(backend)?,
        row.try_get(5).map_err(backend)?,
        row.try_get(6).map_err(backend)?,
    )
}

async fn select_one(
    conn: &mut PgConnection,
    tenant: &TenantId,
    column: &str,
    value: &str,
    lock: bool,
) -> Result<Option<Object>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM dir_object o WHERE o.tenant = $1 AND o.{column} = $2{lock}");
    let row = sqlx::query(&sql).bind(tenant.as_str()).bind(value).fetch_optional(&mut *conn).await.map_err(backend)?;
    row.as_ref().map(row_object).transpose()
}

async fn require(conn: &mut PgConnection, tenant: &TenantId, l: &Link) -> Result<()> {
    for end in [&l.from, &l.to] {
        // FOR SHARE: neither end can be deleted until this transaction ends.
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM dir_object WHERE tenant = $1 AND id = $2 FOR SHARE")
            .bind(tenant.as_str())
            .bind(end.to_ascii_lowercase())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        if found.is_none() {
            return Err(StoreError::MissingRef {
                path: l.relation.as_str().into(),
                set: "directoryObjects".into(),
                id: end.clone(),
            });
        }
    }
    Ok(())
}

/// A sort key's value read back from a row, typed as the key is.
fn key_value(row: &sqlx::postgres::PgRow, i: usize, ty: Type) -> Result<Param> {
    let p = match ty {
        Type::Bool => row.try_get::<Option<bool>, _>(i).map(|v| v.map_or(Param::Null, Param::Bool)),
        Type::Int => row.try_get::<Option<i64>, _>(i).map(|v| v.map_or(Param::Null, Param::Int)),
        _ => row.try_get::<Option<String>, _>(i).map(|v| v.map_or(Param::Null, Param::Text)),
    };
    p.map_err(backend)
}

#[async_trait::async_trait]
impl super::DirectoryStore for PgStore {
    async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<Object>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        select_one(&mut conn, tenant, "id", &id.to_ascii_lowercase(), false).await
    }

    async fn get_by_upn(&self, tenant: &TenantId, upn: &str) -> Result<Option<Object>> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        select_one(&mut conn, tenant, "upn_fold", &rosterflow_model::directory::fold(upn), false).await
    }

    async fn list_stored(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<StoredPage, QueryError> {
        let p = plan(Dialect::Postgres, tenant, q, true)?;
        let sql = p.page_sql(q.limit);
        let mut query = sqlx::query(&sql);
        for param in &p.sql.params {
            query = param.bind_pg(query);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let key_values =
                p.keys.iter().enumerate().map(|(i, k)| key_value(row, 7 + i, k.ty)).collect::<Result<Vec<_>>>()?;
            out.push((row_stored(row)?, key_values));
        }
        Ok(super::sqlite::page(out, q.limit))
    }

    async fn get_and_list_stored(
        &self,
        tenant: &TenantId,
        id: &str,
        q: &ListQuery<'_>,
    ) -> Result<(Option<Object>, StoredPage), QueryError> {
        // One statement, so one round trip (a class's members were two: the class, then its members, each with
        // its protocol cost in both processes): the object's row, marked, then the page's rows. `UNION ALL` is an
        // `Append`, which returns its first input's rows, then its second's in the order that input gives them
        // (the page's `ORDER BY`); the marker, not the position, tells the object's row apart.
        let mut p = plan(Dialect::Postgres, tenant, q, true)?;
        let page = p.page_sql(q.limit);
        let t = p.sql.bind(Param::Text(tenant.as_str().to_string()));
        let i = p.sql.bind(Param::Text(id.to_ascii_lowercase()));
        let nulls: String = p.keys.iter().map(|_| ", NULL").collect();
        let sql = format!(
            "(SELECT {COLUMNS}{nulls}, TRUE FROM dir_object o WHERE o.tenant = {t} AND o.id = {i}) \
             UNION ALL (SELECT m.*, FALSE FROM ({page}) m)"
        );
        let mut query = sqlx::query(&sql);
        for param in &p.sql.params {
            query = param.bind_pg(query);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        let (mut parent, mut out) = (None, Vec::with_capacity(rows.len()));
        for row in &rows {
            if row.try_get::<bool, _>(7 + p.keys.len()).map_err(backend)? {
                parent = Some(row_object(row)?);
                continue;
            }
            let key_values =
                p.keys.iter().enumerate().map(|(i, k)| key_value(row, 7 + i, k.ty)).collect::<Result<Vec<_>>>()?;
            out.push((row_stored(row)?, key_values));
        }
        Ok((parent, super::sqlite::page(out, q.limit)))
    }

    async fn count(&self, tenant: &TenantId, q: &ListQuery<'_>) -> Result<u64, QueryError> {
        let p = plan(Dialect::Postgres, tenant, q, false)?;
        let sql = p.count_sql();
        let mut query = sqlx::query(&sql);
        for param in &p.sql.params {
            query = param.bind_pg(query);
        }
        let n: i64 = query.fetch_one(&self.pool).await.map_err(backend)?.try_get(0).map_err(backend)?;
        Ok(n as u64)
    }

    async fn create(&self, tenant: &TenantId, object: Object, links: Vec<Link>) -> Result<()> {
        if links.is_empty() {
            return self.creates.create(tenant, object).await;
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        write_objects(&mut tx, tenant, &[&object], object.source, false).await?;
        for l in &links {
            require(&mut tx, tenant, l).await?;
        }
        link(&mut tx, tenant, &links, object.source).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update(&self, tenant: &TenantId, id: &str, edit: Edit) -> Result<Object> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut object =
            select_one(&mut tx, tenant, "id", &id.to_ascii_lowercase(), true).await?.ok_or(StoreError::NotFound)?;
        edit(&mut object)?;
        upsert(&mut tx, tenant, std::slice::from_ref(&object), object.source).await?;
        tx.commit().await.map_err(backend)?;
        object.version += 1;
        Ok(object)
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if delete(&mut tx, tenant, &[id.to_string()]).await? == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)
    }

    async fn link(&self, tenant: &TenantId, l: Link) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        require(&mut tx, tenant, &l).await?;
        if link(&mut tx, tenant, std::slice::from_ref(&l), Source::Api).await? == 0 {
            return Err(StoreError::Exists);
        }
        tx.commit().await.map_err(backend)
    }

    async fn unlink(&self, tenant: &TenantId, l: Link) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if unlink(&mut tx, tenant, std::slice::from_ref(&l)).await? == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(backend)
    }

    async fn apply(&self, tenant: &TenantId, bulk: Bulk) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        apply(&mut tx, tenant, &bulk).await?;
        tx.commit().await.map_err(backend)
    }

    async fn user_keys(&self, tenant: &TenantId) -> Result<Vec<UserKeys>> {
        let rows = sqlx::query(
            "SELECT id, upn_fold, mail_fold, nick_fold, fold::text, source FROM dir_object
             WHERE tenant = $1 AND kind = 'user' ORDER BY id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let fold: &str = r.try_get(4).map_err(backend)?;
            let source: &str = r.try_get(5).map_err(backend)?;
            let cols = [r.try_get(1).map_err(backend)?, r.try_get(2).map_err(backend)?, r.try_get(3).map_err(backend)?];
            out.push(user_keys_from_text(r.try_get(0).map_err(backend)?, &cols, fold, source));
        }
        Ok(out)
    }
}
