//! Blob service operations (Azure Storage REST, "Blob service"): which one a request is, and each one.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_store::files::Blob;

use super::errors::{Code, Dialect, StorageError, StorageResult};
use super::path::PathOp;
use super::sas::Permission;
use super::{stream, wire, xml, Ctx};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    ListBlobs,
    ContainerProperties,
    CreateContainer,
    PutBlob,
    PutBlock,
    PutBlockList,
    GetBlockList,
    GetBlob,
    BlobProperties,
    DeleteBlob,
    Path(PathOp),
}

impl Operation {
    pub fn permission(self) -> Permission {
        match self {
            Operation::ListBlobs => Permission::List,
            Operation::ContainerProperties
            | Operation::GetBlob
            | Operation::BlobProperties
            | Operation::GetBlockList => Permission::Read,
            Operation::DeleteBlob | Operation::Path(PathOp::Delete) => Permission::Delete,
            _ => Permission::Write,
        }
    }
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn unsupported(what: String) -> StorageError {
    StorageError::with(
        Code::UnsupportedQueryParameter,
        format!("{what} is not supported by this server's upload sessions."),
    )
}

fn verb(method: &Method) -> StorageError {
    StorageError::with(Code::UnsupportedHttpVerb, format!("The resource doesn't support the HTTP verb {method}."))
}

/// A request on the container itself.
pub(crate) fn container_operation(method: &Method, pairs: &[(String, String)]) -> StorageResult<Operation> {
    match (get(pairs, "restype"), get(pairs, "comp"), method) {
        (Some("container"), Some("list"), &Method::GET) => Ok(Operation::ListBlobs),
        (Some("container"), None, &Method::GET | &Method::HEAD) => Ok(Operation::ContainerProperties),
        (Some("container"), None, &Method::PUT) => Ok(Operation::CreateContainer),
        (Some("container"), Some(comp), _) => Err(unsupported(format!("The container operation comp={comp}"))),
        (Some("container"), None, m) => Err(verb(m)),
        (_, _, _) if get(pairs, "resource") == Some("filesystem") => {
            Err(unsupported("Data Lake file system operations".into()))
        }
        _ => Err(StorageError::with(Code::InvalidQueryParameterValue, "A container request needs restype=container.")),
    }
}

/// A request on a blob.
pub(crate) fn operation(method: &Method, pairs: &[(String, String)], dialect: Dialect) -> StorageResult<Operation> {
    if dialect == Dialect::DataLake {
        return super::path::operation(method, pairs).map(Operation::Path);
    }
    match (method, get(pairs, "comp")) {
        (&Method::PUT, None) => Ok(Operation::PutBlob),
        (&Method::PUT, Some("block")) => Ok(Operation::PutBlock),
        (&Method::PUT, Some("blocklist")) => Ok(Operation::PutBlockList),
        (&Method::GET, Some("blocklist")) => Ok(Operation::GetBlockList),
        (&Method::GET, None) => Ok(Operation::GetBlob),
        (&Method::HEAD, None) => Ok(Operation::BlobProperties),
        (&Method::DELETE, None) => Ok(Operation::DeleteBlob),
        (_, Some(comp)) => Err(unsupported(format!("The blob operation comp={comp}"))),
        (m, None) => Err(verb(m)),
    }
}

/// The headers every answer about a blob carries.
pub(crate) fn blob_headers(r: &mut Response, blob: &Blob) {
    let h = r.headers_mut();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put("etag", format!("\"{}\"", blob.etag));
    put("last-modified", xml::http_date(blob.modified));
}

fn encrypted(r: &mut Response) {
    r.headers_mut().insert("x-ms-request-server-encrypted", HeaderValue::from_static("true"));
}

fn empty(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut().insert("content-length", HeaderValue::from_static("0"));
    r
}

pub(crate) async fn handle(ctx: &Ctx<'_>, op: Operation, name: Option<&str>, body: Body) -> StorageResult<Response> {
    let files = &ctx.app.stores.files;
    let name = || name.map(str::to_string).ok_or_else(|| StorageError::new(Code::InvalidUri));
    match op {
        Operation::ContainerProperties => {
            let mut r = empty(StatusCode::OK);
            let h = r.headers_mut();
            h.insert("x-ms-lease-state", HeaderValue::from_static("available"));
            h.insert("x-ms-lease-status", HeaderValue::from_static("unlocked"));
            h.insert("x-ms-has-immutability-policy", HeaderValue::from_static("false"));
            h.insert("x-ms-has-legal-hold", HeaderValue::from_static("false"));
            h.insert("etag", HeaderValue::from_static("\"0x8D000000000000\""));
            Ok(r)
        }
        Operation::CreateContainer => Err(StorageError::new(Code::ContainerAlreadyExists)),
        Operation::ListBlobs => list(ctx).await,
        Operation::PutBlob => {
            ctx.check_length()?;
            match ctx.header("x-ms-blob-type") {
                Some("BlockBlob") => {}
                Some(other) => {
                    return Err(StorageError::with(
                        Code::InvalidHeaderValue,
                        format!(
                            "x-ms-blob-type '{}' is not supported: upload sessions take block blobs.",
                            other.chars().take(40).collect::<String>()
                        ),
                    ))
                }
                None => {
                    return Err(StorageError::with(
                        Code::MissingRequiredHeader,
                        "Put Blob needs the header x-ms-blob-type: BlockBlob.",
                    ))
                }
            }
            let props = ctx.props(Dialect::Blob, true)?;
            let name = name()?;
            let md5 = ctx.body_md5()?;
            let blob = files.put_blob(ctx.at(&name), stream(body), md5.as_deref(), props, ctx.conditions()).await?;
            let mut r = empty(StatusCode::CREATED);
            blob_headers(&mut r, &blob);
            if let Some(md5) = blob.content_md5.as_deref().and_then(|m| HeaderValue::from_str(m).ok()) {
                r.headers_mut().insert("content-md5", md5);
            }
            encrypted(&mut r);
            Ok(r)
        }
        Operation::PutBlock => {
            ctx.check_length()?;
            let id = ctx.param("blockid").ok_or_else(|| {
                StorageError::with(Code::MissingRequiredQueryParameter, "Put Block needs the query parameter blockid.")
            })?;
            let id = wire::block_id(id)?;
            let name = name()?;
            let md5 = files.put_block(ctx.at(&name), &id, stream(body), ctx.body_md5()?.as_deref()).await?;
            let mut r = empty(StatusCode::CREATED);
            if let Ok(v) = HeaderValue::from_str(&md5) {
                r.headers_mut().insert("content-md5", v);
            }
            encrypted(&mut r);
            Ok(r)
        }
        Operation::PutBlockList => {
            let declared = ctx.header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
            if declared.is_some_and(|n| n > xml::MAX_BLOCK_LIST_BYTES) {
                return Err(StorageError::with(
                    Code::RequestBodyTooLarge,
                    format!("The block list is larger than {} bytes.", xml::MAX_BLOCK_LIST_BYTES),
                ));
            }
            let bytes = axum::body::to_bytes(body, xml::MAX_BLOCK_LIST_BYTES).await.map_err(|_| {
                StorageError::with(
                    Code::RequestBodyTooLarge,
                    format!("The block list is larger than {} bytes.", xml::MAX_BLOCK_LIST_BYTES),
                )
            })?;
            let blocks = xml::block_list(&bytes)?;
            let props = ctx.props(Dialect::Blob, false)?;
            let name = name()?;
            let blob = files.put_block_list(ctx.at(&name), blocks, props, ctx.conditions()).await?;
            let mut r = empty(StatusCode::CREATED);
            blob_headers(&mut r, &blob);
            encrypted(&mut r);
            Ok(r)
        }
        Operation::GetBlockList => {
            let name = name()?;
            let (committed, uncommitted) = match ctx.param("blocklisttype").unwrap_or("committed") {
                "committed" => (true, false),
                "uncommitted" => (false, true),
                "all" => (true, true),
                other => {
                    return Err(StorageError::with(
                        Code::InvalidQueryParameterValue,
                        format!(
                            "blocklisttype '{}' is not committed, uncommitted or all.",
                            other.chars().take(40).collect::<String>()
                        ),
                    ))
                }
            };
            let listing =
                files.block_list(ctx.at(&name)).await?.ok_or_else(|| StorageError::new(Code::BlobNotFound))?;
            let doc = xml::block_list_answer(
                committed.then_some(listing.committed.as_slice()),
                uncommitted.then_some(listing.uncommitted.as_slice()),
            );
            let mut r = (StatusCode::OK, doc).into_response();
            r.headers_mut().insert("content-type", HeaderValue::from_static("application/xml"));
            if let Some(blob) = &listing.blob {
                blob_headers(&mut r, blob);
                if let Ok(v) = HeaderValue::from_str(&blob.size.to_string()) {
                    r.headers_mut().insert("x-ms-blob-content-length", v);
                }
            }
            Ok(r)
        }
        Operation::GetBlob | Operation::BlobProperties => read(ctx, op, &name()?).await,
        Operation::DeleteBlob => {
            files.delete_blob(ctx.at(&name()?), ctx.conditions()).await?;
            let mut r = empty(StatusCode::ACCEPTED);
            r.headers_mut().insert("x-ms-delete-type-permanent", HeaderValue::from_static("true"));
            Ok(r)
        }
        Operation::Path(_) => unreachable!("Data Lake operations are handled in path.rs"),
    }
}

/// Get Blob and Get Blob Properties, with `If-Match` / `If-None-Match` and byte ranges.
async fn read(ctx: &Ctx<'_>, op: Operation, name: &str) -> StorageResult<Response> {
    let files = &ctx.app.stores.files;
    let blob =
        files.blob(&ctx.tenant, &ctx.container, name).await?.ok_or_else(|| StorageError::new(Code::BlobNotFound))?;
    let quoted = |s: &str| s.trim().trim_matches('"').to_string();
    if let Some(m) = ctx.header("if-match") {
        if m.trim() != "*" && quoted(m) != blob.etag {
            return Err(StorageError::new(Code::ConditionNotMet));
        }
    }
    if let Some(m) = ctx.header("if-none-match") {
        if m.trim() == "*" || quoted(m) == blob.etag {
            let mut r = empty(StatusCode::NOT_MODIFIED);
            blob_headers(&mut r, &blob);
            return Ok(r);
        }
    }
    let range = match ctx.header("x-ms-range").or_else(|| ctx.header("range")) {
        // An empty blob has no byte 0: a ranged read of it is 416, and the SDKs read it again without a range.
        Some(v) if op == Operation::GetBlob => wire::range(v, blob.size)?,
        _ => None,
    };
    let (status, length) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, blob.size),
    };
    let body = if op == Operation::GetBlob {
        let (_, stream) = files
            .read_blob(&ctx.tenant, &ctx.container, name, range.clone())
            .await?
            .ok_or_else(|| StorageError::new(Code::BlobNotFound))?;
        Body::from_stream(stream)
    } else {
        Body::empty()
    };
    let mut r = (status, body).into_response();
    blob_headers(&mut r, &blob);
    let h = r.headers_mut();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put("content-length", length.to_string());
    put("content-type", blob.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()));
    put("x-ms-creation-time", xml::http_date(blob.created));
    put("x-ms-blob-type", "BlockBlob".into());
    put("x-ms-lease-state", "available".into());
    put("x-ms-lease-status", "unlocked".into());
    put("x-ms-server-encrypted", "true".into());
    put("accept-ranges", "bytes".into());
    if let Some(r) = &range {
        put("content-range", format!("bytes {}-{}/{}", r.start, r.end - 1, blob.size));
    }
    if let Some(md5) = &blob.content_md5 {
        put(if range.is_some() { "x-ms-blob-content-md5" } else { "content-md5" }, md5.clone());
    }
    if op == Operation::BlobProperties {
        put("x-ms-access-tier", "Hot".into());
        put("x-ms-access-tier-inferred", "true".into());
    }
    Ok(r)
}

