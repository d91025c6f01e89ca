//! Files on SQLite: writes run on the store's writer thread inside its group commit (`SqliteStore::write`, a
//! savepoint of their own), so they are serialised with every other write and durable when answered; reads go
//! to the reader pool.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::plan::{self, Op, Plan, Session, State};
use super::{sql, Blob, ChunkRow, Container, ContainerState, FileError, FileResult, Kind, Limits, Meta};
use crate::sqlite::SqliteStore;
use crate::{backend, StoreError, TenantId};

/// `$n` → `?n`: the shared SQL in SQLite's numbered-parameter form.
fn q(sql: &str) -> String {
    sql.replace('$', "?")
}

fn container(row: &Row) -> rusqlite::Result<Container> {
    Ok(Container {
        id: row.get(0)?,
        tenant: TenantId(row.get(1)?),
        connector: row.get(2)?,
        state: ContainerState::parse(&row.get::<_, String>(3)?),
        created: row.get(4)?,
        session_expires: row.get(5)?,
        container_expires: row.get(6)?,
    })
}

fn blob(row: &Row) -> rusqlite::Result<Blob> {
    Ok(Blob {
        name: row.get(0)?,
        size: row.get::<_, i64>(1)? as u64,
        etag: row.get(2)?,
        created: row.get(3)?,
        modified: row.get(4)?,
        content_type: row.get(5)?,
        content_md5: row.get(6)?,
    })
}

fn chunk(row: &Row) -> rusqlite::Result<ChunkRow> {
    Ok(ChunkRow {
        kind: Kind::parse(&row.get::<_, String>(0)?),
        seq: row.get(1)?,
        block_id: row.get(2)?,
        start: row.get(3)?,
        object: row.get(4)?,
        size: row.get(5)?,
    })
}

