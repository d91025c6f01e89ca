//! What provisioning runs wrote (`migrations/0005_runs.*.sql`; docs/runs.md): per provisioning flow, the
//! directory objects it manages (by what they stand for, with the properties it last wrote) and the relations
//! it added. The engine plans a run against this state, never against the live directory, so an
//! administrator's manual edits are left alone; [`RunStore::commit`] writes a run's directory changes and its
//! new state in **one** transaction, so the state always describes the directory the last run left, and a run
//! that fails or is killed leaves both as they were.

use async_trait::async_trait;

use rosterflow_model::directory::Relation;

use crate::directory::{Bulk, Link, Patch, Rendered, Source};
use crate::{Result, StoreError, TenantId};

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
    /// In key order (relation, `from`, `to`), as [`LinkSet::from_sorted`] keeps them.
    pub link: LinkSet,
    pub unlink: Vec<Link>,
}

/// Relations held as numbers over one table of the ids they use: a first run adds about a million relations
/// between some 300k objects, and as [`Link`]s (two owned 36-character strings each) they took ~140 MiB of
/// the run's peak; here they take 8 bytes each plus every id once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSet {
    /// The ids, one after the other; `ends[i]` is where id `i` ends.
    text: String,
    ends: Vec<u32>,
    /// `relation << 63 | from << 32 | to` ([`LinkSet::pack`]).
    rows: Vec<u64>,
}

impl LinkSet {
    const OWNERS: u64 = 1 << 63;

    fn pack(relation: Relation, from: u32, to: u32) -> u64 {
        let rel = if relation == Relation::Owners { Self::OWNERS } else { 0 };
        rel | (u64::from(from) << 32) | u64::from(to)
    }

    /// A set over `ids` (in the order the relations number them; fewer than 2^31), with no relations yet.
    pub fn with_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> LinkSet {
        let mut set = LinkSet::default();
        for id in ids {
            set.text.push_str(id);
            set.ends.push(u32::try_from(set.text.len()).expect("a link set's ids fit in 4 GiB"));
        }
        assert!(set.ends.len() < 1 << 31, "a link set numbers its ids in 31 bits");
        set
    }

    /// Add a relation between ids numbered as [`LinkSet::with_ids`] lists them.
    pub fn push(&mut self, relation: Relation, from: u32, to: u32) {
        debug_assert!((from as usize) < self.ends.len() && (to as usize) < self.ends.len());
        self.rows.push(Self::pack(relation, from, to));
    }

