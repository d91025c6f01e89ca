//! Incremental planning (`run/incremental.rs`) gives the plan a full plan gives: both are planned on the same
//! store and compared, after fixed and after random enrollment changes, over one load or several between runs.

use proptest::prelude::*;
use rosterflow_engine::generate::{generate, District};
use rosterflow_engine::run::plan::FlowPlan;
use rosterflow_engine::run::{self, Planning, RunStatus};
use rosterflow_engine::source::LocalSource;
use rosterflow_model::directory::ObjectKind;
use rosterflow_store::directory::Object;
use rosterflow_store::TenantId;
use serde_json::json;

use crate::common::*;

/// Staff are created, students are matched when the directory has them (half of them) and skipped otherwise;
/// substitutes are both owners and members.
fn flows() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            "f-user",
            "userProvisioningFlow",
            json!({"createUnmatchedUsers": true, "creationOptions": {"configurations": [
                {"roleGroup@odata.bind": "staff", "licenseSkus": []}]}}),
        ),
        (
            "f-sg",
            "securityGroupProvisioningFlow",
            json!({"creationOptions": {"createBasedOnRoleGroup": true, "createBasedOnOrgPlusRoleGroup": true}}),
        ),
        (
            "f-au",
            "administrativeUnitProvisioningFlow",
            json!({"creationOptions": {"createBasedOnOrg": true, "createBasedOnOrgPlusRoleGroup": false}}),
        ),
        (
            "f-class",
            "classGroupProvisioningFlow",
            class_flow(&["student", "substitute", "aide"], &["teacher", "substitute"]),
        ),
    ]
}

/// A generated district on disk, its enrollment lines, and the directory users that half its students match.
struct Fixture {
    dir: std::path::PathBuf,
    header: String,
    enrollments: Vec<String>,
    students: Vec<String>,
}

