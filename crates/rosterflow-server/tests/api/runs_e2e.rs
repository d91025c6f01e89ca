//! Runs end to end over real HTTP with the real engine: Microsoft's SDS v2.1 sample validated into an inbound
//! flow's snapshot, a run started through `runs/start`, and what it provisioned read back through the directory
//! API (users, security groups, schools, classes with their owners and members) against the mapping rules; the
//! seed PATCH changing membership at the next run; `reset`; a flow set's org filter; tenants kept apart.
//!
//! The sample (`tests/fixtures/rosters/microsoft-sds-v2.1`): orgs 110001–110004; classes 112001 "Computer
//! Science 101" (org 110001: student 114008 smiller, professor 114006) and 112002 "Biology 10" (org 110003:
//! students 114001 jcraig, 114003 fhutch, 114004 asmithee, teacher 114007 kfein). Users are matched by username
//! to userPrincipalName; none exist, so the user flow creates those of the staff and students role groups
//! (the professor is staff; two users have no role at all).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;
use crate::runs::{inbound_chain, load_snapshot, start, wait};

const DOMAIN: &str = "classrmtest31.org";

fn upn(name: &str) -> String {
    format!("{name}@{DOMAIN}")
}

/// A client with an application token holding every permission (some directory reads take no delegated ones).
fn app(server: &TestServer) -> Client {
    let roles: Vec<String> = rosterflow_model::permissions::all().iter().map(|p| p.to_string()).collect();
    client_for(&server.url, server.app_token(&roles))
}

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::runs::SAMPLE)
}

/// A flow set restricted to `orgs`, with a user flow (creating unmatched staff and students), a class-group
/// flow (teachers own, students are members), a security-group flow (one group per role group) and an
/// administrative-unit flow (one school per org); the set and the class-group flow's ids.
async fn provisioning(c: &Client, name: &str, orgs: &[&str]) -> (String, String) {
    let set = c
        .post("outboundProvisioningFlowSets", json!({"displayName": name,
            "filter": {"@odata.type": "#microsoft.graph.industryData.basicFilter", "attribute": "orgExternalId", "in": orgs}}))
        .await
        .expect(201)
        .id();
    create_flow(c, &set, user_flow_body()).await;
    let class_flow = create_flow(
        c,
        &set,
        json!({"@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow",
            "configuration": {"additionalAttributes": ["courseTitle", "courseCode"],
                "additionalOptions": {"createTeam": false, "writeDisplayNameOnCreateOnly": false},
                "enrollmentMappings": {"memberEnrollmentMappings": [{"code": "student"}],
                                       "ownerEnrollmentMappings": [{"code": "teacher"}]}}}),
    )
    .await;
    create_flow(c, &set, security_group_flow_body()).await;
    create_flow(
        c,
        &set,
        json!({"@odata.type": "#microsoft.graph.industryData.administrativeUnitProvisioningFlow",
            "creationOptions": {"createBasedOnOrg": true, "createBasedOnOrgPlusroleGroup": false}}),
    )
    .await;
    (set, class_flow)
}

/// An inbound flow open now, and its connector.
async fn open_inbound(c: &Client) -> (String, String) {
    let day = chrono::Duration::days(1);
    let (from, to) = (chrono::Utc::now() - day, chrono::Utc::now() + day);
    inbound_chain(c, &rosterflow_model::time::format(from), &rosterflow_model::time::format(to)).await
}

/// An inbound flow open now, with `dir` validated into it.
async fn inbound(server: &TestServer, c: &Client, dir: &std::path::Path) -> String {
    let (flow, _) = open_inbound(c).await;
    load_snapshot(server, &flow, dir).await;
    flow
}

/// Start a run and wait for it; it must not have failed.
async fn run(c: &Client) -> Value {
    let id = start(c).await;
    let run = wait(c, &id).await;
    assert_ne!(run["status"], "failed", "{run}");
    run
}

async fn values(c: &Client, path: &str) -> Vec<Value> {
    let r = c.get(path).await;
    r.expect(200);
    r.body["value"].as_array().unwrap_or_else(|| panic!("{path}: {}", r.text)).clone()
}

fn set_of(items: &[Value], key: &str) -> BTreeSet<String> {
    items.iter().map(|v| v[key].as_str().unwrap_or_default().to_ascii_lowercase()).collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|n| upn(n)).collect()
}

/// A class as a test sees it: display name, then its members', teachers' and group owners' UPNs.
type Class = (String, BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);

