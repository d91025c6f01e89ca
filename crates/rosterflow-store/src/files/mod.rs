//! Uploaded files: the containers of upload sessions (`azureDataLakeConnector: getUploadSession`,
//! `shared/reference/graph-docs/api/industrydata-azuredatalakeconnector-getuploadsession.md`), the blobs
//! clients write into them through rosterflow's Azure Storage emulation, and what the validator reads back.
//!
//! Bytes go to an object store ([`objects`]); which objects make up which committed file, the containers'
//! state and expiry, staged blocks and appends are rows in the database (`migrations/0003_files.sql`), exact
//! across replicas and restarts. Every write streams its bytes to a fresh object first, then commits rows in
//! one transaction under its container's lock ([`plan`] decides what, for both backends): an acknowledged write
//! is durable, a refused one changes nothing, and no client-chosen name ever becomes an object key.
//!
//! The validator's interface: [`Files::open_container`], [`Files::entries`] (a zip's entries listed as files,
//! with the problems that make the upload catastrophic), [`Files::open_entry`] (a byte stream; [`SyncReader`]
//! bridges it to `std::io::Read` on a blocking thread), [`Files::finalize`] and [`Files::reset`].

mod objects;
mod plan;
mod postgres;
mod sql;
mod sqlite;
pub mod zip;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;

pub use self::objects::{ByteStream, Location};
pub use self::plan::{MAX_COMMITTED_BLOCKS, MAX_UNCOMMITTED_BLOCKS};
pub use self::zip::{ZipLimits, MAX_ZIP_ENTRIES};
use crate::secrets::Sealer;
use crate::{StoreError, TenantId};
use objects::{Objects, WriteError};
use plan::Op;

/// Limits on what a tenant may upload; each breach is refused with an error that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file (a blob, or a zip's entry), in bytes.
    pub max_file_bytes: u64,
    /// Most files in one container (names being uploaded count too).
    pub max_files: u32,
    /// Most open upload containers per tenant.
    pub max_containers: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_file_bytes: 2 * 1024 * 1024 * 1024, max_files: 100, max_containers: 50 }
    }
}

/// How uploaded files are kept.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    pub location: Location,
    pub limits: Limits,
    /// How long a session's signature is valid after getUploadSession.
    pub session_lifetime: Duration,
    /// How long a container lives after it is created (Graph's example: 34 hours past its session).
    pub container_lifetime: Duration,
}

impl FilesConfig {
    /// Local files in `dir`, default limits and lifetimes.
    pub fn local(dir: impl Into<std::path::PathBuf>) -> FilesConfig {
        FilesConfig {
            location: Location::Local(dir.into()),
            limits: Limits::default(),
            session_lifetime: Duration::from_secs(12 * 3600),
            container_lifetime: Duration::from_secs(46 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Takes uploads.
    Open,
    /// Validated: read-only, its signatures refused.
    Finalized,
    /// Reset or expired: refused everywhere, removed by the sweeper.
    Discarded,
}

impl ContainerState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ContainerState::Open => "open",
            ContainerState::Finalized => "finalized",
            ContainerState::Discarded => "discarded",
        }
    }

    pub(crate) fn parse(s: &str) -> ContainerState {
        match s {
            "open" => ContainerState::Open,
            "finalized" => ContainerState::Finalized,
            _ => ContainerState::Discarded,
        }
    }
}

/// An upload container. Times are microseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// A GUID, the `containerId` of the fileUploadSession.
    pub id: String,
    pub tenant: TenantId,
    /// The data connector's id, lower-cased.
    pub connector: String,
    pub state: ContainerState,
    pub created: i64,
    pub session_expires: i64,
    pub container_expires: i64,
}

/// A committed file's properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob {
    pub name: String,
    pub size: u64,
    /// Azure's form, without quotes (`0x8D...`).
    pub etag: String,
    pub created: i64,
    pub modified: i64,
    pub content_type: Option<String>,
    /// Base64, as `Content-MD5` carries it.
    pub content_md5: Option<String>,
}

/// Properties a write sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    pub content_type: Option<String>,
    pub content_md5: Option<String>,
}

impl Props {
    fn is_empty(&self) -> bool {
        self.content_type.is_none() && self.content_md5.is_none()
    }
}

