//! The harness: a store per backend, a tenant's configuration as stored documents, snapshots, runs.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use rosterflow_engine::inbound::validate_and_load;
use rosterflow_engine::run::{self, ActivityReport, RunContext, RunObserver, RunReport};
use rosterflow_engine::source::{FileSource, MemorySource};
use rosterflow_engine::{NoProgress, Options};
use rosterflow_model::directory::{Relation, DIRECTORY_OBJECT};
use rosterflow_store::directory::{ListQuery, Related};
use rosterflow_store::secrets::Sealer;
use rosterflow_store::{open, Expect, Resource, Stores, TenantId, Write};
use serde_json::{json, Value};

pub enum Raw {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

pub struct Backend {
    pub stores: Stores,
    pub raw: Raw,
    pub sealer: Sealer,
}

pub async fn backends() -> Vec<Backend> {
    let dir = std::env::temp_dir().join(format!("rosterflow-runs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sealer = || Sealer::from_key_file(&dir.join("secrets.key")).unwrap();
    let db = dir.join("db.sqlite3");
    let mut out =
        vec![Backend { stores: open(db.to_str().unwrap()).await.unwrap(), raw: Raw::Sqlite(db), sealer: sealer() }];
    if let Some(admin) = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let prefix = std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into());
        let name = format!("{prefix}runs_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{prefix}/{name}");
        out.push(Backend { stores: open(&url).await.unwrap(), raw: Raw::Postgres(url), sealer: sealer() });
    }
    out
}

pub fn tenant() -> TenantId {
    TenantId(format!("t-{}", uuid::Uuid::new_v4()))
}

pub const SET: &str = "set-1";
pub const INBOUND: &str = "inbound-1";

impl Backend {
    pub async fn put(&self, t: &TenantId, set: &str, id: &str, parent: Option<&str>, ty: &str, mut doc: Value) {
        doc["id"] = json!(id); // stored documents carry their id, as the API writes them
        let resource = Resource {
            set: set.into(),
            id: id.into(),
            parent: parent.map(str::to_string),
            odata_type: format!("microsoft.graph.industryData.{ty}"),
            doc: Arc::new(doc.as_object().unwrap().clone()),
            version: 0,
        };
        self.stores
            .resources
            .put(t, Write { resource, expect: Expect::Absent, unique: vec![], refs: vec![] })
            .await
            .unwrap();
    }

    /// Change a stored document as a PATCH would.
    pub async fn patch(
        &self,
        t: &TenantId,
        set: &str,
        id: &str,
        change: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) {
        let mut r = self.stores.resources.get(t, set, id).await.unwrap().unwrap();
        let version = r.version;
        change(Arc::make_mut(&mut r.doc));
        self.stores
            .resources
            .put(t, Write { resource: r, expect: Expect::Version(version), unique: vec![], refs: vec![] })
            .await
            .unwrap();
    }

    /// A source system matching staff and students by username to UPN, its connector, an inbound flow active
    /// now, and a flow set (with `filter` when given) holding `flows` (`(id, type, document)`).
    pub async fn configure(&self, t: &TenantId, filter: Option<&[&str]>, flows: &[(&str, &str, Value)]) {
        let setting = |g: &str, p: i64| {
            json!({"matchTarget": {"code": "userPrincipalName"}, "priorityOrder": p,
                   "roleGroup@odata.bind": g, "sourceIdentifier": {"code": "username"}})
        };
        self.put(
            t,
            "sourceSystems",
            "ss-1",
            None,
            "sourceSystemDefinition",
            json!({"displayName": "SIS", "userMatchingSettings": [setting("staff", 0), setting("students", 1)]}),
        )
        .await;
        self.put(
            t,
            "dataConnectors",
            "conn-1",
            None,
            "azureDataLakeConnector",
            json!({"displayName": "CSV", "sourceSystem@odata.bind": "ss-1"}),
        )
        .await;
        self.put(
            t,
            "inboundFlows",
            INBOUND,
            None,
            "inboundFileFlow",
            json!({
            "displayName": "2026 rostering", "dataConnector@odata.bind": "conn-1",
            "effectiveDateTime": "2020-01-01T00:00:00Z", "expirationDateTime": "2100-01-01T00:00:00Z"}),
        )
        .await;
        let mut set = json!({"displayName": "District"});
        if let Some(orgs) = filter {
            set["filter"] = json!({"attribute": "orgExternalId", "in": orgs});
        }
        self.put(t, "outboundProvisioningFlowSets", SET, None, "outboundProvisioningFlowSet", set).await;
        for (id, ty, doc) in flows {
            self.put(t, "provisioningFlows", id, Some(SET), ty, doc.clone()).await;
        }
    }

