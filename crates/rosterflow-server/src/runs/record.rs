//! Runs and their activities as stored documents (sets `runs` and `activities`, an activity contained in its
//! run), written as a run goes so that a client polling sees it advance. Graph's properties are the
//! documents' own; what only rosterflow needs (what started a run, an activity's flow, errors and inbound
//! results) rides along under `@rosterflow.*` members, which rendering never shows.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rosterflow_engine::run::{ActivityFlow, ActivityReport, PublicError};
use rosterflow_model::{time, TenantId};
use rosterflow_store::{Expect, Resource, StoreError, Write};
use serde_json::{json, Map, Value};

use super::Trigger;
use crate::AppState;

pub(super) const RUNS: &str = "runs";
pub(super) const ACTIVITIES: &str = "activities";
const RUN_TYPE: &str = "microsoft.graph.industryData.industryDataRun";
pub(super) const TRIGGER: &str = "@rosterflow.trigger";
pub(super) const FLOW: &str = "@rosterflow.flow";
pub(super) const ERRORS: &str = "@rosterflow.errors";
pub(super) const WARNINGS: &str = "@rosterflow.warnings";
pub(super) const INBOUND: &str = "@rosterflow.inbound";

type Result<T> = std::result::Result<T, StoreError>;

fn str_of<'a>(doc: &'a Map<String, Value>, key: &str) -> &'a str {
    doc.get(key).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn started_at(doc: &Map<String, Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(str_of(doc, "startDateTime")).ok().map(|t| t.with_timezone(&Utc))
}

pub(super) fn trigger_of(doc: &Map<String, Value>) -> &str {
    str_of(doc, TRIGGER)
}

pub(super) fn is_running(doc: &Map<String, Value>) -> bool {
    str_of(doc, "status") == "running"
}

async fn put_new(
    app: &AppState,
    tenant: &TenantId,
    set: &str,
    parent: Option<&str>,
    ty: &str,
    doc: Map<String, Value>,
) -> Result<()> {
    let id = str_of(&doc, "id").to_string();
    let resource = Resource {
        set: set.into(),
        id,
        parent: parent.map(str::to_string),
        odata_type: ty.into(),
        doc: Arc::new(doc),
        version: 0,
    };
    app.stores.resources.put(tenant, Write { resource, expect: Expect::Absent, unique: vec![], refs: vec![] }).await
}

/// Change a stored run or activity in place.
async fn edit(
    app: &AppState,
    tenant: &TenantId,
    set: &str,
    id: &str,
    // FnMut: a store may run an edit more than once (PostgreSQL redoes one that lost a race).
    mut change: impl FnMut(&mut Map<String, Value>) + Send + 'static,
) -> Result<()> {
    let edit: rosterflow_store::Edit = Box::new(move |r: &mut Resource| {
        change(Arc::make_mut(&mut r.doc));
        Ok(Default::default())
    });
    app.stores.resources.edit(tenant, set, id, edit).await
}

/// Every run of the tenant, oldest first.
pub(super) async fn runs(app: &AppState, tenant: &TenantId) -> Result<Vec<Resource>> {
    app.stores.resources.list(tenant, RUNS, None).await
}

/// A new run, `running` from `start`.
pub(super) async fn create_run(
    app: &AppState,
    tenant: &TenantId,
    id: &str,
    start: DateTime<Utc>,
    trigger: Trigger,
) -> Result<()> {
    let doc = json!({
        "id": id,
        "displayName": format!("Run {}", start.format("%Y-%m-%d %H:%M UTC")),
        "startDateTime": time::format(start),
        "endDateTime": null,
        "status": "running",
        "blockingError": null,
        TRIGGER: trigger.as_str(),
    });
    let Value::Object(doc) = doc else { unreachable!("a JSON object") };
    put_new(app, tenant, RUNS, None, RUN_TYPE, doc).await
}

/// The run's end: its status, end time and blocking error.
pub(super) async fn end_run(
    app: &AppState,
    tenant: &TenantId,
    id: &str,
    status: &str,
    blocking: Option<&PublicError>,
) -> Result<()> {
    let (status, blocking) = (status.to_string(), blocking.map(error_json).unwrap_or(Value::Null));
    edit(app, tenant, RUNS, id, move |doc| {
        doc.insert("status".into(), status.clone().into());
        doc.insert("endDateTime".into(), time::now().into());
        doc.insert("blockingError".into(), blocking.clone());
    })
    .await
}

