//! Microsoft's SDS v2.1 sample through every flow type, asserted against the mapping rules.

use rosterflow_engine::run::{self, ActivityFlow, ActivityStatus, RunStatus};
use rosterflow_engine::source::LocalSource;
use rosterflow_model::directory::{ObjectKind, Relation};
use rosterflow_store::directory::Object;
use serde_json::json;

use crate::common::*;

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rosters/microsoft-sds-v2.1")
}

pub fn flows(sealed_staff: &str, sealed_students: &str) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            "f-user",
            "userProvisioningFlow",
            json!({
            "createUnmatchedUsers": true,
            "managementOptions": {"additionalAttributes": ["userGradeLevel"],
                                  "additionalOptions": {"markAllStudentsAsMinors": true}},
            "creationOptions": {"configurations": [
                {"roleGroup@odata.bind": "staff", "licenseSkus": ["sku-staff"],
                 "defaultPasswordSettings": {"@odata.type": "#microsoft.graph.industryData.simplePasswordSettings", "password": sealed_staff}},
                {"roleGroup@odata.bind": "students", "licenseSkus": ["sku-students"],
                 "defaultPasswordSettings": {"@odata.type": "#microsoft.graph.industryData.simplePasswordSettings", "password": sealed_students}}]}}),
        ),
        (
            "f-sg",
            "securityGroupProvisioningFlow",
            json!({"creationOptions": {"createBasedOnRoleGroup": true, "createBasedOnOrgPlusRoleGroup": false}}),
        ),
        (
            "f-au",
            "administrativeUnitProvisioningFlow",
            json!({"creationOptions": {"createBasedOnOrg": true, "createBasedOnOrgPlusRoleGroup": false}}),
        ),
        ("f-class", "classGroupProvisioningFlow", class_flow(&["student"], &["teacher"])),
    ]
}

