//! The planner on small CSV fixtures: what each flow type wants, and what a run changes against the state
//! the previous run left.

use rosterflow_model::directory::Relation;
use rosterflow_store::directory::{Link, UserKeys};
use rosterflow_store::runs::{FlowState, Managed};
use serde_json::json;

use super::config::{role_groups, ClassFlow, Flow, FlowKind, FlowSet, MatchRule, SourceId, Target, UserFlow};
use super::desire::{desire, object_id, Input, Source};
use super::matching::{match_people, people, DirectoryIndex, Identity};
use super::plan::{changes, diff, FlowPlan};
use crate::source::MemorySource;
use crate::{NoProgress, Options, Roster};

const ORGS: &str = "sourcedId,name,type\no1,North High,school\no2,South High,school\n";
const USERS: &str = "sourcedId,username,givenName,familyName\nt1,t1@x.org,Tea,Cher\nt2,t2@x.org,Sub,Stitute\ns1,s1@x.org,Stu,Dent\ns2,s2@x.org,Stu,Two\ns3,s3@x.org,Stu,Three\n";
const ROLES: &str = "userSourcedId,orgSourcedId,role,grade\nt1,o1,teacher,\nt2,o1,substitute,\ns1,o1,student,09\ns2,o1,student,10\ns3,o2,student,11\n";
const CLASSES: &str = "sourcedId,orgSourcedId,title\nc1,o1,Math\nc2,o2,Art\n";
const ENROLLMENTS: &str =
    "classSourcedId,userSourcedId,role\nc1,t1,teacher\nc1,t2,substitute\nc1,s1,student\nc1,s2,student\nc2,s3,student\n";

fn roster(enrollments: &str) -> Roster {
    let mut src = MemorySource::new([
        ("orgs.csv", ORGS),
        ("users.csv", USERS),
        ("roles.csv", ROLES),
        ("classes.csv", CLASSES),
        ("enrollments.csv", enrollments),
    ]);
    let out = crate::validate(&mut src, &Options::default(), &NoProgress).unwrap();
    assert!(!out.report.has_errors(), "{:?}", out.report);
    out.roster.unwrap()
}

/// Every roster user matched by UPN = username (the directory has them all, ids `id-{sourcedId}`).
fn source(roster: Roster) -> Source {
    let keys = (0..roster.len(crate::schema::Kind::User) as u32)
        .map(|r| {
            let sid = roster.id(crate::schema::Kind::User, r);
            UserKeys {
                id: format!("id-{sid}"),
                user_principal_name: Some(format!("{sid}@x.org")),
                ..UserKeys::default()
            }
        })
        .collect::<Vec<_>>();
    let dir = DirectoryIndex::new(&keys);
    let groups = role_groups();
    let rules: Vec<MatchRule> = (0..groups.len())
        .map(|g| MatchRule {
            role_group: g,
            priority: g as i64,
            source: SourceId::Username,
            target: Target::UserPrincipalName,
            domain: None,
        })
        .collect();
    let mut people = people(&roster, &groups);
    let identities = match_people(&roster, &mut people, &rules, &dir);
    Source { inbound: "in1".into(), roster, people, identities }
}

fn class_flow(members: &[&str]) -> FlowKind {
    FlowKind::ClassGroup(ClassFlow {
        owners: vec!["teacher".into()],
        members: members.iter().map(|s| s.to_string()).collect(),
        ..ClassFlow::default()
    })
}

fn set(orgs: Option<&[&str]>, kind: FlowKind) -> FlowSet {
    FlowSet {
        id: "set".into(),
        display_name: "Set".into(),
        orgs: orgs.map(|o| o.iter().map(|s| s.to_string()).collect()),
        flows: vec![Flow { id: "flow".into(), kind }],
    }
}

fn plan(sources: &[Source], set: &FlowSet, previous: &FlowState) -> FlowPlan {
    let groups = role_groups();
    let seal = |p: &str| format!("sealed:{p}");
    // Rendered as built or not, a plan is the same (`Input::render`).
    let input =
        Input { tenant: "t", now: "2026-01-01T00:00:00Z", groups: &groups, sources, seal: &seal, render: false };
    let rendered = Input { render: true, ..input };
    let flow = &set.flows[0];
    let early = diff(&flow.id, desire(&rendered, set, &flow.id, &flow.kind), previous);
    let late = diff(&flow.id, desire(&input, set, &flow.id, &flow.kind), previous);
    assert_eq!(format!("{early:?}"), format!("{late:?}"));
    late
}