/// `If-Match` / `If-None-Match` of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

/// One entry of a Put Block List body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRef {
    Committed(String),
    Uncommitted(String),
    Latest(String),
}

impl BlockRef {
    pub fn id(&self) -> &str {
        match self {
            BlockRef::Committed(id) | BlockRef::Uncommitted(id) | BlockRef::Latest(id) => id,
        }
    }

    fn list_name(&self) -> &'static str {
        match self {
            BlockRef::Committed(_) => "committed",
            BlockRef::Uncommitted(_) => "uncommitted",
            BlockRef::Latest(_) => "committed or uncommitted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Committed,
    Block,
    Append,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Committed => "c",
            Kind::Block => "b",
            Kind::Append => "a",
        }
    }

    pub(crate) fn parse(s: &str) -> Kind {
        match s {
            "c" => Kind::Committed,
            "b" => Kind::Block,
            _ => Kind::Append,
        }
    }
}

/// One object of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkRow {
    pub kind: Kind,
    pub seq: i64,
    pub block_id: String,
    pub start: i64,
    pub object: String,
    pub size: i64,
}

/// Why a files operation was refused. The server maps each to Azure's status and code
/// (`rosterflow-server/src/storage/errors.rs`) or to Graph's.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the container does not exist")]
    ContainerNotFound,
    #[error("the upload session has ended (the container is {})", .0.as_str())]
    Closed(ContainerState),
    #[error("the blob does not exist")]
    BlobNotFound,
    #[error("the blob already exists")]
    Exists,
    #[error("the condition specified using HTTP conditional header(s) is not met")]
    ConditionNotMet,
    #[error("the block list is invalid: {0}")]
    InvalidBlockList(String),
    #[error("{0}")]
    TooManyBlocks(String),
    #[error("{0}")]
    InvalidPosition(String),
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("a container holds at most {0} files")]
    TooManyFiles(u32),
    #[error("a tenant may have at most {0} open upload containers")]
    TooManyContainers(u32),
    #[error("the MD5 of the body is {actual}, not {expected} as Content-MD5 says")]
    Md5Mismatch { expected: String, actual: String },
    #[error("the request body could not be read: {0}")]
    Body(std::io::Error),
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<StoreError> for FileError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => FileError::ContainerNotFound,
            other => FileError::Backend(other.to_string()),
        }
    }
}

pub type FileResult<T> = Result<T, FileError>;

/// Microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The database side of files, one implementation per backend. Every method is tenant-first except the
/// lookups by container id that signature checks and the sweeper need (a container id is a GUID; the row
/// names its tenant).
#[async_trait]
pub(crate) trait Meta: Send + Sync + 'static {
    /// The tenant's open container for `connector`, created (or replaced, with `reset`, or when expired) as
    /// getUploadSession says. `fresh` is the row to insert when a new container is needed.
    async fn session(
        &self,
        tenant: &TenantId,
        fresh: Container,
        reset: bool,
        max_containers: u32,
    ) -> FileResult<Container>;
    /// A container by id, in any tenant.
    async fn container(&self, id: &str) -> FileResult<Option<Container>>;
    /// The connector's open container, if any.
    async fn open_container(&self, tenant: &TenantId, connector: &str) -> FileResult<Option<Container>>;
    /// Move a container from `from` to `to`; `false` when it was not in state `from`.
    async fn transition(
        &self,
        tenant: &TenantId,
        id: &str,
        from: ContainerState,
        to: ContainerState,
    ) -> FileResult<bool>;
    /// Load a blob's state under its container's lock, plan `op` and apply it; the blob as written (if any)
    /// and the objects the plan left unused.
    async fn mutate(
        &self,
        tenant: &TenantId,
        container: &str,
        name: &str,
        op: Op,
        limits: Limits,
    ) -> FileResult<(Option<Blob>, Vec<String>)>;
    /// A committed blob and its committed chunks in order.
    async fn blob(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Option<(Blob, Vec<ChunkRow>)>>;
    /// A blob's uncommitted blocks.
    async fn staged(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Vec<ChunkRow>>;
    /// Committed blobs whose names start with `prefix`, after `after`, in name order, at most `limit`.
    async fn list(
        &self,
        tenant: &TenantId,
        container: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> FileResult<Vec<Blob>>;
    /// Containers past their expiry or discarded, as of `now`: (tenant, id).
    async fn sweepable(&self, now: i64) -> FileResult<Vec<(TenantId, String)>>;
    /// Delete a container's rows.
    async fn remove(&self, tenant: &TenantId, id: &str) -> FileResult<()>;
    /// The sealed value stored under `name`, storing `candidate` first when there is none.
    async fn server_key(&self, name: &str, candidate: String) -> FileResult<String>;
}

/// Uploaded files, tenant-first. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    meta: Arc<dyn Meta>,
    objects: Objects,
    config: Arc<FilesConfig>,
}

/// Get Block List's answer: blocks as (id, size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockListing {
    pub blob: Option<Blob>,
    pub committed: Vec<(String, u64)>,
    pub uncommitted: Vec<(String, u64)>,
}

