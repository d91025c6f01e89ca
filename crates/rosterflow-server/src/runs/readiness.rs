//! `readinessStatus`: what a flow's state is, from creation to ready to do work (docs/runs.md, "Readiness").
//! Computed when a flow is read, from what it depends on, so it is never stale:
//!
//! - an inbound flow is `expired` after its `expirationDateTime`, `failed` while its last activity in a run
//!   failed, and otherwise `ready` (as the docs' create response shows it: its connector and year are bound);
//! - a provisioning flow is `failed` while its last activity failed (until a later run succeeds or `reset`),
//!   `expired` when every inbound flow of the tenant has expired, `ready` when an inbound flow is inside its
//!   effective window and holds a validated snapshot, and `notReady` otherwise (right after it is created).
//!
//! A run records each flow's last activity status in the flow's document (`@rosterflow.lastActivityStatus`,
//! never shown); `reset` clears it.
//!
//! What the tenant's inbound flows contribute (their windows, whether each holds a snapshot) is kept per
//! replica ([`Memory`]) under the tenant's inbound stamp, which the statement that read the flows being
//! shown returned too (`Store::get_stamped`, `Page::stamp`): the stamp changes in the transaction of every
//! change to an inbound flow or a snapshot, so an equal stamp means nothing changed, whichever replica wrote.
//! A GET or page of flows thus costs no statement of its own for readiness; only the first after a change
//! reads the inbound flows again. The windows are kept, not the statuses: those are computed against the
//! clock on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use rosterflow_engine::run::{ActivityFlow, ActivityReport};
use rosterflow_model::schema::{schema, TypeDef};
use rosterflow_model::{sets, TenantId};
use rosterflow_store::{InboundStamp, Resource, StoreError};
use serde_json::{Map, Value};

use crate::AppState;

const LAST_STATUS: &str = "@rosterflow.lastActivityStatus";

/// What an inbound flow contributes to readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound {
    /// Inside `[effectiveDateTime, expirationDateTime]` now.
    pub in_window: bool,
    /// Past its `expirationDateTime`.
    pub expired: bool,
    /// Holds a validated snapshot.
    pub validated: bool,
}

impl Inbound {
    pub fn of(doc: &Map<String, Value>, validated: bool, now: DateTime<Utc>) -> Inbound {
        InboundInputs::of(String::new(), doc, validated).at(now)
    }
}

/// What readiness reads of one inbound flow: its id (lower-cased), its window and whether it holds a
/// validated snapshot.
#[derive(Debug, Clone)]
struct InboundInputs {
    id_key: String,
    effective: Option<DateTime<Utc>>,
    expiration: Option<DateTime<Utc>>,
    validated: bool,
}

impl InboundInputs {
    fn of(id_key: String, doc: &Map<String, Value>, validated: bool) -> InboundInputs {
        let at = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        InboundInputs { id_key, effective: at("effectiveDateTime"), expiration: at("expirationDateTime"), validated }
    }

    /// What the flow contributes at `now`.
    fn at(&self, now: DateTime<Utc>) -> Inbound {
        let expired = self.expiration.is_some_and(|e| e < now);
        let started = self.effective.is_none_or(|s| s <= now);
        Inbound { in_window: started && !expired, expired, validated: self.validated }
    }
}

/// A tenant's inbound flows as readiness reads them, and the inbound stamp read before them.
struct Inputs {
    stamp: InboundStamp,
    flows: Vec<InboundInputs>,
}

/// Tenants kept at most; past it the memory starts over (reading the inputs again is always correct).
const MAX_TENANTS: usize = 10_000;

/// Each tenant's [`Inputs`], kept by this replica (see the module's documentation).
#[derive(Default)]
pub struct Memory {
    tenants: RwLock<HashMap<String, Arc<Inputs>>>,
}

impl Memory {
    /// The tenant's inputs when they were read under `stamp`.
    fn current(&self, tenant: &TenantId, stamp: InboundStamp) -> Option<Arc<Inputs>> {
        let tenants = self.tenants.read().expect("readiness memory lock");
        tenants.get(tenant.as_str()).filter(|i| i.stamp == stamp).cloned()
    }