/// The state a plan leaves, as the store would write it.
fn after(previous: &FlowState, plan: &FlowPlan) -> FlowState {
    let mut objects: Vec<Managed> = previous
        .objects
        .iter()
        .filter(|m| !plan.state.drop.contains(&m.key) && !plan.state.put.iter().any(|p| p.key == m.key))
        .cloned()
        .collect();
    objects.extend(plan.state.put.iter().cloned());
    let mut links: Vec<Link> = previous.links.iter().filter(|l| !plan.state.unlink.contains(l)).cloned().collect();
    links.extend(plan.state.link.to_links());
    FlowState { objects, links }
}

fn class_id(c: &str) -> String {
    object_id("t", &format!("class:in1:{c}"))
}

fn has(links: &[Link], relation: Relation, class: &str, user: &str) -> bool {
    links.iter().any(|l| l.relation == relation && l.from == class_id(class) && l.to == format!("id-{user}"))
}

#[test]
fn classes_get_owners_and_members_by_enrollment_role() {
    let sources = [source(roster(ENROLLMENTS))];
    let p = plan(&sources, &set(None, class_flow(&["student", "teacher"])), &FlowState::default());
    assert_eq!(p.upserts.len(), 2);
    let math = p.upserts.iter().find(|o| o.id == class_id("c1")).unwrap();
    assert!(math.education);
    assert_eq!(math.doc()["displayName"], json!("Math"));
    assert_eq!(math.doc()["groupTypes"], json!(["Unified"]));
    assert_eq!(math.doc()["externalId"], json!("c1"));
    // teacher in both lists: owner and member; substitute in neither: nothing.
    assert!(
        has(&p.state.link.to_links(), Relation::Owners, "c1", "t1")
            && has(&p.state.link.to_links(), Relation::Members, "c1", "t1")
    );
    assert!(
        has(&p.state.link.to_links(), Relation::Members, "c1", "s1")
            && !has(&p.state.link.to_links(), Relation::Owners, "c1", "s1")
    );
    assert!(!p.state.link.to_links().iter().any(|l| l.to == "id-t2"));
    assert_eq!(p.state.link.len(), 5);
}

#[test]
fn an_unchanged_roster_changes_nothing_and_a_mapping_change_adds_then_removes_substitutes() {
    let sources = [source(roster(ENROLLMENTS))];
    let first = plan(&sources, &set(None, class_flow(&["student"])), &FlowState::default());
    let state = after(&FlowState::default(), &first);
    let again = plan(&sources, &set(None, class_flow(&["student"])), &state);
    assert!(again.is_empty() && again.state.is_empty(), "{again:?}");

    let with_subs = plan(&sources, &set(None, class_flow(&["student", "substitute"])), &state);
    assert_eq!(
        with_subs.state.link.to_links(),
        vec![Link { relation: Relation::Members, from: class_id("c1"), to: "id-t2".into() }]
    );
    assert!(with_subs.state.unlink.is_empty() && with_subs.upserts.is_empty() && with_subs.patches.is_empty());
    let state = after(&state, &with_subs);
    let without = plan(&sources, &set(None, class_flow(&["student"])), &state);
    assert_eq!(
        without.state.unlink,
        vec![Link { relation: Relation::Members, from: class_id("c1"), to: "id-t2".into() }]
    );
    assert!(without.state.link.is_empty());
}

#[test]
fn a_removed_enrollment_removes_the_member_but_never_the_last_owner() {
    let sources = [source(roster(ENROLLMENTS))];
    let s = set(None, class_flow(&["student"]));
    let state = after(&FlowState::default(), &plan(&sources, &s, &FlowState::default()));
    let fewer = "classSourcedId,userSourcedId,role\nc1,s1,student\nc2,s3,student\n";
    let p = plan(&[source(roster(fewer))], &s, &state);
    assert!(has(&p.state.unlink, Relation::Members, "c1", "s2"));
    assert!(!has(&p.state.unlink, Relation::Owners, "c1", "t1"), "the last owner stays");
    assert!(p.warnings.iter().any(|w| w.code == "lastOwnerNotRemoved"));
    assert!(p.upserts.is_empty());
    // The owner is still the flow's: a later run with a new owner removes it.
    let state = after(&state, &p);
    assert!(has(&state.links, Relation::Owners, "c1", "t1"));
}

#[test]
fn a_filter_restricts_classes_and_people_to_its_orgs() {
    let sources = [source(roster(ENROLLMENTS))];
    let p = plan(&sources, &set(Some(&["o2"]), class_flow(&["student"])), &FlowState::default());
    assert_eq!(p.upserts.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), vec![class_id("c2")]);
    assert!(p.state.link.to_links().iter().all(|l| l.from == class_id("c2")));

    let users = FlowKind::User(UserFlow::default());
    let p = plan(&sources, &set(Some(&["o2"]), users), &FlowState::default());
    assert_eq!(p.patches.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), vec!["id-s3".to_string()]);
}

