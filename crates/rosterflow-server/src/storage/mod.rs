//! rosterflow's Azure Storage emulation for upload sessions, under its own prefix: `/rosterflow/storage/`.
//! A fileUploadSession's `sessionUrl` is `{public url}/rosterflow/storage/{containerId}?sv=…&se=…&sr=c&sp=…&sig=…`
//! (`sas.rs`), a container URL that Azure's SDKs use unmodified: `azure-storage-blob` reads the container and
//! blob names from the last path segments and keeps the rest as its account URL; `azure-storage-file-datalake`
//! does the same with its account URL and file system name. The blob operations those clients and AzCopy send
//! (`blob.rs`: Put Blob, Put Block, Put Block List, Get Block List, Get Blob, Get Blob Properties, Delete Blob, List Blobs,
//! Get Container Properties) and the Data Lake path operations Microsoft's SDS samples use (`path.rs`:
//! create, append, flush, delete) are served over [`rosterflow_store::files::Files`].
//!
//! This is not Graph: no bearer token (the signature is the credential), no path canonicalisation (blob names
//! are case-sensitive; the prefix is not in `request::ROOTS`), and Azure's errors (`errors.rs`), not Graph's
//! envelope. The wire details follow Azure's REST reference and Azurite's source.

mod blob;
pub mod errors;
mod path;
pub mod sas;
pub mod wire;
pub mod xml;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use futures_util::TryStreamExt;
use rosterflow_store::files::{now_micros, BlobAt, ByteStream, Conditions, Container, ContainerState, Props};
use rosterflow_store::TenantId;

use crate::AppState;
use errors::{Code, Dialect, StorageError, StorageResult};
use sas::{Permission, SasError};

/// Where the emulation is mounted.
pub const PREFIX: &str = "/rosterflow/storage";
/// The service version answered when a request names none.
pub const SERVICE_VERSION: &str = "2025-01-05";

/// What the storage area needs besides the stores.
pub struct Storage {
    /// Signs and verifies sessions' signatures (kept sealed in the database: `Files::signing_key`).
    pub key: [u8; 32],
    /// The server's public base URL (`--public-url`), e.g. `https://rosterflow.example.org`; `None`: the
    /// `Host` of the getUploadSession request, over http.
    pub public_url: Option<String>,
    /// How often the sweeper removes expired and discarded containers.
    pub sweep_every: std::time::Duration,
}

/// Remove expired and discarded upload containers every `sweep_every`, for as long as the server runs. Any
/// replica may sweep; a container removed by one is simply gone for the others.
pub async fn sweep(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(app.storage.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.stores.files.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(containers = n, "removed expired upload containers"),
            Err(e) => tracing::warn!(error = %e, "sweeping upload containers"),
        }
    }
}

impl Storage {
    /// A session's `sessionUrl`.
    pub fn session_url(&self, host: &str, container: &Container) -> String {
        let base = match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{host}"),
        };
        let query = sas::sign(&self.key, container.tenant.as_str(), &container.id, container.session_expires);
        format!("{base}{PREFIX}/{}?{query}", container.id)
    }
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(PREFIX, any(dispatch)).route(&format!("{PREFIX}/{{*rest}}"), any(dispatch))
}

/// A request once its signature is verified.
pub(crate) struct Ctx<'a> {
    pub app: &'a AppState,
    pub tenant: TenantId,
    pub container: String,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    /// `http://host/rosterflow/storage/` as the client addressed it, for List Blobs' `ServiceEndpoint`.
    pub service: String,
}

impl Ctx<'_> {
    /// The blob `name` of this request's container.
    pub fn at<'n>(&'n self, name: &'n str) -> BlobAt<'n> {
        BlobAt { tenant: &self.tenant, container: &self.container, name }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `If-Match` / `If-None-Match`.
    pub fn conditions(&self) -> Conditions {
        Conditions {
            if_match: self.header("if-match").map(str::to_string),
            if_none_match: self.header("if-none-match").map(str::to_string),
        }
    }

    /// Content settings a write sets: `x-ms-blob-content-type` / `x-ms-content-type` (Data Lake), else the
    /// request's `Content-Type` for Put Blob; the stored MD5 likewise.
    pub fn props(&self, dialect: Dialect, body_type: bool) -> StorageResult<Props> {
        let (ct, md5) = match dialect {
            Dialect::Blob => ("x-ms-blob-content-type", "x-ms-blob-content-md5"),
            Dialect::DataLake => ("x-ms-content-type", "x-ms-content-md5"),
        };
        let content_type = self
            .header(ct)
            .or_else(|| body_type.then(|| self.header("content-type")).flatten())
            .map(|s| s.chars().take(256).collect());
        let content_md5 = self.header(md5).map(wire::md5).transpose()?;
        Ok(Props { content_type, content_md5 })
    }

    /// The `Content-MD5` a body must match.
    pub fn body_md5(&self) -> StorageResult<Option<String>> {
        self.header("content-md5").map(wire::md5).transpose()
    }

    /// A body larger than the file limit is refused before a byte of it is read.
    pub fn check_length(&self) -> StorageResult<()> {
        let limit = self.app.stores.files.limits().max_file_bytes;
        match self.header("content-length").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(n)) if n > limit => Err(StorageError::with(
                Code::RequestBodyTooLarge,
                format!("The request body of {n} bytes exceeds this server's limit of {limit} bytes per file (--upload-max-file-bytes)."),
            )),
            Some(Err(_)) => Err(StorageError::with(Code::InvalidHeaderValue, "Content-Length is not a number.")),
            _ => Ok(()),
        }
    }
}

/// A request body as a byte stream.
pub(crate) fn stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

