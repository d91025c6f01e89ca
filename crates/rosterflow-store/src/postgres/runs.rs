//! What runs wrote, on PostgreSQL: a commit is one transaction (directory and state), multi-row statements
//! over `UNNEST` arrays, never a round trip per row.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use rustc_hash::FxHashMap;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::directory::Link;
use crate::runs::{merged_links, packed, Commit, FlowChanges, FlowState, LinkSink, Managed, RunStore};
use crate::{backend, Result, TenantId};
use rosterflow_model::directory::Relation;

const CHUNK: usize = 10_000;

/// Run `sql` with `$1` the tenant, `$2` the flow and `$3..` the text arrays `columns` (one row per index).
async fn execute(conn: &mut PgConnection, sql: &str, tenant: &str, flow: &str, columns: &[Vec<&str>]) -> Result<()> {
    let mut q = sqlx::query(sql).bind(tenant).bind(flow);
    for c in columns {
        q = q.bind(c);
    }
    q.execute(conn).await.map_err(backend)?;
    Ok(())
}

async fn save(conn: &mut PgConnection, tenant: &str, c: &FlowChanges) -> Result<()> {
    const PUT: &str = "INSERT INTO run_object (tenant, flow, key, id, managed)
         SELECT $1, $2, u.k, u.i, u.m FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(k, i, m)
         ON CONFLICT (tenant, flow, key) DO UPDATE SET id = excluded.id, managed = excluded.managed";
    const DROP: &str = "DELETE FROM run_object WHERE tenant = $1 AND flow = $2 AND key = ANY($3)";
    for chunk in c.put.chunks(CHUNK) {
        let column = |f: fn(&Managed) -> &str| chunk.iter().map(f).collect::<Vec<_>>();
        let columns = [column(|m| &m.key), column(|m| &m.id), column(|m| &m.managed)];
        execute(conn, PUT, tenant, &c.flow, &columns).await?;
    }
    for chunk in c.drop.chunks(CHUNK) {
        execute(conn, DROP, tenant, &c.flow, &[chunk.iter().map(String::as_str).collect()]).await?;
    }
    // The flow's relations, per group: the groups' rows read (locked), merged, written back or deleted.
    const READ: &str = "SELECT s.rel, s.from_id, s.to_ids FROM run_link_set s
         JOIN UNNEST($3::text[], $4::text[]) AS u(rel, f) ON s.rel = u.rel AND s.from_id = u.f
         WHERE s.tenant = $1 AND s.flow = $2 FOR UPDATE OF s";
    const WRITE: &str = "INSERT INTO run_link_set (tenant, flow, rel, from_id, to_ids)
         SELECT $1, $2, u.rel, u.f, u.t FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(rel, f, t)
         ON CONFLICT (tenant, flow, rel, from_id) DO UPDATE SET to_ids = excluded.to_ids";
    const GONE: &str = "DELETE FROM run_link_set s USING UNNEST($3::text[], $4::text[]) AS u(rel, f)
         WHERE s.tenant = $1 AND s.flow = $2 AND s.rel = u.rel AND s.from_id = u.f";
    let changes = packed::changes(c);
    for chunk in changes.chunks(CHUNK) {
        let keys = [
            chunk.iter().map(|((r, _), _)| r.as_str()).collect::<Vec<_>>(),
            chunk.iter().map(|((_, f), _)| *f).collect(),
        ];
        let mut stored: FxHashMap<(String, String), String> = FxHashMap::default();
        let mut q = sqlx::query(READ).bind(tenant).bind(&c.flow);
        for k in &keys {
            q = q.bind(k);
        }
        let mut rows = q.fetch(&mut *conn);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            stored.insert(
                (r.try_get(0).map_err(backend)?, r.try_get(1).map_err(backend)?),
                r.try_get(2).map_err(backend)?,
            );
        }
        drop(rows);
        let (mut put, mut gone): ([Vec<&str>; 2], [Vec<&str>; 2]) = Default::default();
        let mut ids = Vec::new();
        for ((rel, from), change) in chunk {
            let have = stored.get(&(rel.as_str().to_string(), from.to_string()));
            match packed::merged(have.map(String::as_str), change) {
                Some(to) => {
                    put[0].push(rel.as_str());
                    put[1].push(from);
                    ids.push(to);
                }
                None => {
                    gone[0].push(rel.as_str());
                    gone[1].push(from);
                }
            }
        }
        if !ids.is_empty() {
            let [rels, froms] = put;
            execute(conn, WRITE, tenant, &c.flow, &[rels, froms, ids.iter().map(String::as_str).collect()]).await?;
        }
        if !gone[0].is_empty() {
            execute(conn, GONE, tenant, &c.flow, &gone).await?;
        }
    }
    Ok(())
}

