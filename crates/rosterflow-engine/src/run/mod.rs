//! Runs (`runs/start`, the scheduler, `rosterflow plan`): the one interface through which the server and the
//! CLI make provisioning flows do their job. The server owns the run's Graph surface (the `industryDataRun` and
//! its activities, leases, limits, the scheduler); the engine owns what a run does: read the active inbound
//! flows' latest snapshots, match users, plan every flow of every flow set, and apply the changes to the
//! directory atomically, against what the previous run wrote.
//!
//! Spec: `graph-docs/api/industrydata-industrydatarun-*.md`, `graph-docs/resources/industrydata-industrydatarun*.md`,
//! `industrydata-inboundactivityresults.md`, `industrydata-aggregatedinboundstatistics.md`; semantics in
//! `shared/reference/sds-semantics.md` §0, §3, §4.

pub mod config;
pub mod desire;
mod incremental;
pub mod links;
pub mod matching;
mod pipeline;
pub mod plan;

use chrono::{DateTime, Utc};
use rosterflow_store::secrets::Sealer;
use rosterflow_store::{StoreError, Stores, TenantId};
use serde::{Deserialize, Serialize};

pub use pipeline::{prepare, preview, reset, run, Planning, Prepared, Quiet};

/// What a run works with.
pub struct RunContext<'a> {
    pub stores: &'a Stores,
    /// Opens sealed credentials (the user flows' default passwords for created users).
    pub sealer: &'a Sealer,
    pub tenant: &'a TenantId,
    /// The run's start: which inbound flows are inside their effective window, and the time its writes carry.
    pub now: DateTime<Utc>,
}

/// The flow an activity runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "direction")]
pub enum ActivityFlow {
    /// An inbound flow: its latest validated snapshot read into the run.
    Inbound { flow: String },
    /// A provisioning flow of an outbound flow set.
    Outbound { flow_set: String, flow: String },
}

/// Graph's `industryDataActivityStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActivityStatus {
    InProgress,
    Skipped,
    Failed,
    Completed,
    CompletedWithErrors,
    CompletedWithWarnings,
}

/// Graph's `industryDataRunStatus` for a run that has ended (a run in progress is `running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Failed,
    Completed,
    CompletedWithErrors,
    CompletedWithWarnings,
}

/// Graph's `publicError`: `code`, `message`, `target`, `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub details: Vec<PublicError>,
}

/// Graph's `industryDataRunEntityCountMetric`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCount {
    pub active: u32,
    pub inactive: u32,
    pub total: u32,
}

/// Graph's `industryDataRunRoleCountMetric`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCount {
    pub role: String,
    pub count: u32,
}

/// What an inbound activity found in its flow's snapshot (Graph's `inboundActivityResults`, less the
/// activity's id, name and status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundResults {
    pub people: EntityCount,
    pub organizations: EntityCount,
    pub groups: EntityCount,
    pub memberships: EntityCount,
    pub matched_people_by_role: Vec<RoleCount>,
    pub unmatched_people_by_role: Vec<RoleCount>,
}

/// One activity of a run, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityReport {
    pub flow: ActivityFlow,
    /// The flow's name (an inbound flow's `displayName`; a provisioning flow's type and flow set's name).
    pub display_name: String,
    pub status: ActivityStatus,
    /// Why the activity failed, when it did.
    pub blocking_error: Option<PublicError>,
    /// Problems that did not stop the activity (counted in the run's statistics).
    pub errors: Vec<PublicError>,
    pub warnings: Vec<PublicError>,
    /// For inbound activities, once they have read their snapshot.
    pub inbound: Option<InboundResults>,
}

/// Told about a run as it goes, so that a client polling the run sees its activities advance.
pub trait RunObserver: Send + Sync {
    /// An activity started (`InProgress`) or ended; called in the order it happens.
    fn activity(&self, report: &ActivityReport);
}

/// A run that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub status: RunStatus,
    /// Why the run failed as a whole, when it did.
    pub blocking_error: Option<PublicError>,
    /// Every activity in its final state, inbound first.
    pub activities: Vec<ActivityReport>,
}

/// What the next run would do, without doing it (`rosterflow plan`, and rosterflow's own preview endpoint).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub flows: Vec<FlowPreview>,
}

/// What the next run would do for one provisioning flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowPreview {
    pub flow: ActivityFlow,
    pub display_name: String,
    /// Objects and relations to create, update and remove, by kind (`users`, `groups`, `members`, ...).
    pub creates: Vec<(String, u64)>,
    pub updates: Vec<(String, u64)>,
    pub removals: Vec<(String, u64)>,
    /// A few of the changes, as readable JSON, for an admin to check before the run.
    pub samples: Vec<serde_json::Value>,
    pub warnings: Vec<PublicError>,
}

/// Why a run could not be carried out at all (a run that starts and fails reports `RunStatus::Failed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unavailable(String),
}

#[cfg(test)]
mod tests;
