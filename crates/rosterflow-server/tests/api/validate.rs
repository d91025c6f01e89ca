//! `dataConnectors/{id}/validate` over real HTTP: files uploaded by raw Azure Storage requests (Put Blob), the
//! action's 202 and `Location`, the `fileValidateOperation` polled to its end, the snapshot it leaves in the
//! inbound flows of the connector, and its findings for the real sample sets (tests/fixtures/rosters), line by
//! line. The Azure and Graph SDKs drive the same path in `tests/sdk/test_upload_sessions.py`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use rosterflow_store::roster::Scan;
use rosterflow_store::TenantId;
use serde_json::{json, Value};

use crate::common::*;
use crate::uploads::{lake, zip_of, Session};

const NS: &str = "microsoft.graph.industryData";
const GRAPH: &str = "https://graph.microsoft.com/beta/external/industryData";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rosters").join(name)
}

/// The files of a fixture set, by name.
pub(crate) fn files_of(name: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(fixture(name))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// An inbound file flow fed by `connector`.
async fn flow(c: &Client, connector: &str) -> String {
    let year =
        json!({"displayName": "2025", "endDate": "2026-06-30", "startDate": "2025-07-01", "year": {"code": "2025"}});
    let year = c.post("years", year).await.expect(201).id();
    let body = json!({
        "@odata.type": format!("#{NS}.inboundFileFlow"),
        "dataConnector@odata.bind": format!("{GRAPH}/dataConnectors/{connector}"),
        "dataDomain": "educationRostering",
        "displayName": "Rostering",
        "effectiveDateTime": "2025-07-01T00:00:00Z",
        "year@odata.bind": format!("{GRAPH}/years/{year}")
    });
    c.post("inboundFlows", body).await.expect(201).id()
}

/// A new session of `connector` with `files` uploaded by Put Blob.
pub(crate) async fn upload(c: &Client, connector: &str, files: &[(String, Vec<u8>)]) -> Session {
    let s = Session::get(c, connector, false).await;
    for (name, data) in files {
        s.put_blob(name, data).await.ok(201);
    }
    s
}

/// POST validate: 202, and the operation's URL from `Location`.
pub(crate) async fn validate(c: &Client, connector: &str) -> String {
    let r = c.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await;
    r.expect(202);
    let location = r.header("location").expect("a Location header").to_string();
    assert!(location.contains(&format!("{BASE}/operations/")), "{location}");
    location
}

/// Poll the operation until it is done; returns it and every status seen on the way.
pub(crate) async fn poll(c: &Client, location: &str) -> (Value, Vec<String>) {
    let path = &location[location.find(BASE).unwrap() + BASE.len() + 1..];
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..1200 {
        let op = c.get(path).await.expect(200).body.clone();
        let status = op["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status != "notStarted" && status != "running" {
            return (op, seen);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the operation did not finish: {seen:?}");
}

/// Every example of every finding as `E|W code target` (the detail's target: file, line, column).
fn lines(op: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (sev, key) in [("E", "errors"), ("W", "warnings")] {
        for e in op[key].as_array().unwrap() {
            let details = e["details"].as_array().unwrap();
            if details.is_empty() {
                out.push(format!("{sev} {} {}", e["code"].as_str().unwrap(), e["target"].as_str().unwrap()));
            }
            for d in details {
                out.push(format!("{sev} {} {}", d["code"].as_str().unwrap(), d["target"].as_str().unwrap()));
            }
        }
    }
    out
}

#[tokio::test]
async fn microsofts_sample_validates_becomes_the_snapshot_and_a_removed_record_goes_inactive() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    c.patch(
        &format!("dataConnectors/{connector}"),
        json!({"@odata.type": format!("#{NS}.azureDataLakeConnector"), "fileFormat": {"code": "schoolDataSyncV2Rev1"}}),
    )
    .await
    .expect(204);
    let flow = flow(&c, &connector).await;
    let tenant = TenantId(server.tenant.clone());
    let sample = files_of("microsoft-sds-v2.1");
    let session = upload(&c, &connector, &sample).await;

    let location = validate(&c, &connector).await;
    let (op, seen) = poll(&c, &location).await;
    assert_eq!(op["@odata.type"], format!("#{NS}.fileValidateOperation"));
    assert_eq!(op["status"], "succeeded", "{op:#}");
    assert!(seen.iter().all(|s| ["notStarted", "running", "succeeded"].contains(&s.as_str())), "{seen:?}");
    assert_eq!(lines(&op), Vec::<String>::new());
    let mut validated: Vec<&str> =
        op["validatedFiles"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    validated.sort();
    let mut names: Vec<&str> = sample.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(validated, names);
    assert!(op["createdDateTime"].as_str().unwrap() <= op["lastActionDateTime"].as_str().unwrap());
    assert!(op["resourceLocation"].as_str().unwrap().ends_with(&format!("/dataConnectors/{connector}")));
    assert!(op["statusDetail"].as_str().unwrap().contains(&format!("snapshot 1 of inbound flow {flow}")), "{op:#}");

    let s1 = server.state.stores.roster.latest_snapshot(&tenant, &flow).await.unwrap().expect("a snapshot");
    assert_eq!((s1.seq, s1.records, s1.inserted), (1, 44, 44));
    assert_eq!(s1.format, "schoolDataSyncV2Rev1");
    // The session ended: its signature is refused, and there is nothing left to validate.
    assert_eq!(session.put_blob("users.csv", b"x").await.status.as_u16(), 403);
    let again = c.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await;
    assert_eq!(again.error(409)["code"], "Conflict", "{}", again.text);

    // The next upload (a new session) drops one enrollment and forgets userFlags.csv.
    let mut second = sample.clone();
    second.retain(|(n, _)| n != "userFlags.csv");
    let enrollments = second.iter_mut().find(|(n, _)| n == "enrollments.csv").unwrap();
    let text = String::from_utf8(enrollments.1.clone()).unwrap().replace("112001,114008,student\r\n", "");
    assert_ne!(text.len(), enrollments.1.len());
    enrollments.1 = text.into_bytes();
    let next = upload(&c, &connector, &second).await;
    assert_ne!(next.container(), session.container(), "a new container");
    // The qualified name reaches the same action.
    let r = c.send(Method::POST, &format!("dataConnectors/{connector}/{NS}.validate"), None).await;
    let (op, _) = poll(&c, r.expect(202).header("location").unwrap()).await;
    assert_eq!(op["status"], "succeeded");
    assert_eq!(lines(&op), ["W PreviouslyUploadedFileNotFound userFlags.csv"]);
    let s2 = server.state.stores.roster.latest_snapshot(&tenant, &flow).await.unwrap().unwrap();
    assert_eq!((s2.seq, s2.inserted, s2.changed, s2.removed, s2.records), (2, 0, 0, 4, 40));
    let mut rx = server.state.stores.roster.scan(&tenant, &flow, Scan::ChangedSince(1)).await.unwrap();
    let mut changed = Vec::new();
    while let Some(chunk) = rx.recv().await {
        changed.extend(chunk.unwrap());
    }
    assert!(changed.iter().all(|r| r.removed_in == Some(2) && r.first_seen == 1), "{changed:?}");
    assert!(changed.iter().any(|r| r.key == "112001\u{1f}114008\u{1f}student"), "the enrollment is inactive");

    // Deleting the flow deletes its snapshots.
    c.delete(&format!("inboundFlows/{flow}")).await.expect(204);
    assert!(server.state.stores.roster.snapshots(&tenant, &flow).await.unwrap().is_empty());
}

#[tokio::test]
async fn messy_sets_give_their_findings_line_by_line() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;

    upload(&c, &connector, &files_of("sdslib-v2.1")).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    assert_eq!(op["status"], "succeeded");
    let mut got = lines(&op);
    got.sort();
    let mut expected = vec![
        "E InvalidYear academicSessions.csv, line 2, column schoolYear",
        "W ReferenceNotFound courses.csv, line 2, column schoolYearSourcedId",
        "W InvalidReferenceCode courses.csv, line 2, column subject",
        "W InvalidPhoneNumber users.csv, line 2, column phone",
        "W InvalidPhoneNumber users.csv, line 2, column sms",
        "W ReferenceNotFound roles.csv, line 2, column sessionSourcedIds",
        "W InvalidReferenceCode roles.csv, line 2, column grade",
        "W InvalidDate roles.csv, line 2, column roleStartDate",
        "W InvalidDate roles.csv, line 2, column roleEndDate",
        "W ReferenceNotFound classes.csv, line 2, column sessionSourcedIds",
        "E FieldCountMismatch demographics.csv, line 2",
    ];
    expected.sort();
    assert_eq!(got, expected, "{op:#}");
    assert!(!op["validatedFiles"].as_array().unwrap().is_empty(), "record errors don't refuse the upload");

    // OneRoster 1.2 with typos in its headers: roles.csv lacks a required header, so the upload is refused.
    upload(&c, &connector, &files_of("catalyst-oneroster-1.2")).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    let got = lines(&op);
    for expected in [
        "W IncorrectFileName userprofiles.csv",
        "W UnknownHeader users.csv, line 1, column prefferedGivenName",
        "W UnknownHeader users.csv, line 1, column prefferedMiddleName",
        "W UnknownHeader users.csv, line 1, column prefferedFamilyName",
        "W UnknownHeader roles.csv, line 1, column dataLastModified",
        "E RequiredHeaderNotFound roles.csv, line 1, column dateLastModified",
    ] {
        assert!(got.contains(&expected.to_string()), "{expected} in {got:#?}");
    }
    assert_eq!(op["status"], "succeeded", "validation ran to its end");
    assert_eq!(op["validatedFiles"], json!([]), "nothing of a refused upload is processed");

    // OneRoster 1.1 with orphan enrollments: errors drop the records, the rest validates.
    upload(&c, &connector, &files_of("catalyst-oneroster-1.1")).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    let got: Vec<String> = lines(&op).into_iter().filter(|l| !l.contains("InvalidPhoneNumber")).collect();
    for expected in [
        "W ReferenceNotFound orgs.csv, line 2, column parentSourcedId",
        "E ReferenceNotFound enrollments.csv, line 5, column classSourcedId",
        "E ReferenceNotFound enrollments.csv, line 7, column classSourcedId",
    ] {
        assert!(got.contains(&expected.to_string()), "{expected} in {got:#?}");
    }
    assert!(op["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "InvalidPhoneNumber"), "{op:#}");
}

#[tokio::test]
async fn a_zip_of_sds_v1_files_validates_like_loose_files() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let files = files_of("microsoft-sds-v1-min");
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    upload(&c, &connector, &[("roster.zip".to_string(), zip_of(&entries))]).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    assert_eq!(op["status"], "succeeded");
    assert_eq!(lines(&op), Vec::<String>::new());
    assert_eq!(op["validatedFiles"].as_array().unwrap().len(), 6);

    // A file both inside and outside the zip is catastrophic.
    let mut both = vec![("roster.zip".to_string(), zip_of(&entries))];
    both.push(files[0].clone());
    upload(&c, &connector, &both).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    assert!(lines(&op).iter().any(|l| l.starts_with("E DuplicateFile")), "{op:#}");
    assert_eq!(op["validatedFiles"], json!([]));
}

#[tokio::test]
async fn an_empty_container_reports_the_missing_files() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    Session::get(&c, &connector, false).await;
    let (op, _) = poll(&c, &validate(&c, &connector).await).await;
    assert_eq!(op["status"], "succeeded", "as the docs' example: missing files are findings");
    let errors: Vec<&str> = op["errors"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
    for required in ["orgs.csv", "users.csv", "roles.csv"] {
        assert!(errors.contains(&required), "{required} in {op:#}");
    }
    assert!(op["errors"].as_array().unwrap().iter().all(|e| e["code"] == "RequiredFileNotFound"));
    assert_eq!(op["validatedFiles"], json!([]));
}

#[tokio::test]
async fn validate_needs_its_permission_a_data_lake_connector_and_an_open_session() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    // No session yet.
    let r = c.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await;
    assert!(r.error(409)["message"].as_str().unwrap().contains("getUploadSession"), "{}", r.text);
    // Least privilege: IndustryData-DataConnector.Upload; reading the operation: IndustryData.ReadBasic.All.
    upload(&c, &connector, &files_of("microsoft-sds-v2.1")).await;
    let reader = server.as_("IndustryData.ReadBasic.All IndustryData-DataConnector.Read.All");
    let r = reader.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await;
    assert_eq!(r.error(403)["code"], "Authorization_RequestDenied", "{}", r.text);
    let uploader = server.as_("IndustryData-DataConnector.Upload");
    let location = validate(&uploader, &connector).await;
    uploader.get(&location[location.find(BASE).unwrap() + BASE.len() + 1..]).await.error(403);
    let (op, _) = poll(&server.as_("IndustryData.ReadBasic.All"), &location).await;
    assert_eq!(op["status"], "succeeded");
    // GET on the action, a body-less POST to another tenant's connector, an API connector.
    c.get(&format!("dataConnectors/{connector}/validate")).await.error(405);
    let other = server.token_for("another-tenant", &all_permissions());
    let stranger = Client { url: server.url.clone(), token: Some(other), http: reqwest::Client::new() };
    stranger.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await.error(404);
    stranger.get(&location[location.find(BASE).unwrap() + BASE.len() + 1..]).await.error(404);
    let ss = c.post("sourceSystems", json!({"displayName": "API", "userMatchingSettings": []})).await.expect(201).id();
    let api = crate::configuration_api::one_roster_body(&ss);
    let api = c.post("dataConnectors", api).await.expect(201).id();
    let r = c.send(Method::POST, &format!("dataConnectors/{api}/validate"), None).await;
    assert!(r.error(400)["message"].as_str().unwrap().contains("azureDataLakeConnector"), "{}", r.text);
}

#[tokio::test]
async fn an_operation_whose_server_stopped_reads_as_failed() {
    let server = TestServer::start().await;
    let c = server.admin();
    let tenant = TenantId(server.tenant.clone());
    // As a server that crashed mid-validation leaves it: running, its last action minutes ago.
    let id = uuid::Uuid::new_v4().to_string();
    let then = "2020-01-01T00:00:00Z";
    let doc = json!({"id": id, "createdDateTime": then, "lastActionDateTime": then, "status": "running",
        "statusDetail": "running: validating users.csv", "errors": [], "warnings": [], "validatedFiles": []});
    let resource = rosterflow_store::Resource {
        set: "operations".into(),
        id: id.clone(),
        parent: None,
        odata_type: format!("{NS}.fileValidateOperation"),
        doc: std::sync::Arc::new(doc.as_object().unwrap().clone()),
        version: 0,
    };
    let write =
        rosterflow_store::Write { resource, expect: rosterflow_store::Expect::Absent, unique: vec![], refs: vec![] };
    server.state.stores.resources.put(&tenant, write).await.unwrap();
    let op = c.get(&format!("operations/{id}")).await.expect(200).body.clone();
    assert_eq!(op["status"], "failed", "{op:#}");
    let listed = c.get("operations?$filter=status eq 'failed'").await.expect(200).body.clone();
    assert_eq!(listed["value"].as_array().unwrap().len(), 1, "{listed:#}");
}

#[tokio::test]
async fn a_client_polling_sees_the_validation_run() {
    let server = TestServer::start().await;
    let c = server.admin();
    let connector = lake(&c).await;
    let dir = temp_dir().join("district");
    let district = rosterflow_engine::generate::District { students: 20_000, ..Default::default() };
    let summary = rosterflow_engine::generate::generate(&district, &dir).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    upload(&c, &connector, &files).await;
    let location = validate(&c, &connector).await;
    let path = &location[location.find(BASE).unwrap() + BASE.len() + 1..];
    let mut details = Vec::new();
    let op = loop {
        let op = c.get(path).await.expect(200).body.clone();
        if op["status"] == "running" {
            details.push(op["statusDetail"].as_str().unwrap().to_string());
        }
        if op["status"] == "succeeded" || op["status"] == "failed" {
            break op;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(op["status"], "succeeded", "{op:#}");
    assert!(!details.is_empty(), "the operation was seen running");
    assert!(details.iter().all(|d| d.starts_with("running: validat")), "{details:?}");
    assert_eq!(op["errors"], json!([]), "{op:#}");
    assert_eq!(op["validatedFiles"].as_array().unwrap().len(), files.len());
    assert!(summary.enrollments > 100_000);
}
