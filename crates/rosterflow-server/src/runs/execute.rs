//! Starting a run and carrying it out. A start takes the tenant's lease first (one conditional write, so two
//! replicas racing for a tenant never both win), and everything else happens under it: runs a dead process
//! left `running` are settled, the on-demand limit is counted (race-free, since only the holder counts), and
//! the run is recorded. The run itself goes on a task of its own: the engine reports activities through
//! [`Progress`], a writer task records them in order, the lease is renewed every third of its lifetime, and
//! at the end the report is recorded and the lease given back. A run whose lease is lost (its renewal came too
//! late and another run took the tenant) is dropped mid-flight: the engine applies a run's changes in one
//! transaction, so a dropped run leaves the directory as it was.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rosterflow_engine::run::{
    self as engine, ActivityReport, PublicError, RunContext, RunError, RunObserver, RunReport, RunStatus,
};
use rosterflow_model::TenantId;
use rosterflow_store::leases::Lease;
use rosterflow_store::StoreError;
use tokio::sync::mpsc;

use super::{readiness, record, Trigger};
use crate::AppState;

/// What a start came to.
pub(crate) enum Started {
    /// Started: the run's id.
    Run(String),
    /// Another run of the tenant holds the lease.
    Busy(Lease),
    /// The on-demand limit is reached; a start may succeed again after this many seconds.
    Limited { retry_after_seconds: u64 },
}

/// Start a run of `tenant` now.
pub(crate) async fn start(app: &Arc<AppState>, tenant: &TenantId, trigger: Trigger) -> Result<Started, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let asked = Utc::now().timestamp_millis();
    let lease = Lease { holder: app.runs.holder.clone(), run_id: id.clone(), expires_at: asked + app.runs.lease_ms() };
    if let Some(held) = app.stores.leases.acquire(tenant, lease, asked).await? {
        return Ok(Started::Busy(held));
    }
    // The run starts once it holds the tenant: after the previous run's end.
    let now = Utc::now();
    let admitted = async {
        record::settle(app, tenant).await?;
        if trigger == Trigger::OnDemand {
            if let Some(wait) = on_demand_wait(app, tenant, now).await? {
                return Ok(Some(wait));
            }
        }
        record::create_run(app, tenant, &id, now, trigger).await.map(|()| None)
    }
    .await;
    match admitted {
        Ok(None) => {
            tokio::spawn(carry_out(app.clone(), tenant.clone(), id.clone(), now));
            Ok(Started::Run(id))
        }
        Ok(Some(retry_after_seconds)) => {
            app.stores.leases.release(tenant, &app.runs.holder, &id).await?;
            Ok(Started::Limited { retry_after_seconds })
        }
        Err(e) => {
            let _ = app.stores.leases.release(tenant, &app.runs.holder, &id).await;
            Err(e)
        }
    }
}

/// `Some(seconds)` until the oldest on-demand run in the window leaves it, when the tenant has started as many
/// as the limit allows within it; `None` when another may start now.
async fn on_demand_wait(app: &AppState, tenant: &TenantId, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
    let args = &app.runs.args;
    let window = chrono::Duration::seconds(args.run_on_demand_window_seconds as i64);
    let mut starts: Vec<DateTime<Utc>> = record::runs(app, tenant)
        .await?
        .iter()
        .filter(|r| record::trigger_of(&r.doc) == Trigger::OnDemand.as_str())
        .filter_map(|r| record::started_at(&r.doc))
        .filter(|t| *t > now - window)
        .collect();
    if starts.len() < args.run_on_demand_limit as usize {
        return Ok(None);
    }
    starts.sort();
    // The start that must leave the window before one more fits.
    let oldest = starts[starts.len() - args.run_on_demand_limit as usize];
    let wait = (oldest + window - now).num_milliseconds().max(0) as u64;
    Ok(Some(wait.div_ceil(1000).max(1)))
}

/// The engine's progress reports, handed to the writer task in the order they happen.
struct Progress(mpsc::UnboundedSender<ActivityReport>);

impl RunObserver for Progress {
    fn activity(&self, report: &ActivityReport) {
        let _ = self.0.send(report.clone());
    }
}