/// Which blob an operation is about.
#[derive(Debug, Clone, Copy)]
pub struct BlobAt<'a> {
    pub tenant: &'a TenantId,
    pub container: &'a str,
    pub name: &'a str,
}

/// A file of a container as the validator sees it: a blob, or an entry of a zip blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The file's name: the blob's, or the entry's (a bare file name; nested paths are problems).
    pub name: String,
    /// Its size in bytes (an entry's uncompressed size).
    pub size: u64,
    pub source: EntrySource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    Blob,
    /// Entry `index` of the zip blob `zip`.
    ZipEntry {
        zip: String,
        index: usize,
    },
}

/// A container's files, and what makes the upload catastrophic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub files: Vec<FileEntry>,
    /// Each of these fails the upload as a whole (the docs' "catastrophic error").
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The blob (and entry) concerned, e.g. `roster.zip` or `roster.zip/users.csv`.
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A file both inside and outside a zip, or twice in zips.
    Duplicate,
    /// A zip entry in a folder, a folder entry, or a name with `..`, `\`, a drive or a leading `/`.
    NestedPath,
    /// An entry rosterflow can't read: encrypted, compressed other than stored/deflate, or a zip in a zip.
    UnsupportedEntry,
    /// Past a zip limit: too many entries, too large uncompressed, or compressed implausibly well.
    TooLarge,
    /// Not a readable zip.
    Malformed,
}

impl Files {
    pub(crate) fn new(meta: Arc<dyn Meta>, config: FilesConfig) -> Result<Files, StoreError> {
        let objects = Objects::open(&config.location).map_err(StoreError::Backend)?;
        Ok(Files { meta, objects, config: Arc::new(config) })
    }

    pub fn limits(&self) -> Limits {
        self.config.limits
    }

    pub fn config(&self) -> &FilesConfig {
        &self.config
    }

