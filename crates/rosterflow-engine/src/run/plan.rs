//! The planner's second half: a flow's desire against what the flow's previous run wrote (its state) gives
//! the changes: objects to create (keys new to the state, for objects the flow creates), properties to set
//! (managed properties whose value changed since the flow last wrote them; nothing else), relations to add
//! and remove. Pure; the applier writes the result.
//!
//! - An object the flow no longer wants stays in the directory (SDS deletes nothing): the flow forgets it,
//!   and its relations leave with the roster records that made them.
//! - The last owner of a group is never removed: the removal waits (the relation stays in the state, so a
//!   later run retries) and a warning says so.

use rosterflow_model::directory::Relation;
use rosterflow_store::directory::{Link, Patch, Rendered};
use rosterflow_store::runs::{FlowChanges, FlowState, LinkSet, Managed};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value};

use super::desire::Desired;
use super::links::{pack, unpack, Links};
use super::PublicError;

/// What one flow's run changes.
#[derive(Debug, Default)]
pub struct FlowPlan {
    pub upserts: Vec<Rendered>,
    pub patches: Vec<Patch>,
    /// The flow's new state, as changes; its `link` and `unlink` are the relations to add and remove.
    pub state: FlowChanges,
    pub warnings: Vec<PublicError>,
    /// Counts by kind (`users`, `classes`, `groups`, `schools`, `administrativeUnits`, `members`, `owners`).
    pub creates: Vec<(String, u64)>,
    pub updates: Vec<(String, u64)>,
    pub removals: Vec<(String, u64)>,
    /// A few of the changes, readable.
    pub samples: Vec<Value>,
}

impl FlowPlan {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.patches.is_empty() && self.state.link.is_empty() && self.state.unlink.is_empty()
    }
}

const SAMPLES: usize = 10;

/// The kind of object a state key stands for, for counts.
fn kind_of(key: &str) -> &'static str {
    match key.split(':').next() {
        Some("user") => "users",
        Some("class") => "classes",
        Some("school") => "schools",
        Some("sg") => "groups",
        _ => "administrativeUnits",
    }
}

fn bump(counts: &mut Vec<(String, u64)>, kind: &str) {
    match counts.iter_mut().find(|(k, _)| k == kind) {
        Some((_, n)) => *n += 1,
        None => counts.push((kind.to_string(), 1)),
    }
}

/// The properties to set so that an object the flow wrote as `old` holds `new`: changed values (objects
/// compared member by member), and `null` for what `new` no longer has. The team facet is never taken away.
pub fn changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut set = Map::new();
    for (k, v) in new {
        match (old.get(k), v) {
            (Some(o), _) if o == v => {}
            (Some(Value::Object(o)), Value::Object(n)) => {
                set.insert(k.clone(), Value::Object(changes(o, n)));
            }
            _ => {
                set.insert(k.clone(), v.clone());
            }
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) && k != "@team" {
            set.insert(k.clone(), Value::Null);
        }
    }
    set
}

/// Managed properties as a map again (the few objects whose properties change).
fn parsed(managed: &str) -> Map<String, Value> {
    serde_json::from_str(managed).expect("managed properties are a JSON object")
}

fn patch_of(id: &str, mut set: Map<String, Value>) -> Patch {
    let team = set.remove("@team").and_then(|v| v.as_bool());
    Patch { id: id.to_string(), set, team }
}

fn relation_kind(r: Relation) -> &'static str {
    match r {
        Relation::Members => "members",
        Relation::Owners => "owners",
    }
}

/// A flow's previous relations sorted against its desire as they are read: the keys of those still wanted,
/// and those no longer wanted (to remove), in the order they came.
#[derive(Debug, Default)]
pub struct PreviousLinks {
    kept: FxHashSet<u64>,
    gone: Vec<Link>,
}

