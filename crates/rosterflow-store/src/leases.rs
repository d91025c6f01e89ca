//! Run leases: one run per tenant at a time, across every replica that shares the database
//! (`migrations/0006_run_leases.sql`). Taking a lease is one conditional upsert, so two replicas racing for a
//! tenant's free (or expired) lease never both win; the holder renews it while its run goes, and a lease
//! whose holder died simply expires. Times are milliseconds since the Unix epoch, from the caller's clock
//! (replicas' clocks are assumed to agree to well within a lease's lifetime).

use async_trait::async_trait;

use crate::{Result, TenantId};

/// A tenant's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The replica (process) holding it.
    pub holder: String,
    /// The run (or other exclusive job, such as a reset) it was taken for.
    pub run_id: String,
    pub expires_at: i64,
}

impl Lease {
    pub fn live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

#[async_trait]
pub trait RunLeases: Send + Sync {
    /// Take the tenant's lease for `run_id` until `expires_at` if nobody holds it or its holder's lease has
    /// expired. `Ok(None)`: taken. `Ok(Some(lease))`: the live lease that holds it.
    async fn acquire(&self, tenant: &TenantId, lease: Lease, now: i64) -> Result<Option<Lease>>;
    /// Push a held lease's expiry to `expires_at`; `false` when it is no longer held (it expired and was taken).
    async fn renew(&self, tenant: &TenantId, holder: &str, run_id: &str, expires_at: i64) -> Result<bool>;
    /// Give a held lease up (nothing happens if it is no longer held).
    async fn release(&self, tenant: &TenantId, holder: &str, run_id: &str) -> Result<()>;
    /// The tenant's lease row, live or expired.
    async fn current(&self, tenant: &TenantId) -> Result<Option<Lease>>;
    /// Every tenant with a provisioning flow: the tenants the scheduler runs.
    async fn tenants_with_flows(&self) -> Result<Vec<TenantId>>;
}

/// The statements both backends run. Placeholders first appear in their numeric order: SQLite reads `$N` as
/// a name and numbers names by first appearance.
/// Take: tenant, holder, run_id, expires_at, now.
pub(crate) const ACQUIRE: &str = "INSERT INTO run_lease (tenant, holder, run_id, expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id,
       expires_at = excluded.expires_at
     WHERE run_lease.expires_at <= $5";
/// Renew: expires_at, tenant, holder, run_id.
pub(crate) const RENEW: &str = "UPDATE run_lease SET expires_at = $1 WHERE tenant = $2 AND holder = $3 AND run_id = $4";
pub(crate) const RELEASE: &str = "DELETE FROM run_lease WHERE tenant = $1 AND holder = $2 AND run_id = $3";
pub(crate) const CURRENT: &str = "SELECT holder, run_id, expires_at FROM run_lease WHERE tenant = $1";
pub(crate) const TENANTS: &str =
    "SELECT DISTINCT tenant FROM resource WHERE set_name = 'provisioningFlows' ORDER BY tenant";