/// Carry out run `id` of `tenant`, which holds the tenant's lease, and record how it went.
async fn carry_out(app: Arc<AppState>, tenant: TenantId, id: String, start: DateTime<Utc>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<ActivityReport>();
    let writer = {
        let (app, tenant, id) = (app.clone(), tenant.clone(), id.clone());
        tokio::spawn(async move {
            let mut activities = record::Activities::default();
            while let Some(report) = rx.recv().await {
                if let Err(e) = activities.record(&app, &tenant, &id, &report).await {
                    tracing::warn!(run = %id, error = %e, "a run's progress could not be recorded");
                }
            }
            activities
        })
    };
    let progress = Progress(tx);
    // The keeper is a task of its own, so that a run busy on its worker never delays a renewal.
    let mut keeper = tokio::spawn(keep_lease(app.clone(), tenant.clone(), id.clone()));
    let outcome = {
        let ctx = RunContext { stores: &app.stores, sealer: &app.secrets, tenant: &tenant, now: start };
        tokio::select! {
            report = engine::run(&ctx, &progress) => Some(report),
            _ = &mut keeper => None,
        }
    };
    keeper.abort();
    drop(progress);
    let mut activities = writer.await.unwrap_or_default();
    let report = match outcome {
        Some(Ok(report)) => report,
        Some(Err(e)) => failed(&e),
        None => {
            // Another run holds the tenant now; settling will mark this one failed.
            tracing::warn!(run = %id, "a run lost its lease and was stopped");
            return;
        }
    };
    if let Err(e) = finish(&app, &tenant, &id, &mut activities, &report).await {
        tracing::error!(run = %id, error = %e, "a run's end could not be recorded");
    }
    if let Err(e) = app.stores.leases.release(&tenant, &app.runs.holder, &id).await {
        tracing::warn!(run = %id, error = %e, "a run's lease could not be released; it expires");
    }
}

/// Renew the lease every third of its lifetime; returns when it is lost.
async fn keep_lease(app: Arc<AppState>, tenant: TenantId, id: String) {
    let every = Duration::from_millis((app.runs.lease_ms() / 3).max(100) as u64);
    loop {
        tokio::time::sleep(every).await;
        let expires_at = Utc::now().timestamp_millis() + app.runs.lease_ms();
        match app.stores.leases.renew(&tenant, &app.runs.holder, &id, expires_at).await {
            Ok(true) => {}
            Ok(false) => return,
            // A storage hiccup: try again at the next tick; the lease outlives two missed renewals.
            Err(e) => tracing::warn!(run = %id, error = %e, "a run's lease could not be renewed"),
        }
    }
}

/// The report of a run the engine could not carry out at all.
fn failed(e: &RunError) -> RunReport {
    let code = match e {
        RunError::Store(_) => "storageUnavailable",
        RunError::Unavailable(_) => "runUnavailable",
    };
    if let RunError::Store(e) = e {
        tracing::error!(error = %e, "a run failed on a storage fault");
    }
    let message = match e {
        RunError::Store(_) => "The store was unavailable during the run; nothing was applied.".to_string(),
        RunError::Unavailable(m) => m.clone(),
    };
    RunReport {
        status: RunStatus::Failed,
        blocking_error: Some(PublicError { code: code.into(), message, target: None, details: vec![] }),
        activities: vec![],
    }
}

/// Record the run's last word: every activity's final state, the run's status, and each flow's outcome
/// (for its `readinessStatus`).
async fn finish(
    app: &AppState,
    tenant: &TenantId,
    id: &str,
    activities: &mut record::Activities,
    report: &RunReport,
) -> Result<(), StoreError> {
    for activity in &report.activities {
        activities.record(app, tenant, id, activity).await?;
    }
    readiness::record_outcomes(app, tenant, &report.activities).await?;
    record::end_run(app, tenant, id, &record::status_name(report.status), report.blocking_error.as_ref()).await
}

/// Reset a provisioning flow (the `reset` action): under the tenant's lease, so that no run is planning from
/// the state the reset clears. `Some(lease)`: refused, a run holds the tenant.
pub(crate) async fn reset(app: &AppState, tenant: &TenantId, flow: &str) -> Result<Option<Lease>, RunError> {
    let job = format!("reset-{}", uuid::Uuid::new_v4());
    let now = Utc::now().timestamp_millis();
    let lease = Lease { holder: app.runs.holder.clone(), run_id: job.clone(), expires_at: now + app.runs.lease_ms() };
    if let Some(held) = app.stores.leases.acquire(tenant, lease, now).await? {
        return Ok(Some(held));
    }
    let ctx = RunContext { stores: &app.stores, sealer: &app.secrets, tenant, now: Utc::now() };
    let done = async {
        engine::reset(&ctx, flow).await?;
        readiness::clear_outcome(app, tenant, flow).await.map_err(RunError::from)
    }
    .await;
    let released = app.stores.leases.release(tenant, &app.runs.holder, &job).await;
    done?;
    released?;
    Ok(None)
}