impl PreviousLinks {
    pub fn add(&mut self, wanted: &Links, relation: Relation, from: &str, to: &str) {
        match wanted.key(relation, from, to).filter(|&k| wanted.contains_key(k)) {
            Some(k) => {
                self.kept.insert(k);
            }
            None => self.gone.push(Link { relation, from: from.to_string(), to: to.to_string() }),
        }
    }
}

/// Plan one flow: its desire against its state.
pub fn diff(flow: &str, desired: Desired, previous: &FlowState) -> FlowPlan {
    let mut links = PreviousLinks::default();
    for l in &previous.links {
        links.add(&desired.links, l.relation, &l.from, &l.to);
    }
    diff_sorted(flow, desired, &previous.objects, links)
}

/// [`diff`] with the state's relations already sorted against the desire (a run streams them in).
pub fn diff_sorted(flow: &str, desired: Desired, objects: &[Managed], links: PreviousLinks) -> FlowPlan {
    let mut plan = FlowPlan { warnings: desired.warnings, ..FlowPlan::default() };
    plan.state.flow = flow.to_string();
    let before: FxHashMap<&str, &Managed> = objects.iter().map(|m| (m.key.as_str(), m)).collect();
    {
        let wanted: FxHashSet<&str> = desired.objects.iter().map(|w| w.key.as_str()).collect();
        plan.state.drop = objects.iter().filter(|m| !wanted.contains(m.key.as_str())).map(|m| m.key.clone()).collect();
    }
    // Warnings name groups by label; relations start at groups and units only, so users' labels aren't kept.
    let mut labels: FxHashMap<String, String> = FxHashMap::default();
    for w in desired.objects {
        if !w.key.starts_with("user:") {
            labels.insert(w.id.clone(), w.label.clone());
        }
        let managed = w.managed;
        let kind = kind_of(&w.key);
        match before.get(w.key.as_str()) {
            Some(m) if m.id == w.id => {
                if m.managed == managed {
                    continue;
                }
                let old: Map<String, Value> = serde_json::from_str(&m.managed).unwrap_or_default();
                let set = changes(&old, &parsed(&managed));
                if !set.is_empty() {
                    if plan.samples.len() < SAMPLES {
                        plan.samples.push(serde_json::json!({"update": kind, "key": w.key, "id": w.id, "set": set}));
                    }
                    bump(&mut plan.updates, kind);
                    plan.patches.push(patch_of(&w.id, set));
                }
            }
            _ => match w.create {
                Some(object) => {
                    if plan.samples.len() < SAMPLES {
                        plan.samples.push(serde_json::json!({"create": kind, "key": w.key, "id": w.id,
                            "displayName": object.display_name()}));
                    }
                    bump(&mut plan.creates, kind);
                    plan.upserts.push(object.render());
                }
                None => {
                    bump(&mut plan.updates, kind);
                    plan.patches.push(patch_of(&w.id, parsed(&managed)));
                }
            },
        }
        plan.state.put.push(Managed { key: w.key, id: w.id, managed });
    }

    relations(&mut plan, &desired.links, links, &labels);
    not_provisioned(&mut plan, desired.skipped);
    plan
}

/// [`diff_sorted`] for a desire that lists no objects ([`super::desire::class_relations`]: the relations of
/// the classes an incremental plan replans, `links` their state): the same relation changes and warnings as a
/// full plan gives those classes, the groups named by the desire's labels.
pub fn diff_relations(flow: &str, desired: Desired, links: PreviousLinks) -> FlowPlan {
    debug_assert!(desired.objects.is_empty());
    let mut plan = FlowPlan { warnings: desired.warnings, ..FlowPlan::default() };
    plan.state.flow = flow.to_string();
    relations(&mut plan, &desired.links, links, &desired.labels);
    not_provisioned(&mut plan, desired.skipped);
    plan
}

