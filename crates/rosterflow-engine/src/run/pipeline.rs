//! A run end to end: read the configuration and the active inbound flows' snapshots, match people, plan
//! every provisioning flow against its state, and apply every flow's changes with the new state in one
//! transaction (`RunStore::commit`): readers see the directory before the run or after it, never half, and a
//! run that fails or dies leaves the previous directory and state for the next run to start from.

use rosterflow_store::directory::{Bulk, Rendered, Source as Writer, UserKeys};
use rosterflow_store::runs::{Commit, CommitPart};
use rustc_hash::FxHashSet;

use super::config::{self, Config, FlowKind, FlowSet};
use super::desire::{class_relations, created_upn, desire, object_id, Desired, Input, Source};
use super::incremental;
use super::links::Links;
use super::matching::{match_people, people, DirectoryIndex, Identity};
use super::plan::{diff_relations, diff_sorted, FlowPlan, PreviousLinks};
use super::*;
use crate::schema::{user, Kind};
use crate::snapshot;

fn warning(code: &str, message: String) -> PublicError {
    PublicError { code: code.into(), message, target: None, details: vec![] }
}

fn report(flow: ActivityFlow, display_name: String) -> ActivityReport {
    ActivityReport {
        flow,
        display_name,
        status: ActivityStatus::InProgress,
        blocking_error: None,
        errors: vec![],
        warnings: vec![],
        inbound: None,
    }
}

/// The status an activity ends with, from what it found.
fn ended(r: &ActivityReport) -> ActivityStatus {
    if r.blocking_error.is_some() {
        ActivityStatus::Failed
    } else if !r.errors.is_empty() {
        ActivityStatus::CompletedWithErrors
    } else if !r.warnings.is_empty() {
        ActivityStatus::CompletedWithWarnings
    } else {
        ActivityStatus::Completed
    }
}

/// How a run plans (tests compare the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// Incrementally when the last committed run allows it (`incremental.rs`), else in full.
    Auto,
    /// Every flow in full.
    Full,
}

/// A run planned, not yet applied.
pub struct Prepared {
    pub inbound: Vec<ActivityReport>,
    pub outbound: Vec<(ActivityReport, Option<FlowPlan>)>,
    /// The digest of the inputs the next run will have if this one commits (the directory's match keys then
    /// include the users this run creates).
    fingerprint: String,
    /// The inputs are those of the last committed run: nothing to plan, its activities are the answer.
    unchanged: bool,
    /// Planned incrementally.
    pub incremental: bool,
    /// Planned incrementally from the replanned classes' enrollments only (`incremental.rs`).
    pub partial: bool,
}

/// A digest of everything a plan depends on besides the flows' state: the configuration, which active inbound
/// flows have a snapshot, and the directory's match keys; then, one line per active inbound flow, the
/// snapshot it is at (`incremental.rs` reads them back).
fn fingerprint(
    config: &Config,
    snapshots: &[(String, Option<i64>)],
    keys: &[rosterflow_store::directory::UserKeys],
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&config.digest.to_le_bytes());
    for (flow, seq) in snapshots {
        h.update(flow.as_bytes());
        h.update(&[u8::from(seq.is_some())]);
    }
    let mut keys: Vec<&rosterflow_store::directory::UserKeys> = keys.iter().collect();
    keys.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    for k in keys {
        for v in [Some(&k.id), k.user_principal_name.as_ref(), k.mail.as_ref(), k.employee_id.as_ref()] {
            h.update(v.map_or(&[0xff][..], |v| v.as_bytes()));
            h.update(&[0x1f]);
        }
    }
    let mut fingerprint = format!("{:032x}", h.digest128());
    for (flow, seq) in snapshots {
        fingerprint.push_str(&format!("\n{} {flow}", seq.unwrap_or(-1)));
    }
    fingerprint
}