#[tokio::test]
async fn the_sample_provisions_every_flow_type_and_an_unchanged_rerun_writes_nothing() {
    for b in backends().await {
        let t = tenant();
        let (staff_pw, students_pw) = (b.sealer.seal(&t, "Staff-123"), b.sealer.seal(&t, "Students-123"));
        b.configure(&t, None, &flows(&staff_pw, &students_pw)).await;
        b.load(&t, LocalSource::new(sample())).await;
        // Jack Craig is in the directory already: matched, not created.
        let jack = "0c1d6d0e-0000-4000-8000-000000000001".to_string();
        let mut doc = serde_json::Map::new();
        doc.insert("displayName".into(), json!("Jack (by hand)"));
        doc.insert("userPrincipalName".into(), json!("JCraig@classrmtest31.org"));
        doc.insert("mailNickname".into(), json!("jcraig"));
        b.stores.directory.create(&t, Object::new(jack.clone(), ObjectKind::User, doc), vec![]).await.unwrap();

        // A preview writes nothing and says what the run will do.
        let before = b.versions(&t).await;
        let preview = run::preview(&b.ctx(&t)).await.unwrap();
        assert_eq!(b.versions(&t).await, before);
        let class_preview = preview
            .flows
            .iter()
            .find(|f| matches!(&f.flow, ActivityFlow::Outbound { flow, .. } if flow == "f-class"))
            .unwrap();
        assert_eq!(class_preview.creates.iter().find(|(k, _)| k == "classes").map(|c| c.1), Some(2));

        let (report, seen) = b.run(&t).await;
        assert_ne!(report.status, RunStatus::Failed, "{report:#?}");
        assert_eq!(report.activities.len(), 5);
        for a in &report.activities {
            assert!(matches!(a.status, ActivityStatus::Completed | ActivityStatus::CompletedWithWarnings), "{a:#?}");
            let first = seen.iter().position(|s| s.flow == a.flow).unwrap();
            assert_eq!(seen[first].status, ActivityStatus::InProgress, "progress is reported as it goes");
        }
        let inbound = report.activities[0].inbound.as_ref().unwrap();
        assert_eq!((inbound.people.active, inbound.groups.active, inbound.memberships.active), (8, 2, 6));

        // Users: Jack matched (his id, his UPN, the education facet set), the others created.
        assert_eq!(b.id_of_upn(&t, "jcraig@classrmtest31.org").await, jack);
        let jack_now = b.stores.directory.get(&t, &jack).await.unwrap().unwrap();
        assert_eq!(jack_now.doc["displayName"], json!("Jack (by hand)"), "a matched user's own properties stay");
        assert_eq!(jack_now.doc["student"], json!({"externalId": "114001", "grade": "10"}));
        assert_eq!(jack_now.doc["ageGroup"], json!("Minor"));
        let kristen = b.stores.directory.get_by_upn(&t, "kfein@classrmtest31.org").await.unwrap().unwrap();
        assert_eq!(kristen.doc["assignedLicenses"], json!([{"skuId": "sku-staff", "disabledPlans": []}]));
        assert_eq!(kristen.doc["primaryRole"], json!("teacher"));
        assert_eq!(kristen.doc["teacher"]["externalId"], json!("114007"));
        let sealed = kristen.doc["passwordProfile"]["password"].as_str().unwrap();
        assert_eq!(b.sealer.open(&t, sealed).unwrap(), "P@ssword123", "the roster's own password, sealed");
        assert!(
            b.stores.directory.get_by_upn(&t, "jean.craig@outlook.com").await.unwrap().is_none(),
            "no role: not provisioned"
        );
        let fred = b.id_of_upn(&t, "fhutch@classrmtest31.org").await;
        let alice = b.id_of_upn(&t, "asmithee@classrmtest31.org").await;
        let simon = b.id_of_upn(&t, "smiller@classrmtest31.org").await;

        // Classes: one M365 group and education class; teacher → owner, students → members, professor → nothing.
        let biology = class_id(&t, "112002");
        let class = b.stores.directory.get(&t, &biology).await.unwrap().unwrap();
        assert!(class.education && class.team && class.kind == ObjectKind::Group);
        assert_eq!(class.doc["displayName"], json!("Biology 10"));
        assert_eq!(class.doc["groupTypes"], json!(["Unified"]));
        assert_eq!(class.doc["course"], json!({"displayName": "Biology 10 2021", "courseNumber": "B10"}));
        assert_eq!(class.doc["term"]["displayName"], json!("2021 School Year"));
        assert_eq!(b.related(&t, Relation::Owners, &biology).await, vec![kristen.id.clone()]);
        let mut students = vec![jack.clone(), fred.clone(), alice.clone()];
        students.sort();
        assert_eq!(b.related(&t, Relation::Members, &biology).await, students);
        let cs = class_id(&t, "112001");
        assert!(b.related(&t, Relation::Owners, &cs).await.is_empty(), "a professor is in neither mapping");
        assert_eq!(b.related(&t, Relation::Members, &cs).await, vec![simon.clone()]);

        // Schools: every org, with its people and classes.
        let school = rosterflow_engine::run::desire::object_id(t.as_str(), "school:110003");
        let school_obj = b.stores.directory.get(&t, &school).await.unwrap().unwrap();
        assert!(school_obj.education && school_obj.kind == ObjectKind::AdministrativeUnit);
        assert_eq!(school_obj.doc["displayName"], json!("School of TwoDotOne"));
        let mut expected = vec![jack.clone(), fred.clone(), alice.clone(), kristen.id.clone(), biology.clone()];
        expected.sort();
        assert_eq!(b.related(&t, Relation::Members, &school).await, expected);

        // Security groups: one per role group.
        let all_students = rosterflow_engine::run::desire::object_id(t.as_str(), "f-sg/sg:students");
        assert_eq!(b.related(&t, Relation::Members, &all_students).await.len(), 4);

        // Unchanged snapshot and configuration: the next run writes nothing.
        let before = b.versions(&t).await;
        let preview = run::preview(&b.ctx(&t)).await.unwrap();
        for f in &preview.flows {
            assert!(f.creates.is_empty() && f.updates.is_empty() && f.removals.is_empty(), "{f:#?}");
        }
        let (again, seen) = b.run(&t).await;
        assert_eq!(again, report, "the same inputs, the same outcome");
        assert!(seen.iter().all(|a| a.status != ActivityStatus::InProgress), "nothing was planned again");
        assert_eq!(b.versions(&t).await, before);
    }
}
