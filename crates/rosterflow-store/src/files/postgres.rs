//! Files on PostgreSQL, shared by replicas: each write is one transaction that first locks its container's row
//! (`FOR UPDATE`), so writes to one container apply one at a time on every replica, and getUploadSession's
//! per-connector uniqueness is the partial unique index's to keep.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::plan::{self, Op, Plan, Session, State};
use super::{sql, Blob, ChunkRow, Container, ContainerState, FileError, FileResult, Kind, Limits, Meta};
use crate::postgres::PgStore;
use crate::{backend, TenantId};

type Tx<'a> = Transaction<'a, Postgres>;

fn container(row: &PgRow) -> Container {
    Container {
        id: row.get(0),
        tenant: TenantId(row.get(1)),
        connector: row.get(2),
        state: ContainerState::parse(row.get::<&str, _>(3)),
        created: row.get(4),
        session_expires: row.get(5),
        container_expires: row.get(6),
    }
}

fn blob(row: &PgRow) -> Blob {
    Blob {
        name: row.get(0),
        size: row.get::<i64, _>(1) as u64,
        etag: row.get(2),
        created: row.get(3),
        modified: row.get(4),
        content_type: row.get(5),
        content_md5: row.get(6),
    }
}

fn chunk(row: &PgRow) -> ChunkRow {
    ChunkRow {
        kind: Kind::parse(row.get::<&str, _>(0)),
        seq: row.get(1),
        block_id: row.get(2),
        start: row.get(3),
        object: row.get(4),
        size: row.get(5),
    }
}

fn failed(e: sqlx::Error) -> FileError {
    FileError::Backend(e.to_string())
}

async fn chunks(tx: &mut Tx<'_>, t: &str, id: &str, name: &str, kind: Kind) -> FileResult<Vec<ChunkRow>> {
    let rows = sqlx::query(sql::CHUNKS).bind(t).bind(id).bind(name).bind(kind.as_str()).fetch_all(&mut **tx).await;
    Ok(rows.map_err(failed)?.iter().map(chunk).collect())
}

async fn count(tx: &mut Tx<'_>, query: &str, t: &str, id: &str, name: Option<&str>) -> FileResult<i64> {
    let q = sqlx::query_scalar::<_, i64>(query).bind(t).bind(id);
    let q = match name {
        Some(n) => q.bind(n),
        None => q,
    };
    q.fetch_one(&mut **tx).await.map_err(failed)
}

async fn mutate(
    tx: &mut Tx<'_>,
    tenant: &TenantId,
    id: &str,
    name: &str,
    op: Op,
    limits: Limits,
) -> FileResult<(Option<Blob>, Vec<String>)> {
    let t = tenant.as_str();
    let locked = sqlx::query(&format!("{} FOR UPDATE", sql::CONTAINER_BY_ID)).bind(id).fetch_optional(&mut **tx).await;
    let found = locked.map_err(failed)?.map(|r| container(&r)).filter(|k| &k.tenant == tenant);
    let found = found.ok_or(FileError::ContainerNotFound)?;
    let current = sqlx::query(sql::BLOB).bind(t).bind(id).bind(name).fetch_optional(&mut **tx).await.map_err(failed)?;
    let current = current.map(|r| blob(&r));
    let mut loaded = Vec::new();
    for kind in op.kinds() {
        loaded.extend(chunks(tx, t, id, name, *kind).await?);
    }
    let has_name = current.is_some() || count(tx, sql::HAS_CHUNKS, t, id, Some(name)).await? > 0;
    let names = if has_name { 0 } else { count(tx, sql::NAMES, t, id, None).await? };
    let (staged, same_block) = match op.block_id() {
        Some(block) => {
            let staged: (i64, i64) =
                sqlx::query_as(sql::STAGED).bind(t).bind(id).bind(name).fetch_one(&mut **tx).await.map_err(failed)?;
            let same =
                sqlx::query(sql::SAME_BLOCK).bind(t).bind(id).bind(name).bind(block).fetch_optional(&mut **tx).await;
            (staged, same.map_err(failed)?.map(|r| chunk(&r)))
        }
        None => ((0, 0), None),
    };
    let next_seq = match op {
        Op::Flush { .. } => count(tx, sql::NEXT_SEQ, t, id, Some(name)).await?,
        _ => 0,
    };
    let state = State {
        container: found,
        now: super::now_micros(),
        blob: current,
        chunks: loaded,
        has_name,
        names,
        staged,
        same_block,
        next_seq,
    };
    let plan = plan::plan(op, &state, &limits)?;
    apply(tx, t, id, name, plan).await
}