/// The relations to add and remove (the last owner of a group kept, with a warning naming it by `labels`).
fn relations(plan: &mut FlowPlan, wanted: &Links, links: PreviousLinks, labels: &FxHashMap<String, String>) {
    let PreviousLinks { kept: had, gone: mut unlink } = links;
    // By group, then object, then relation (members before owners, as the stores' key order lists them).
    unlink.sort_by(|a, b| (&a.from, &a.to, a.relation.as_str()).cmp(&(&b.from, &b.to, b.relation.as_str())));
    // The last owner stays: per group, the owners left after the run are those kept plus those added.
    let mut owners_after: FxHashMap<u32, usize> = FxHashMap::default();
    for (relation, from, _) in wanted.keys().map(unpack) {
        if relation == Relation::Owners {
            *owners_after.entry(from).or_default() += 1;
        }
    }
    let owners_after = |group: &str| wanted.find(group).and_then(|g| owners_after.get(&g).copied()).unwrap_or(0);
    let link = added(wanted, &had);
    drop(had);
    let mut kept: FxHashSet<String> = FxHashSet::default();
    unlink.retain(|l| {
        if l.relation != Relation::Owners || owners_after(&l.from) > 0 {
            return true;
        }
        if kept.insert(l.from.clone()) {
            let name = labels.get(&l.from).cloned().unwrap_or_else(|| l.from.clone());
            plan.warnings.push(PublicError {
                code: "lastOwnerNotRemoved".into(),
                message: format!("Cannot remove the last owner of '{name}': the owner stays until another is added."),
                target: Some(l.from.clone()),
                details: vec![],
            });
            return false;
        }
        true
    });
    for (relation, ..) in link.iter() {
        bump(&mut plan.creates, relation_kind(relation));
    }
    for l in &unlink {
        bump(&mut plan.removals, relation_kind(l.relation));
    }
    for (relation, from, to) in link.iter().take(SAMPLES.saturating_sub(plan.samples.len()).min(3)) {
        plan.samples.push(serde_json::json!({"add": relation_kind(relation), "group": from, "object": to}));
    }
    for l in unlink.iter().take(3) {
        plan.samples.push(serde_json::json!({"remove": relation_kind(l.relation), "group": l.from, "object": l.to}));
    }
    plan.state.unlink = unlink;
    plan.state.link = link;
}

/// The wanted relations the state does not have, as a [`LinkSet`] in key order (relation, `from`, `to`: the
/// relation table's B-tree takes them as appends). Its ids are numbered in their string order, so sorting the
/// packed numbers sorts the relations; only the ids they use are copied.
fn added(wanted: &Links, had: &FxHashSet<u64>) -> LinkSet {
    let mut keys: Vec<u64> = wanted.keys().filter(|k| !had.contains(k)).collect();
    let mut used: Vec<u32> = keys.iter().flat_map(|&k| [unpack(k).1, unpack(k).2]).collect();
    used.sort_unstable();
    used.dedup();
    let mut rank = vec![0u32; used.last().map_or(0, |&i| i as usize + 1)];
    used.sort_unstable_by(|&a, &b| wanted.str(a).cmp(wanted.str(b)));
    for (r, &i) in used.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    // Members before owners both by name and by the packed relation bit.
    for k in &mut keys {
        let (relation, from, to) = unpack(*k);
        *k = pack(relation, rank[from as usize], rank[to as usize]);
    }
    keys.sort_unstable();
    let mut set = LinkSet::with_ids(used.iter().map(|&i| wanted.str(i)));
    for k in keys {
        let (relation, from, to) = unpack(k);
        set.push(relation, from, to);
    }
    set
}

fn not_provisioned(plan: &mut FlowPlan, skipped: u32) {
    if skipped > 0 {
        plan.warnings.push(PublicError {
            code: "usersNotProvisioned".into(),
            message: format!(
                "{} user references were skipped: the users are unmatched (and not created) or ambiguous.",
                skipped
            ),
            target: None,
            details: vec![],
        });
    }
}
