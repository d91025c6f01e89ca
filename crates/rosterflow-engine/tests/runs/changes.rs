//! What later runs change: the seed PATCH of a class-group flow's mappings, manual edits left alone, reset,
//! a flow set's filter, tenants kept apart, and a run whose apply fails.

use rosterflow_engine::run::{self, RunStatus};
use rosterflow_model::directory::Relation;
use rosterflow_store::directory::Link;
use serde_json::json;

use crate::common::*;

const ORGS: &str = "sourcedId,name,type\no1,North High,school\no2,South High,school\n";
const USERS: &str = "sourcedId,username,givenName,familyName\nt1,t1@x.org,Tea,Cher\nt2,t2@x.org,Sub,Stitute\ns1,s1@x.org,Stu,Dent\ns2,s2@x.org,Stu,Two\ns3,s3@x.org,Stu,Three\n";
const ROLES: &str =
    "userSourcedId,orgSourcedId,role\nt1,o1,teacher\nt2,o1,substitute\ns1,o1,student\ns2,o1,student\ns3,o2,student\n";
const CLASSES: &str = "sourcedId,orgSourcedId,title\nc1,o1,Math\nc2,o2,Art\n";
const ENROLLMENTS: &str =
    "classSourcedId,userSourcedId,role\nc1,t1,teacher\nc1,t2,substitute\nc1,s1,student\nc1,s2,student\nc2,s3,student\n";

fn files(enrollments: &'static str) -> rosterflow_engine::source::MemorySource {
    memory(&[
        ("orgs.csv", ORGS),
        ("users.csv", USERS),
        ("roles.csv", ROLES),
        ("classes.csv", CLASSES),
        ("enrollments.csv", enrollments),
    ])
}

fn user_flow() -> (&'static str, &'static str, serde_json::Value) {
    (
        "f-user",
        "userProvisioningFlow",
        json!({"createUnmatchedUsers": true, "creationOptions": {"configurations": [
        {"roleGroup@odata.bind": "staff", "licenseSkus": []}, {"roleGroup@odata.bind": "students", "licenseSkus": []}]}}),
    )
}

async fn setup(b: &Backend, t: &rosterflow_store::TenantId, filter: Option<&[&str]>) {
    b.configure(
        t,
        filter,
        &[user_flow(), ("f-class", "classGroupProvisioningFlow", class_flow(&["student"], &["teacher"]))],
    )
    .await;
    b.load(t, files(ENROLLMENTS)).await;
}

