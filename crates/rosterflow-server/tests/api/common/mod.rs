//! Test harness: real servers on loopback port 0, real HTTP, a real store.
//!
//! The backend is SQLite in a fresh temp directory unless `ROSTERFLOW_TEST_DATABASE_URL` names a PostgreSQL
//! server (e.g. `postgres://postgres@127.0.0.1:5432/test`): then each test binary creates its own database
//! there and every test in it uses a tenant of its own, which tenant isolation keeps apart.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::Duration;

use reqwest::{Method, StatusCode};
use rosterflow_server::auth::{dev_token, TokenSpec};
use rosterflow_server::config::{ServeArgs, UploadArgs};
use rosterflow_server::runs::RunArgs;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

pub const BASE: &str = "/beta/external/industryData";
pub const OUTBOUND_RW: &str = "IndustryData-OutboundFlow.ReadWrite.All";
pub const OUTBOUND_R: &str = "IndustryData-OutboundFlow.Read.All";
/// Every permission this server knows: a token for tests that exercise everything.
pub fn all_permissions() -> String {
    rosterflow_model::permissions::all().join(" ")
}

/// A PostgreSQL database for this test binary, created on first use.
async fn postgres_url() -> Option<String> {
    static DB: OnceCell<Option<String>> = OnceCell::const_new();
    DB.get_or_init(|| async {
        let admin = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let name = format!("{}test_{}", test_database_prefix(), uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.expect("connect to the test PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create test database");
        let (prefix, _) = admin.rsplit_once('/').expect("a database URL ends in /DBNAME");
        Some(format!("{prefix}/{name}"))
    })
    .await
    .clone()
}

/// Test databases are named with this prefix: `ROSTERFLOW_TEST_DB_PREFIX` when set (`scripts/test.sh` sets one
/// per run and drops that run's databases when it ends), otherwise `rosterflow_`.
pub fn test_database_prefix() -> String {
    std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into())
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rosterflow-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// On PostgreSQL, every server of this test binary shares one database, so it shares what replicas must share
/// too: one secrets key file (the database holds values sealed under it, such as the upload signing key) and
/// one store of uploaded files (any replica's sweeper removes any expired container's files).
async fn shared_secrets_key() -> Option<PathBuf> {
    Some(shared_dir().await?.join("secrets.key"))
}

async fn shared_files() -> Option<String> {
    Some(shared_dir().await?.join("files").display().to_string())
}

async fn shared_dir() -> Option<PathBuf> {
    static DIR: OnceCell<PathBuf> = OnceCell::const_new();
    postgres_url().await?;
    Some(DIR.get_or_init(|| async { temp_dir() }).await.clone())
}

pub async fn serve_args(data_dir: &Path) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        database_url: postgres_url().await,
        jwks_file: None,
        jwks_url: None,
        issuers: vec![],
        audience: None,
        jwks_min_refresh_seconds: 0,
        secrets_key_file: shared_secrets_key().await,
        max_body_bytes: 4 * 1024 * 1024,
        log_format: Default::default(),
        limits: Default::default(),
        uploads: UploadArgs { files_url: shared_files().await, ..Default::default() },
        // No scheduled runs in tests (tests of the scheduler turn it on).
        runs: RunArgs { run_schedule_seconds: 0, ..Default::default() },
    }
}

