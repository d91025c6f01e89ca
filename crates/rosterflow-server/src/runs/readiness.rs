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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rosterflow_engine::run::{ActivityFlow, ActivityReport};
use rosterflow_model::schema::{schema, TypeDef};
use rosterflow_model::{sets, TenantId};
use rosterflow_store::{Resource, StoreError};
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
        let at = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let expired = at("expirationDateTime").is_some_and(|e| e < now);
        let started = at("effectiveDateTime").is_none_or(|s| s <= now);
        Inbound { in_window: started && !expired, expired, validated }
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

/// Each inbound flow's document with whether it holds a validated snapshot.
async fn inbound_flows(app: &AppState, tenant: &TenantId) -> Result<Vec<(Resource, bool)>, StoreError> {
    let mut out = Vec::new();
    for flow in app.stores.resources.list(tenant, "inboundFlows", None).await? {
        let validated = app.stores.roster.latest_snapshot(tenant, &flow.id).await?.is_some();
        out.push((flow, validated));
    }
    Ok(out)
}

/// Set the `readinessStatus` of flows about to be shown (`set` is `inboundFlows` or `provisioningFlows`;
/// other sets are left alone).
pub async fn show(
    app: &AppState,
    tenant: &TenantId,
    set: &str,
    docs: impl Iterator<Item = &mut Arc<Map<String, Value>>>,
) -> Result<(), StoreError> {
    if set != "inboundFlows" && set != "provisioningFlows" {
        return Ok(());
    }
    let now = Utc::now();
    let inbound = inbound_flows(app, tenant).await?;
    let states: Vec<(String, Inbound)> = inbound
        .iter()
        .map(|(r, validated)| (r.id.to_ascii_lowercase(), Inbound::of(&r.doc, *validated, now)))
        .collect();
    for doc in docs {
        let last = doc.get(LAST_STATUS).and_then(Value::as_str);
        let status = if set == "provisioningFlows" {
            let all: Vec<Inbound> = states.iter().map(|(_, s)| *s).collect();
            provisioning_flow(last, &all)
        } else {
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
            match states.iter().find(|(i, _)| *i == id) {
                Some((_, state)) => inbound_flow(last, *state),
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
