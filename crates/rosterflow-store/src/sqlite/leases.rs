//! Run leases on SQLite: through the writer thread's group commit (one process owns the file, so the lease
//! guards against overlapping runs within it and records who ran, for the next process after a crash).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::leases::{Lease, RunLeases, ACQUIRE, CURRENT, RELEASE, RENEW, TENANTS};
use crate::{backend, Result, TenantId};

/// Drop every lease when the file is opened: the lock file proves that no other process holds this database,
/// so a lease in it belongs to a process that died; its tenant may run again at once (and its run reads as
/// failed), instead of after the lease's expiry.
pub(super) fn clear(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute("DELETE FROM run_lease", []).map(drop).map_err(backend)
}

fn current(conn: &rusqlite::Connection, tenant: &str) -> Result<Option<Lease>> {
    conn.query_row(CURRENT, [tenant], |r| Ok(Lease { holder: r.get(0)?, run_id: r.get(1)?, expires_at: r.get(2)? }))
        .optional()
        .map_err(backend)
}

#[async_trait]
impl RunLeases for SqliteStore {
    async fn acquire(&self, tenant: &TenantId, lease: Lease, now: i64) -> Result<Option<Lease>> {
        let t = tenant.as_str().to_string();
        self.write(tenant, move |conn| {
            let n = conn
                .execute(ACQUIRE, params![t, lease.holder, lease.run_id, lease.expires_at, now])
                .map_err(backend)?;
            if n == 1 {
                return Ok(None);
            }
            current(conn, &t)
        })
        .await
    }

    async fn renew(&self, tenant: &TenantId, holder: &str, run_id: &str, expires_at: i64) -> Result<bool> {
        let (t, h, r) = (tenant.as_str().to_string(), holder.to_string(), run_id.to_string());
        self.write(tenant, move |conn| Ok(conn.execute(RENEW, params![expires_at, t, h, r]).map_err(backend)? == 1))
            .await
    }

    async fn release(&self, tenant: &TenantId, holder: &str, run_id: &str) -> Result<()> {
        let (t, h, r) = (tenant.as_str().to_string(), holder.to_string(), run_id.to_string());
        self.write(tenant, move |conn| conn.execute(RELEASE, params![t, h, r]).map(drop).map_err(backend)).await
    }

    async fn current(&self, tenant: &TenantId) -> Result<Option<Lease>> {
        self.read_with(|conn| current(conn, tenant.as_str()))
    }

    async fn tenants_with_flows(&self) -> Result<Vec<TenantId>> {
        self.read_blocking(|conn| {
            let mut stmt = conn.prepare(TENANTS).map_err(backend)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
            rows.map(|r| r.map(TenantId).map_err(backend)).collect()
        })
        .await
    }
}