    fn keep(&self, tenant: &TenantId, inputs: Arc<Inputs>) {
        let mut tenants = self.tenants.write().expect("readiness memory lock");
        if tenants.get(tenant.as_str()).is_some_and(|kept| kept.stamp > inputs.stamp) {
            return; // a slower reader of an older stamp: stamps only grow
        }
        if tenants.len() >= MAX_TENANTS && !tenants.contains_key(tenant.as_str()) {
            tenants.clear();
        }
        tenants.insert(tenant.as_str().to_string(), inputs);
    }
}

/// A provisioning flow's `readinessStatus`, given its last activity status and the tenant's inbound flows.
pub fn provisioning_flow(last_status: Option<&str>, inbound: &[Inbound]) -> &'static str {
    if last_status == Some("failed") {
        "failed"
    } else if !inbound.is_empty() && inbound.iter().all(|i| i.expired) {
        "expired"
    } else if inbound.iter().any(|i| i.in_window && i.validated) {
        "ready"
    } else {
        "notReady"
    }
}

/// An inbound flow's `readinessStatus`.
pub fn inbound_flow(last_status: Option<&str>, inbound: Inbound) -> &'static str {
    if inbound.expired {
        "expired"
    } else if last_status == Some("failed") {
        "failed"
    } else {
        "ready"
    }
}

/// Each inbound flow of the tenant, read now.
async fn read_inputs(app: &AppState, tenant: &TenantId) -> Result<Vec<InboundInputs>, StoreError> {
    let mut out = Vec::new();
    for flow in app.stores.resources.list(tenant, "inboundFlows", None).await? {
        let validated = app.stores.roster.latest_snapshot(tenant, &flow.id).await?.is_some();
        out.push(InboundInputs::of(flow.id.to_ascii_lowercase(), &flow.doc, validated));
    }
    Ok(out)
}

/// The tenant's inputs: the ones kept under `stamp` (the tenant's inbound stamp, read by the statement that
/// read the flows shown), else read now and kept under it; with no stamp, read now. Inputs read after the
/// stamp are at least as new as it: kept under it, they may only be newer than a later reader of the same
/// stamp needs, never older.
async fn inputs(app: &AppState, tenant: &TenantId, stamp: Option<InboundStamp>) -> Result<Arc<Inputs>, StoreError> {
    if let Some(kept) = stamp.and_then(|s| app.readiness.current(tenant, s)) {
        return Ok(kept);
    }
    let inputs = Arc::new(Inputs { stamp: stamp.unwrap_or_default(), flows: read_inputs(app, tenant).await? });
    if stamp.is_some() {
        app.readiness.keep(tenant, inputs.clone());
    }
    Ok(inputs)
}

/// Whether flows of `set` have a `readinessStatus` that [`show`] sets.
pub fn applies(set: &str) -> bool {
    set == "inboundFlows" || set == "provisioningFlows"
}

/// Set the `readinessStatus` of flows about to be shown (`set` is `inboundFlows` or `provisioningFlows`;
/// other sets are left alone). `stamp`: the tenant's inbound stamp as the statement that read `docs`
/// returned it (`None`: read the inbound flows now).
pub async fn show(
    app: &AppState,
    tenant: &TenantId,
    set: &str,
    stamp: Option<InboundStamp>,
    docs: impl Iterator<Item = &mut Arc<Map<String, Value>>>,
) -> Result<(), StoreError> {
    if !applies(set) {
        return Ok(());
    }
    let docs: Vec<&mut Arc<Map<String, Value>>> = docs.collect();
    if docs.is_empty() {
        return Ok(()); // nothing to show: no reason to read the inputs
    }
    let now = Utc::now();
    let inputs = inputs(app, tenant, stamp).await?;
    let states: Vec<Inbound> = inputs.flows.iter().map(|f| f.at(now)).collect();
    for doc in docs {
        let last = doc.get(LAST_STATUS).and_then(Value::as_str);
        let status = if set == "provisioningFlows" {
            provisioning_flow(last, &states)
        } else {
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
            match inputs.flows.iter().position(|f| f.id_key.eq_ignore_ascii_case(id)) {
                Some(i) => inbound_flow(last, states[i]),
                None => continue,
            }
        };
        if doc.get("readinessStatus").and_then(Value::as_str) != Some(status) {
            Arc::make_mut(doc).insert("readinessStatus".into(), status.into());
        }
    }
    Ok(())
}