async fn apply(tx: &mut Tx<'_>, t: &str, id: &str, name: &str, plan: Plan) -> FileResult<(Option<Blob>, Vec<String>)> {
    for kind in &plan.delete_kinds {
        let q = sqlx::query(sql::DELETE_KIND).bind(t).bind(id).bind(name).bind(kind.as_str());
        q.execute(&mut **tx).await.map_err(failed)?;
    }
    for (kind, seq, block_id) in &plan.delete {
        let q = sqlx::query(sql::DELETE_CHUNK).bind(t).bind(id).bind(name).bind(kind.as_str()).bind(seq).bind(block_id);
        q.execute(&mut **tx).await.map_err(failed)?;
    }
    for c in &plan.insert {
        sqlx::query(sql::INSERT_CHUNK)
            .bind(t)
            .bind(id)
            .bind(name)
            .bind(c.kind.as_str())
            .bind(c.seq)
            .bind(&c.block_id)
            .bind(c.start)
            .bind(&c.object)
            .bind(c.size)
            .execute(&mut **tx)
            .await
            .map_err(failed)?;
    }
    let written = match plan.blob {
        Some(Some(b)) => {
            let b = Blob { name: name.to_string(), ..b };
            sqlx::query(sql::UPSERT_BLOB)
                .bind(t)
                .bind(id)
                .bind(name)
                .bind(b.size as i64)
                .bind(&b.etag)
                .bind(b.created)
                .bind(b.modified)
                .bind(&b.content_type)
                .bind(&b.content_md5)
                .execute(&mut **tx)
                .await
                .map_err(failed)?;
            Some(b)
        }
        Some(None) => {
            sqlx::query(sql::DELETE_BLOB).bind(t).bind(id).bind(name).execute(&mut **tx).await.map_err(failed)?;
            None
        }
        None => None,
    };
    Ok((written, plan.garbage))
}

async fn session(tx: &mut Tx<'_>, tenant: &TenantId, fresh: Container, reset: bool, max: u32) -> FileResult<Container> {
    let t = tenant.as_str();
    // One session change per connector at a time, on every replica.
    let lock = sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(format!("{t}\u{1f}{}", fresh.connector));
    lock.execute(&mut **tx).await.map_err(failed)?;
    let current = sqlx::query(sql::OPEN_CONTAINER).bind(t).bind(&fresh.connector).fetch_optional(&mut **tx).await;
    let current = current.map_err(failed)?.map(|r| container(&r));
    let open: i64 =
        sqlx::query_scalar(sql::COUNT_OPEN).bind(t).bind(fresh.created).fetch_one(&mut **tx).await.map_err(failed)?;
    match plan::session(current, fresh, reset, open, max)? {
        Session::Keep { container, renew } => {
            if let Some(expires) = renew {
                let q = sqlx::query(sql::RENEW_SESSION).bind(t).bind(&container.id).bind(expires);
                q.execute(&mut **tx).await.map_err(failed)?;
            }
            Ok(container)
        }
        Session::Replace { discard, fresh: k } => {
            if let Some(old) = discard {
                let q = sqlx::query(sql::SET_STATE).bind(t).bind(old).bind("open").bind("discarded");
                q.execute(&mut **tx).await.map_err(failed)?;
            }
            sqlx::query(sql::INSERT_CONTAINER)
                .bind(&k.id)
                .bind(t)
                .bind(&k.connector)
                .bind(k.state.as_str())
                .bind(k.created)
                .bind(k.session_expires)
                .bind(k.container_expires)
                .execute(&mut **tx)
                .await
                .map_err(failed)?;
            Ok(k)
        }
    }
}