/// People the user flows create: unmatched people in the scope of a flow set whose user flow creates
/// unmatched users of their role group, unless the UPN they would get is another user's (a warning).
fn resolve_creations(
    tenant: &str,
    config: &Config,
    sources: &mut [Source],
    directory: &DirectoryIndex,
) -> Vec<PublicError> {
    let creators: Vec<(&FlowSet, &config::UserFlow)> = config
        .flow_sets
        .iter()
        .flat_map(|s| s.flows.iter().map(move |f| (s, f)))
        .filter_map(|(s, f)| match &f.kind {
            FlowKind::User(u) if u.create_unmatched => Some((s, u)),
            _ => None,
        })
        .collect();
    let mut warnings = Vec::new();
    let mut upns: FxHashSet<String> = FxHashSet::default();
    for s in sources {
        for row in 0..s.people.len() {
            let p = &s.people[row];
            let (Identity::Unmatched, Some(group)) = (&s.identities[row], p.role_group) else { continue };
            let r = &s.roster;
            let creates = creators.iter().any(|(set, u)| {
                u.creations.iter().any(|c| c.role_group == group)
                    && (set.orgs.is_none() || p.orgs.iter().any(|&o| set.includes_org(r.id(Kind::Org, o))))
            });
            if !creates {
                continue;
            }
            let sourced_id = r.id(Kind::User, row as u32);
            let username = r.str(Kind::User, row as u32, user::USERNAME).unwrap_or(sourced_id);
            let upn = created_upn(tenant, username, p.domain.as_deref());
            let id = object_id(tenant, &format!("user:{sourced_id}"));
            let taken = directory.upn_owner(&upn).is_some_and(|owner| owner != id);
            if taken || !upns.insert(rosterflow_model::directory::fold(&upn)) {
                if warnings.len() < 100 {
                    warnings.push(warning(
                        "userPrincipalNameTaken",
                        format!("User '{sourced_id}' is not created: the user principal name '{upn}' is taken."),
                    ));
                }
                continue;
            }
            s.identities[row] = Identity::Created(id);
        }
    }
    warnings
}

fn inbound_results(s: &Source, groups: &[config::RoleGroup]) -> InboundResults {
    let r = &s.roster;
    let count = |k: Kind| EntityCount { active: r.len(k) as u32, inactive: 0, total: r.len(k) as u32 };
    let mut matched = vec![0u32; groups.len()];
    let mut unmatched = vec![0u32; groups.len()];
    for (p, id) in s.people.iter().zip(&s.identities) {
        let Some(g) = p.role_group else { continue };
        match id {
            Identity::Matched(_) | Identity::Created(_) => matched[g] += 1,
            _ => unmatched[g] += 1,
        }
    }
    let by_role = |v: Vec<u32>| {
        groups.iter().zip(v).map(|(g, count)| RoleCount { role: g.id.clone(), count }).collect::<Vec<_>>()
    };
    InboundResults {
        people: count(Kind::User),
        organizations: count(Kind::Org),
        groups: count(Kind::Class),
        memberships: count(Kind::Enrollment),
        matched_people_by_role: by_role(matched),
        unmatched_people_by_role: by_role(unmatched),
    }
}

/// A first run's commit as its flows are planned ([`rosterflow_store::runs::RunStore::commit_stream`]): each
/// flow's changes go to the store as soon as the flow is planned, so that the store writes them while the next
/// flows plan (a first run creates everything: the writer's work is most of the run). The stream starts with
/// the first flow planned; until [`CommitPart::Done`], nothing of it is visible, and a run that stops before
/// leaves the previous directory and state.
#[derive(Default)]
struct Streamer {
    /// The parts' channel and the store's commit reading them.
    started: Option<(tokio::sync::mpsc::UnboundedSender<CommitPart>, Committing)>,
    /// The ids of the objects sent: a later flow's object of the same id is not written again ([`commit_of`]).
    ids: FxHashSet<String>,
    /// The users sent, as match keys (id, folded UPN) for the next run's fingerprint ([`with_created`]).
    created: Vec<(String, Option<String>)>,
}

type Committing = tokio::task::JoinHandle<Result<(), rosterflow_store::StoreError>>;

impl Streamer {
    /// Send a planned flow's changes to the store; `plan` keeps its counts, samples and warnings.
    fn send(&mut self, ctx: &RunContext<'_>, plan: &mut FlowPlan) {
        let (parts, _) = self.started.get_or_insert_with(|| {
            let (parts, received) = tokio::sync::mpsc::unbounded_channel();
            let (runs, tenant) = (ctx.stores.runs.clone(), ctx.tenant.clone());
            (parts, tokio::spawn(async move { runs.commit_stream(&tenant, received).await }))
        });
        let rendered: Vec<Rendered> =
            std::mem::take(&mut plan.upserts).into_iter().filter(|o| self.ids.insert(o.id.clone())).collect();
        for o in rendered.iter().filter(|o| o.kind == rosterflow_model::directory::ObjectKind::User) {
            self.created.push((o.id.clone(), o.upn_folded().map(str::to_string)));
        }
        let part = CommitPart::Flow {
            rendered,
            patches: std::mem::take(&mut plan.patches),
            changes: std::mem::take(&mut plan.state),
        };
        // A store that stopped receiving has failed the commit: [`Streamer::finish`] reports its error.
        let _ = parts.send(part);
    }