    /// The id numbered `i`.
    pub fn id(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The `i`th relation: relation, from, to.
    pub fn get(&self, i: usize) -> (Relation, &str, &str) {
        let key = self.rows[i];
        let relation = if key & Self::OWNERS != 0 { Relation::Owners } else { Relation::Members };
        (relation, self.id(((key & !Self::OWNERS) >> 32) as u32), self.id(key as u32))
    }

    /// The relations in the order they were pushed.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Relation, &str, &str)> + '_ {
        (0..self.rows.len()).map(|i| self.get(i))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The relations as [`Link`]s (tests, small callers).
    pub fn to_links(&self) -> Vec<Link> {
        self.iter().map(|(relation, from, to)| Link { relation, from: from.to_string(), to: to.to_string() }).collect()
    }

    /// A set of `links`, sorted into key order (relation, `from`, `to`).
    pub fn from_links(links: &[Link]) -> LinkSet {
        let mut sorted: Vec<&Link> = links.iter().collect();
        sorted.sort_by(|a, b| key_order((a.relation, &a.from, &a.to), (b.relation, &b.from, &b.to)));
        let mut numbers: rustc_hash::FxHashMap<&str, u32> = Default::default();
        let mut ids: Vec<&str> = Vec::new();
        let mut rows = Vec::with_capacity(sorted.len());
        for l in sorted {
            let [from, to] = [l.from.as_str(), l.to.as_str()].map(|id| {
                let next = numbers.len() as u32;
                *numbers.entry(id).or_insert_with(|| {
                    ids.push(id);
                    next
                })
            });
            rows.push((l.relation, from, to));
        }
        let mut set = LinkSet::with_ids(ids);
        for (relation, f, t) in rows {
            set.push(relation, f, t);
        }
        set
    }
}

/// The stores' key order of relations: relation (by name), then `from`, then `to`.
pub fn key_order(a: (Relation, &str, &str), b: (Relation, &str, &str)) -> std::cmp::Ordering {
    (a.0.as_str(), a.1, a.2).cmp(&(b.0.as_str(), b.1, b.2))
}

/// Every flow's added relations in key order, merged (each flow's [`LinkSet`] is in key order; a relation two
/// flows add is listed twice, as the stores' inserts ignore the second).
pub(crate) fn merged_links(flows: &[FlowChanges]) -> Vec<(Relation, &str, &str)> {
    let mut links: Vec<(Relation, &str, &str)> = Vec::with_capacity(flows.iter().map(|c| c.link.len()).sum());
    for c in flows {
        links.extend(c.link.iter());
    }
    // Sorted runs, one per flow: the stable sort merges them.
    links.sort_by(|a, b| key_order(*a, *b));
    links
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

/// One part of a run's commit as the engine plans it ([`RunStore::commit_stream`]).
#[derive(Debug)]
pub enum CommitPart {
    /// One provisioning flow's changes, as soon as it is planned: the objects it creates (none that an earlier
    /// part created), its patches, and its state changes (also its relation changes).
    Flow { rendered: Vec<Rendered>, patches: Vec<Patch>, changes: FlowChanges },
    /// Every flow is sent: commit, keeping the inputs' digest and the run's report.
    Done { fingerprint: Option<(String, String)> },
}

/// The parts of a commit, in the order the flows were planned; a stream that closes before
/// [`CommitPart::Done`] is a run that stopped: nothing of it is written.
pub type CommitParts = tokio::sync::mpsc::UnboundedReceiver<CommitPart>;

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

    /// The commit of a run whose flows arrive one by one as they are planned, with the same outcome as one
    /// [`RunStore::commit`] of all of them (their objects first, then their patches, unlinks and links; one
    /// transaction). A backend may start writing before the last flow arrives (SQLite does: the planner and the
    /// writer then work side by side); this default collects the parts and commits them at once.
    async fn commit_stream(&self, tenant: &TenantId, mut parts: CommitParts) -> Result<()> {
        let mut commit =
            Commit { bulk: Bulk { source: Some(Source::Run), ..Bulk::default() }, flows: vec![], fingerprint: None };
        loop {
            match parts.recv().await {
                None => return Err(StoreError::Backend("the run stopped before its commit".into())),
                Some(CommitPart::Flow { rendered, patches, changes }) => {
                    commit.bulk.rendered.extend(rendered);
                    commit.bulk.patches.extend(patches);
                    if !changes.is_empty() {
                        commit.flows.push(changes);
                    }
                }
                Some(CommitPart::Done { fingerprint }) => {
                    commit.fingerprint = fingerprint;
                    return self.commit(tenant, commit).await;
                }
            }
        }
    }

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
        for (relation, from, to) in c.link.iter() {
            by.entry((relation, from)).or_default().add.push(to);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn link(relation: Relation, from: &str, to: &str) -> Link {
        Link { relation, from: from.into(), to: to.into() }
    }

    #[test]
    fn a_link_set_keeps_its_relations_in_key_order_with_each_id_once() {
        let links = vec![
            link(Relation::Owners, "g1", "u2"),
            link(Relation::Members, "g2", "u1"),
            link(Relation::Members, "g1", "u2"),
            link(Relation::Members, "g1", "u1"),
        ];
        let set = LinkSet::from_links(&links);
        assert_eq!(set.len(), 4);
        assert_eq!(
            set.to_links(),
            vec![
                link(Relation::Members, "g1", "u1"),
                link(Relation::Members, "g1", "u2"),
                link(Relation::Members, "g2", "u1"),
                link(Relation::Owners, "g1", "u2"),
            ]
        );
        assert_eq!(set.text.len(), "g1u1u2g2".len(), "each id once");
        assert_eq!(set.get(3), (Relation::Owners, "g1", "u2"));
        assert!(LinkSet::default().is_empty());

        let mut other = LinkSet::with_ids(["g0", "u9"]);
        other.push(Relation::Owners, 0, 1);
        other.push(Relation::Members, 0, 1);
        assert_eq!(
            other.iter().collect::<Vec<_>>(),
            vec![(Relation::Owners, "g0", "u9"), (Relation::Members, "g0", "u9")]
        );
        let flows = [
            FlowChanges { link: set, ..FlowChanges::default() },
            FlowChanges { link: LinkSet::from_links(&other.to_links()), ..FlowChanges::default() },
        ];
        let merged = merged_links(&flows);
        let mut expected: Vec<(Relation, &str, &str)> = flows.iter().flat_map(|f| f.link.iter()).collect();
        expected.sort_by(|a, b| key_order(*a, *b));
        assert_eq!(merged, expected);
        assert_eq!(merged[0], (Relation::Members, "g0", "u9"));
    }
}
