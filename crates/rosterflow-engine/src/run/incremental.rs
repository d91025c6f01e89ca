//! Incremental planning: when the only inputs that changed since the last committed run are enrollments, a
//! run replans the relations of the classes whose enrollments changed and nothing else.
//!
//! Why that gives the full plan: the last run left every flow's state equal to its desire, except the last
//! owners it kept (named by its `lastOwnerNotRemoved` warnings). With the same configuration, directory match
//! keys and records of every kind but enrollments, the roster's people, their identities and every flow's
//! objects are what they were, so
//! - the user, security group and administrative unit flows plan nothing, and report the warnings the last
//!   run reported (their inputs are the same);
//! - a class flow plans nothing for a class whose enrollments did not change and that kept no last owner; for
//!   the others ("touched") it plans their relations in full against their state, and counts the references
//!   it skips over every class, as a full plan does ([`desire::class_relations`], [`plan::diff_relations`]).
//!
//! What it reads: the roster up to classes in full (matching needs every user and role), but only the
//! enrollments of the touched classes (each class is a key range of the stored records), when that keeps the
//! reports exact: the inbound activity's active enrollment count comes from the snapshot's per-kind digests,
//! and each class flow's `usersNotProvisioned` count (the skipped references over *every* enrollment) is the
//! last run's when no changed enrollment belongs to a person without a directory user (unmatched and not
//! created, or ambiguous): such a person's enrollments are the only ones the count depends on, and the
//! others' people have the identities they had. Otherwise every enrollment is read, as a full plan does.
//!
//! Anything else (a first run, a reset, a changed configuration or directory, a change to another kind, a
//! report that can't be read) plans in full. `tests/runs/incremental.rs` compares the two plans.

use rustc_hash::FxHashSet;

use super::desire::{class_key, object_id, Desired, Source};
use super::{ActivityFlow, ActivityReport, EntityCount, InboundResults, PublicError, RunContext, RunError};
use crate::schema::Kind;
use crate::snapshot;

/// What the last committed run and the snapshots loaded since say, before any roster is read: the run plans
/// incrementally, and reads only the kinds before enrollments to start with.
pub(super) struct Changes {
    /// The last committed run's outbound activities.
    last: Vec<ActivityReport>,
    /// Per active inbound flow: the (class, user) `sourcedId`s of the enrollments that changed since the last
    /// run's snapshot (inserted, changed, removed or restored).
    changed: Vec<(String, Vec<(String, String)>)>,
}

impl Changes {
    /// The last run's activity of a provisioning flow.
    pub fn last_of(&self, flow: &ActivityFlow) -> Option<&ActivityReport> {
        self.last.iter().find(|a| &a.flow == flow)
    }
}

/// What an incremental plan starts from.
pub(super) struct Basis {
    /// Per source (in the run's source order), per class row: whether its relations are replanned.
    pub touched: Vec<Vec<bool>>,
    /// The last committed run's outbound activities.
    pub last: Vec<ActivityReport>,
    /// Only the touched classes' enrollments were read: the counts over every enrollment are carried.
    pub partial: bool,
    /// Per source, when `partial`: its active enrollments (the snapshot's digests).
    memberships: Vec<(String, u32)>,
}

impl Basis {
    /// The last run's activity of a provisioning flow.
    pub fn last_of(&self, flow: &ActivityFlow) -> Option<&ActivityReport> {
        self.last.iter().find(|a| &a.flow == flow)
    }

    /// An inbound activity's counts, when the roster holds only some of its enrollments.
    pub fn correct(&self, inbound: &str, results: &mut InboundResults) {
        if let Some(&(_, n)) = self.memberships.iter().find(|(flow, _)| flow == inbound) {
            results.memberships = EntityCount { active: n, inactive: 0, total: n };
        }
    }

    /// A class flow's incremental desire, when its skipped references were counted over some enrollments
    /// only: the count is taken out and the last run's `usersNotProvisioned` warning (the same count, see the
    /// module docs) returned, for the plan's warnings to end with as a full plan's do.
    pub fn carry_skipped(&self, flow: &ActivityFlow, desired: &mut Desired) -> Option<PublicError> {
        if !self.partial {
            return None;
        }
        desired.skipped = 0;
        self.last_of(flow)?.warnings.iter().find(|w| w.code == "usersNotProvisioned").cloned()
    }
}

/// A fingerprint (`pipeline::fingerprint`): the digest of everything but the snapshots, then one line per
/// active inbound flow with the snapshot it was at (`-1`: none).
fn split(fingerprint: &str) -> (&str, Vec<(i64, &str)>) {
    let mut lines = fingerprint.lines();
    let base = lines.next().unwrap_or_default();
    let snapshots =
        lines.filter_map(|l| l.split_once(' ')).map(|(seq, flow)| (seq.parse().unwrap_or(-1), flow)).collect();
    (base, snapshots)
}

