//! The scheduler: every replica looks, every `--run-schedule-seconds / 12` (at most a minute), for tenants
//! whose scheduled run is due, and starts it; the tenant's lease decides which replica runs it. A tenant's run
//! is due one interval after its latest run of any kind started, or, before its first run, one interval after
//! its first provisioning flow was created (so a server that starts does not run every tenant at once, and a
//! new tenant's first run waits for a full interval unless started on demand). An on-demand run therefore
//! postpones the next scheduled run (Graph skips it when it is due within 10 hours; docs/runs.md).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rosterflow_model::TenantId;
use rosterflow_store::StoreError;
use serde_json::Value;

use super::{record, start, Started, Trigger};
use crate::AppState;

/// When a tenant's next scheduled run is due.
pub fn due_at(
    latest_start: Option<DateTime<Utc>>,
    first_flow_created: Option<DateTime<Utc>>,
    every: chrono::Duration,
) -> Option<DateTime<Utc>> {
    latest_start.or(first_flow_created).map(|t| t + every)
}

/// Run the scheduler until the task is aborted (`serve` spawns it when the interval is not 0).
pub async fn run(app: Arc<AppState>) {
    let every = app.runs.args.run_schedule_seconds;
    if every == 0 {
        return;
    }
    let tick = Duration::from_secs((every / 12).clamp(1, 60));
    loop {
        tokio::time::sleep(tick).await;
        let tenants = match app.stores.leases.tenants_with_flows().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "the scheduler could not list tenants");
                continue;
            }
        };
        for tenant in tenants {
            if let Err(e) = start_if_due(&app, &tenant, chrono::Duration::seconds(every as i64)).await {
                tracing::warn!(error = %e, "the scheduler could not start a run");
            }
        }
    }
}

async fn start_if_due(app: &Arc<AppState>, tenant: &TenantId, every: chrono::Duration) -> Result<(), StoreError> {
    let latest = record::runs(app, tenant).await?.iter().filter_map(|r| record::started_at(&r.doc)).max();
    let first_flow = if latest.is_none() {
        let flows = app.stores.resources.list(tenant, "provisioningFlows", None).await?;
        flows
            .iter()
            .filter_map(|f| f.doc.get("createdDateTime").and_then(Value::as_str))
            .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .min()
    } else {
        None
    };
    if due_at(latest, first_flow, every).is_some_and(|due| due <= Utc::now()) {
        if let Started::Run(id) = start(app, tenant, Trigger::Scheduled).await? {
            tracing::info!(run = %id, "scheduled run started");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_due_an_interval_after_the_latest_start_or_the_first_flow() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let every = chrono::Duration::hours(12);
        assert_eq!(due_at(None, None, every), None, "no flow, no run");
        assert_eq!(due_at(None, Some(t("2026-01-01T00:00:00Z")), every), Some(t("2026-01-01T12:00:00Z")));
        let latest = Some(t("2026-01-02T03:00:00Z"));
        assert_eq!(due_at(latest, Some(t("2026-01-01T00:00:00Z")), every), Some(t("2026-01-02T15:00:00Z")));
    }
}
