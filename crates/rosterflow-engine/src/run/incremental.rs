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
//! Anything else (a first run, a reset, a changed configuration or directory, a change to another kind, a
//! report that can't be read) plans in full. `tests/runs/incremental.rs` compares the two plans.

use rosterflow_store::roster::Scan;
use rustc_hash::FxHashSet;

use super::desire::{class_key, object_id, Source};
use super::{ActivityFlow, ActivityReport, RunContext, RunError};
use crate::schema::Kind;

/// What an incremental plan starts from.
pub(super) struct Basis {
    /// Per source (in the run's source order), per class row: whether its relations are replanned.
    pub touched: Vec<Vec<bool>>,
    /// The last committed run's outbound activities.
    pub last: Vec<ActivityReport>,
}

impl Basis {
    /// The last run's activity of a provisioning flow.
    pub fn last_of(&self, flow: &ActivityFlow) -> Option<&ActivityReport> {
        self.last.iter().find(|a| &a.flow == flow)
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
/// and what it replans.
pub(super) async fn basis(
    ctx: &RunContext<'_>,
    last: &(String, String),
    current: &str,
    sources: &[Source],
) -> Result<Option<Basis>, RunError> {
    let ((base, before), (now_base, now)) = (split(&last.0), split(current));
    let same_flows = before.len() == now.len() && before.iter().zip(&now).all(|(b, n)| b.1 == n.1);
    if base != now_base || !same_flows || before.iter().zip(&now).any(|(b, n)| b.0 < 0 || n.0 < b.0) {
        return Ok(None);
    }
    let Ok(activities) = serde_json::from_str::<Vec<ActivityReport>>(&last.1) else { return Ok(None) };
    let last: Vec<ActivityReport> =
        activities.into_iter().filter(|a| matches!(a.flow, ActivityFlow::Outbound { .. })).collect();
    // The classes whose last owner the last run kept: their owners are planned again.
    let kept_owner: FxHashSet<&str> = last
        .iter()
        .flat_map(|a| &a.warnings)
        .filter(|w| w.code == "lastOwnerNotRemoved")
        .filter_map(|w| w.target.as_deref())
        .collect();
    let mut touched = Vec::new();
    for s in sources {
        let r = &s.roster;
        let mut classes = vec![false; r.len(Kind::Class)];
        let Some(&(since, _)) = before.iter().find(|(_, flow)| *flow == s.inbound) else { return Ok(None) };
        let Some(&(seq, _)) = now.iter().find(|(_, flow)| *flow == s.inbound) else { return Ok(None) };
        if seq > since {
            let mut rx = ctx.stores.roster.scan(ctx.tenant, &s.inbound, Scan::ChangedSince(since)).await?;
            'scan: while let Some(chunk) = rx.recv().await {
                for record in chunk? {
                    match Kind::from_u8(record.kind as u8) {
                        Some(Kind::Enrollment) => {
                            // An enrollment's key starts with its class's sourcedId (`Kind::key`).
                            let class = record.key.split('\u{1f}').next().unwrap_or_default();
                            if let Some(c) = r.find(Kind::Class, class) {
                                classes[c as usize] = true;
                            }
                        }
                        // Kinds a run does not read (`Kind::Demographic` and after) come last.
                        Some(k) if k as u8 >= Kind::Demographic as u8 => break 'scan,
                        _ => return Ok(None),
                    }
                }
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
        touched.push(classes);
    }
    Ok(Some(Basis { touched, last }))
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