#[test]
fn class_attributes_follow_the_selection_and_display_names_can_be_left_alone() {
    let sources = [source(roster(ENROLLMENTS))];
    let mut f = ClassFlow { owners: vec!["teacher".into()], display_name_on_create_only: true, ..ClassFlow::default() };
    let state = after(
        &FlowState::default(),
        &plan(&sources, &set(None, FlowKind::ClassGroup(f.clone())), &FlowState::default()),
    );
    // A retitled class: nothing changes while display names are written on create only.
    let retitled = roster(ENROLLMENTS);
    let _ = &retitled;
    f.attributes = vec!["classCode".into()];
    let p = plan(&sources, &set(None, FlowKind::ClassGroup(f.clone())), &state);
    assert!(p.patches.is_empty(), "no class has a code: {:?}", p.patches);
    f.display_name_on_create_only = false;
    let p = plan(&sources, &set(None, FlowKind::ClassGroup(f)), &state);
    assert_eq!(p.patches.len(), 2);
    assert!(p.patches.iter().all(|p| p.set.contains_key("displayName")));
}

#[test]
fn users_are_managed_and_created_with_the_configured_options() {
    let mut s = source(roster(ENROLLMENTS));
    // s3 is not in the directory: created when the flow says so.
    let row = s.roster.find(crate::schema::Kind::User, "s3").unwrap() as usize;
    s.identities[row] = Identity::Created(object_id("t", "user:s3"));
    let groups = role_groups();
    let students = groups.iter().position(|g| g.id == "students").unwrap();
    let f = UserFlow {
        create_unmatched: true,
        creations: vec![super::config::Creation {
            role_group: students,
            password: Some("pw".into()),
            licenses: vec!["sku".into()],
        }],
        grade: true,
        number: false,
        age_group: Some("Minor"),
    };
    let p = plan(&[s], &set(None, FlowKind::User(f)), &FlowState::default());
    assert_eq!(p.upserts.len(), 1);
    let created = &p.upserts[0];
    assert_eq!(created.doc()["userPrincipalName"], json!("s3@x.org"));
    assert_eq!(created.doc()["assignedLicenses"], json!([{"skuId": "sku", "disabledPlans": []}]));
    assert_eq!(created.doc()["passwordProfile"]["password"], json!("pw"));
    assert_eq!(created.doc()["student"]["grade"], json!("11"));
    assert_eq!(created.doc()["ageGroup"], json!("Minor"));
    let s1 = p.patches.iter().find(|p| p.id == "id-s1").unwrap();
    assert_eq!(s1.set["student"], json!({"externalId": "s1", "grade": "09"}));
    let t1 = p.patches.iter().find(|p| p.id == "id-t1").unwrap();
    assert_eq!(t1.set["primaryRole"], json!("teacher"));
    assert!(!t1.set.contains_key("ageGroup"));
}

#[test]
fn security_groups_and_schools_hold_their_people() {
    let sources = [source(roster(ENROLLMENTS))];
    let p = plan(
        &sources,
        &set(None, FlowKind::SecurityGroup { by_role_group: true, by_org_role_group: false }),
        &FlowState::default(),
    );
    assert_eq!(p.upserts.len(), 2, "staff and students");
    let students = p.upserts.iter().find(|o| o.doc()["displayName"] == json!("Students (Set)")).unwrap();
    assert_eq!(p.state.link.to_links().iter().filter(|l| l.from == students.id).count(), 3);

    let au = FlowKind::AdministrativeUnit { by_org: true, by_org_role_group: true };
    let p = plan(&sources, &set(Some(&["o1"]), au), &FlowState::default());
    let school = p.upserts.iter().find(|o| o.education).unwrap();
    assert_eq!(school.doc()["displayName"], json!("North High"));
    assert_eq!(p.upserts.len(), 3, "the school, o1 staff, o1 students");
    assert_eq!(p.state.link.to_links().iter().filter(|l| l.from == school.id).count(), 4);
}

#[test]
fn ambiguous_matches_are_never_guessed() {
    let r = roster(ENROLLMENTS);
    let keys = vec![
        UserKeys { id: "a".into(), mail: Some("s1@x.org".into()), ..UserKeys::default() },
        UserKeys { id: "b".into(), mail: Some("s1@x.org".into()), ..UserKeys::default() },
        UserKeys { id: "c".into(), user_principal_name: Some("s2@x.org".into()), ..UserKeys::default() },
    ];
    let dir = DirectoryIndex::new(&keys);
    let groups = role_groups();
    let students = groups.iter().position(|g| g.id == "students").unwrap();
    let rules = vec![MatchRule {
        role_group: students,
        priority: 0,
        source: SourceId::SourcedId,
        target: Target::Mail,
        domain: Some("x.org".into()),
    }];
    let mut p = people(&r, &groups);
    let ids = match_people(&r, &mut p, &rules, &dir);
    let of = |sid: &str| ids[r.find(crate::schema::Kind::User, sid).unwrap() as usize].clone();
    assert_eq!(of("s1"), Identity::Ambiguous);
    assert_eq!(of("s2"), Identity::Unmatched, "matched by mail only, and s2's mail is not known");
    assert_eq!(of("t1"), Identity::Unmatched, "no setting for staff");
}