    /// Commit what was sent (`None`: nothing was).
    async fn finish(&mut self, fingerprint: (String, String)) -> Option<Result<(), rosterflow_store::StoreError>> {
        let (parts, committed) = self.started.take()?;
        let _ = parts.send(CommitPart::Done { fingerprint: Some(fingerprint) });
        drop(parts);
        Some(
            committed
                .await
                .unwrap_or_else(|e| Err(rosterflow_store::StoreError::Backend(format!("the commit failed: {e}")))),
        )
    }

    /// Give up what was sent: the store rolls it back.
    async fn abandon(&mut self) {
        if let Some((parts, committed)) = self.started.take() {
            drop(parts);
            let _ = committed.await;
        }
    }
}

/// Plan a run without applying it: its inbound activities, and per provisioning flow its activity and plan.
#[doc(hidden)]
pub async fn prepare(
    ctx: &RunContext<'_>,
    observer: &dyn RunObserver,
    planning: Planning,
) -> Result<Prepared, RunError> {
    prepare_with(ctx, observer, planning, None).await
}

/// [`prepare`]; with `stream`, a first run sends each flow's changes to it as the flow is planned (its plan
/// then keeps only its counts, samples and warnings).
async fn prepare_with(
    ctx: &RunContext<'_>,
    observer: &dyn RunObserver,
    planning: Planning,
    mut stream: Option<&mut Streamer>,
) -> Result<Prepared, RunError> {
    let tenant = ctx.tenant;
    let mut config = config::load(ctx.stores.resources.as_ref(), tenant, ctx.now).await?;
    let groups = config::role_groups();
    let keys = ctx.stores.directory.user_keys(tenant).await?;
    let mut snapshots = Vec::new();
    for ib in &config.inbound {
        snapshots.push((ib.id.clone(), ctx.stores.roster.latest_snapshot(tenant, &ib.id).await?.map(|s| s.seq)));
    }
    let last = ctx.stores.runs.last(tenant).await?;
    let current = fingerprint(&config, &snapshots, &keys);
    if let Some((last, report)) = &last {
        if *last == current {
            if let Ok(activities) = serde_json::from_str::<Vec<ActivityReport>>(report) {
                let (inbound, outbound): (Vec<_>, Vec<_>) =
                    activities.into_iter().partition(|a| matches!(a.flow, ActivityFlow::Inbound { .. }));
                let outbound = outbound.into_iter().map(|a| (a, None)).collect();
                return Ok(Prepared {
                    inbound,
                    outbound,
                    fingerprint: current,
                    unchanged: true,
                    incremental: false,
                    partial: false,
                });
            }
        }
    }
    // Whether only enrollments changed since the last run (then the rosters are read up to classes first).
    let changes = match (&last, planning) {
        (Some(last), Planning::Auto) => incremental::changes(ctx, last, &current).await?.filter(|c| {
            // Every flow's last activity is known.
            config.flow_sets.iter().all(|set| {
                set.flows.iter().all(|f| {
                    c.last_of(&ActivityFlow::Outbound { flow_set: set.id.clone(), flow: f.id.clone() }).is_some()
                })
            })
        }),
        _ => None,
    };
    let first_not_read = if changes.is_some() { Kind::Enrollment } else { Kind::Demographic };
    let directory = DirectoryIndex::new(&keys);
    let mut sources = Vec::new();
    let mut inbound = Vec::new();
    for (ib, (_, seq)) in config.inbound.iter().zip(&snapshots) {
        let mut r = report(ActivityFlow::Inbound { flow: ib.id.clone() }, ib.display_name.clone());
        observer.activity(&r);
        if seq.is_none() {
            r.status = ActivityStatus::Skipped;
            r.warnings.push(warning("noSnapshot", "The inbound flow has no validated data yet.".into()));
            observer.activity(&r);
            inbound.push(r);
            continue;
        }
        let roster = snapshot::read_active_before(ctx.stores.roster.as_ref(), tenant, &ib.id, first_not_read).await?;
        let mut people = people(&roster, &groups);
        let identities = match_people(&roster, &mut people, &ib.rules, &directory);
        sources.push(Source { inbound: ib.id.clone(), roster, people, identities });
        inbound.push(r);
    }
    let creation_warnings = resolve_creations(tenant.as_str(), &config, &mut sources, &directory);
    let basis = match changes {
        Some(changes) => Some(incremental::basis(ctx, changes, &mut sources).await?),
        None => None,
    };
    for r in inbound.iter_mut().filter(|r| r.status == ActivityStatus::InProgress) {
        let ActivityFlow::Inbound { flow } = &r.flow else { continue };
        let s = sources.iter().find(|s| &s.inbound == flow).expect("a source per read inbound flow");
        let mut results = inbound_results(s, &groups);
        if let Some(b) = &basis {
            b.correct(flow, &mut results);
        }
        r.inbound = Some(results);
        let ambiguous = s.identities.iter().filter(|i| **i == Identity::Ambiguous).count();
        if ambiguous > 0 {
            r.warnings.push(warning(
                "ambiguousUserMatch",
                format!("{ambiguous} users match several directory users (or share one) and are not provisioned."),
            ));
        }
        r.status = ended(r);
        observer.activity(r);
    }

    // The user flows' default passwords, opened and sealed again for the users they create.
    let mut password_errors: Vec<(String, PublicError)> = Vec::new();
    for set in &mut config.flow_sets {
        for flow in &mut set.flows {
            let FlowKind::User(u) = &mut flow.kind else { continue };
            for c in &mut u.creations {
                if let Some(sealed) = c.password.take() {
                    match ctx.sealer.open(tenant, &sealed) {
                        Ok(plain) => c.password = Some(ctx.sealer.seal(tenant, &plain)),
                        Err(_) => password_errors.push((
                            flow.id.clone(),
                            warning(
                                "passwordUnavailable",
                                "A default password could not be read; users are created without one.".into(),
                            ),
                        )),
                    }
                }
            }
        }
    }

    let now = rosterflow_model::time::format(ctx.now);
    let seal = |pw: &str| ctx.sealer.seal(tenant, pw);
    // Without a committed run, every flow creates everything it wants: render as it builds (see `Input::render`).
    let render = last.is_none();
    if !render {
        // A later run writes little, and its planning is short: it commits at once, after planning.
        stream = None;
    }
    let input = Input { tenant: tenant.as_str(), now: &now, groups: &groups, sources: &sources, seal: &seal, render };
    let mut outbound = Vec::new();
    for set in &config.flow_sets {
        for flow in &set.flows {
            let name = format!("{} ({})", flow.kind.type_name(), set.display_name);
            let mut r = report(ActivityFlow::Outbound { flow_set: set.id.clone(), flow: flow.id.clone() }, name);
            observer.activity(&r);
            if sources.is_empty() {
                // Without data, planning would take away everything: nothing is done instead.
                r.status = ActivityStatus::Skipped;
                r.warnings.push(warning("noActiveInboundFlow", "No active inbound flow has validated data.".into()));
                observer.activity(&r);
                outbound.push((r, None));
                continue;
            }
            let plan = match (&basis, &flow.kind) {
                (None, kind) => plan_flow(ctx, &flow.id, desire(&input, set, &flow.id, kind)).await?,
                (Some(b), FlowKind::ClassGroup(f)) => {
                    let mut desired = class_relations(&input, set, f, &b.touched);
                    let carried = b.carry_skipped(&r.flow, &mut desired);
                    let mut plan = plan_relations(ctx, &flow.id, desired).await?;
                    plan.warnings.extend(carried);
                    plan
                }
                (Some(b), _) => {
                    // Its inputs are the last run's: it plans nothing and warns as that run did.
                    let last = b.last_of(&r.flow).expect("checked with the basis");
                    r.warnings.extend(last.warnings.iter().cloned());
                    r.errors.extend(password_errors.iter().filter(|(f, _)| f == &flow.id).map(|(_, e)| e.clone()));
                    let mut plan = FlowPlan::default();
                    plan.state.flow = flow.id.clone();
                    outbound.push((r, Some(plan)));
                    continue;
                }
            };
            r.warnings.extend(plan.warnings.iter().cloned());
            r.errors.extend(password_errors.iter().filter(|(f, _)| f == &flow.id).map(|(_, e)| e.clone()));
            if matches!(flow.kind, FlowKind::User(_)) {
                r.warnings.extend(creation_warnings.iter().cloned());
            }
            let mut plan = plan;
            if let Some(stream) = stream.as_deref_mut() {
                stream.send(ctx, &mut plan);
            }
            outbound.push((r, Some(plan)));
        }
    }
    let mut created: Vec<(&str, Option<&str>)> = stream
        .as_deref()
        .map(|s| s.created.iter().map(|(id, upn)| (id.as_str(), upn.as_deref())).collect())
        .unwrap_or_default();
    for o in outbound.iter().filter_map(|(_, p)| p.as_ref()).flat_map(|p| &p.upserts) {
        if o.kind == rosterflow_model::directory::ObjectKind::User {
            created.push((o.id.as_str(), o.upn_folded()));
        }
    }
    let fingerprint = fingerprint(&config, &snapshots, &with_created(keys, created));
    let partial = basis.as_ref().is_some_and(|b| b.partial);
    Ok(Prepared { inbound, outbound, fingerprint, unchanged: false, incremental: basis.is_some(), partial })
}