pub(super) fn error_json(e: &PublicError) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

/// The Graph status of a run's report.
pub(super) fn status_name<T: serde::Serialize>(status: T) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The activities of one run as they are written: each flow's activity id, so that later reports of the same
/// flow update it.
#[derive(Default)]
pub(super) struct Activities {
    ids: HashMap<ActivityFlow, String>,
}

impl Activities {
    /// Write `report` as its flow's activity of run `run`: created the first time, updated after.
    pub(super) async fn record(
        &mut self,
        app: &AppState,
        tenant: &TenantId,
        run: &str,
        report: &ActivityReport,
    ) -> Result<()> {
        let mut fields = Map::new();
        fields.insert("displayName".into(), report.display_name.clone().into());
        fields.insert("status".into(), status_name(report.status).into());
        fields.insert("blockingError".into(), report.blocking_error.as_ref().map(error_json).unwrap_or(Value::Null));
        fields.insert(FLOW.into(), serde_json::to_value(&report.flow).unwrap_or(Value::Null));
        fields.insert(ERRORS.into(), serde_json::to_value(&report.errors).unwrap_or(Value::Null));
        fields.insert(WARNINGS.into(), serde_json::to_value(&report.warnings).unwrap_or(Value::Null));
        fields.insert(INBOUND.into(), serde_json::to_value(&report.inbound).unwrap_or(Value::Null));
        if let Some(id) = self.ids.get(&report.flow) {
            return edit(app, tenant, ACTIVITIES, id, move |doc| doc.extend(fields.clone())).await;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let ty = match report.flow {
            ActivityFlow::Inbound { .. } => "microsoft.graph.industryData.inboundFlowActivity",
            ActivityFlow::Outbound { .. } => "microsoft.graph.industryData.outboundFlowActivity",
        };
        let mut doc = Map::new();
        doc.insert("id".into(), id.clone().into());
        doc.extend(fields);
        put_new(app, tenant, ACTIVITIES, Some(run), ty, doc).await?;
        self.ids.insert(report.flow.clone(), id);
        Ok(())
    }
}

/// Runs left `running` by a process that died: the tenant's lease no longer names them (it expired, or another
/// run holds it), so nothing will end them. They become `failed`, with a blocking error saying why, and so do
/// their activities still in progress. Reads of runs call this first, so a client never waits on a dead run.
pub async fn settle(app: &AppState, tenant: &TenantId) -> Result<()> {
    let running: Vec<Resource> = runs(app, tenant).await?.into_iter().filter(|r| is_running(&r.doc)).collect();
    if running.is_empty() {
        return Ok(());
    }
    // The lease is read after the runs: a run is recorded only once its lease is held, so a run listed here
    // that the lease does not name now has lost it or ended (and `fail_abandoned` re-checks the latter).
    let now = Utc::now().timestamp_millis();
    let live = app.stores.leases.current(tenant).await?.filter(|l| l.live(now)).map(|l| l.run_id);
    for run in running {
        if live.as_deref() != Some(run.id.as_str()) {
            fail_abandoned(app, tenant, &run.id).await?;
        }
    }
    Ok(())
}

async fn fail_abandoned(app: &AppState, tenant: &TenantId, run: &str) -> Result<()> {
    let error = PublicError {
        code: "runAbandoned".into(),
        message: "The process carrying out this run stopped before the run ended; its changes were not applied \
                  (a run applies all of its changes or none), and the next run does the work."
            .into(),
        target: None,
        details: vec![],
    };
    for activity in app.stores.resources.list(tenant, ACTIVITIES, Some(run)).await? {
        if str_of(&activity.doc, "status") == "inProgress" {
            edit(app, tenant, ACTIVITIES, &activity.id, |doc| {
                doc.insert("status".into(), "failed".into());
            })
            .await?;
        }
    }
    let blocking = error_json(&error);
    edit(app, tenant, RUNS, run, move |doc| {
        // Re-checked inside the write: a run that ended meanwhile keeps its own ending.
        if is_running(doc) {
            doc.insert("status".into(), "failed".into());
            doc.insert("endDateTime".into(), time::now().into());
            doc.insert("blockingError".into(), blocking.clone());
        }
    })
    .await
}
