//! Data Lake Storage Gen2 path operations (Azure Storage REST, "Path - Create / Update / Delete"), the upload
//! protocol of Microsoft's SDS samples: `PUT …/users.csv?resource=file`, `PATCH …?action=append&position=0`
//! with the bytes, `PATCH …?action=flush&position=<length>`. Appends stage bytes at a position and are invisible
//! until a flush commits the ones that exactly tile the file up to the flush position (`files/plan.rs`); a
//! wrong position is refused and changes nothing. Errors are Data Lake's JSON.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::blob::blob_headers;
use super::errors::{Code, Dialect, StorageError, StorageResult};
use super::{stream, wire, Ctx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathOp {
    CreateFile,
    Append,
    Flush,
    Delete,
}

pub(crate) fn operation(method: &Method, pairs: &[(String, String)]) -> StorageResult<PathOp> {
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    match (method, get("resource"), get("action")) {
        (&Method::PUT, Some("file"), None) => Ok(PathOp::CreateFile),
        (&Method::PUT, Some("directory"), None) => Err(StorageError::with(
            Code::UnsupportedQueryParameter,
            "Directories are not supported in upload sessions: upload the files at the top of the container.",
        )),
        (&Method::PATCH, None, Some("append")) => Ok(PathOp::Append),
        (&Method::PATCH, None, Some("flush")) => Ok(PathOp::Flush),
        (&Method::DELETE, None, None) => Ok(PathOp::Delete),
        (_, Some(r), _) => Err(StorageError::with(
            Code::InvalidQueryParameterValue,
            format!("resource={} is not supported here.", r.chars().take(40).collect::<String>()),
        )),
        (_, _, Some(a)) => Err(StorageError::with(
            Code::UnsupportedQueryParameter,
            format!(
                "The path action '{}' is not supported by upload sessions.",
                a.chars().take(40).collect::<String>()
            ),
        )),
        (m, None, None) => Err(StorageError::with(
            Code::UnsupportedHttpVerb,
            format!("The resource doesn't support the HTTP verb {m}."),
        )),
    }
}

fn position_param(ctx: &Ctx<'_>) -> StorageResult<u64> {
    let v = ctx.param("position").ok_or_else(|| {
        StorageError::with(Code::MissingRequiredQueryParameter, "The query parameter 'position' is required.")
    })?;
    wire::number("position", v)
}

fn flag(ctx: &Ctx<'_>, name: &str) -> StorageResult<bool> {
    match ctx.param(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => {
            Err(StorageError::with(Code::InvalidQueryParameterValue, format!("'{name}' must be true or false.")))
        }
    }
}

fn answer(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut().insert("content-length", HeaderValue::from_static("0"));
    r.headers_mut().insert("x-ms-request-server-encrypted", HeaderValue::from_static("true"));
    r
}

pub(crate) async fn handle(ctx: &Ctx<'_>, op: PathOp, name: &str, body: Body) -> StorageResult<Response> {
    let files = &ctx.app.stores.files;
    let at = ctx.at(name);
    match op {
        PathOp::CreateFile => {
            let blob = files.create_path(at, ctx.props(Dialect::DataLake, false)?, ctx.conditions()).await?;
            let mut r = answer(StatusCode::CREATED);
            blob_headers(&mut r, &blob);
            Ok(r)
        }
        PathOp::Append => {
            ctx.check_length()?;
            let position = position_param(ctx)?;
            let flush = flag(ctx, "flush")?;
            let md5 = ctx.body_md5()?;
            let digest = files.append(at, position, stream(body), md5.as_deref()).await?;
            let mut r = answer(StatusCode::ACCEPTED);
            if md5.is_some() {
                if let Ok(v) = HeaderValue::from_str(&digest) {
                    r.headers_mut().insert("content-md5", v);
                }
            }
            if flush {
                // `flush=true`: the append commits at once, up to its own end.
                let end = position + ctx.header("content-length").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                let blob = files.flush(at, end, false, Default::default(), Default::default()).await?;
                blob_headers(&mut r, &blob);
            }
            Ok(r)
        }
        PathOp::Flush => {
            let position = position_param(ctx)?;
            let retain = flag(ctx, "retainUncommittedData")?;
            let props = ctx.props(Dialect::DataLake, false)?;
            let blob = files.flush(at, position, retain, props, ctx.conditions()).await?;
            let mut r = answer(StatusCode::OK);
            blob_headers(&mut r, &blob);
            Ok(r)
        }
        PathOp::Delete => {
            files.delete_blob(at, ctx.conditions()).await?;
            Ok(answer(StatusCode::OK))
        }
    }
}
