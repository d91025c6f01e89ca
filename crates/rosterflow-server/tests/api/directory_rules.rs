//! The directory's rules beyond reading and writing, over real HTTP on SQLite or PostgreSQL: what a delegated
//! caller sees of classes and education users, teachers added and removed with `$ref` as group owners, and a
//! group's `mailNickname` unique in its tenant.

use rosterflow_server::auth::TokenSpec;
use serde_json::json;

use crate::common::TestServer;
use crate::directory::{app_client, delegated_as, ids, seed_school, user_body};

fn link(id: &str) -> serde_json::Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")})
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn delegated_callers_see_their_own_classes_and_account() {
    let s = TestServer::start().await;
    let sc = seed_school(&s, &s.tenant.clone(), 3).await;
    let (class0, class1) = (&sc.classes[0], &sc.classes[1]);
    // A student of class 0 (class 1 has only teacher 1).
    let d = delegated_as(&s, "EduRoster.ReadBasic", &sc.students[0]);
    assert_eq!(ids(d.get("/beta/education/classes").await.expect(200)), vec![class0.clone()]);
    d.get(&format!("/beta/education/classes/{class0}")).await.expect(200);
    for path in ["", "/members", "/teachers", "/schools"] {
        d.get(&format!("/beta/education/classes/{class1}{path}")).await.error(404);
    }
    let members = d.get(&format!("/beta/education/classes/{class0}/members")).await;
    assert_eq!(ids(members.expect(200)).len(), 4, "3 students and teacher 0");
    for m in members.body["value"].as_array().unwrap() {
        assert!(m.get("externalSource").is_none() && m.get("createdDateTime").is_none(), "limited: {m}");
        assert!(m["userPrincipalName"].is_string());
    }
    assert_eq!(ids(d.get(&format!("/beta/education/classes/{class0}/teachers")).await.expect(200)).len(), 1);
    // Its own account only, and only its own classes wherever classes are listed.
    d.get(&format!("/beta/education/users/{}", sc.students[0])).await.expect(200);
    d.get(&format!("/beta/education/users/{}", sc.students[1])).await.error(404);
    d.get(&format!("/beta/education/users/{}/classes", sc.students[1])).await.error(404);
    let mine = d.get(&format!("/beta/education/users/{}/classes", sc.students[0])).await;
    assert_eq!(ids(mine.expect(200)), vec![class0.clone()]);
    let of_school = d.get(&format!("/beta/education/schools/{}/classes", sc.school)).await;
    assert_eq!(ids(of_school.expect(200)), vec![class0.clone()]);
    // A delegated token without a user of this directory sees no class; an application sees every class.
    let nobody = crate::common::client_for(
        &s.url,
        s.token_with(&TokenSpec::delegated(&s.tenant, &["EduRoster.ReadBasic".to_string()])),
    );
    assert!(ids(nobody.get("/beta/education/classes").await.expect(200)).is_empty());
    nobody.get(&format!("/beta/education/classes/{class0}")).await.error(404);
    let app = app_client(&s, "EduRoster.Read.All");
    assert_eq!(ids(app.get("/beta/education/classes").await.expect(200)).len(), 2);
}

#[tokio::test]
async fn teachers_are_added_and_removed_as_group_owners() {
    let s = TestServer::start().await;
    let sc = seed_school(&s, &s.tenant.clone(), 2).await;
    let (class1, teacher0) = (&sc.classes[1], &sc.teachers[0]);
    let app = app_client(&s, "EduRoster.ReadWrite.All Group.Read.All Member.Read.Hidden EduRoster.Read.All");
    let teacher = delegated_as(&s, "EduRoster.ReadBasic", teacher0);
    assert_eq!(ids(teacher.get("/beta/education/classes").await.expect(200)), vec![sc.classes[0].clone()]);

    let teachers = format!("/beta/education/classes/{class1}/teachers");
    app.post(&format!("{teachers}/$ref"), link(teacher0)).await.expect(204);
    // Graph's class teachers are its group's owners; the teacher now sees the class.
    let owners = app.get(&format!("/beta/groups/{class1}/owners")).await;
    assert_eq!(sorted(ids(owners.expect(200))), sorted(vec![sc.teachers[1].clone(), teacher0.clone()]));
    assert_eq!(
        sorted(ids(app.get(&teachers).await.expect(200))),
        sorted(vec![sc.teachers[1].clone(), teacher0.clone()])
    );
    assert_eq!(ids(teacher.get("/beta/education/classes").await.expect(200)).len(), 2);
    // Twice, a missing user, a group: the documented 4xx.
    let again = app.post(&format!("{teachers}/$ref"), link(teacher0)).await;
    assert!(again.error(400)["message"].as_str().unwrap().contains("already exist"), "{}", again.text);
    app.post(&format!("{teachers}/$ref"), link(&rosterflow_model::directory::new_id())).await.error(404);
    app.post(&format!("{teachers}/$ref"), link(&sc.classes[0])).await.error(400);

    app.delete(&format!("{teachers}/{teacher0}/$ref")).await.expect(204);
    assert_eq!(ids(app.get(&format!("/beta/groups/{class1}/owners")).await.expect(200)), vec![sc.teachers[1].clone()]);
    assert_eq!(ids(teacher.get("/beta/education/classes").await.expect(200)), vec![sc.classes[0].clone()]);
    app.delete(&format!("{teachers}/{teacher0}/$ref")).await.error(404);
    // Only what the permission table grants: a delegated read-only caller can't add a teacher.
    teacher.post(&format!("/beta/education/classes/{}/teachers/$ref", sc.classes[0]), link(teacher0)).await.error(403);
}