/// An in-process server.
pub struct TestServer {
    pub url: String,
    pub data_dir: PathBuf,
    /// A tenant of this test's own.
    pub tenant: String,
    /// The server's state (its stores), for seeding through the store's own bulk paths and for tests that look
    /// behind the API (the files a validator would read).
    pub state: std::sync::Arc<rosterflow_server::AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    client: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_in(temp_dir(), &format!("tenant-{}", uuid::Uuid::new_v4())).await
    }

    pub async fn start_in(data_dir: PathBuf, tenant: &str) -> TestServer {
        let args = serve_args(&data_dir).await;
        Self::start_with(args, tenant).await
    }

    pub async fn start_with(args: ServeArgs, tenant: &str) -> TestServer {
        let (listener, state, addr) = rosterflow_server::start(&args).await.expect("server starts");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let task = tokio::spawn(async move {
            rosterflow_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url: format!("http://{addr}"),
            data_dir: args.data_dir,
            tenant: tenant.to_string(),
            state: shared,
            shutdown: Some(tx),
            task: Some(task),
            client: reqwest::Client::new(),
        }
    }

    /// Stop serving and wait until the server has let go of everything.
    pub async fn stop(mut self) -> PathBuf {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.data_dir.clone()
    }

    /// A token for this test's tenant.
    pub fn token(&self, scopes: &str) -> String {
        self.token_for(&self.tenant, scopes)
    }

    pub fn token_for(&self, tenant: &str, scopes: &str) -> String {
        token(&self.data_dir, tenant, scopes)
    }

    /// An application token (`roles`) for this test's tenant.
    pub fn app_token(&self, roles: &[String]) -> String {
        dev_token(&self.data_dir, &TokenSpec::application(&self.tenant, roles)).unwrap()
    }

    /// A token as `spec` says, signed with this server's dev key.
    pub fn token_with(&self, spec: &TokenSpec) -> String {
        dev_token(&self.data_dir, spec).unwrap()
    }

    /// A client acting with `scopes` in this test's tenant.
    pub fn as_(&self, scopes: &str) -> Client {
        Client { url: self.url.clone(), token: Some(self.token(scopes)), http: self.client.clone() }
    }

    /// A client with every permission.
    pub fn admin(&self) -> Client {
        self.as_(&all_permissions())
    }

    pub fn anonymous(&self) -> Client {
        Client { url: self.url.clone(), token: None, http: self.client.clone() }
    }
}

pub fn token(data_dir: &Path, tenant: &str, scopes: &str) -> String {
    let scopes: Vec<String> = scopes.split_whitespace().map(str::to_string).collect();
    dev_token(data_dir, &TokenSpec::delegated(tenant, &scopes)).unwrap()
}

/// A response: status, headers and the body parsed as JSON (or `Value::String` when it isn't JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's `id`.
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.text)).to_string()
    }

    /// Assert a Graph error envelope with this status, returning the error object.
    #[track_caller]
    pub fn error(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert!(self.header("content-type").unwrap_or_default().starts_with("application/json"), "{self:?}");
        let e = &self.body["error"];
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{}", self.text);
        assert!(e["message"].as_str().is_some_and(|c| !c.is_empty()), "{}", self.text);
        let inner = &e["innerError"];
        assert!(inner["request-id"].is_string() && inner["date"].is_string(), "{}", self.text);
        assert_eq!(self.header("request-id"), inner["request-id"].as_str(), "{}", self.text);
        e
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        self
    }
}

#[derive(Clone)]
pub struct Client {
    pub url: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Client {
    /// `path` below `/beta/external/industryData` unless it starts with `/`.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let full =
            if path.starts_with('/') { format!("{}{path}", self.url) } else { format!("{}{BASE}/{path}", self.url) };
        let mut req = self.http.request(method, full);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply { status, headers, body, text }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(&body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
    /// A raw request, for malformed bodies and odd headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{BASE}/{path}", self.url)).body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.expect("request sent");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply { status, headers, body, text }
    }
}

// ---- fixtures: the docs' own examples -----------------------------------------------------------------------

/// The "Create outboundProvisioningFlowSet" request body.
pub fn flow_set_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.industryData.outboundProvisioningFlowSet",
        "displayName": "Outbound Provisioning Flow Test",
        "filter": {
            "@odata.type": "#microsoft.graph.industryData.basicFilter",
            "attribute": "orgExternalId",
            "in": ["Quarter", "Demo"]
        }
    })
}

/// The seed: the "Update classGroupProvisioningFlow" request body, verbatim.
pub const SEED_PATCH: &str = r##"{
    "@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow",
    "configuration": {
        "@odata.type": "#microsoft.graph.industryData.classGroupConfiguration",
        "additionalAttributes": [
            "courseTitle",
            "courseCode"
        ],
        "additionalOptions": {
            "@odata.type": "#microsoft.graph.industryData.additionalClassGroupOptions",
            "createTeam": false,
            "writeDisplayNameOnCreateOnly": false
        },
        "enrollmentMappings": {
            "@odata.type": "#microsoft.graph.industryData.enrollmentMappings",
            "memberEnrollmentMappings": [
                {
                    "@odata.type": "#microsoft.graph.industryData.sectionRoleReferenceValue",
                    "code": "substitute"
                }
            ],
            "ownerEnrollmentMappings": [
                {
                    "@odata.type": "#microsoft.graph.industryData.sectionRoleReferenceValue",
                    "code": "teacher"
                }
            ]
        }
    }
}"##;