/// List Blobs (`restype=container&comp=list`): `prefix`, `delimiter`, `marker`, `maxresults`.
async fn list(ctx: &Ctx<'_>) -> StorageResult<Response> {
    let files = &ctx.app.stores.files;
    let prefix = ctx.param("prefix").unwrap_or_default();
    let marker = ctx.param("marker").filter(|m| !m.is_empty());
    let delimiter = ctx.param("delimiter").filter(|d| !d.is_empty());
    let max = match ctx.param("maxresults") {
        Some(v) => Some(wire::number("maxresults", v)?.clamp(1, 5000)),
        None => None,
    };
    let page = max.unwrap_or(5000) as usize;
    // A container holds at most --upload-max-files blobs: one read covers it.
    let all = files.list(&ctx.tenant, &ctx.container, prefix, marker, files.limits().max_files as usize + 1).await?;
    let (mut blobs, mut prefixes, mut next) = (Vec::new(), Vec::<String>::new(), None);
    for b in all {
        if blobs.len() + prefixes.len() == page {
            next = Some(
                blobs
                    .last()
                    .map(|b: &rosterflow_store::files::Blob| b.name.clone())
                    .or_else(|| prefixes.last().cloned()),
            );
            break;
        }
        let folded = delimiter
            .and_then(|d| b.name[prefix.len()..].find(d).map(|i| b.name[..prefix.len() + i + d.len()].to_string()));
        match folded {
            Some(p) if prefixes.last() == Some(&p) => {}
            Some(p) => prefixes.push(p),
            None => blobs.push(b),
        }
    }
    let next = next.flatten();
    let doc = xml::list_blobs(&xml::Listing {
        service: &ctx.service,
        container: &ctx.container,
        prefix,
        marker: marker.unwrap_or_default(),
        max_results: max,
        delimiter,
        blobs: &blobs,
        prefixes: &prefixes,
        next_marker: next.as_deref(),
    });
    let mut r = (StatusCode::OK, doc).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/xml"));
    Ok(r)
}