#[tokio::test]
async fn group_mail_nicknames_are_unique_in_a_tenant() {
    let s = TestServer::start().await;
    let admin = app_client(&s, "Group.ReadWrite.All EduRoster.ReadWrite.All User.ReadWrite.All");
    let group =
        |nick: &str| json!({"displayName": "G", "mailNickname": nick, "mailEnabled": false, "securityEnabled": true});
    let first = admin.post("/beta/groups", group("staff")).await.expect(201).id();
    let duplicate = admin.post("/beta/groups", group("STAFF")).await;
    let e = duplicate.error(409);
    assert_eq!(e["message"], "Another object with the same value for property mailNickname already exists.");
    // A class is a group.
    let class = json!({"displayName": "Bio", "mailNickname": "Staff", "externalId": "B1"});
    admin.post("/beta/education/classes", class).await.error(409);
    // PATCH to a taken alias; the refused write changes nothing.
    let other = admin.post("/beta/groups", group("other")).await.expect(201).id();
    admin
        .patch(&format!("/beta/groups/{other}"), json!({"mailNickname": "staff", "description": "x"}))
        .await
        .error(409);
    let kept = admin.get(&format!("/beta/groups/{other}")).await;
    assert_eq!(kept.expect(200).body["mailNickname"], "other");
    assert!(kept.body["description"].is_null(), "{}", kept.text);
    // Users are not groups; another tenant has aliases of its own; a deleted group's alias is free again.
    admin.post("/beta/users", user_body("staff@x.test", "Staff")).await.expect(201);
    let elsewhere = crate::common::client_for(
        &s.url,
        s.token_with(&TokenSpec::application(
            &format!("other-{}", rosterflow_model::directory::new_id()),
            &["Group.ReadWrite.All".to_string()],
        )),
    );
    elsewhere.post("/beta/groups", group("staff")).await.expect(201);
    admin.delete(&format!("/beta/groups/{first}")).await.expect(204);
    admin.post("/beta/groups", group("Staff")).await.expect(201);
}

#[tokio::test]
async fn directory_objects_are_read_by_id_through_their_own_type() {
    let s = TestServer::start().await;
    let sc = seed_school(&s, &s.tenant.clone(), 1).await;
    let c = app_client(&s, "Directory.Read.All");
    for (id, ty) in [
        (&sc.students[0], "#microsoft.graph.user"),
        (&sc.classes[0], "#microsoft.graph.group"),
        (&sc.school, "#microsoft.graph.administrativeUnit"),
    ] {
        let r = c.get(&format!("/beta/DirectoryObjects/{id}")).await;
        assert_eq!(r.expect(200).body["@odata.type"], ty, "{}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        assert!(r.body["@odata.context"].as_str().unwrap().ends_with("$metadata#directoryObjects/$entity"));
    }
    let user = c.get(&format!("/beta/directoryObjects/{}", sc.students[0])).await;
    assert_eq!(user.body["userPrincipalName"], "Student.00@school.test");
    assert!(user.body.get("passwordProfile").is_none());
    c.get(&format!("/beta/directoryObjects/{}", rosterflow_model::directory::new_id())).await.error(404);
    c.get("/beta/directoryObjects").await.error(405);
    c.delete(&format!("/beta/directoryObjects/{}", sc.students[0])).await.error(405);
    app_client(&s, "Group.Read.All User.Read.All")
        .get(&format!("/beta/directoryObjects/{}", sc.school))
        .await
        .error(403);
}