    pub async fn load(&self, t: &TenantId, source: impl FileSource + Send + 'static) {
        let out = validate_and_load(
            self.stores.roster.clone(),
            t.clone(),
            vec![INBOUND.into()],
            Box::new(source),
            Options::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert!(!out.outcome.report.has_errors());
        assert!(out.snapshot(INBOUND).is_some());
    }

    pub fn ctx<'a>(&'a self, t: &'a TenantId) -> RunContext<'a> {
        RunContext { stores: &self.stores, sealer: &self.sealer, tenant: t, now: Utc::now() }
    }

    pub async fn run(&self, t: &TenantId) -> (RunReport, Vec<ActivityReport>) {
        let seen = Seen::default();
        let report = run::run(&self.ctx(t), &seen).await.unwrap();
        (report, seen.0.into_inner().unwrap())
    }

    /// Ids related to `of`, sorted.
    pub async fn related(&self, t: &TenantId, relation: Relation, of: &str) -> Vec<String> {
        let q = ListQuery {
            view: &DIRECTORY_OBJECT,
            kind: None,
            education: false,
            related: Some(Related::Of { relation, of: of.to_string() }),
            filter: None,
            search: None,
            order: &[],
            after: None,
            limit: 10_000,
            visible_to: None,
        };
        let mut ids: Vec<String> =
            self.stores.directory.list(t, &q).await.unwrap().objects.into_iter().map(|o| o.id).collect();
        ids.sort();
        ids
    }

    pub async fn id_of_upn(&self, t: &TenantId, upn: &str) -> String {
        self.stores.directory.get_by_upn(t, upn).await.unwrap().unwrap_or_else(|| panic!("no user {upn}")).id
    }

    /// Every object's (id, version), to tell whether a run wrote anything.
    pub async fn versions(&self, t: &TenantId) -> Vec<(String, i64)> {
        let q = ListQuery {
            view: &DIRECTORY_OBJECT,
            kind: None,
            education: false,
            related: None,
            filter: None,
            search: None,
            order: &[],
            after: None,
            limit: 100_000,
            visible_to: None,
        };
        let mut v: Vec<(String, i64)> =
            self.stores.directory.list(t, &q).await.unwrap().objects.into_iter().map(|o| (o.id, o.version)).collect();
        v.sort();
        v
    }
}

/// Every activity report, in the order the run made them.
#[derive(Default)]
pub struct Seen(pub Mutex<Vec<ActivityReport>>);

impl RunObserver for Seen {
    fn activity(&self, report: &ActivityReport) {
        self.0.lock().unwrap().push(report.clone());
    }
}

pub fn class_flow(members: &[&str], owners: &[&str]) -> Value {
    let codes = |c: &[&str]| c.iter().map(|c| json!({"code": c})).collect::<Vec<_>>();
    json!({"configuration": {
        "additionalAttributes": ["courseTitle", "courseCode", "academicSessionTitle", "classCode"],
        "additionalOptions": {"createTeam": true, "writeDisplayNameOnCreateOnly": false},
        "enrollmentMappings": {"memberEnrollmentMappings": codes(members), "ownerEnrollmentMappings": codes(owners)}}})
}

pub fn memory(files: &[(&str, &str)]) -> MemorySource {
    MemorySource::new(files.iter().map(|(n, b)| (n.to_string(), b.as_bytes().to_vec())))
}

/// A class's id (derived from what it stands for, see `desire::object_id`).
pub fn class_id(t: &TenantId, sourced_id: &str) -> String {
    rosterflow_engine::run::desire::object_id(t.as_str(), &format!("class:{INBOUND}:{sourced_id}"))
}