impl Fixture {
    fn new(students: u64, seed: u64) -> Fixture {
        let dir = std::env::temp_dir().join(format!("rosterflow-runs-incremental-{}", uuid::Uuid::new_v4()));
        generate(&District { students, seed, guardians: false, ..District::default() }, &dir).unwrap();
        let text = std::fs::read_to_string(dir.join("enrollments.csv")).unwrap();
        let mut lines = text.lines().map(str::to_string);
        let header = lines.next().unwrap();
        let enrollments: Vec<String> = lines.collect();
        let users = std::fs::read_to_string(dir.join("users.csv")).unwrap();
        let roles = std::fs::read_to_string(dir.join("roles.csv")).unwrap();
        let student_ids: std::collections::HashSet<&str> =
            roles.lines().filter(|l| l.contains(",student")).filter_map(|l| l.split(',').next()).collect();
        // Every other student's username (users.csv: sourcedId, username, ...).
        let students = users
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(',').map(|(id, rest)| (id, rest.split(',').next().unwrap_or_default())))
            .filter(|(id, _)| student_ids.contains(id))
            .step_by(2)
            .map(|(_, username)| username.to_string())
            .collect();
        Fixture { dir, header, enrollments, students }
    }

    /// Load the district with these enrollment lines.
    async fn load(&self, b: &Backend, t: &TenantId, lines: &[String]) {
        let changed = self.dir.join(format!("load-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&changed).unwrap();
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), changed.join(e.file_name())).unwrap();
            }
        }
        let mut text = self.header.clone();
        for l in lines {
            text.push('\n');
            text.push_str(l);
        }
        text.push('\n');
        std::fs::write(changed.join("enrollments.csv"), text).unwrap();
        b.load(t, LocalSource::new(&changed)).await;
        std::fs::remove_dir_all(changed).unwrap();
    }

    /// A tenant configured, its matched students in the directory, the whole district loaded and run once.
    async fn tenant(&self, b: &Backend) -> TenantId {
        let t = tenant();
        b.configure(&t, None, &flows()).await;
        for (i, upn) in self.students.iter().enumerate() {
            let mut doc = serde_json::Map::new();
            doc.insert("displayName".into(), json!(format!("Student {i}")));
            doc.insert("userPrincipalName".into(), json!(upn));
            doc.insert("mailNickname".into(), json!(format!("student{i}")));
            let id = format!("00000000-0000-4000-8000-{i:012}");
            b.stores.directory.create(&t, Object::new(id, ObjectKind::User, doc), vec![]).await.unwrap();
        }
        self.load(b, &t, &self.enrollments).await;
        let (report, _) = b.run(&t).await;
        assert_ne!(report.status, RunStatus::Failed, "{:#?}", report.blocking_error);
        t
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A plan as compared: its activity and plan, the plan's warnings left out (an incremental plan of a flow
/// whose inputs did not change takes its activity's warnings from the last run's report, not from a plan).
fn shown(outbound: Vec<(run::ActivityReport, Option<FlowPlan>)>) -> Vec<String> {
    outbound
        .into_iter()
        .map(|(report, plan)| {
            let plan = plan.map(|mut p| {
                p.warnings.clear();
                p
            });
            format!("{report:?}\n{plan:?}")
        })
        .collect()
}

/// Plans the next run both ways and asserts the same plans and reports; whether it was incremental.
async fn same_plans(b: &Backend, t: &TenantId) -> bool {
    planned(b, t).await.0
}

/// [`same_plans`], and whether the incremental plan read only the replanned classes' enrollments.
async fn planned(b: &Backend, t: &TenantId) -> (bool, bool) {
    let ctx = b.ctx(t);
    let auto = run::prepare(&ctx, &run::Quiet, Planning::Auto).await.unwrap();
    let full = run::prepare(&ctx, &run::Quiet, Planning::Full).await.unwrap();
    assert!(!full.incremental);
    assert_eq!(auto.inbound, full.inbound);
    let (a, f) = (shown(auto.outbound), shown(full.outbound));
    assert_eq!(a.len(), f.len());
    for (a, f) in a.iter().zip(&f) {
        assert_eq!(a, f, "incremental (left) and full (right) plans differ");
    }
    assert!(auto.incremental || !auto.partial);
    (auto.incremental, auto.partial)
}

#[tokio::test]
async fn enrollment_changes_plan_incrementally_as_a_full_plan_does() {
    let fx = Fixture::new(120, 7);
    for b in backends().await {
        let t = fx.tenant(&b).await;
        // Every 10th enrollment gone, a role changed, an enrollment added.
        let mut lines: Vec<String> =
            fx.enrollments.iter().enumerate().filter(|(i, _)| i % 10 != 3).map(|(_, l)| l.clone()).collect();
        let teacher = fx.enrollments.iter().position(|l| l.ends_with(",teacher")).unwrap();
        lines.push(fx.enrollments[teacher].replace(",teacher", ",substitute"));
        let student = fx.enrollments.iter().position(|l| l.ends_with(",student")).unwrap();
        lines.push(fx.enrollments[student].replace(",student", ",aide"));
        fx.load(&b, &t, &lines).await;
        assert!(same_plans(&b, &t).await, "only enrollments changed: incremental");
        let preview = run::preview(&b.ctx(&t)).await.unwrap();
        let class = preview.flows.iter().find(|f| f.display_name.starts_with("classGroup")).unwrap();
        assert!(!class.removals.is_empty(), "{class:#?}");
        assert!(class.warnings.iter().any(|w| w.code == "usersNotProvisioned"), "{:#?}", class.warnings);
        b.run(&t).await;

        // Every owner of the first class goes: its last owner stays (a warning), and keeps being planned
        // at the next incremental runs, until it is taken away with an owner added.
        let class = fx.enrollments[teacher].split(',').next().unwrap().to_string();
        let without_owners: Vec<String> = lines
            .iter()
            .filter(|l| {
                !(l.starts_with(&format!("{class},")) && (l.ends_with(",teacher") || l.ends_with(",substitute")))
            })
            .cloned()
            .collect();
        fx.load(&b, &t, &without_owners).await;
        assert!(same_plans(&b, &t).await);
        let (report, _) = b.run(&t).await;
        let class_activity = report.activities.iter().find(|a| a.display_name.starts_with("classGroup")).unwrap();
        assert!(class_activity.warnings.iter().any(|w| w.code == "lastOwnerNotRemoved"), "{class_activity:#?}");
        // Another class changes; the kept owner is planned (and warned about) again.
        let mut other = without_owners.clone();
        let i = other.iter().position(|l| !l.starts_with(&format!("{class},")) && l.ends_with(",student")).unwrap();
        other.remove(i);
        fx.load(&b, &t, &other).await;
        assert!(same_plans(&b, &t).await);
        let (report, _) = b.run(&t).await;
        let class_activity = report.activities.iter().find(|a| a.display_name.starts_with("classGroup")).unwrap();
        assert!(class_activity.warnings.iter().any(|w| w.code == "lastOwnerNotRemoved"), "{class_activity:#?}");
        // Everything back: the owners return, the kept one is in the state already.
        fx.load(&b, &t, &fx.enrollments).await;
        assert!(same_plans(&b, &t).await);
        b.run(&t).await;
        let after = run::preview(&b.ctx(&t)).await.unwrap();
        assert!(after.flows.iter().all(|f| f.creates.is_empty() && f.removals.is_empty()), "{after:#?}");

        // A change to anything but enrollments (a class's title) plans in full.
        let classes = std::fs::read_to_string(fx.dir.join("classes.csv")).unwrap();
        let mut retitled = classes.lines().map(str::to_string).collect::<Vec<_>>();
        let mut columns: Vec<String> = retitled[1].split(',').map(str::to_string).collect();
        columns[2] = format!("Renamed {}", columns[2]); // sourcedId, orgSourcedId, title, ...
        retitled[1] = columns.join(",");
        std::fs::write(fx.dir.join("classes.csv"), retitled.join("\n") + "\n").unwrap();
        fx.load(&b, &t, &fx.enrollments).await;
        std::fs::write(fx.dir.join("classes.csv"), classes).unwrap();
        assert!(!same_plans(&b, &t).await, "a class changed: in full");
        // ... and a reset too.
        b.run(&t).await;
        fx.load(&b, &t, &lines).await;
        run::reset(&b.ctx(&t), "f-sg").await.unwrap();
        assert!(!same_plans(&b, &t).await, "after a reset: in full");
    }
}

/// One step of a random history: enrollment lines toggled (dropped if present, back if not), or a role
/// changed, then loaded; a run follows or not (so that several loads may come between two runs).
#[derive(Debug, Clone)]
struct Step {
    toggle: Vec<prop::sample::Index>,
    run: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (prop::collection::vec(any::<prop::sample::Index>(), 1..12), any::<bool>())
        .prop_map(|(toggle, run)| Step { toggle, run });
    prop::collection::vec(step, 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn random_enrollment_changes_plan_incrementally_as_a_full_plan_does(history in steps()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let fx = Fixture::new(40, 3);
            // The universe: every line, and a copy of every 5th with another role.
            let mut universe = fx.enrollments.clone();
            for l in fx.enrollments.iter().step_by(5) {
                let (rest, role) = l.rsplit_once(',').unwrap();
                let other = if role == "student" { "aide" } else { "student" };
                universe.push(format!("{rest},{other}"));
            }
            for b in backends().await {
                let mut present: Vec<bool> = (0..universe.len()).map(|i| i < fx.enrollments.len()).collect();
                let t = fx.tenant(&b).await;
                for step in &history {
                    for i in &step.toggle {
                        let i = i.index(universe.len());
                        present[i] = !present[i];
                    }
                    let lines: Vec<String> =
                        universe.iter().zip(&present).filter(|(_, p)| **p).map(|(l, _)| l.clone()).collect();
                    fx.load(&b, &t, &lines).await;
                    assert!(same_plans(&b, &t).await, "only enrollments changed: incremental");
                    if step.run {
                        let (report, _) = b.run(&t).await;
                        assert_ne!(report.status, RunStatus::Failed);
                    }
                }
            }
        });
    }
}

