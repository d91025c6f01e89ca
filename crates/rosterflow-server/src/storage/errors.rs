//! Azure Storage's errors on the wire, in one place: each code with its HTTP status and default message, as
//! Azure (and Azurite's `src/blob/errors/StorageErrorFactory.ts`) answer them. Blob operations get Azure's XML
//! body (`<Error><Code>…</Code><Message>…</Message></Error>`), Data Lake operations its JSON body
//! (`{"error":{"code","message"}}`); both carry `x-ms-error-code`, which the SDKs read first.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rosterflow_store::files::{ContainerState, FileError};

/// Every error code this emulation answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    AuthenticationFailed,
    AuthorizationPermissionMismatch,
    ContainerNotFound,
    ContainerAlreadyExists,
    BlobNotFound,
    BlobAlreadyExists,
    PathNotFound,
    PathAlreadyExists,
    ConditionNotMet,
    InvalidBlockList,
    InvalidBlockId,
    InvalidFlushPosition,
    BlockCountExceedsLimit,
    RequestBodyTooLarge,
    /// rosterflow's: a container holds at most `--upload-max-files` files.
    FileCountExceedsLimit,
    InvalidHeaderValue,
    MissingRequiredHeader,
    InvalidQueryParameterValue,
    MissingRequiredQueryParameter,
    UnsupportedQueryParameter,
    InvalidResourceName,
    InvalidUri,
    InvalidRange,
    Md5Mismatch,
    InvalidMd5,
    InvalidXmlDocument,
    UnsupportedHttpVerb,
    InternalError,
    ServerBusy,
}

impl Code {
    /// Status, code and Azure's default message.
    fn spec(self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Code::AuthenticationFailed => (
                S::FORBIDDEN,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            ),
            Code::AuthorizationPermissionMismatch => (
                S::FORBIDDEN,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ),
            Code::ContainerNotFound => (S::NOT_FOUND, "ContainerNotFound", "The specified container does not exist."),
            Code::ContainerAlreadyExists => {
                (S::CONFLICT, "ContainerAlreadyExists", "The specified container already exists.")
            }
            Code::BlobNotFound => (S::NOT_FOUND, "BlobNotFound", "The specified blob does not exist."),
            Code::BlobAlreadyExists => (S::CONFLICT, "BlobAlreadyExists", "The specified blob already exists."),
            Code::PathNotFound => (S::NOT_FOUND, "PathNotFound", "The specified path does not exist."),
            Code::PathAlreadyExists => (S::CONFLICT, "PathAlreadyExists", "The specified path already exists."),
            Code::ConditionNotMet => (
                S::PRECONDITION_FAILED,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
            ),
            Code::InvalidBlockList => (S::BAD_REQUEST, "InvalidBlockList", "The specified block list is invalid."),
            Code::InvalidBlockId => (
                S::BAD_REQUEST,
                "InvalidBlockId",
                "The specified block ID is invalid. The block ID must be Base64-encoded.",
            ),
            Code::InvalidFlushPosition => (
                S::BAD_REQUEST,
                "InvalidFlushPosition",
                "The uploaded data is not contiguous or the position query parameter value is not equal to the length of the file after appending the uploaded data.",
            ),
            Code::BlockCountExceedsLimit => (
                S::CONFLICT,
                "BlockCountExceedsLimit",
                "The committed block count cannot exceed the maximum limit of 50,000 blocks.",
            ),
            Code::RequestBodyTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
            ),
            Code::FileCountExceedsLimit => {
                (S::CONFLICT, "FileCountExceedsLimit", "The container already holds as many files as it may.")
            }
            Code::InvalidHeaderValue => {
                (S::BAD_REQUEST, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.")
            }
            Code::MissingRequiredHeader => {
                (S::BAD_REQUEST, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.")
            }
            Code::InvalidQueryParameterValue => (
                S::BAD_REQUEST,
                "InvalidQueryParameterValue",
                "Value for one of the query parameters specified in the request URI is invalid.",
            ),
            Code::MissingRequiredQueryParameter => (
                S::BAD_REQUEST,
                "MissingRequiredQueryParameter",
                "A query parameter that's mandatory for this request is not specified.",
            ),
            Code::UnsupportedQueryParameter => (
                S::BAD_REQUEST,
                "UnsupportedQueryParameter",
                "One of the query parameters specified in the request URI is not supported.",
            ),
            Code::InvalidResourceName => {
                (S::BAD_REQUEST, "InvalidResourceName", "The specified resource name contains invalid characters.")
            }
            Code::InvalidUri => (S::BAD_REQUEST, "InvalidUri", "The requested URI does not represent any resource on the server."),
            Code::InvalidRange => (
                S::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            ),
            Code::Md5Mismatch => (
                S::BAD_REQUEST,
                "Md5Mismatch",
                "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
            ),
            Code::InvalidMd5 => (
                S::BAD_REQUEST,
                "InvalidMd5",
                "The MD5 value specified in the request is invalid. The MD5 value must be 128 bits and Base64-encoded.",
            ),
            Code::InvalidXmlDocument => (S::BAD_REQUEST, "InvalidXmlDocument", "XML specified is not syntactically valid."),
            Code::UnsupportedHttpVerb => {
                (S::METHOD_NOT_ALLOWED, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")
            }
            Code::InternalError => {
                (S::INTERNAL_SERVER_ERROR, "InternalError", "The server encountered an internal error. Please retry the request.")
            }
            Code::ServerBusy => (S::SERVICE_UNAVAILABLE, "ServerBusy", "The server is currently unable to receive requests. Please retry your request."),
        }
    }

    pub fn status(self) -> StatusCode {
        self.spec().0
    }

    pub fn as_str(self) -> &'static str {
        self.spec().1
    }
}

