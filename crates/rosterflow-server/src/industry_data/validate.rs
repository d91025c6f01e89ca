//! `industryDataConnector: validate` (`graph-docs/api/industrydata-industrydataconnector-validate.md`) and its
//! `fileValidateOperation` (`resources/industrydata-filevalidateoperation.md`).
//!
//! The action ends the connector's upload session (its container is finalized first, so the files can't
//! change while they are read, and its signature stops working), stores an operation `notStarted`, answers
//! `202 Accepted` with `Location: .../operations/{id}`, and validates off the request path:
//! `rosterflow_engine::inbound::validate_and_load` reads the container through
//! [`ContainerSource`] on tokio's blocking pool. The first progress report moves the operation to `running`
//! (its `statusDetail` says which file and how far); the end stores the findings as `succeeded` (whatever was
//! found, as in the docs' example), or `failed` when the store or the files could not be read.
//!
//! Every inbound flow whose `dataConnector` is this connector receives the validated records as its next
//! snapshot; with none, the files are only validated. A server that stops mid-validation can't finish its
//! operation: the running task writes `lastActionDateTime` every [`HEARTBEAT`], and an operation whose last
//! action is older than [`STALE_AFTER`] reads as `failed` ([`settle`]), on every replica (docs/decisions.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_engine::inbound::{validate_and_load, InboundError, Validated};
use rosterflow_engine::source::ContainerSource;
use rosterflow_engine::{Format, Options, Progress};
use rosterflow_model::{time, ErrorKind, TenantId};
use rosterflow_store::{Expect, Resource, Stores, Write};
use serde_json::{json, Map, Value};

use super::read::{load_all, same_id, Item};
use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

const LAKE: &str = "microsoft.graph.industryData.azureDataLakeConnector";
const OPERATION_TYPE: &str = "microsoft.graph.industryData.fileValidateOperation";
/// How often a running validation writes its operation even when nothing else changed.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// An operation not started or running whose last action is older than this has lost its server.
pub const STALE_AFTER: Duration = Duration::from_secs(120);
/// Progress is written at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn validate(app: &AppState, ctx: &Ctx<'_>, connector: &Item) -> ApiResult<Response> {
    // Validation reads upload sessions' files, which only Azure Data Lake connectors have.
    if !rosterflow_model::schema::schema().derives_from(&connector.ty.name, LAKE) {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            format!(
                "validate checks the files uploaded to an azureDataLakeConnector; this connector is a {}.",
                connector.ty.name.rsplit('.').next().unwrap_or_default()
            ),
        ));
    }
    let id = connector.doc.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let format = file_format(connector)?;
    let files = &app.stores.files;
    let no_session = || {
        ApiError::new(
            ErrorKind::Conflict,
            "The data connector has no open upload session: call getUploadSession, upload the files, then validate \
             (a session ends when it is validated).",
        )
    };
    let flows_set = rosterflow_model::sets::by_name("inboundFlows").expect("a set of the model");
    let flows: Vec<String> = load_all(app, ctx.tenant, flows_set, None)
        .await?
        .into_iter()
        .filter(|f| f.doc.get("dataConnector@odata.bind").and_then(Value::as_str).is_some_and(|c| same_id(c, &id)))
        .filter_map(|f| f.doc.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    // Everything that may fail on a read is read before the session is ended.
    let opts = Options { format, catalog: super::write::catalog(app, ctx.tenant).await?, ..Options::default() };

    let container = files.open_container(ctx.tenant, &id).await.map_err(file_error)?.ok_or_else(no_session)?;
    // Finalized before anything is read: the files can't change under the validator, and a second validate
    // of the same session finds none open.
    files.finalize(ctx.tenant, &container.id).await.map_err(|e| match e {
        rosterflow_store::files::FileError::Closed(_) => no_session(),
        other => file_error(other),
    })?;

    let op = uuid::Uuid::new_v4().to_string();
    let now = time::now();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(op));
    doc.insert("createdDateTime".into(), json!(now));
    doc.insert("lastActionDateTime".into(), json!(now));
    doc.insert("resourceLocation".into(), json!(format!("{}/external/industryData/dataConnectors/{id}", ctx.base())));
    doc.insert("status".into(), json!("notStarted"));
    doc.insert("statusDetail".into(), json!(format!("queued: upload session {}", container.id)));
    doc.insert("errors".into(), json!([]));
    doc.insert("warnings".into(), json!([]));
    doc.insert("validatedFiles".into(), json!([]));
    let resource = Resource {
        set: "operations".into(),
        id: op.clone(),
        parent: None,
        odata_type: OPERATION_TYPE.into(),
        doc: Arc::new(doc.clone()),
        version: 0,
    };
    let write = Write { resource, expect: Expect::Absent, unique: Vec::new(), refs: Vec::new() };
    app.stores.resources.put(ctx.tenant, write).await?;

    let job = Job { stores: app.stores.clone(), tenant: ctx.tenant.clone(), op: op.clone(), doc };
    tokio::spawn(job.run(container.id, flows, opts));

    let mut r = StatusCode::ACCEPTED.into_response();
    let location = format!("{}/external/industryData/operations/{op}", ctx.base());
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("a URL is a header value"));
    Ok(r)
}

/// The connector's `fileFormat` (`None`: detected from the files' names, as `rosterflow validate` does).
fn file_format(connector: &Item) -> ApiResult<Option<Format>> {
    let Some(code) = connector.doc.get("fileFormat").and_then(|f| f.get("code")).and_then(Value::as_str) else {
        return Ok(None);
    };
    Format::parse(code).map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorKind::BadRequest,
            format!(
                "fileFormat: '{code}' is not a format this server reads (schoolDataSyncV2Rev1, schoolDataSyncV1, \
                 oneRosterCsv)."
            ),
        )
    })
}