#[test]
fn changes_set_what_changed_and_null_what_went() {
    let old = json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3, "@team": true});
    let new = json!({"a": 1, "b": {"x": 1, "z": 3}});
    let set = changes(old.as_object().unwrap(), new.as_object().unwrap());
    assert_eq!(serde_json::Value::Object(set), json!({"b": {"y": null, "z": 3}, "c": null}));
}

/// The ids are stored (state, directory): the layout must never change. The reference is the plain
/// formatting the first version used.
#[test]
fn object_ids_keep_their_layout() {
    for key in ["user:s1", "class:in1:c1", "f-sg/sg:students", "", "école:ü"] {
        let mut h = xxhash_rust::xxh3::xxh3_128(format!("t\u{1f}{key}").as_bytes()).to_be_bytes();
        h[6] = (h[6] & 0x0f) | 0x80;
        h[8] = (h[8] & 0x3f) | 0x80;
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        let want = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
        assert_eq!(object_id("t", key), want);
    }
}

/// The relations' diff over interned ids gives what the diff over string pairs gave (the reference below is
/// that first version): the same links in the same order, the same unlinks, the same last-owner warnings, on
/// seeded random desires and states that overlap.
#[test]
fn interned_relations_diff_as_string_pairs_did() {
    use rand::{Rng, SeedableRng};
    use rustc_hash::{FxHashMap, FxHashSet};

    fn reference(wanted: &FxHashSet<Link>, previous: &[Link]) -> (Vec<Link>, Vec<Link>, Vec<String>) {
        let had: FxHashSet<&Link> = previous.iter().collect();
        let mut unlink: Vec<&Link> = previous.iter().filter(|l| !wanted.contains(*l)).collect();
        unlink.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        let mut owners_after: FxHashMap<String, usize> = FxHashMap::default();
        for l in wanted.iter().filter(|l| l.relation == Relation::Owners) {
            *owners_after.entry(l.from.clone()).or_default() += 1;
        }
        let mut link: Vec<Link> = wanted.iter().filter(|l| !had.contains(l)).cloned().collect();
        link.sort_unstable_by(|a, b| (a.relation.as_str(), &a.from, &a.to).cmp(&(b.relation.as_str(), &b.from, &b.to)));
        let (mut kept, mut warned) = (FxHashSet::default(), Vec::new());
        unlink.retain(|l| {
            if l.relation != Relation::Owners || owners_after.get(&l.from).copied().unwrap_or(0) > 0 {
                return true;
            }
            if kept.insert(l.from.clone()) {
                warned.push(l.from.clone());
                return false;
            }
            true
        });
        (link, unlink.into_iter().cloned().collect(), warned)
    }

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    for _ in 0..300 {
        let random_link = |rng: &mut rand_chacha::ChaCha8Rng| Link {
            relation: if rng.gen_bool(0.3) { Relation::Owners } else { Relation::Members },
            from: format!("g{}", rng.gen_range(0..4)),
            to: format!("u{}", rng.gen_range(0..8)),
        };
        let wanted: FxHashSet<Link> = (0..rng.gen_range(0..20)).map(|_| random_link(&mut rng)).collect();
        let mut previous: Vec<Link> = wanted.iter().filter(|_| rng.gen_bool(0.6)).cloned().collect();
        previous.extend((0..rng.gen_range(0..12)).map(|_| random_link(&mut rng)));
        previous.sort_by(|a, b| (&a.from, &a.to, a.relation.as_str()).cmp(&(&b.from, &b.to, b.relation.as_str())));
        previous.dedup();
        let mut desired = super::desire::Desired::default();
        for l in &wanted {
            let (from, to) = (desired.links.id(&l.from), desired.links.id(&l.to));
            desired.links.insert(l.relation, from, to);
        }
        let state = FlowState { objects: vec![], links: previous.clone() };
        let plan = diff("flow", desired, &state);
        let (link, unlink, warned) = reference(&wanted, &previous);
        assert_eq!(plan.state.link.to_links(), link);
        assert_eq!(plan.state.unlink, unlink);
        let targets: Vec<String> = plan.warnings.iter().filter_map(|w| w.target.clone()).collect();
        assert_eq!(targets, warned);
    }
}
