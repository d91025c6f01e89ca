//! Run leases on PostgreSQL: the conditional upsert is atomic, so of two replicas racing for a tenant's lease
//! exactly one inserts or takes over the expired row; the other sees the winner's live lease.

use async_trait::async_trait;

use super::PgStore;
use crate::leases::{Lease, RunLeases, ACQUIRE, CURRENT, RELEASE, RENEW, TENANTS};
use crate::{backend, Result, TenantId};

#[async_trait]
impl RunLeases for PgStore {
    async fn acquire(&self, tenant: &TenantId, lease: Lease, now: i64) -> Result<Option<Lease>> {
        let done = sqlx::query(ACQUIRE)
            .bind(tenant.as_str())
            .bind(&lease.holder)
            .bind(&lease.run_id)
            .bind(lease.expires_at)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 1 {
            return Ok(None);
        }
        self.current(tenant).await
    }

    async fn renew(&self, tenant: &TenantId, holder: &str, run_id: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query(RENEW)
            .bind(expires_at)
            .bind(tenant.as_str())
            .bind(holder)
            .bind(run_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, tenant: &TenantId, holder: &str, run_id: &str) -> Result<()> {
        sqlx::query(RELEASE)
            .bind(tenant.as_str())
            .bind(holder)
            .bind(run_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn current(&self, tenant: &TenantId) -> Result<Option<Lease>> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as(CURRENT).bind(tenant.as_str()).fetch_optional(&self.pool).await.map_err(backend)?;
        Ok(row.map(|(holder, run_id, expires_at)| Lease { holder, run_id, expires_at }))
    }

    async fn tenants_with_flows(&self) -> Result<Vec<TenantId>> {
        let rows: Vec<String> = sqlx::query_scalar(TENANTS).fetch_all(&self.pool).await.map_err(backend)?;
        Ok(rows.iter().map(|t| TenantId(t.clone())).collect())
    }
}