/// The incremental plan reads only the replanned classes' enrollments when no changed enrollment belongs to
/// someone without a directory user, and its reports keep the counts over every enrollment (the inbound
/// activity's memberships, each class flow's `usersNotProvisioned`) equal to the full plan's; otherwise it
/// reads them all.
#[tokio::test]
async fn only_the_replanned_classes_enrollments_are_read_when_the_counts_allow() {
    let fx = Fixture::new(120, 11);
    let roles = std::fs::read_to_string(fx.dir.join("roles.csv")).unwrap();
    // Students without a directory user: every other student (`Fixture::students` holds the matched half).
    let users = std::fs::read_to_string(fx.dir.join("users.csv")).unwrap();
    let matched: std::collections::HashSet<&str> = fx.students.iter().map(String::as_str).collect();
    let unmatched: std::collections::HashSet<&str> = users
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut c = l.split(',');
            Some((c.next()?, c.next()?))
        })
        .filter(|(id, username)| {
            roles.lines().any(|r| r.starts_with(&format!("{id},")) && r.contains(",student"))
                && !matched.contains(username)
        })
        .map(|(id, _)| id)
        .collect();
    // enrollments.csv: classSourcedId, userSourcedId, role.
    let user_of = |l: &str| l.split(',').nth(1).unwrap_or_default().to_string();
    for b in backends().await {
        let t = fx.tenant(&b).await;
        let before = run::prepare(&b.ctx(&t), &run::Quiet, Planning::Full).await.unwrap();
        let skipped = |p: &run::Prepared| -> Vec<String> {
            p.outbound
                .iter()
                .flat_map(|(r, _)| &r.warnings)
                .filter(|w| w.code == "usersNotProvisioned")
                .map(|w| w.message.clone())
                .collect()
        };
        assert!(!skipped(&before).is_empty(), "unmatched students are skipped: the count is tested");

        // Teachers' enrollments only (created users): 1 in 4 gone, one teacher made a substitute.
        let mut lines: Vec<String> = fx
            .enrollments
            .iter()
            .enumerate()
            .filter(|(i, l)| !(l.ends_with(",teacher") && i % 4 == 1))
            .map(|(_, l)| l.clone())
            .collect();
        let teacher = lines.iter().position(|l| l.ends_with(",teacher")).unwrap();
        lines[teacher] = lines[teacher].replace(",teacher", ",substitute");
        assert!(lines.len() < fx.enrollments.len());
        fx.load(&b, &t, &lines).await;
        assert_eq!(planned(&b, &t).await, (true, true), "only provisioned people's enrollments changed");
        let auto = run::prepare(&b.ctx(&t), &run::Quiet, Planning::Auto).await.unwrap();
        let memberships = auto.inbound[0].inbound.as_ref().unwrap().memberships;
        assert_eq!(memberships.active as usize, lines.len());
        assert_eq!(skipped(&auto), skipped(&before), "the same people are skipped");
        let (report, _) = b.run(&t).await;
        assert_ne!(report.status, RunStatus::Failed);

        // An unmatched student's enrollment goes: the count changes, every enrollment is read.
        let i = lines.iter().position(|l| unmatched.contains(user_of(l).as_str()) && l.ends_with(",student")).unwrap();
        lines.remove(i);
        fx.load(&b, &t, &lines).await;
        assert_eq!(planned(&b, &t).await, (true, false), "an unmatched student's enrollment changed");
        let auto = run::prepare(&b.ctx(&t), &run::Quiet, Planning::Auto).await.unwrap();
        assert_ne!(skipped(&auto), skipped(&before), "one reference fewer is skipped");
        b.run(&t).await;

        // A matched student's enrollment comes back: read partially again, from the count the last run left.
        let back = fx.enrollments.iter().find(|l| !lines.contains(l) && l.ends_with(",teacher")).unwrap();
        lines.push(back.clone());
        let matched_student = fx
            .enrollments
            .iter()
            .position(|l| l.ends_with(",student") && !unmatched.contains(user_of(l).as_str()) && lines.contains(l))
            .unwrap();
        lines.retain(|l| l != &fx.enrollments[matched_student]);
        fx.load(&b, &t, &lines).await;
        assert_eq!(planned(&b, &t).await, (true, true));
        b.run(&t).await;
        let after = run::preview(&b.ctx(&t)).await.unwrap();
        assert!(after.flows.iter().all(|f| f.creates.is_empty() && f.removals.is_empty()), "{after:#?}");
    }
}