/// How the error body is written: Blob service XML, or Data Lake JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Blob,
    DataLake,
}

/// An error answer: a code, a message saying what was wrong with this request, and an optional extra element
/// (`AuthenticationErrorDetail`, ...).
#[derive(Debug, Clone)]
pub struct StorageError {
    pub code: Code,
    pub message: String,
    pub detail: Option<(&'static str, String)>,
}

pub type StorageResult<T> = Result<T, StorageError>;

impl StorageError {
    /// The code with Azure's default message.
    pub fn new(code: Code) -> StorageError {
        StorageError { code, message: code.spec().2.to_string(), detail: None }
    }

    /// The code with a message of our own (what exactly was wrong).
    pub fn with(code: Code, message: impl Into<String>) -> StorageError {
        StorageError { code, message: message.into(), detail: None }
    }

    /// `AuthenticationFailed` with Azure's message and the reason in `AuthenticationErrorDetail`.
    pub fn authentication(detail: impl Into<String>) -> StorageError {
        StorageError {
            detail: Some(("AuthenticationErrorDetail", detail.into())),
            ..StorageError::new(Code::AuthenticationFailed)
        }
    }

    /// The same error as a Data Lake operation names it.
    fn for_dialect(mut self, dialect: Dialect) -> StorageError {
        if dialect == Dialect::DataLake {
            self.code = match self.code {
                Code::BlobNotFound => Code::PathNotFound,
                Code::BlobAlreadyExists => Code::PathAlreadyExists,
                other => other,
            };
            if self.message == Code::BlobNotFound.spec().2 || self.message == Code::BlobAlreadyExists.spec().2 {
                self.message = self.code.spec().2.to_string();
            }
        }
        self
    }

    /// The response, with the request's id in the body as Azure writes it.
    pub fn render(self, dialect: Dialect, request_id: &str) -> Response {
        let e = self.for_dialect(dialect);
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f0Z");
        let message = format!("{}\nRequestId:{request_id}\nTime:{time}", e.message);
        let (body, content_type) = match dialect {
            Dialect::Blob => {
                let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
                let detail = e.detail.as_ref().map(|(k, v)| format!("<{k}>{}</{k}>", esc(v))).unwrap_or_default();
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message>{detail}</Error>",
                    e.code.as_str(),
                    esc(&message)
                );
                (xml, "application/xml")
            }
            Dialect::DataLake => {
                let json = serde_json::json!({"error": {"code": e.code.as_str(), "message": message}});
                (json.to_string(), "application/json;charset=utf-8")
            }
        };
        let mut r = (e.code.status(), body).into_response();
        let h = r.headers_mut();
        h.insert("content-type", HeaderValue::from_static(content_type));
        h.insert("x-ms-error-code", HeaderValue::from_static(e.code.as_str()));
        r
    }
}

impl From<FileError> for StorageError {
    fn from(e: FileError) -> StorageError {
        match e {
            FileError::ContainerNotFound => StorageError::new(Code::ContainerNotFound),
            FileError::Closed(state) => StorageError::authentication(match state {
                ContainerState::Finalized => "The upload session has ended: the container was validated and takes no more writes.",
                _ => "The upload session has ended: the container was reset or has expired.",
            }),
            FileError::BlobNotFound => StorageError::new(Code::BlobNotFound),
            FileError::Exists => StorageError::new(Code::BlobAlreadyExists),
            FileError::ConditionNotMet => StorageError::new(Code::ConditionNotMet),
            FileError::InvalidBlockList(why) => {
                StorageError::with(Code::InvalidBlockList, format!("The specified block list is invalid: {why}."))
            }
            FileError::TooManyBlocks(why) => StorageError::with(Code::BlockCountExceedsLimit, format!("{why}.")),
            FileError::InvalidPosition(why) => StorageError::with(Code::InvalidFlushPosition, format!("{why}.")),
            FileError::TooLarge(n) => StorageError::with(
                Code::RequestBodyTooLarge,
                format!("The file would exceed this server's limit of {n} bytes per file (--upload-max-file-bytes)."),
            ),
            FileError::TooManyFiles(n) => StorageError::with(
                Code::FileCountExceedsLimit,
                format!("The container already holds {n} files, the most this server allows (--upload-max-files)."),
            ),
            FileError::TooManyContainers(n) => StorageError::with(
                Code::FileCountExceedsLimit,
                format!("The tenant already has {n} open upload containers (--upload-max-containers)."),
            ),
            FileError::Md5Mismatch { expected, actual } => StorageError {
                detail: Some(("UserSpecifiedMd5", expected)),
                ..StorageError::with(
                    Code::Md5Mismatch,
                    format!("The MD5 value specified in the request did not match with the MD5 value calculated by the server ({actual})."),
                )
            },
            FileError::Body(e) => StorageError::with(Code::InvalidHeaderValue, format!("The request body could not be read: {e}.")),
            FileError::Backend(e) => {
                tracing::error!(error = %e, "upload storage failure");
                StorageError::new(Code::ServerBusy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_as_azure_writes_them() {
        let r = StorageError::authentication("Signature did not match.").render(Dialect::Blob, "rid");
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-ms-error-code"], "AuthenticationFailed");
        let r = StorageError::new(Code::BlobNotFound).render(Dialect::DataLake, "rid");
        assert_eq!(r.headers()["x-ms-error-code"], "PathNotFound");
        assert_eq!(r.headers()["content-type"], "application/json;charset=utf-8");
    }
}