impl PgStore {
    async fn begin(&self) -> FileResult<Tx<'_>> {
        self.pool.begin().await.map_err(failed)
    }
}

#[async_trait]
impl Meta for PgStore {
    async fn session(&self, tenant: &TenantId, fresh: Container, reset: bool, max: u32) -> FileResult<Container> {
        let mut tx = self.begin().await?;
        let out = session(&mut tx, tenant, fresh, reset, max).await?;
        tx.commit().await.map_err(failed)?;
        Ok(out)
    }

    async fn container(&self, id: &str) -> FileResult<Option<Container>> {
        let row = sqlx::query(sql::CONTAINER_BY_ID).bind(id).fetch_optional(&self.pool).await.map_err(failed)?;
        Ok(row.map(|r| container(&r)))
    }

    async fn open_container(&self, tenant: &TenantId, connector: &str) -> FileResult<Option<Container>> {
        let row =
            sqlx::query(sql::OPEN_CONTAINER).bind(tenant.as_str()).bind(connector).fetch_optional(&self.pool).await;
        Ok(row.map_err(failed)?.map(|r| container(&r)))
    }

    async fn transition(
        &self,
        tenant: &TenantId,
        id: &str,
        from: ContainerState,
        to: ContainerState,
    ) -> FileResult<bool> {
        let q = sqlx::query(sql::SET_STATE).bind(tenant.as_str()).bind(id).bind(from.as_str()).bind(to.as_str());
        Ok(q.execute(&self.pool).await.map_err(failed)?.rows_affected() > 0)
    }

    async fn mutate(
        &self,
        tenant: &TenantId,
        container: &str,
        name: &str,
        op: Op,
        limits: Limits,
    ) -> FileResult<(Option<Blob>, Vec<String>)> {
        let mut tx = self.begin().await?;
        let out = mutate(&mut tx, tenant, container, name, op, limits).await?;
        tx.commit().await.map_err(failed)?;
        Ok(out)
    }

    async fn blob(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Option<(Blob, Vec<ChunkRow>)>> {
        let t = tenant.as_str();
        let Some(row) = sqlx::query(sql::BLOB)
            .bind(t)
            .bind(container)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(sql::CHUNKS)
            .bind(t)
            .bind(container)
            .bind(name)
            .bind(Kind::Committed.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
        Ok(Some((blob(&row), rows.iter().map(chunk).collect())))
    }

    async fn list(
        &self,
        tenant: &TenantId,
        container: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> FileResult<Vec<Blob>> {
        let rows = sqlx::query(sql::LIST_POSTGRES)
            .bind(tenant.as_str())
            .bind(container)
            .bind(prefix)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
        Ok(rows.iter().map(blob).collect())
    }

    async fn staged(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Vec<ChunkRow>> {
        let q = sqlx::query(sql::CHUNKS).bind(tenant.as_str()).bind(container).bind(name).bind(Kind::Block.as_str());
        Ok(q.fetch_all(&self.pool).await.map_err(failed)?.iter().map(chunk).collect())
    }

    async fn sweepable(&self, now: i64) -> FileResult<Vec<(TenantId, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(sql::SWEEPABLE).bind(now).fetch_all(&self.pool).await.map_err(failed)?;
        Ok(rows.into_iter().map(|(t, id)| (TenantId(t), id)).collect())
    }

    async fn remove(&self, tenant: &TenantId, id: &str) -> FileResult<()> {
        let mut tx = self.begin().await?;
        for statement in sql::REMOVE {
            sqlx::query(statement).bind(tenant.as_str()).bind(id).execute(&mut *tx).await.map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    async fn server_key(&self, name: &str, candidate: String) -> FileResult<String> {
        sqlx::query(sql::INSERT_KEY).bind(name).bind(candidate).execute(&self.pool).await.map_err(failed)?;
        sqlx::query_scalar(sql::KEY)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| FileError::Backend(backend(e).to_string()))
    }
}