fn one<T>(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> crate::Result<Option<T>> {
    c.prepare_cached(&q(sql)).and_then(|mut s| s.query_row(p, f).optional()).map_err(backend)
}

fn all<T>(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> crate::Result<Vec<T>> {
    c.prepare_cached(&q(sql)).and_then(|mut s| s.query_map(p, f)?.collect()).map_err(backend)
}

fn exec(c: &Connection, sql: &str, p: impl rusqlite::Params) -> crate::Result<()> {
    c.prepare_cached(&q(sql)).and_then(|mut s| s.execute(p)).map(drop).map_err(backend)
}

fn count(c: &Connection, sql: &str, p: impl rusqlite::Params) -> crate::Result<i64> {
    Ok(one(c, sql, p, |r| r.get(0))?.unwrap_or(0))
}

/// Load the state `op` needs, plan it, apply it. Runs on the writer thread.
fn mutate(
    c: &Connection,
    tenant: &TenantId,
    id: &str,
    name: &str,
    op: Op,
    limits: Limits,
) -> crate::Result<FileResult<(Option<Blob>, Vec<String>)>> {
    let t = tenant.as_str();
    let Some(found) = one(c, sql::CONTAINER_BY_ID, [id], container)?.filter(|k| &k.tenant == tenant) else {
        return Ok(Err(FileError::ContainerNotFound));
    };
    let current = one(c, sql::BLOB, params![t, id, name], blob)?;
    let mut chunks = Vec::new();
    for kind in op.kinds() {
        chunks.extend(all(c, sql::CHUNKS, params![t, id, name, kind.as_str()], chunk)?);
    }
    let has_name = current.is_some() || count(c, sql::HAS_CHUNKS, params![t, id, name])? > 0;
    let names = if has_name { 0 } else { count(c, sql::NAMES, params![t, id])? };
    let (staged, same_block) = match op.block_id() {
        Some(block) => (
            one(c, sql::STAGED, params![t, id, name], |r| Ok((r.get(0)?, r.get(1)?)))?.unwrap_or((0, 0)),
            one(c, sql::SAME_BLOCK, params![t, id, name, block], chunk)?,
        ),
        None => ((0, 0), None),
    };
    let next_seq = match op {
        Op::Flush { .. } => count(c, sql::NEXT_SEQ, params![t, id, name])?,
        _ => 0,
    };
    let state = State {
        container: found,
        now: super::now_micros(),
        blob: current,
        chunks,
        has_name,
        names,
        staged,
        same_block,
        next_seq,
    };
    let plan = match plan::plan(op, &state, &limits) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let written = apply(c, t, id, name, plan)?;
    Ok(Ok(written))
}

fn apply(c: &Connection, t: &str, id: &str, name: &str, plan: Plan) -> crate::Result<(Option<Blob>, Vec<String>)> {
    for kind in &plan.delete_kinds {
        exec(c, sql::DELETE_KIND, params![t, id, name, kind.as_str()])?;
    }
    for (kind, seq, block_id) in &plan.delete {
        exec(c, sql::DELETE_CHUNK, params![t, id, name, kind.as_str(), seq, block_id])?;
    }
    for ch in &plan.insert {
        exec(
            c,
            sql::INSERT_CHUNK,
            params![t, id, name, ch.kind.as_str(), ch.seq, ch.block_id, ch.start, ch.object, ch.size],
        )?;
    }
    let written = match plan.blob {
        Some(Some(b)) => {
            let b = Blob { name: name.to_string(), ..b };
            exec(
                c,
                sql::UPSERT_BLOB,
                params![t, id, name, b.size as i64, b.etag, b.created, b.modified, b.content_type, b.content_md5],
            )?;
            Some(b)
        }
        Some(None) => {
            exec(c, sql::DELETE_BLOB, params![t, id, name])?;
            None
        }
        None => None,
    };
    Ok((written, plan.garbage))
}

fn session(
    c: &Connection,
    tenant: &TenantId,
    fresh: Container,
    reset: bool,
    max: u32,
) -> crate::Result<FileResult<Container>> {
    let t = tenant.as_str();
    let current = one(c, sql::OPEN_CONTAINER, params![t, fresh.connector], container)?;
    let open = count(c, sql::COUNT_OPEN, params![t, fresh.created])?;
    match plan::session(current, fresh, reset, open, max) {
        Err(e) => Ok(Err(e)),
        Ok(Session::Keep { container, renew }) => {
            if let Some(expires) = renew {
                exec(c, sql::RENEW_SESSION, params![t, container.id, expires])?;
            }
            Ok(Ok(container))
        }
        Ok(Session::Replace { discard, fresh: k }) => {
            if let Some(old) = discard {
                exec(c, sql::SET_STATE, params![t, old, "open", "discarded"])?;
            }
            exec(
                c,
                sql::INSERT_CONTAINER,
                params![k.id, t, k.connector, k.state.as_str(), k.created, k.session_expires, k.container_expires],
            )?;
            Ok(Ok(k))
        }
    }
}

#[async_trait]
impl Meta for SqliteStore {
    async fn session(&self, tenant: &TenantId, fresh: Container, reset: bool, max: u32) -> FileResult<Container> {
        let t = tenant.clone();
        self.write(tenant, move |c| session(c, &t, fresh, reset, max)).await?
    }

    async fn container(&self, id: &str) -> FileResult<Option<Container>> {
        Ok(self.read(|c| c.prepare_cached(&q(sql::CONTAINER_BY_ID))?.query_row([id], container).optional())?)
    }

    async fn open_container(&self, tenant: &TenantId, connector: &str) -> FileResult<Option<Container>> {
        Ok(self.read(|c| {
            c.prepare_cached(&q(sql::OPEN_CONTAINER))?
                .query_row(params![tenant.as_str(), connector], container)
                .optional()
        })?)
    }

    async fn transition(
        &self,
        tenant: &TenantId,
        id: &str,
        from: ContainerState,
        to: ContainerState,
    ) -> FileResult<bool> {
        let (t, id) = (tenant.as_str().to_string(), id.to_string());
        Ok(self
            .write(tenant, move |c| {
                c.prepare_cached(&q(sql::SET_STATE))
                    .and_then(|mut s| s.execute(params![t, id, from.as_str(), to.as_str()]))
                    .map(|n| n > 0)
                    .map_err(backend)
            })
            .await?)
    }

    async fn mutate(
        &self,
        tenant: &TenantId,
        container: &str,
        name: &str,
        op: Op,
        limits: Limits,
    ) -> FileResult<(Option<Blob>, Vec<String>)> {
        let (t, id, name) = (tenant.clone(), container.to_string(), name.to_string());
        self.write(tenant, move |c| mutate(c, &t, &id, &name, op, limits)).await?
    }

    async fn blob(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Option<(Blob, Vec<ChunkRow>)>> {
        let (t, id, name) = (tenant.as_str().to_string(), container.to_string(), name.to_string());
        // A blob may have up to 50,000 chunks: read on the blocking pool.
        Ok(self
            .read_blocking(move |c| {
                let Some(b) = one(c, sql::BLOB, params![t, id, name], blob)? else { return Ok(None) };
                let chunks = all(c, sql::CHUNKS, params![t, id, name, Kind::Committed.as_str()], chunk)?;
                Ok(Some((b, chunks)))
            })
            .await?)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        container: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> FileResult<Vec<Blob>> {
        let (t, id, prefix, after) =
            (tenant.as_str().to_string(), container.to_string(), prefix.to_string(), after.map(str::to_string));
        Ok(self
            .read_blocking(move |c| all(c, sql::LIST_SQLITE, params![t, id, prefix, after, limit as i64], blob))
            .await?)
    }

    async fn staged(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Vec<ChunkRow>> {
        let (t, id, name) = (tenant.as_str().to_string(), container.to_string(), name.to_string());
        Ok(self.read_blocking(move |c| all(c, sql::CHUNKS, params![t, id, name, Kind::Block.as_str()], chunk)).await?)
    }

    async fn sweepable(&self, now: i64) -> FileResult<Vec<(TenantId, String)>> {
        Ok(self.read_blocking(move |c| all(c, sql::SWEEPABLE, [now], |r| Ok((TenantId(r.get(0)?), r.get(1)?)))).await?)
    }

    async fn remove(&self, tenant: &TenantId, id: &str) -> FileResult<()> {
        let (t, id) = (tenant.as_str().to_string(), id.to_string());
        Ok(self
            .write(tenant, move |c| {
                for statement in sql::REMOVE {
                    exec(c, statement, params![t, id])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn server_key(&self, name: &str, candidate: String) -> FileResult<String> {
        let name = name.to_string();
        let server = TenantId(crate::secrets::SERVER.to_string());
        Ok(self
            .write(&server, move |c| {
                exec(c, sql::INSERT_KEY, params![name, candidate])?;
                one(c, sql::KEY, [&name], |r| r.get(0))?.ok_or(StoreError::NotFound)
            })
            .await?)
    }
}