/// Whether the run can plan incrementally from the last committed run (`last`: its fingerprint and report),
/// and which enrollments changed since.
pub(super) async fn changes(
    ctx: &RunContext<'_>,
    last: &(String, String),
    current: &str,
) -> Result<Option<Changes>, RunError> {
    let ((base, before), (now_base, now)) = (split(&last.0), split(current));
    let same_flows = before.len() == now.len() && before.iter().zip(&now).all(|(b, n)| b.1 == n.1);
    if base != now_base || !same_flows || now.is_empty() || before.iter().zip(&now).any(|(b, n)| b.0 < 0 || n.0 < b.0) {
        return Ok(None);
    }
    let Ok(activities) = serde_json::from_str::<Vec<ActivityReport>>(&last.1) else { return Ok(None) };
    let last: Vec<ActivityReport> =
        activities.into_iter().filter(|a| matches!(a.flow, ActivityFlow::Outbound { .. })).collect();
    let mut changed = Vec::new();
    for (&(since, flow), &(seq, _)) in before.iter().zip(&now) {
        let mut enrollments = Vec::new();
        if seq > since {
            for (kind, key) in ctx.stores.roster.changed_keys(ctx.tenant, flow, since).await? {
                match Kind::from_u8(kind as u8) {
                    Some(Kind::Enrollment) => {
                        // An enrollment's key is its class's, its user's sourcedId and its role (`Kind::key`).
                        let mut key = key.split('\u{1f}');
                        let (class, user) = (key.next().unwrap_or_default(), key.next().unwrap_or_default());
                        enrollments.push((class.to_string(), user.to_string()));
                    }
                    // Kinds a run does not read (`Kind::Demographic` and after).
                    Some(k) if k >= Kind::Demographic => {}
                    _ => return Ok(None),
                }
            }
        }
        changed.push((flow.to_string(), enrollments));
    }
    Ok(Some(Changes { last, changed }))
}

/// What the run replans, once the rosters (read up to classes: `sources`) are matched and the users to
/// create resolved; reads the enrollments it needs into the rosters: the touched classes' when the counts
/// stay exact (see the module docs), else all of them.
pub(super) async fn basis(ctx: &RunContext<'_>, changes: Changes, sources: &mut [Source]) -> Result<Basis, RunError> {
    let Changes { last, changed } = changes;
    // The classes whose last owner the last run kept: their owners are planned again.
    let kept_owner: FxHashSet<&str> = last
        .iter()
        .flat_map(|a| &a.warnings)
        .filter(|w| w.code == "lastOwnerNotRemoved")
        .filter_map(|w| w.target.as_deref())
        .collect();
    let mut touched = Vec::new();
    let mut partial = true;
    let mut memberships = Vec::new();
    for s in sources.iter() {
        let r = &s.roster;
        let mut classes = vec![false; r.len(Kind::Class)];
        let enrollments = changed.iter().find(|(flow, _)| *flow == s.inbound).map_or(&[][..], |(_, e)| e);
        for (class, user) in enrollments {
            if let Some(c) = r.find(Kind::Class, class) {
                classes[c as usize] = true;
            }
            // A person without a directory user: their enrollments count in `usersNotProvisioned`.
            if r.find(Kind::User, user).and_then(|u| s.identities[u as usize].id()).is_none() {
                partial = false;
            }
        }
        if !kept_owner.is_empty() {
            for c in 0..r.len(Kind::Class) as u32 {
                let id = object_id(ctx.tenant.as_str(), &class_key(&s.inbound, r.id(Kind::Class, c)));
                if kept_owner.contains(id.as_str()) {
                    classes[c as usize] = true;
                }
            }
        }
        match ctx.stores.roster.active_counts(ctx.tenant, &s.inbound).await? {
            Some(counts) => {
                let n = counts.get(&(Kind::Enrollment as i16)).copied().unwrap_or(0);
                memberships.push((s.inbound.clone(), u32::try_from(n).unwrap_or(u32::MAX)));
            }
            None => partial = false,
        }
        touched.push(classes);
    }
    for (s, classes) in sources.iter_mut().zip(&touched) {
        let prefixes = partial.then(|| {
            let r = &s.roster;
            (0..r.len(Kind::Class) as u32)
                .filter(|&c| classes[c as usize])
                .map(|c| format!("{}\u{1f}", r.id(Kind::Class, c)))
                .collect()
        });
        let roster = std::mem::take(&mut s.roster);
        s.roster = snapshot::read_active_of(
            ctx.stores.roster.as_ref(),
            ctx.tenant,
            &s.inbound,
            roster,
            Kind::Enrollment,
            prefixes,
        )
        .await?;
    }
    if !partial {
        memberships.clear();
    }
    Ok(Basis { touched, last, partial, memberships })
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn fingerprints_split_into_their_base_and_snapshots() {
        assert_eq!(split("abc\n3 in-1\n-1 in 2"), ("abc", vec![(3, "in-1"), (-1, "in 2")]));
        assert_eq!(split("0123"), ("0123", vec![]));
    }
}