    /// The 32-byte key that signs upload sessions: generated once, kept sealed in the database (so every
    /// replica that shares it and the secrets key file signs and verifies alike).
    pub async fn signing_key(&self, sealer: &Sealer) -> FileResult<[u8; 32]> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        use rand::RngCore;
        let server = TenantId(crate::secrets::SERVER.to_string());
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let candidate = sealer.seal(&server, &STANDARD.encode(key));
        let stored = self.meta.server_key("upload-sas", candidate).await?;
        let opened = sealer.open(&server, &stored).map_err(|_| {
            FileError::Backend("the upload signing key does not open with this secrets key file".into())
        })?;
        STANDARD
            .decode(opened)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| FileError::Backend("the stored upload signing key is damaged".into()))
    }

    // ---- sessions ----------------------------------------------------------------------------------------

    /// getUploadSession: the connector's open container (a new one when there is none, it expired, or
    /// `reset`), with its session renewed when the old one has ended.
    pub async fn session(&self, tenant: &TenantId, connector: &str, reset: bool) -> FileResult<Container> {
        let now = now_micros();
        let micros = |d: Duration| d.as_micros() as i64;
        // Whole seconds: a signature's `se` has no fraction, and the session's expiry reads the same in both.
        let session_expires = plan::whole_seconds(now + micros(self.config.session_lifetime));
        let fresh = Container {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.clone(),
            connector: crate::id_key(connector),
            state: ContainerState::Open,
            created: now,
            session_expires,
            container_expires: now + micros(self.config.container_lifetime).max(micros(self.config.session_lifetime)),
        };
        self.meta.session(tenant, fresh, reset, self.config.limits.max_containers).await
    }

    /// A container by id in any tenant (the signature check finds the tenant here).
    pub async fn container(&self, id: &str) -> FileResult<Option<Container>> {
        self.meta.container(&id.to_ascii_lowercase()).await
    }

    /// The connector's current open container, if it has one that has not expired.
    pub async fn open_container(&self, tenant: &TenantId, connector: &str) -> FileResult<Option<Container>> {
        let now = now_micros();
        Ok(self.meta.open_container(tenant, &crate::id_key(connector)).await?.filter(|c| now < c.container_expires))
    }

    /// After validation: no more writes, signatures refused; the files stay readable until the container
    /// expires. `Closed` unless the container was open.
    pub async fn finalize(&self, tenant: &TenantId, container: &str) -> FileResult<()> {
        self.change_state(tenant, container, ContainerState::Finalized).await
    }

    /// `resetSession=true` (or giving up a container): its files are discarded.
    pub async fn reset(&self, tenant: &TenantId, container: &str) -> FileResult<()> {
        self.change_state(tenant, container, ContainerState::Discarded).await
    }

    async fn change_state(&self, tenant: &TenantId, container: &str, to: ContainerState) -> FileResult<()> {
        let id = container.to_ascii_lowercase();
        if self.meta.transition(tenant, &id, ContainerState::Open, to).await? {
            return Ok(());
        }
        match self.meta.container(&id).await?.filter(|c| &c.tenant == tenant) {
            Some(c) => Err(FileError::Closed(c.state)),
            None => Err(FileError::ContainerNotFound),
        }
    }

    /// Remove expired and discarded containers, their rows and objects; returns how many went.
    pub async fn sweep(&self) -> FileResult<usize> {
        let doomed = self.meta.sweepable(now_micros()).await?;
        let mut removed = 0;
        for (tenant, id) in doomed {
            // Objects first: rows that outlive a failed object deletion get another go next time.
            if let Err(e) = self.objects.delete_container(&id).await {
                tracing::warn!(error = %e, "sweeping an upload container's objects");
                continue;
            }
            self.meta.remove(&tenant, &id).await?;
            removed += 1;
        }
        Ok(removed)
    }

    // ---- blobs -------------------------------------------------------------------------------------------

    /// Stream `body` to a fresh object of the container, checking its size and (when given) its MD5.
    async fn write_body(
        &self,
        container: &str,
        body: ByteStream,
        md5: Option<&str>,
    ) -> FileResult<(String, i64, [u8; 16])> {
        let key = Objects::fresh(container);
        let written = self.objects.write(&key, body, self.config.limits.max_file_bytes).await.map_err(|e| match e {
            WriteError::TooLarge(n) => FileError::TooLarge(n),
            WriteError::Body(e) => FileError::Body(e),
            WriteError::Store(e) => FileError::Backend(e),
        })?;
        if let Some(expected) = md5 {
            let actual = base64_md5(&written.md5);
            if actual != expected {
                self.objects.delete(vec![key]).await;
                return Err(FileError::Md5Mismatch { expected: expected.to_string(), actual });
            }
        }
        Ok((key, written.size as i64, written.md5))
    }

    async fn apply(&self, at: BlobAt<'_>, op: Op) -> FileResult<Option<Blob>> {
        let written = op.written();
        match self.meta.mutate(at.tenant, at.container, at.name, op, self.config.limits).await {
            Ok((blob, garbage)) => {
                self.objects.delete(garbage).await;
                Ok(blob)
            }
            Err(e) => {
                self.objects.delete(written).await;
                Err(e)
            }
        }
    }

    /// Put Blob. `md5`: the request's `Content-MD5`, checked against the body. The blob's MD5 property is
    /// the one the client sent in `props`, else the body's.
    pub async fn put_blob(
        &self,
        at: BlobAt<'_>,
        body: ByteStream,
        md5: Option<&str>,
        mut props: Props,
        cond: Conditions,
    ) -> FileResult<Blob> {
        let (key, size, digest) = self.write_body(at.container, body, md5).await?;
        props.content_md5.get_or_insert_with(|| base64_md5(&digest));
        let object = if size == 0 {
            self.objects.delete(vec![key]).await;
            None
        } else {
            Some((key, size))
        };
        let blob = self.apply(at, Op::PutBlob { object, props, cond }).await?;
        Ok(blob.expect("Put Blob writes the blob"))
    }

    /// Put Block; returns the block's MD5 (base64).
    pub async fn put_block(
        &self,
        at: BlobAt<'_>,
        block_id: &str,
        body: ByteStream,
        md5: Option<&str>,
    ) -> FileResult<String> {
        let (object, size, digest) = self.write_body(at.container, body, md5).await?;
        self.apply(at, Op::PutBlock { id: block_id.to_string(), object, size }).await?;
        Ok(base64_md5(&digest))
    }

    pub async fn put_block_list(
        &self,
        at: BlobAt<'_>,
        blocks: Vec<BlockRef>,
        props: Props,
        cond: Conditions,
    ) -> FileResult<Blob> {
        let blob = self.apply(at, Op::PutBlockList { blocks, props, cond }).await?;
        Ok(blob.expect("Put Block List writes the blob"))
    }

    pub async fn delete_blob(&self, at: BlobAt<'_>, cond: Conditions) -> FileResult<()> {
        self.apply(at, Op::Delete { cond }).await.map(drop)
    }

    /// Data Lake create (`PUT ?resource=file`).
    pub async fn create_path(&self, at: BlobAt<'_>, props: Props, cond: Conditions) -> FileResult<Blob> {
        let blob = self.apply(at, Op::CreatePath { props, cond }).await?;
        Ok(blob.expect("create writes the blob"))
    }

    /// Data Lake append at `position`; returns the body's MD5 (base64).
    pub async fn append(
        &self,
        at: BlobAt<'_>,
        position: u64,
        body: ByteStream,
        md5: Option<&str>,
    ) -> FileResult<String> {
        let (object, size, digest) = self.write_body(at.container, body, md5).await?;
        if size == 0 {
            self.objects.delete(vec![object]).await;
            return Ok(base64_md5(&digest)); // nothing to stage
        }
        let position = i64::try_from(position).map_err(|_| FileError::TooLarge(self.config.limits.max_file_bytes))?;
        self.apply(at, Op::Append { position, object, size }).await?;
        Ok(base64_md5(&digest))
    }

    /// Data Lake flush to `position`; the file as committed.
    pub async fn flush(
        &self,
        at: BlobAt<'_>,
        position: u64,
        retain: bool,
        props: Props,
        cond: Conditions,
    ) -> FileResult<Blob> {
        let position = i64::try_from(position).map_err(|_| FileError::TooLarge(self.config.limits.max_file_bytes))?;
        let op = Op::Flush { position, retain, props, cond };
        match self.apply(at, op).await? {
            Some(blob) => Ok(blob),
            // A flush that committed nothing new: the file as it is.
            None => self.blob(at.tenant, at.container, at.name).await?.ok_or(FileError::BlobNotFound),
        }
    }

    /// A committed blob's properties.
    pub async fn blob(&self, tenant: &TenantId, container: &str, name: &str) -> FileResult<Option<Blob>> {
        Ok(self.meta.blob(tenant, container, name).await?.map(|(b, _)| b))
    }

    /// Get Block List: the blob (if committed), its committed blocks and its uncommitted ones, as (id, size);
    /// `None` when it has neither. Committed content that did not come from blocks (Put Blob, flush) has none.
    pub async fn block_list(&self, at: BlobAt<'_>) -> FileResult<Option<BlockListing>> {
        let committed = self.meta.blob(at.tenant, at.container, at.name).await?;
        let staged = self.meta.staged(at.tenant, at.container, at.name).await?;
        if committed.is_none() && staged.is_empty() {
            return Ok(None);
        }
        let ids = |chunks: Vec<ChunkRow>| -> Vec<(String, u64)> {
            chunks.into_iter().filter(|c| !c.block_id.is_empty()).map(|c| (c.block_id, c.size as u64)).collect()
        };
        let (blob, committed) = match committed {
            Some((b, chunks)) => (Some(b), ids(chunks)),
            None => (None, Vec::new()),
        };
        Ok(Some(BlockListing { blob, committed, uncommitted: ids(staged) }))
    }

    /// A committed blob's properties and the bytes `range` of it (clamped to its size; `None`: all of it).
    pub async fn read_blob(
        &self,
        tenant: &TenantId,
        container: &str,
        name: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> FileResult<Option<(Blob, ByteStream)>> {
        let Some((blob, chunks)) = self.meta.blob(tenant, container, name).await? else { return Ok(None) };
        let range = range.unwrap_or(0..blob.size);
        let range = range.start.min(blob.size)..range.end.min(blob.size);
        let stream = self.objects.read(&chunks, range);
        Ok(Some((blob, stream)))
    }

    /// List Blobs: committed blobs under `prefix`, after the name `after`, at most `limit`.
    pub async fn list(
        &self,
        tenant: &TenantId,
        container: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> FileResult<Vec<Blob>> {
        self.meta.list(tenant, container, prefix, after, limit).await
    }

    // ---- the validator's side ----------------------------------------------------------------------------

    /// Every committed file of the container, a zip's entries as files of their own, and the problems that
    /// make the upload catastrophic (a zip that can't be read safely, nested paths, a file both inside and
    /// outside a zip). Which names the roster format supports is the validator's to check.
    pub async fn entries(&self, tenant: &TenantId, container: &str) -> FileResult<Listing> {
        let mut blobs = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.list(tenant, container, "", after.as_deref(), 1000).await?;
            let done = page.len() < 1000;
            after = page.last().map(|b| b.name.clone());
            blobs.extend(page);
            if done {
                break;
            }
        }
        let mut listing = Listing::default();
        for blob in blobs {
            if is_zip(&blob.name) {
                let Some((_, chunks)) = self.meta.blob(tenant, container, &blob.name).await? else { continue };
                let limits = ZipLimits::for_files(&self.config.limits);
                let reader =
                    zip::BlobReader::new(self.objects.clone(), chunks, blob.size, tokio::runtime::Handle::current());
                let name = blob.name.clone();
                let (entries, problems) = tokio::task::spawn_blocking(move || zip::list(reader, &name, &limits))
                    .await
                    .map_err(|e| FileError::Backend(e.to_string()))?;
                listing.problems.extend(problems);
                listing.files.extend(entries);
            } else {
                listing.files.push(FileEntry { name: blob.name, size: blob.size, source: EntrySource::Blob });
            }
        }
        zip::duplicates(&mut listing);
        Ok(listing)
    }

    /// A file's bytes: a blob's, or a zip entry's decompressed (checked against its declared size and CRC
    /// as it streams; a mismatch ends the stream with an error).
    pub async fn open_entry(&self, tenant: &TenantId, container: &str, entry: &FileEntry) -> FileResult<ByteStream> {
        match &entry.source {
            EntrySource::Blob => {
                let (_, stream) =
                    self.read_blob(tenant, container, &entry.name, None).await?.ok_or(FileError::BlobNotFound)?;
                Ok(stream)
            }
            EntrySource::ZipEntry { zip: zip_name, index } => {
                let (blob, chunks) =
                    self.meta.blob(tenant, container, zip_name).await?.ok_or(FileError::BlobNotFound)?;
                let reader =
                    zip::BlobReader::new(self.objects.clone(), chunks, blob.size, tokio::runtime::Handle::current());
                let limits = ZipLimits::for_files(&self.config.limits);
                Ok(zip::stream_entry(reader, *index, limits))
            }
        }
    }
}

/// A zip upload, by name (case-insensitively).
pub fn is_zip(name: &str) -> bool {
    name.len() > 4 && name[name.len() - 4..].eq_ignore_ascii_case(".zip")
}

fn base64_md5(digest: &[u8; 16]) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    STANDARD.encode(digest)
}

/// `std::io::Read` over a [`ByteStream`], for synchronous parsers on a blocking thread (`spawn_blocking`);
/// never use it on a runtime worker thread (it blocks on the runtime `handle`).
pub struct SyncReader {
    stream: ByteStream,
    handle: tokio::runtime::Handle,
    current: Bytes,
}

impl SyncReader {
    pub fn new(stream: ByteStream, handle: tokio::runtime::Handle) -> SyncReader {
        SyncReader { stream, handle, current: Bytes::new() }
    }
}

impl std::io::Read for SyncReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(piece) => self.current = piece?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