/// Store a flow's last activity status (`None` clears it), keeping the flow's constraints as they are.
async fn set_last_status(
    app: &AppState,
    tenant: &TenantId,
    set_name: &'static str,
    id: &str,
    status: Option<String>,
) -> Result<(), StoreError> {
    let Some(set) = sets::by_name(set_name) else { return Ok(()) };
    let edit: rosterflow_store::Edit = Box::new(move |r: &mut Resource| {
        let ty: &TypeDef = schema().ty(&r.odata_type).ok_or(StoreError::NotFound)?;
        let doc = Arc::make_mut(&mut r.doc);
        match &status {
            Some(s) => doc.insert(LAST_STATUS.into(), s.clone().into()),
            None => doc.remove(LAST_STATUS),
        };
        Ok(crate::industry_data::constraints(set, ty, doc))
    });
    match app.stores.resources.edit(tenant, set_name, id, edit).await {
        Err(StoreError::NotFound) => Ok(()), // the flow was deleted meanwhile
        other => other,
    }
}

/// After a run: each flow's last activity status.
pub(super) async fn record_outcomes(
    app: &AppState,
    tenant: &TenantId,
    activities: &[ActivityReport],
) -> Result<(), StoreError> {
    for a in activities {
        let (set, id) = match &a.flow {
            ActivityFlow::Inbound { flow } => ("inboundFlows", flow),
            ActivityFlow::Outbound { flow, .. } => ("provisioningFlows", flow),
        };
        set_last_status(app, tenant, set, id, Some(super::record::status_name(a.status))).await?;
    }
    Ok(())
}

/// After a reset: the flow's errors are cleared, and with them a `failed` readiness.
pub(super) async fn clear_outcome(app: &AppState, tenant: &TenantId, flow: &str) -> Result<(), StoreError> {
    set_last_status(app, tenant, "provisioningFlows", flow, None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_lifecycle_of_a_provisioning_flow() {
        let window = json!({"effectiveDateTime": "2026-01-01T00:00:00Z", "expirationDateTime": "2026-12-31T00:00:00Z"});
        let doc = window.as_object().unwrap();
        let before = Inbound::of(doc, true, at("2025-12-01T00:00:00Z"));
        let inside = Inbound::of(doc, true, at("2026-06-01T00:00:00Z"));
        let unvalidated = Inbound::of(doc, false, at("2026-06-01T00:00:00Z"));
        let after = Inbound::of(doc, true, at("2027-01-01T00:00:00Z"));
        assert_eq!(provisioning_flow(None, &[]), "notReady", "no inbound flow");
        assert_eq!(provisioning_flow(None, &[unvalidated]), "notReady", "no validated snapshot");
        assert_eq!(provisioning_flow(None, &[before]), "notReady", "before the window");
        assert_eq!(provisioning_flow(None, &[inside]), "ready");
        assert_eq!(provisioning_flow(Some("completed"), &[unvalidated, inside]), "ready");
        assert_eq!(provisioning_flow(Some("failed"), &[inside]), "failed");
        assert_eq!(provisioning_flow(None, &[after]), "expired");
        assert_eq!(provisioning_flow(None, &[after, inside]), "ready", "one live inbound flow is enough");
        assert_eq!(inbound_flow(None, inside), "ready");
        assert_eq!(inbound_flow(Some("failed"), inside), "failed");
        assert_eq!(inbound_flow(Some("failed"), after), "expired");
    }
}