async fn dispatch(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let query = parts.uri.query().unwrap_or_default();
    let pairs = sas::query_pairs(query);
    let dialect = match &pairs {
        Ok(p) if p.iter().any(|(k, _)| matches!(k.as_str(), "resource" | "action" | "recursive")) => Dialect::DataLake,
        _ => Dialect::Blob,
    };
    let mut response = match handle(&app, &parts, body, pairs, dialect).await {
        Ok(r) => r,
        Err(e) => e.render(dialect, &request_id),
    };
    let version = parts.headers.get("x-ms-version").cloned().unwrap_or(HeaderValue::from_static(SERVICE_VERSION));
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-ms-request-id", v);
    }
    h.insert("x-ms-version", version);
    h.insert(header::SERVER, HeaderValue::from_static("rosterflow (Azure Storage emulation)"));
    if let Some(v) = parts.headers.get("x-ms-client-request-id").filter(|v| v.len() <= 256) {
        h.insert("x-ms-client-request-id", v.clone());
    }
    response
}

/// The container and blob a path names: `/{container}` or `/{container}/{blob name…}`, decoded once, so that an
/// encoded separator (`{container}%2F{blob}`, as Go's SDK and AzCopy send it when they take the container for a
/// folder) splits like a plain one.
fn target(path: &str) -> StorageResult<(String, Option<String>)> {
    let rest = wire::decode(path.strip_prefix(PREFIX).unwrap_or(path))?;
    let rest = rest.trim_start_matches('/');
    let (container, blob) = match rest.split_once('/') {
        Some((c, b)) => (c, Some(b)),
        None => (rest, None),
    };
    // Container ids are GUIDs; anything else names nothing here.
    let valid = container.len() == 36 && container.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid {
        return Err(StorageError::with(
            Code::InvalidResourceName,
            "The container name is not an upload container id; use the sessionUrl that getUploadSession returned.",
        ));
    }
    let blob = match blob {
        Some("") | None => None,
        Some(b) => {
            wire::blob_name(b)?;
            Some(b.to_string())
        }
    };
    Ok((container.to_ascii_lowercase(), blob))
}

/// Clients that read a session URL as `{account}/{container}/{folder}` (Go's SDK and AzCopy on a host name take
/// `rosterflow` for the container) send `/rosterflow/storage%2F{id}%2F{name}`: spelled with a plain `/` before
/// routing, so that it reaches this area. Runs before the router (`crate::app`).
pub async fn encoded_prefix(mut req: Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let encoded = path.get(..PREFIX.len() + 3).filter(|p| p[PREFIX.len()..].eq_ignore_ascii_case("%2F"));
    if encoded.is_some_and(|p| p.starts_with(PREFIX)) {
        let rewritten = format!(
            "{PREFIX}/{}{}",
            &path[PREFIX.len() + 3..],
            req.uri().query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        if let Ok(uri) = rewritten.parse() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

async fn handle(
    app: &AppState,
    parts: &axum::http::request::Parts,
    body: Body,
    pairs: Result<Vec<(String, String)>, SasError>,
    dialect: Dialect,
) -> StorageResult<Response> {
    crate::request::record_route(|| format!("{PREFIX}/{{container}}/{{blob}}"));
    let (container, blob) = target(parts.uri.path())?;
    let pairs = pairs.map_err(refusal)?;
    let operation = match &blob {
        Some(_) => blob::operation(&parts.method, &pairs, dialect)?,
        None => blob::container_operation(&parts.method, &pairs)?,
    };
    let tenant = authenticate(app, parts, &pairs, &container, operation.permission()).await?;
    crate::request::record_tenant(&tenant);
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let mut query = HashMap::new();
    for (k, v) in pairs {
        query.entry(k).or_insert(v);
    }
    let ctx =
        Ctx { app, tenant, container, query, headers: &parts.headers, service: format!("http://{host}{PREFIX}/") };
    match (operation, blob) {
        (blob::Operation::Path(op), Some(name)) => path::handle(&ctx, op, &name, body).await,
        (op, name) => blob::handle(&ctx, op, name.as_deref(), body).await,
    }
}

fn refusal(e: SasError) -> StorageError {
    match e {
        SasError::Malformed(why) | SasError::Refused(why) => StorageError::authentication(why),
        SasError::Permission => StorageError::new(Code::AuthorizationPermissionMismatch),
    }
}

/// The tenant whose open container the request's signature grants `needs` on.
async fn authenticate(
    app: &AppState,
    parts: &axum::http::request::Parts,
    pairs: &[(String, String)],
    container: &str,
    needs: Permission,
) -> StorageResult<TenantId> {
    let sas = sas::parse(pairs).map_err(refusal)?.ok_or_else(|| {
        let why = if parts.headers.contains_key(header::AUTHORIZATION) {
            "Only the upload session's shared access signature is accepted here, not an Authorization header."
        } else {
            "The request carries no shared access signature; use the sessionUrl that getUploadSession returned."
        };
        StorageError::authentication(why)
    })?;
    // An unknown container fails like a wrong signature: nothing tells a guesser which ids exist.
    let unknown = || {
        StorageError::authentication(
            "Signature did not match: it is not a signature this server issued for this container.",
        )
    };
    let found = app.stores.files.container(container).await?.ok_or_else(unknown)?;
    let now = now_micros();
    sas::verify(&app.storage.key, &sas, found.tenant.as_str(), &found.id, now, needs).map_err(refusal)?;
    match found.state {
        ContainerState::Open if now < found.container_expires => Ok(found.tenant),
        ContainerState::Finalized => Err(StorageError::authentication(
            "The upload session has ended: the container was validated and takes no more requests; call getUploadSession for a new one.",
        )),
        _ => Err(StorageError::authentication(
            "The upload session has ended: the container was reset or has expired; call getUploadSession for a new one.",
        )),
    }
}