/// The tenant's classes, by display name.
async fn classes(c: &Client) -> Vec<Class> {
    let mut out = vec![];
    for class in values(c, "/beta/education/classes").await {
        let id = class["id"].as_str().unwrap();
        let members = set_of(&values(c, &format!("/beta/education/classes/{id}/members")).await, "userPrincipalName");
        let teachers = set_of(&values(c, &format!("/beta/education/classes/{id}/teachers")).await, "userPrincipalName");
        let owners = set_of(&values(c, &format!("/beta/groups/{id}/owners")).await, "userPrincipalName");
        out.push((class["displayName"].as_str().unwrap().to_string(), members, teachers, owners));
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_sds_sample_runs_into_the_directory_as_the_flows_say() {
    let server = TestServer::start().await;
    let c = app(&server);
    let (set, class_flow) = provisioning(&c, "District", &["110001", "110002", "110003", "110004"]).await;
    // Uploaded through the session URL (raw Put Blob), validated by the connector's `validate` action.
    let (_, connector) = open_inbound(&c).await;
    crate::validate::upload(&c, &connector, &crate::validate::files_of("microsoft-sds-v2.1")).await;
    let (operation, _) = crate::validate::poll(&c, &crate::validate::validate(&c, &connector).await).await;
    assert_eq!(operation["status"], "succeeded", "{operation}");
    let first = run(&c).await;
    let id = first["id"].as_str().unwrap();

    // Activities: one inbound, four outbound, all ended; the inbound one's results in getStatistics.
    let activities = values(&c, &format!("runs/{id}/activities")).await;
    let types: Vec<&str> = activities.iter().map(|a| a["@odata.type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| t.ends_with("inboundFlowActivity")).count(), 1, "{activities:?}");
    assert_eq!(types.iter().filter(|t| t.ends_with("outboundFlowActivity")).count(), 4, "{activities:?}");
    assert!(activities.iter().all(|a| a["status"] != "inProgress" && a["status"] != "failed"), "{activities:?}");
    let stats = c.get(&format!("runs/{id}/getStatistics")).await.body;
    assert_eq!(stats["inboundTotals"]["people"], 8, "{stats}");
    assert_eq!(stats["inboundTotals"]["organizations"], 4);
    assert_eq!(stats["inboundTotals"]["groups"], 2);
    assert_eq!(stats["inboundTotals"]["memberships"], 6);
    assert_eq!(stats["activityStatistics"].as_array().unwrap().len(), 1);
    assert_eq!(stats["activityStatistics"][0]["@odata.type"], "#microsoft.graph.industryData.inboundActivityResults");

    // Users: the staff (the teacher and the professor) and the students, created; the role-less users are not.
    let users = set_of(&values(&c, "/beta/users").await, "userPrincipalName");
    assert_eq!(users, names(&["jcraig", "fhutch", "asmithee", "kfein", "smiller", "jjonzer"]));
    let kfein = &values(&c, &format!("/beta/education/users?$filter=userPrincipalName eq '{}'", upn("kfein"))).await[0];
    assert_eq!(kfein["primaryRole"], "teacher", "{kfein}");

    // Classes: teachers own, students are members; a professor is neither (not in the mappings).
    let expected = vec![
        ("Biology 10".to_string(), names(&["jcraig", "fhutch", "asmithee"]), names(&["kfein"]), names(&["kfein"])),
        ("Computer Science 101".to_string(), names(&["smiller"]), BTreeSet::new(), BTreeSet::new()),
    ];
    assert_eq!(classes(&c).await, expected);

    // Schools: one per org, holding the people with a role there.
    let schools = values(&c, "/beta/education/schools").await;
    assert_eq!(schools.len(), 4, "{schools:?}");
    let school = schools.iter().find(|s| s["displayName"] == "School of TwoDotOne").expect("org 110003's school");
    let au = school["id"].as_str().unwrap();
    let in_school = set_of(&values(&c, &format!("/beta/administrativeUnits/{au}/members")).await, "userPrincipalName");
    assert!(names(&["jcraig", "fhutch", "asmithee", "kfein"]).is_subset(&in_school), "{in_school:?}");

    // Security groups: one per role group, with its people.
    let groups = values(&c, "/beta/groups?$filter=securityEnabled eq true").await;
    let students =
        groups.iter().find(|g| g["displayName"].as_str().unwrap().starts_with("Students")).expect("students' group");
    let gid = students["id"].as_str().unwrap();
    let members = set_of(&values(&c, &format!("/beta/groups/{gid}/members")).await, "userPrincipalName");
    assert_eq!(members, names(&["jcraig", "fhutch", "asmithee", "smiller"]));

    // A run over the unchanged snapshot changes nothing.
    let objects = values(&c, "/beta/groups?$top=999").await.len();
    run(&c).await;
    assert_eq!(classes(&c).await, expected);
    assert_eq!(values(&c, "/beta/groups?$top=999").await.len(), objects);

    // The seed PATCH: members are substitutes now, owners still teachers. At the next run the students leave
    // the classes (Computer Science 101 has no substitute: no member; the users themselves stay).
    let flow_path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{class_flow}");
    c.raw(reqwest::Method::PATCH, &flow_path, Some("application/json"), SEED_PATCH).await.expect(204);
    assert_eq!(classes(&c).await, expected, "a PATCH takes effect at the next run, not before");
    run(&c).await;
    let seeded = vec![
        ("Biology 10".to_string(), BTreeSet::new(), names(&["kfein"]), names(&["kfein"])),
        ("Computer Science 101".to_string(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new()),
    ];
    assert_eq!(classes(&c).await, seeded);
    assert_eq!(set_of(&values(&c, "/beta/users").await, "userPrincipalName").len(), 6, "users are never deleted");

    // reset: 202, and the next run reprovisions as if it were the first: the same objects, nothing doubled.
    c.send(reqwest::Method::POST, &format!("{flow_path}/reset"), None).await.expect(202);
    run(&c).await;
    assert_eq!(classes(&c).await, seeded);
    assert_eq!(values(&c, "/beta/groups?$top=999").await.len(), objects);
    let flow = c.get(&flow_path).await.body;
    assert_eq!(flow["readinessStatus"], "ready", "{flow}");
}

#[tokio::test]
async fn a_substitute_enrollment_added_later_makes_a_member_under_the_seed_configuration() {
    let server = TestServer::start().await;
    let c = app(&server);
    let (set, class_flow) = provisioning(&c, "District", &["110001", "110002", "110003", "110004"]).await;
    let flow_path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{class_flow}");
    c.raw(reqwest::Method::PATCH, &flow_path, Some("application/json"), SEED_PATCH).await.expect(204);
    let flow = inbound(&server, &c, &sample()).await;
    run(&c).await;
    let cs = |all: &[Class]| all.iter().find(|c| c.0 == "Computer Science 101").unwrap().1.clone();
    assert_eq!(cs(&classes(&c).await), BTreeSet::new());
    // The next upload enrolls teacher 114007 as a substitute in Computer Science 101.
    let dir = temp_dir();
    for entry in std::fs::read_dir(sample()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let enrollments = dir.join("enrollments.csv");
    let mut text = std::fs::read_to_string(&enrollments).unwrap();
    if !text.ends_with('\n') {
        text.push_str("\r\n");
    }
    text.push_str("112001,114007,substitute\r\n");
    std::fs::write(&enrollments, text).unwrap();
    load_snapshot(&server, &flow, &dir).await;
    run(&c).await;
    assert_eq!(cs(&classes(&c).await), names(&["kfein"]));
}

#[tokio::test]
async fn a_flow_sets_filter_restricts_it_to_its_orgs_and_tenants_never_mix() {
    let server = TestServer::start().await;
    let c = app(&server);
    provisioning(&c, "TwoDotOne only", &["110003"]).await;
    inbound(&server, &c, &sample()).await;
    run(&c).await;
    let users = set_of(&values(&c, "/beta/users").await, "userPrincipalName");
    assert_eq!(users, names(&["jcraig", "fhutch", "asmithee", "kfein"]), "smiller's only role is at 110001");
    let all = classes(&c).await;
    assert_eq!(all.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["Biology 10"]);
    let schools = values(&c, "/beta/education/schools").await;
    assert_eq!(set_of(&schools, "displayName"), ["school of twodotone".to_string()].into());

    // Another tenant on the same server sees none of it, and its own run provisions nothing of the first's.
    let other =
        client_for(&server.url, server.token_for(&format!("other-{}", uuid::Uuid::new_v4()), &all_permissions()));
    assert_eq!(values(&other, "/beta/users").await, Vec::<Value>::new());
    assert_eq!(values(&other, "/beta/education/classes").await, Vec::<Value>::new());
    assert_eq!(values(&other, "runs").await, Vec::<Value>::new());
    provisioning(&other, "Everything", &["110001", "110002", "110003", "110004"]).await;
    run(&other).await;
    assert_eq!(values(&other, "/beta/users").await, Vec::<Value>::new(), "no inbound data in this tenant");
    assert_eq!(set_of(&values(&c, "/beta/users").await, "userPrincipalName"), users);
}