/// The state's relations sorted against the wanted ones as `read` hands them to its sink (never held as
/// strings, except those to remove); `read`'s own answer is passed through.
async fn sorted_against<T, F, Fut>(wanted: &mut Links, read: F) -> Result<(PreviousLinks, T), RunError>
where
    F: FnOnce(rosterflow_store::runs::LinkSink) -> Fut,
    Fut: std::future::Future<Output = Result<T, rosterflow_store::StoreError>>,
{
    use std::sync::{Arc, Mutex};
    // The store calls the sink on its reading thread; the lock is never contended (one reader, then us).
    let shared = Arc::new(std::mem::take(wanted));
    let previous = Arc::new(Mutex::new(PreviousLinks::default()));
    let (w, p) = (shared.clone(), previous.clone());
    let answer =
        read(Box::new(move |relation, from: &str, to: &str| p.lock().expect("lock").add(&w, relation, from, to)))
            .await?;
    *wanted = Arc::try_unwrap(shared).expect("the store dropped the sink");
    let previous = Arc::try_unwrap(previous).expect("the store dropped the sink").into_inner().expect("lock");
    Ok((previous, answer))
}

/// One flow's desire against its state.
async fn plan_flow(ctx: &RunContext<'_>, flow: &str, mut desired: Desired) -> Result<FlowPlan, RunError> {
    let (previous, objects) =
        sorted_against(&mut desired.links, |sink| ctx.stores.runs.state_with(ctx.tenant, flow, sink)).await?;
    Ok(diff_sorted(flow, desired, &objects, previous))
}