fn file_error(e: rosterflow_store::files::FileError) -> ApiError {
    tracing::error!(error = %e, "validate: upload container");
    ApiError::new(ErrorKind::Unavailable, "The store is unavailable; retry the request.")
}

/// An operation past [`STALE_AFTER`] without an action, and not finished: its server stopped, so it reads as
/// failed. Applied wherever operations are read.
pub(super) fn settle(doc: &mut Arc<Map<String, Value>>) {
    let pending = matches!(doc.get("status").and_then(Value::as_str), Some("notStarted" | "running"));
    let last = doc.get("lastActionDateTime").and_then(Value::as_str);
    let age = last.and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).map(|t| chrono::Utc::now() - t);
    if pending && age.is_some_and(|a| a.to_std().unwrap_or_default() > STALE_AFTER) {
        let doc = Arc::make_mut(doc);
        doc.insert("status".into(), json!("failed"));
        doc.insert(
            "statusDetail".into(),
            json!("failed: the server running the validation stopped before it finished; upload the files again"),
        );
    }
}

/// Forwards progress from the validating thread; the job writes it.
struct Watch(tokio::sync::watch::Sender<Option<String>>);

impl Progress for Watch {
    fn file_started(&self, name: &str, _size: Option<u64>) {
        self.0.send_replace(Some(format!("running: validating {name}")));
    }

    fn advanced(&self, name: &str, rows: u64, _bytes: u64) {
        self.0.send_replace(Some(format!("running: validating {name}, {rows} rows read")));
    }

    fn file_finished(&self, name: &str, rows: u64) {
        self.0.send_replace(Some(format!("running: validated {name}, {rows} rows")));
    }
}

/// One validation, off the request path.
struct Job {
    stores: Stores,
    tenant: TenantId,
    op: String,
    doc: Map<String, Value>,
}

impl Job {
    async fn run(mut self, container: String, flows: Vec<String>, opts: Options) {
        let (tx, mut rx) = tokio::sync::watch::channel(None);
        let source = ContainerSource::new(
            self.stores.files.clone(),
            self.tenant.clone(),
            container,
            tokio::runtime::Handle::current(),
        );
        let mut work = tokio::spawn(validate_and_load(
            self.stores.roster.clone(),
            self.tenant.clone(),
            flows,
            Box::new(source),
            opts,
            Arc::new(Watch(tx)),
        ));
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        let (mut dirty, mut written) = (false, Instant::now());
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                Ok(()) = rx.changed() => {
                    let detail = rx.borrow_and_update().clone();
                    let first = self.doc.get("status").and_then(Value::as_str) == Some("notStarted");
                    self.doc.insert("status".into(), json!("running"));
                    self.doc.insert("statusDetail".into(), json!(detail));
                    dirty = true;
                    if first {
                        self.save().await;
                        (dirty, written) = (false, Instant::now());
                    }
                }
                _ = tick.tick() => {
                    if dirty || written.elapsed() >= HEARTBEAT {
                        self.save().await;
                        (dirty, written) = (false, Instant::now());
                    }
                }
            }
        };
        self.finish(result.unwrap_or_else(|e| Err(InboundError::Aborted(e.to_string())))).await;
    }

    async fn finish(mut self, result: Result<Validated, InboundError>) {
        let created = self.doc.get("createdDateTime").and_then(Value::as_str).unwrap_or_default().to_string();
        let location = self.doc.get("resourceLocation").cloned().unwrap_or(Value::Null);
        match result {
            Ok(v) => {
                let Value::Object(mut doc) =
                    rosterflow_engine::render::operation_json(&v.outcome, &self.op, &created, &time::now())
                else {
                    unreachable!("an operation renders as an object")
                };
                doc.remove("@odata.type");
                if !v.snapshots.is_empty() {
                    let loaded: Vec<String> = v
                        .snapshots
                        .iter()
                        .map(|(flow, s)| format!("snapshot {} of inbound flow {flow}", s.seq))
                        .collect();
                    doc.insert("statusDetail".into(), json!(format!("validated and loaded as {}", loaded.join(", "))));
                }
                doc.insert("resourceLocation".into(), location);
                self.doc = doc;
            }
            Err(e) => {
                tracing::error!(error = %e, operation = %self.op, "validate failed");
                self.doc.insert("status".into(), json!("failed"));
                self.doc.insert("lastActionDateTime".into(), json!(time::now()));
                let detail = match e {
                    InboundError::Store(_) => "failed: the store was unavailable; upload the files again".to_string(),
                    other => format!("failed: {other}"),
                };
                self.doc.insert("statusDetail".into(), json!(detail));
            }
        }
        self.save().await;
    }

    /// Store the operation as it is now (its last action: now, unless finished with its own time).
    async fn save(&mut self) {
        if matches!(self.doc.get("status").and_then(Value::as_str), Some("notStarted" | "running")) {
            self.doc.insert("lastActionDateTime".into(), json!(time::now()));
        }
        let doc = Arc::new(self.doc.clone());
        let edit: rosterflow_store::Edit = Box::new(move |r: &mut Resource| {
            r.doc = doc.clone();
            Ok(Default::default())
        });
        if let Err(e) = self.stores.resources.edit(&self.tenant, "operations", &self.op, edit).await {
            tracing::error!(error = %e, operation = %self.op, "storing a validate operation");
        }
    }
}