impl PgStore {
    async fn state_objects(&self, tenant: &TenantId, flow: &str) -> Result<Vec<Managed>> {
        let mut objects = Vec::new();
        let mut rows = sqlx::query("SELECT key, id, managed FROM run_object WHERE tenant = $1 AND flow = $2")
            .bind(tenant.as_str())
            .bind(flow)
            .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            objects.push(Managed {
                key: r.try_get(0).map_err(backend)?,
                id: r.try_get(1).map_err(backend)?,
                managed: r.try_get(2).map_err(backend)?,
            });
        }
        Ok(objects)
    }

    /// Each relation of the stored rows `query` reads (`rel, from_id, to_ids`), lent to `f` as it is read.
    async fn each_link(&self, query: LinkRows<'_>, mut f: impl FnMut(Relation, &str, &str) + Send) -> Result<()> {
        let mut rows = query.fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            let text = |i| r.try_get::<&str, _>(i).map_err(backend);
            packed::each(text(0)?, text(1)?, text(2)?, &mut f)?;
        }
        Ok(())
    }
}

/// A query of `run_link_set` rows.
type LinkRows<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Every relation row of a flow's state.
fn flow_links<'q>(tenant: &'q TenantId, flow: &'q str) -> LinkRows<'q> {
    sqlx::query("SELECT rel, from_id, to_ids FROM run_link_set WHERE tenant = $1 AND flow = $2")
        .bind(tenant.as_str())
        .bind(flow)
}

#[async_trait]
impl RunStore for PgStore {
    async fn state(&self, tenant: &TenantId, flow: &str) -> Result<FlowState> {
        let objects = self.state_objects(tenant, flow).await?;
        let mut links = Vec::new();
        self.each_link(flow_links(tenant, flow), |relation, from, to| {
            links.push(Link { relation, from: from.to_string(), to: to.to_string() })
        })
        .await?;
        Ok(FlowState { objects, links })
    }

    async fn state_with(&self, tenant: &TenantId, flow: &str, mut sink: LinkSink) -> Result<Vec<Managed>> {
        self.each_link(flow_links(tenant, flow), &mut *sink).await?;
        self.state_objects(tenant, flow).await
    }

    async fn state_links_of(&self, tenant: &TenantId, flow: &str, from: Vec<String>, mut sink: LinkSink) -> Result<()> {
        let rows = sqlx::query(
            "SELECT rel, from_id, to_ids FROM run_link_set WHERE tenant = $1 AND flow = $2 AND from_id = ANY($3)
             ORDER BY rel, from_id",
        )
        .bind(tenant.as_str())
        .bind(flow)
        .bind(from);
        self.each_link(rows, &mut *sink).await
    }

    async fn commit(&self, tenant: &TenantId, commit: Commit) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        use crate::directory::postgres as dir;
        let Commit { bulk, flows, fingerprint } = commit;
        dir::apply(&mut tx, tenant, &bulk).await?;
        let source = bulk.source.unwrap_or(crate::directory::Source::Run);
        drop(bulk); // the objects' documents are written
        for c in &flows {
            dir::unlink(&mut tx, tenant, &c.unlink).await?;
        }
        // Every flow's links at once, in key order (each flow's are sorted: the stable sort merges them): a
        // first run's million relations go through one `COPY` (`dir::link`).
        let links = merged_links(&flows);
        dir::link(&mut tx, tenant, &links, source).await?;
        drop(links);
        for c in flows {
            save(&mut tx, tenant.as_str(), &c).await?;
        }
        if let Some((fingerprint, report)) = &fingerprint {
            sqlx::query(
                "INSERT INTO run_tenant (tenant, fingerprint, report) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant) DO UPDATE SET fingerprint = excluded.fingerprint, report = excluded.report",
            )
            .bind(tenant.as_str())
            .bind(fingerprint)
            .bind(report)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn reset(&self, tenant: &TenantId, flow: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for sql in [
            "DELETE FROM run_object WHERE tenant = $1 AND flow = $2",
            "DELETE FROM run_link_set WHERE tenant = $1 AND flow = $2",
        ] {
            sqlx::query(sql).bind(tenant.as_str()).bind(flow).execute(&mut *tx).await.map_err(backend)?;
        }
        sqlx::query("DELETE FROM run_tenant WHERE tenant = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn last(&self, tenant: &TenantId) -> Result<Option<(String, String)>> {
        sqlx::query_as("SELECT fingerprint, report FROM run_tenant WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }
}