/// An incremental plan of a class flow: the touched classes' relations against theirs in the state.
async fn plan_relations(ctx: &RunContext<'_>, flow: &str, mut desired: Desired) -> Result<FlowPlan, RunError> {
    let groups: Vec<String> = desired.labels.keys().cloned().collect();
    let (previous, ()) =
        sorted_against(&mut desired.links, |sink| ctx.stores.runs.state_links_of(ctx.tenant, flow, groups, sink))
            .await?;
    Ok(diff_relations(flow, desired, previous))
}

/// The directory's match keys once the planned users (`created`: id, folded UPN) are created (a created user's
/// only match key is its UPN).
fn with_created<'a>(mut keys: Vec<UserKeys>, created: Vec<(&'a str, Option<&'a str>)>) -> Vec<UserKeys> {
    let known: FxHashSet<String> = keys.iter().map(|k| k.id.clone()).collect();
    for (id, upn) in created {
        if !known.contains(id) {
            keys.push(UserKeys {
                id: id.to_string(),
                user_principal_name: upn.map(str::to_string),
                ..Default::default()
            });
        }
    }
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    keys.dedup_by(|a, b| a.id == b.id);
    keys
}

/// Every flow's changes as one commit.
fn commit_of(plans: Vec<FlowPlan>) -> Commit {
    let mut commit =
        Commit { bulk: Bulk { source: Some(Writer::Run), ..Bulk::default() }, flows: vec![], fingerprint: None };
    let mut ids: FxHashSet<String> = FxHashSet::default();
    for p in plans {
        commit.bulk.rendered.extend(p.upserts.into_iter().filter(|o| ids.insert(o.id.clone())));
        commit.bulk.patches.extend(p.patches);
        if !p.state.is_empty() {
            commit.flows.push(p.state);
        }
    }
    commit
}