#[tokio::test]
async fn the_seed_patch_takes_effect_at_the_next_run_and_manual_edits_stay() {
    for b in backends().await {
        let t = tenant();
        setup(&b, &t, None).await;
        let (report, _) = b.run(&t).await;
        assert_eq!(report.status, RunStatus::Completed, "{report:#?}");
        let math = class_id(&t, "c1");
        let sub = b.id_of_upn(&t, "t2@x.org").await;
        let s3 = b.id_of_upn(&t, "s3@x.org").await;
        assert!(!b.related(&t, Relation::Members, &math).await.contains(&sub));

        // An administrator adds s3 to Math by hand: no run takes it away.
        b.stores
            .directory
            .link(&t, Link { relation: Relation::Members, from: math.clone(), to: s3.clone() })
            .await
            .unwrap();
        // The seed operation: substitutes become members.
        b.patch(&t, "provisioningFlows", "f-class", |doc| {
            doc["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] =
                json!([{"code": "student"}, {"code": "substitute"}]);
        })
        .await;
        b.run(&t).await;
        let members = b.related(&t, Relation::Members, &math).await;
        assert!(members.contains(&sub) && members.contains(&s3), "{members:?}");
        assert_eq!(members.len(), 4, "s1, s2, the substitute and s3");
        // ... and removing the mapping removes them.
        b.patch(&t, "provisioningFlows", "f-class", |doc| {
            doc["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] = json!([{"code": "student"}]);
        })
        .await;
        b.run(&t).await;
        let members = b.related(&t, Relation::Members, &math).await;
        assert!(!members.contains(&sub) && members.contains(&s3), "{members:?}");

        // A changed roster: s2 leaves Math, the teacher leaves too (the last owner stays, with a warning).
        b.load(&t, files("classSourcedId,userSourcedId,role\nc1,s1,student\nc2,s3,student\n")).await;
        let (report, _) = b.run(&t).await;
        assert_eq!(report.status, RunStatus::CompletedWithWarnings);
        assert!(report.activities.iter().flat_map(|a| &a.warnings).any(|w| w.code == "lastOwnerNotRemoved"));
        let s2 = b.id_of_upn(&t, "s2@x.org").await;
        assert!(!b.related(&t, Relation::Members, &math).await.contains(&s2));
        assert_eq!(b.related(&t, Relation::Owners, &math).await, vec![b.id_of_upn(&t, "t1@x.org").await]);
        assert!(b.stores.directory.get(&t, &s2).await.unwrap().is_some(), "an inactive user is never deleted");
    }
}

#[tokio::test]
async fn reset_reprovisions_as_if_first_without_duplicates() {
    for b in backends().await {
        let t = tenant();
        setup(&b, &t, None).await;
        b.run(&t).await;
        let math = class_id(&t, "c1");
        let before = b.versions(&t).await;
        // Someone renames the class by hand; a reset run writes it as a first run would.
        b.stores
            .directory
            .update(
                &t,
                &math,
                Box::new(|o| {
                    std::sync::Arc::make_mut(&mut o.doc).insert("displayName".into(), json!("Renamed"));
                    Ok(())
                }),
            )
            .await
            .unwrap();
        b.run(&t).await;
        assert_eq!(b.stores.directory.get(&t, &math).await.unwrap().unwrap().doc["displayName"], json!("Renamed"));
        run::reset(&b.ctx(&t), "f-class").await.unwrap();
        let preview = run::preview(&b.ctx(&t)).await.unwrap();
        let class = preview.flows.iter().find(|f| f.display_name.starts_with("classGroup")).unwrap();
        assert_eq!(class.creates.iter().find(|(k, _)| k == "classes").map(|c| c.1), Some(2));
        b.run(&t).await;
        assert_eq!(b.stores.directory.get(&t, &math).await.unwrap().unwrap().doc["displayName"], json!("Math"));
        let after = b.versions(&t).await;
        assert_eq!(
            after.iter().map(|v| &v.0).collect::<Vec<_>>(),
            before.iter().map(|v| &v.0).collect::<Vec<_>>(),
            "the same objects"
        );
        assert_eq!(b.related(&t, Relation::Members, &math).await.len(), 2);
    }
}

#[tokio::test]
async fn a_filter_restricts_a_flow_set_and_tenants_never_mix() {
    for b in backends().await {
        let (a, other) = (tenant(), tenant());
        setup(&b, &a, Some(&["o2"])).await;
        setup(&b, &other, None).await;
        b.run(&a).await;
        assert!(b.stores.directory.get(&a, &class_id(&a, "c1")).await.unwrap().is_none(), "o1 is filtered out");
        assert!(b.stores.directory.get(&a, &class_id(&a, "c2")).await.unwrap().is_some());
        assert!(b.stores.directory.get_by_upn(&a, "s1@x.org").await.unwrap().is_none(), "s1 is at o1 only");
        assert!(b.versions(&other).await.is_empty(), "the other tenant has nothing until it runs");
        b.run(&other).await;
        assert_eq!(b.versions(&other).await.len(), 7, "5 users and 2 classes");
        assert_eq!(b.versions(&a).await.len(), 2, "s3 and Art");
        assert!(b.stores.directory.get(&other, &class_id(&a, "c2")).await.unwrap().is_none());
    }
}

/// Make every insert into `dir_relation` fail (after the run's objects are written), or stop doing so.
async fn break_relations(b: &Backend, on: bool) {
    match &b.raw {
        Raw::Sqlite(path) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            let sql = if on {
                "CREATE TRIGGER refuse BEFORE INSERT ON dir_relation BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            } else {
                "DROP TRIGGER refuse;"
            };
            c.execute_batch(sql).unwrap();
        }
        Raw::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let sql: &[&str] = if on {
                &["CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
                  "CREATE TRIGGER refuse BEFORE INSERT ON dir_relation FOR EACH ROW EXECUTE FUNCTION refuse()"]
            } else {
                &["DROP TRIGGER refuse ON dir_relation", "DROP FUNCTION refuse()"]
            };
            for s in sql {
                sqlx::query(s).execute(&pool).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_run_whose_apply_fails_leaves_the_previous_state_and_the_next_completes() {
    for b in backends().await {
        let t = tenant();
        setup(&b, &t, None).await;
        break_relations(&b, true).await;
        let (report, _) = b.run(&t).await;
        assert_eq!(report.status, RunStatus::Failed);
        assert!(report.blocking_error.is_some());
        assert!(b.versions(&t).await.is_empty(), "nothing of the run is left");
        break_relations(&b, false).await;
        let (report, _) = b.run(&t).await;
        assert_eq!(report.status, RunStatus::Completed, "{report:#?}");
        assert_eq!(b.related(&t, Relation::Members, &class_id(&t, "c1")).await.len(), 2);
        // Then a run that would change something fails: the directory and the state stay as they were.
        b.patch(&t, "provisioningFlows", "f-class", |doc| {
            doc["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] = json!([{"code": "substitute"}]);
        })
        .await;
        break_relations(&b, true).await;
        let before = b.versions(&t).await;
        assert_eq!(b.run(&t).await.0.status, RunStatus::Failed);
        assert_eq!(b.versions(&t).await, before);
        assert_eq!(b.related(&t, Relation::Members, &class_id(&t, "c1")).await.len(), 2);
        break_relations(&b, false).await;
        b.run(&t).await;
        assert_eq!(
            b.related(&t, Relation::Members, &class_id(&t, "c1")).await,
            vec![b.id_of_upn(&t, "t2@x.org").await]
        );
    }
}
