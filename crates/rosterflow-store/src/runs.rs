//! What provisioning runs wrote (`migrations/0005_runs.*.sql`; docs/runs.md): per provisioning flow, the
//! directory objects it manages (by what they stand for, with the properties it last wrote) and the relations
//! it added. The engine plans a run against this state, never against the live directory, so an
//! administrator's manual edits are left alone; [`RunStore::commit`] writes a run's directory changes and its
//! new state in **one** transaction, so the state always describes the directory the last run left, and a run
//! that fails or is killed leaves both as they were.

use async_trait::async_trait;

use crate::directory::{Bulk, Link};
use crate::{Result, TenantId};

/// One object a flow manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// What the object stands for (`user:{sourcedId}`, `class:{inbound flow}:{sourcedId}`, ...).
    pub key: String,
    /// The directory object's id.
    pub id: String,
    /// JSON: the properties the flow manages, as it last wrote them.
    pub managed: String,
}

/// A flow's state as the last run left it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowState {
    pub objects: Vec<Managed>,
    pub links: Vec<Link>,
}

/// How a run changes one flow's state. Its `link` and `unlink` are also the flow's relation changes in the
/// directory ([`RunStore::commit`] writes both from the one list: a large first run holds its relations once).
#[derive(Debug, Clone, Default)]
pub struct FlowChanges {
    pub flow: String,
    /// Inserted or replaced, by key.
    pub put: Vec<Managed>,
    /// Keys the flow no longer manages.
    pub drop: Vec<String>,
    pub link: Vec<Link>,
    pub unlink: Vec<Link>,
}

impl FlowChanges {
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.drop.is_empty() && self.link.is_empty() && self.unlink.is_empty()
    }
}

/// A run's writes, applied together: `bulk` (objects; its own links, if any), then every flow's unlinks, then
/// every flow's links, in the directory and in the flows' state.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    pub bulk: Bulk,
    pub flows: Vec<FlowChanges>,
    /// The inputs' digest and the run's report (JSON), kept for the next run ([`RunStore::last`]).
    pub fingerprint: Option<(String, String)>,
}

/// Tenant-first storage of what runs wrote.
#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// The flow's state (empty for a flow never run, or reset).
    async fn state(&self, tenant: &TenantId, flow: &str) -> Result<FlowState>;
    /// Apply the directory changes and the state changes in one transaction.
    async fn commit(&self, tenant: &TenantId, commit: Commit) -> Result<()>;
    /// Forget the flow's state: its next run provisions everything as if it were its first (the tenant's
    /// fingerprint goes too).
    async fn reset(&self, tenant: &TenantId, flow: &str) -> Result<()>;
    /// The fingerprint and report the last committed run kept.
    async fn last(&self, tenant: &TenantId) -> Result<Option<(String, String)>>;

    /// What a run's planner reads: the flow's objects, and its relations handed to `links` as they are read
    /// (in the order [`RunStore::state`] lists them; a backend may lend them from its row buffer instead of
    /// holding a million pairs of strings).
    async fn state_with(&self, tenant: &TenantId, flow: &str, mut links: LinkSink) -> Result<Vec<Managed>> {
        let state = self.state(tenant, flow).await?;
        for l in &state.links {
            links(l.relation, &l.from, &l.to);
        }
        Ok(state.objects)
    }

    /// The flow's relations that start at `from` (groups and units by id), handed to `links` as
    /// [`RunStore::state_with`] would, in the store's key order (relation, then `from`): what an incremental
    /// plan reads for the groups whose relations it replans.
    async fn state_links_of(
        &self,
        tenant: &TenantId,
        flow: &str,
        from: Vec<String>,
        mut links: LinkSink,
    ) -> Result<()> {
        let from: rustc_hash::FxHashSet<String> = from.into_iter().collect();
        let mut wanted: Vec<Link> =
            self.state(tenant, flow).await?.links.into_iter().filter(|l| from.contains(&l.from)).collect();
        wanted.sort_by(|a, b| (a.relation.as_str(), &a.from).cmp(&(b.relation.as_str(), &b.from)));
        for l in &wanted {
            links(l.relation, &l.from, &l.to);
        }
        Ok(())
    }
}

/// Receives a flow's relations ([`RunStore::state_with`]): relation, from, to.
pub type LinkSink = Box<dyn FnMut(rosterflow_model::directory::Relation, &str, &str) + Send>;

/// A flow's relations are stored per group (`migrations/0010_run_links.*.sql`): one row per relation and
/// `from` with every related id, sorted, space-separated. These are the backends' one way to read and change them.
pub(crate) mod packed {
    use rosterflow_model::directory::Relation;
    use rustc_hash::FxHashMap;

    use super::FlowChanges;
    use crate::{Result, StoreError};

    /// One stored row's relations, lent to `f` one by one.
    pub(crate) fn each(rel: &str, from: &str, to_ids: &str, mut f: impl FnMut(Relation, &str, &str)) -> Result<()> {
        let relation = Relation::parse(rel).ok_or_else(|| StoreError::Backend(format!("unknown relation '{rel}'")))?;
        for to in to_ids.split(' ').filter(|t| !t.is_empty()) {
            f(relation, from, to);
        }
        Ok(())
    }

    /// The ids one group's row gains and loses.
    #[derive(Default)]
    pub(crate) struct Change<'a> {
        pub add: Vec<&'a str>,
        pub remove: Vec<&'a str>,
    }

    /// A flow's relation changes by group, in key order (`rel`, `from`).
    pub(crate) fn changes(c: &FlowChanges) -> Vec<((Relation, &str), Change<'_>)> {
        let mut by: FxHashMap<(Relation, &str), Change> = FxHashMap::default();
        for l in &c.link {
            by.entry((l.relation, l.from.as_str())).or_default().add.push(&l.to);
        }
        for l in &c.unlink {
            by.entry((l.relation, l.from.as_str())).or_default().remove.push(&l.to);
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_unstable_by(|((ra, fa), _), ((rb, fb), _)| (ra.as_str(), fa).cmp(&(rb.as_str(), fb)));
        v
    }

    /// A row's ids after `change` (`None`: the group has none left, its row goes).
    pub(crate) fn merged(stored: Option<&str>, change: &Change) -> Option<String> {
        let mut ids: Vec<&str> = stored.map(|s| s.split(' ').filter(|t| !t.is_empty()).collect()).unwrap_or_default();
        if !change.remove.is_empty() {
            let gone: rustc_hash::FxHashSet<&str> = change.remove.iter().copied().collect();
            ids.retain(|t| !gone.contains(t));
        }
        ids.extend(&change.add);
        ids.sort_unstable();
        ids.dedup();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}