/// Run every provisioning flow of the tenant once: read the active inbound flows' snapshots, plan, apply.
/// The caller holds the tenant's run lease for the whole call.
pub async fn run(ctx: &RunContext<'_>, observer: &dyn RunObserver) -> Result<RunReport, RunError> {
    let mut stream = Streamer::default();
    let prepared = prepare_with(ctx, observer, Planning::Auto, Some(&mut stream)).await;
    let Prepared { inbound, outbound, fingerprint, unchanged, .. } = match prepared {
        Ok(p) => p,
        Err(e) => {
            stream.abandon().await;
            return Err(e);
        }
    };
    let (mut reports, plans): (Vec<ActivityReport>, Vec<Option<FlowPlan>>) = outbound.into_iter().unzip();
    let mut blocking_error = None;
    if unchanged {
        // The same inputs as the last committed run: the same (empty) plan, the same outcome.
        for r in inbound.iter().chain(&reports) {
            observer.activity(r);
        }
    } else {
        for r in reports.iter_mut().filter(|r| r.status == ActivityStatus::InProgress) {
            r.status = ended(r);
        }
        let activities: Vec<&ActivityReport> = inbound.iter().chain(&reports).collect();
        let kept = (fingerprint, serde_json::to_string(&activities).expect("reports serialise"));
        let committed = match stream.finish(kept.clone()).await {
            Some(committed) => committed,
            None => {
                let mut commit = commit_of(plans.into_iter().flatten().collect());
                commit.fingerprint = Some(kept);
                ctx.stores.runs.commit(ctx.tenant, commit).await
            }
        };
        if let Err(e) = committed {
            tracing::warn!(tenant = %ctx.tenant.as_str(), error = %e, "a run's changes could not be applied");
            let e = PublicError {
                code: "applyFailed".into(),
                message: "The run's changes could not be written; the directory is as the previous run left it.".into(),
                target: None,
                details: vec![],
            };
            for r in reports.iter_mut().filter(|r| r.status != ActivityStatus::Skipped) {
                r.blocking_error = Some(e.clone());
                r.status = ActivityStatus::Failed;
            }
            blocking_error = Some(e);
        }
        for r in &reports {
            observer.activity(r);
        }
    }
    let activities: Vec<ActivityReport> = inbound.into_iter().chain(reports).collect();
    let status = if blocking_error.is_some() {
        RunStatus::Failed
    } else if activities.iter().any(|a| !a.errors.is_empty()) {
        RunStatus::CompletedWithErrors
    } else if activities.iter().any(|a| !a.warnings.is_empty()) {
        RunStatus::CompletedWithWarnings
    } else {
        RunStatus::Completed
    };
    Ok(RunReport { status, blocking_error, activities })
}

/// An observer that ignores what it is told.
pub struct Quiet;
impl RunObserver for Quiet {
    fn activity(&self, _: &ActivityReport) {}
}

/// What [`run`] would do now, without writing anything.
pub async fn preview(ctx: &RunContext<'_>) -> Result<Preview, RunError> {
    let Prepared { outbound, .. } = prepare(ctx, &Quiet, Planning::Auto).await?;
    let flows = outbound
        .into_iter()
        .map(|(r, plan)| {
            let plan = plan.unwrap_or_default();
            FlowPreview {
                flow: r.flow,
                display_name: r.display_name,
                creates: plan.creates,
                updates: plan.updates,
                removals: plan.removals,
                samples: plan.samples,
                warnings: r.warnings,
            }
        })
        .collect();
    Ok(Preview { flows })
}

/// Make the next run reprovision `flow` (a provisioning flow's id) as if it were its first, and clear its
/// errors: the flow's state is forgotten, so the next run creates (the same ids: nothing is duplicated) and
/// links everything it wants again.
pub async fn reset(ctx: &RunContext<'_>, flow: &str) -> Result<(), RunError> {
    ctx.stores.runs.reset(ctx.tenant, flow).await?;
    Ok(())
}
