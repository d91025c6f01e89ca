//! Runs benchmark set-up (bench/runs.sh; figures in docs/benchmarks.md): a tenant configured as the issue's
//! district would be (a source system matching by username, an inbound flow, one flow set with the four
//! provisioning flows), and a district's files loaded as the inbound flow's snapshot. With `--drop-percent N`
//! every (100/N)th enrollment line is left out of the load (N % of enrollments gone since the last load).
//!
//! `cargo run --release -p rosterflow-engine --example runs_setup -- DIR DATABASE_URL TENANT [--drop-percent N]`

use std::sync::Arc;
use std::time::Instant;

use rosterflow_engine::inbound::validate_and_load;
use rosterflow_engine::source::MemorySource;
use rosterflow_engine::{NoProgress, Options};
use rosterflow_store::{Expect, Resource, Stores, TenantId, Write};
use serde_json::{json, Value};

async fn put(stores: &Stores, t: &TenantId, set: &str, id: &str, parent: Option<&str>, ty: &str, mut doc: Value) {
    doc["id"] = json!(id);
    let resource = Resource {
        set: set.into(),
        id: id.into(),
        parent: parent.map(str::to_string),
        odata_type: format!("microsoft.graph.industryData.{ty}"),
        doc: Arc::new(doc.as_object().expect("an object").clone()),
        version: 0,
    };
    match stores.resources.put(t, Write { resource, expect: Expect::Absent, unique: vec![], refs: vec![] }).await {
        Ok(()) | Err(rosterflow_store::StoreError::Exists) => {}
        Err(e) => panic!("{e}"),
    }
}

async fn configure(stores: &Stores, t: &TenantId) {
    let setting = |g: &str, p: i64| {
        json!({"matchTarget": {"code": "userPrincipalName"}, "priorityOrder": p,
               "roleGroup@odata.bind": g, "sourceIdentifier": {"code": "username"}})
    };
    put(
        stores,
        t,
        "sourceSystems",
        "ss",
        None,
        "sourceSystemDefinition",
        json!({"displayName": "SIS", "userMatchingSettings": [setting("staff", 0), setting("students", 1)]}),
    )
    .await;
    put(
        stores,
        t,
        "dataConnectors",
        "conn",
        None,
        "azureDataLakeConnector",
        json!({"displayName": "CSV", "sourceSystem@odata.bind": "ss"}),
    )
    .await;
    put(
        stores,
        t,
        "inboundFlows",
        "inbound",
        None,
        "inboundFileFlow",
        json!({"displayName": "Rostering",
        "dataConnector@odata.bind": "conn", "effectiveDateTime": "2020-01-01T00:00:00Z",
        "expirationDateTime": "2100-01-01T00:00:00Z"}),
    )
    .await;
    put(
        stores,
        t,
        "outboundProvisioningFlowSets",
        "set",
        None,
        "outboundProvisioningFlowSet",
        json!({"displayName": "District"}),
    )
    .await;
    let codes = |c: &[&str]| c.iter().map(|c| json!({"code": c})).collect::<Vec<_>>();
    let flows = [
        (
            "users",
            "userProvisioningFlow",
            json!({"createUnmatchedUsers": true,
            "managementOptions": {"additionalAttributes": ["userGradeLevel", "userNumber"], "additionalOptions": {"studentAgeGroup": "minor"}},
            "creationOptions": {"configurations": [
                {"roleGroup@odata.bind": "staff", "licenseSkus": ["94763226-9b3c-4e75-a931-5c89701abe66"]},
                {"roleGroup@odata.bind": "students", "licenseSkus": ["314c4481-f395-4525-be8b-2ec4bb1e9d91"]}]}}),
        ),
        (
            "groups",
            "securityGroupProvisioningFlow",
            json!({"creationOptions": {"createBasedOnRoleGroup": true, "createBasedOnOrgPlusRoleGroup": true}}),
        ),
        (
            "units",
            "administrativeUnitProvisioningFlow",
            json!({"creationOptions": {"createBasedOnOrg": true, "createBasedOnOrgPlusRoleGroup": false}}),
        ),
        (
            "classes",
            "classGroupProvisioningFlow",
            json!({"configuration": {
            "additionalAttributes": ["courseTitle", "courseCode", "academicSessionTitle", "classCode"],
            "additionalOptions": {"createTeam": true, "writeDisplayNameOnCreateOnly": false},
            "enrollmentMappings": {"ownerEnrollmentMappings": codes(&["teacher"]),
                                   "memberEnrollmentMappings": codes(&["student", "teacher", "aide"])}}}),
        ),
    ];
    for (id, ty, doc) in flows {
        put(stores, t, "provisioningFlows", id, Some("set"), ty, doc).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, url, tenant) = (&args[1], &args[2], TenantId(args[3].clone()));
    let drop_percent: usize = match args.get(4).map(String::as_str) {
        Some("--drop-percent") => args[5].parse().expect("a percentage"),
        _ => 0,
    };
    let stores = rosterflow_store::open(url).await.expect("open the store");
    configure(&stores, &tenant).await;
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).expect("the district's folder") {
        let path = e.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut bytes = std::fs::read(&path).expect("a file");
        if name == "enrollments.csv" && drop_percent > 0 {
            let every = 100 / drop_percent;
            let text = String::from_utf8(bytes).expect("UTF-8");
            bytes = text
                .lines()
                .enumerate()
                .filter(|(i, _)| *i == 0 || i % every != 0)
                .flat_map(|(_, l)| [l, "\n"])
                .collect::<String>()
                .into_bytes();
        }
        files.push((name, bytes));
    }
    let t = Instant::now();
    let out = validate_and_load(
        stores.roster.clone(),
        tenant,
        vec!["inbound".into()],
        Box::new(MemorySource::new(files)),
        Options::default(),
        Arc::new(NoProgress),
    )
    .await
    .expect("validate and load");
    let s = out.snapshot("inbound").expect("loaded").clone();
    println!(
        "snapshot {} loaded in {:.2} s: {} records, {} inserted, {} changed, {} removed",
        s.seq,
        t.elapsed().as_secs_f64(),
        s.records,
        s.inserted,
        s.changed,
        s.removed
    );
}
