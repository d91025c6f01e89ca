//! What runs wrote, on PostgreSQL: a commit is one transaction (directory and state), multi-row statements
//! over `UNNEST` arrays, never a round trip per row.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use rosterflow_model::directory::Relation;
use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::directory::Link;
use crate::runs::{Commit, FlowChanges, FlowState, Managed, RunStore};
use crate::{backend, Result, StoreError, TenantId};

const CHUNK: usize = 10_000;

fn link_columns(links: &[Link]) -> [Vec<&str>; 3] {
    [
        links.iter().map(|l| l.relation.as_str()).collect(),
        links.iter().map(|l| l.from.as_str()).collect(),
        links.iter().map(|l| l.to.as_str()).collect(),
    ]
}

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
    const UNLINK: &str = "DELETE FROM run_link r USING UNNEST($3::text[], $4::text[], $5::text[]) AS u(rel, f, t)
         WHERE r.tenant = $1 AND r.flow = $2 AND r.rel = u.rel AND r.from_id = u.f AND r.to_id = u.t";
    const LINK: &str = "INSERT INTO run_link (tenant, flow, rel, from_id, to_id)
         SELECT $1, $2, u.rel, u.f, u.t FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(rel, f, t)
         ON CONFLICT DO NOTHING";
    for chunk in c.put.chunks(CHUNK) {
        let column = |f: fn(&Managed) -> &str| chunk.iter().map(f).collect::<Vec<_>>();
        let columns = [column(|m| &m.key), column(|m| &m.id), column(|m| &m.managed)];
        execute(conn, PUT, tenant, &c.flow, &columns).await?;
    }
    for chunk in c.drop.chunks(CHUNK) {
        execute(conn, DROP, tenant, &c.flow, &[chunk.iter().map(String::as_str).collect()]).await?;
    }
    for chunk in c.unlink.chunks(CHUNK) {
        execute(conn, UNLINK, tenant, &c.flow, &link_columns(chunk)).await?;
    }
    for chunk in c.link.chunks(CHUNK) {
        execute(conn, LINK, tenant, &c.flow, &link_columns(chunk)).await?;
    }
    Ok(())
}

#[async_trait]
impl RunStore for PgStore {
    async fn state(&self, tenant: &TenantId, flow: &str) -> Result<FlowState> {
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
        drop(rows);
        let mut links = Vec::new();
        let mut rows = sqlx::query("SELECT rel, from_id, to_id FROM run_link WHERE tenant = $1 AND flow = $2")
            .bind(tenant.as_str())
            .bind(flow)
            .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            let rel: &str = r.try_get(0).map_err(backend)?;
            let relation =
                Relation::parse(rel).ok_or_else(|| StoreError::Backend(format!("unknown relation '{rel}'")))?;
            links.push(Link { relation, from: r.try_get(1).map_err(backend)?, to: r.try_get(2).map_err(backend)? });
        }
        Ok(FlowState { objects, links })
    }

    async fn commit(&self, tenant: &TenantId, commit: Commit) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        use crate::directory::postgres as dir;
        dir::apply(&mut tx, tenant, &commit.bulk).await?;
        let source = commit.bulk.source.unwrap_or(crate::directory::Source::Run);
        for c in &commit.flows {
            dir::unlink(&mut tx, tenant, &c.unlink).await?;
        }
        for c in &commit.flows {
            dir::link(&mut tx, tenant, &c.link, source).await?;
            save(&mut tx, tenant.as_str(), c).await?;
        }
        if let Some((fingerprint, report)) = &commit.fingerprint {
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
            "DELETE FROM run_link WHERE tenant = $1 AND flow = $2",
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