/// A class-group flow body for create (the docs' create example).
pub fn class_group_flow_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow",
        "configuration": {
            "additionalAttributes": ["courseTitle", "courseCode", "courseSubject", "courseGradeLevel",
                "courseExternalId", "academicSessionTitle", "academicSessionExternalId"],
            "additionalOptions": {"createTeam": true, "writeDisplayNameOnCreateOnly": true},
            "enrollmentMappings": {
                "memberEnrollmentMappings": [{"code": "student"}, {"code": "aide"}],
                "ownerEnrollmentMappings": [{"code": "teacher"}, {"code": "paraProfessional"}]
            }
        }
    })
}

pub fn security_group_flow_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.industryData.securityGroupProvisioningFlow",
        "creationOptions": {"createBasedOnroleGroup": true, "createBasedOnOrgPlusroleGroup": false}
    })
}

pub fn admin_unit_flow_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.industryData.administrativeUnitProvisioningFlow",
        "creationOptions": {"createBasedOnOrg": true, "createBasedOnOrgPlusroleGroup": true}
    })
}

pub fn user_flow_body() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.industryData.userProvisioningFlow",
        "createUnmatchedUsers": true,
        "managementOptions": {
            "additionalAttributes": ["userGradeLevel"],
            "additionalOptions": {"studentAgeGroup": "minor", "allowStudentContactAssociation": false}
        },
        "creationOptions": {"configurations": [
            {"roleGroup@odata.bind": "https://graph.microsoft.com/beta/external/industryData/roleGroups/staff",
             "defaultPasswordSettings": {"@odata.type": "#microsoft.graph.industryData.simplePasswordSettings", "password": "Secret-123"},
             "licenseSkus": ["Sku1"]},
            {"roleGroup@odata.bind": "https://graph.microsoft.com/beta/external/industryData/roleGroups('students')",
             "defaultPasswordSettings": {"@odata.type": "#microsoft.graph.industryData.simplePasswordSettings", "password": "Secret-456"},
             "licenseSkus": ["Sku2"]}
        ]}
    })
}

/// Create a flow set, returning its id.
pub async fn create_set(c: &Client) -> String {
    c.post("outboundProvisioningFlowSets", flow_set_body()).await.expect(201).id()
}

/// Create a flow in `set`, returning its id.
pub async fn create_flow(c: &Client, set: &str, body: Value) -> String {
    c.post(&format!("outboundProvisioningFlowSets/{set}/provisioningFlows"), body).await.expect(201).id()
}

/// The `rosterflow` binary as a child process (for restarts and `kill -9`).
pub struct Process {
    pub child: Child,
    pub url: String,
}

pub async fn spawn_binary(data_dir: &Path, port: u16) -> Process {
    spawn_binary_with(data_dir, port, &[], &[], Stdio::null()).await
}

/// The binary with more `serve` flags and environment variables, its stderr (the log) going to `stderr`.
pub async fn spawn_binary_with(
    data_dir: &Path,
    port: u16,
    flags: &[&str],
    env: &[(&str, &str)],
    stderr: Stdio,
) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rosterflow"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"]).arg(data_dir).args(flags);
    // No scheduled runs unless a test asks for them.
    cmd.env("ROSTERFLOW_RUN_SCHEDULE_SECONDS", "0");
    cmd.envs(env.iter().copied());
    if let Some(url) = postgres_url().await {
        cmd.args(["--database-url", &url]);
    }
    if let Some(key) = shared_secrets_key().await {
        cmd.arg("--secrets-key-file").arg(key);
    }
    if let Some(files) = shared_files().await {
        cmd.args(["--files-url", &files]);
    }
    let child = cmd.stdout(Stdio::null()).stderr(stderr).spawn().expect("spawn rosterflow");
    let mut process = Process { child, url: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{}/healthz", process.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process.kill9();
    panic!("rosterflow did not become ready");
}

impl Process {
    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn client_for(url: &str, token: String) -> Client {
    Client { url: url.to_string(), token: Some(token), http: reqwest::Client::new() }
}
