//! `runs/{id}/getStatistics` (and `runs/getStatistics`, the latest run's): Graph's
//! `industryDataRunStatistics`, from the run's stored activities. `activityStatistics` holds the inbound
//! activities' results (`inboundActivityResults`, the only concrete kind of `industryDataActivityStatistics`);
//! `inboundTotals` adds up their active counts and every activity's errors and warnings.

use std::collections::BTreeMap;

use rosterflow_model::TenantId;
use rosterflow_store::{Resource, StoreError};
use serde_json::{json, Map, Value};

use super::record::{ACTIVITIES, ERRORS, INBOUND, RUNS, WARNINGS};
use crate::AppState;

const NS: &str = "#microsoft.graph.industryData";

fn count(doc: &Map<String, Value>, key: &str) -> u64 {
    doc.get(key).and_then(Value::as_array).map_or(0, |a| a.len() as u64)
}

/// A number inside the stored results (the engine's `InboundResults`, serialised).
fn number(v: &Value, path: &[&str]) -> u64 {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_u64).unwrap_or(0)
}

/// `industryDataRunEntityCountMetric`.
fn metric(results: &Value, kind: &str) -> Value {
    json!({
        "active": number(results, &[kind, "active"]),
        "inactive": number(results, &[kind, "inactive"]),
        "total": number(results, &[kind, "total"]),
    })
}

/// `industryDataRunRoleCountMetric`s, as (role, count).
fn roles<'a>(results: &'a Value, key: &str) -> impl Iterator<Item = (&'a str, u64)> {
    let list = results.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter().map(|c| (c.get("role").and_then(Value::as_str).unwrap_or_default(), number(c, &["count"])))
}

fn role_metrics<'a>(counts: impl Iterator<Item = (&'a str, u64)>) -> Value {
    counts.map(|(role, count)| json!({"role": role, "count": count})).collect()
}

/// The statistics body of `run` (`None`: the tenant's latest run), or `None` when there is no such run.
pub(crate) async fn statistics(
    app: &AppState,
    tenant: &TenantId,
    run: Option<&str>,
) -> Result<Option<Value>, StoreError> {
    let run: Option<Resource> = match run {
        Some(id) => app.stores.resources.get(tenant, RUNS, id).await?,
        None => app.stores.resources.list(tenant, RUNS, None).await?.pop(),
    };
    let Some(run) = run else { return Ok(None) };
    let activities = app.stores.resources.list(tenant, ACTIVITIES, Some(&run.id)).await?;
    let (mut errors, mut warnings) = (0, 0);
    let (mut people, mut organizations, mut groups, mut memberships) = (0u64, 0u64, 0u64, 0u64);
    let (mut matched, mut unmatched) = (BTreeMap::<String, u64>::new(), BTreeMap::<String, u64>::new());
    let mut per_activity = Vec::new();
    for a in &activities {
        let (e, w) = (count(&a.doc, ERRORS), count(&a.doc, WARNINGS));
        errors += e;
        warnings += w;
        let Some(results) = a.doc.get(INBOUND).filter(|v| v.is_object()) else { continue };
        people += number(results, &["people", "active"]);
        organizations += number(results, &["organizations", "active"]);
        groups += number(results, &["groups", "active"]);
        memberships += number(results, &["memberships", "active"]);
        for (into, key) in [(&mut matched, "matchedPeopleByRole"), (&mut unmatched, "unmatchedPeopleByRole")] {
            for (role, n) in roles(results, key) {
                *into.entry(role.to_string()).or_default() += n;
            }
        }
        per_activity.push(json!({
            "@odata.type": format!("{NS}.inboundActivityResults"),
            "activityId": a.id,
            "displayName": a.doc.get("displayName").cloned().unwrap_or(Value::Null),
            "status": a.doc.get("status").cloned().unwrap_or(Value::Null),
            "errors": e,
            "warnings": w,
            "people": metric(results, "people"),
            "organizations": metric(results, "organizations"),
            "groups": metric(results, "groups"),
            "memberships": metric(results, "memberships"),
            "matchedPeopleByRole": role_metrics(roles(results, "matchedPeopleByRole")),
            "unmatchedPeopleByRole": role_metrics(roles(results, "unmatchedPeopleByRole")),
        }));
    }
    let by_role = |m: BTreeMap<String, u64>| role_metrics(m.iter().map(|(r, c)| (r.as_str(), *c)));
    Ok(Some(json!({
        "@odata.type": format!("{NS}.industryDataRunStatistics"),
        "runId": run.id,
        "status": run.doc.get("status").cloned().unwrap_or(Value::Null),
        "inboundTotals": {
            "@odata.type": format!("{NS}.aggregatedInboundStatistics"),
            "errors": errors,
            "warnings": warnings,
            "people": people,
            "organizations": organizations,
            "groups": groups,
            "memberships": memberships,
            "matchedPeopleByRole": by_role(matched),
            "unmatchedPeopleByRole": by_role(unmatched),
        },
        "activityStatistics": per_activity,
    })))
}
