//! The bytes of uploaded files, behind the `object_store` crate: a local directory by default, or an object store
//! that replicas share (Azure Blob Storage, S3) named by URL. Every write lands in an object of its own, named
//! `{container}/{uuid}`, never derived from a client's blob name, so nothing a client sends can address an
//! object outside its container; committing a file only writes rows that list these objects (see `plan.rs`).

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::ChunkRow;

/// A stream of a file's bytes (or a request body's).
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Bodies up to this size are written with one `put`; larger ones stream as a multipart upload of parts this
/// size (S3's smallest part is 5 MiB), so no more than about two parts of a body are ever in memory.
const PART: usize = 8 * 1024 * 1024;

/// Where the objects live, as `--files-url` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (created when missing).
    Local(PathBuf),
    /// An `az://`, `azure://`, `abfs://`, `s3://` or `https://ACCOUNT.blob.core.windows.net/...` URL; the
    /// credentials come from the environment (`AZURE_STORAGE_*`, `AWS_*`), as `object_store` reads them.
    Url(String),
}

impl Location {
    /// `file:///dir` or a plain path is a local directory; anything else with a scheme is a URL.
    pub fn parse(s: &str) -> Location {
        if let Some(path) = s.strip_prefix("file://") {
            return Location::Local(PathBuf::from(path));
        }
        match s.split_once("://") {
            Some((scheme, _)) if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) => {
                Location::Url(s.to_string())
            }
            _ => Location::Local(PathBuf::from(s)),
        }
    }
}

/// The outcome of writing a body.
#[derive(Debug)]
pub(crate) struct Written {
    pub size: u64,
    pub md5: [u8; 16],
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the request body could not be read: {0}")]
    Body(std::io::Error),
    #[error("object store: {0}")]
    Store(String),
}

#[derive(Clone)]
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: its writes are synced to disk before they are acknowledged
    /// (`object_store` renames a written file into place but does not sync it).
    local_root: Option<PathBuf>,
}

fn store_error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Objects {
    pub(crate) fn open(location: &Location) -> Result<Objects, String> {
        match location {
            Location::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(store_error)?;
                Ok(Objects { store: Arc::new(store), local_root: Some(dir) })
            }
            Location::Url(url) => {
                let parsed = url::Url::parse(url).map_err(|e| format!("--files-url {url}: {e}"))?;
                // Only the variables of the store the URL names, so that nothing else leaks into its builder.
                let prefix = match parsed.scheme() {
                    "s3" | "s3a" => "AWS_",
                    _ => "AZURE",
                };
                let options = std::env::vars().filter(|(k, _)| k.starts_with(prefix));
                let (store, path) = object_store::parse_url_opts(&parsed, options).map_err(store_error)?;
                let store: Arc<dyn ObjectStore> = Arc::from(store);
                let store: Arc<dyn ObjectStore> = if path.as_ref().is_empty() {
                    store
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(store, path))
                };
                Ok(Objects { store, local_root: None })
            }
        }
    }

    /// A fresh object name in `container`.
    pub(crate) fn fresh(container: &str) -> String {
        format!("{container}/{}", uuid::Uuid::new_v4().simple())
    }

    /// Write `body` to the object `key`, refusing bodies over `limit` bytes; on any failure nothing is left
    /// behind (a part-written object is removed).
    pub(crate) async fn write(&self, key: &str, mut body: ByteStream, limit: u64) -> Result<Written, WriteError> {
        let path = Path::from(key);
        let mut md5 = Md5::new();
        let mut size: u64 = 0;
        let mut first: Vec<Bytes> = Vec::new();
        let mut buffered = 0usize;
        let mut upload: Option<WriteMultipart> = None;
        let result: Result<(), WriteError> = async {
            while let Some(piece) = body.next().await {
                let piece = piece.map_err(WriteError::Body)?;
                size += piece.len() as u64;
                if size > limit {
                    return Err(WriteError::TooLarge(limit));
                }
                md5.update(&piece);
                match upload.as_mut() {
                    Some(w) => {
                        w.wait_for_capacity(2).await.map_err(|e| WriteError::Store(store_error(e)))?;
                        w.put(piece);
                    }
                    None => {
                        buffered += piece.len();
                        first.push(piece);
                        if buffered >= PART {
                            let multipart =
                                self.store.put_multipart(&path).await.map_err(|e| WriteError::Store(store_error(e)))?;
                            let mut w = WriteMultipart::new_with_chunk_size(multipart, PART);
                            for p in first.drain(..) {
                                w.put(p);
                            }
                            upload = Some(w);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        match (result, upload) {
            (Ok(()), Some(w)) => {
                w.finish().await.map_err(|e| WriteError::Store(store_error(e)))?;
            }
            (Ok(()), None) => {
                let payload: PutPayload = first.into_iter().collect();
                self.store.put(&path, payload).await.map_err(|e| WriteError::Store(store_error(e)))?;
            }
            (Err(e), Some(w)) => {
                let _ = w.abort().await;
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        }
        if let Err(e) = self.sync(key).await {
            let _ = self.store.delete(&path).await;
            return Err(WriteError::Store(e));
        }
        Ok(Written { size, md5: md5.finalize().into() })
    }

    /// Make a local object durable: the file and the directory entry that names it.
    async fn sync(&self, key: &str) -> Result<(), String> {
        let Some(root) = &self.local_root else { return Ok(()) };
        let file = root.join(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(dir) = file.parent() {
                sync_dir(dir)?;
            }
            Ok(())
        })
        .await
        .map_err(store_error)?
        .map_err(store_error)
    }

    /// The bytes `range` of the file made of `chunks` (committed chunks in order, with their offsets).
    pub(crate) fn read(&self, chunks: &[ChunkRow], range: Range<u64>) -> ByteStream {
        let pieces: Vec<(Path, Range<u64>)> = chunks
            .iter()
            .filter_map(|c| {
                let (start, end) = (c.start as u64, (c.start + c.size) as u64);
                let (from, to) = (range.start.max(start), range.end.min(end));
                (from < to).then(|| (Path::from(c.object.as_str()), from - start..to - start))
            })
            .collect();
        let store = self.store.clone();
        let stream = futures_util::stream::iter(pieces)
            .map(move |(path, r)| {
                let store = store.clone();
                async move {
                    let options = GetOptions { range: Some(GetRange::Bounded(r)), ..Default::default() };
                    let got = store.get_opts(&path, options).await?;
                    Ok::<_, object_store::Error>(got.into_stream())
                }
            })
            .buffered(1)
            .try_flatten()
            .map_err(std::io::Error::other);
        Box::pin(stream)
    }

    /// One range of one object, whole (for the zip reader's small reads).
    pub(crate) async fn read_range(&self, object: &str, range: Range<u64>) -> std::io::Result<Bytes> {
        self.store.get_range(&Path::from(object), range).await.map_err(std::io::Error::other)
    }

    /// Remove objects that no committed or staged chunk refers to any more. Best effort: what is left behind
    /// goes with its container (see [`Self::delete_container`]).
    pub(crate) async fn delete(&self, keys: Vec<String>) {
        for key in keys {
            if let Err(e) = self.store.delete(&Path::from(key.as_str())).await {
                if !matches!(e, object_store::Error::NotFound { .. }) {
                    tracing::warn!(error = %e, "deleting an unused upload object");
                }
            }
        }
    }

    /// Remove every object of a container.
    pub(crate) async fn delete_container(&self, container: &str) -> Result<(), String> {
        let prefix = Path::from(container);
        let locations = self.store.list(Some(&prefix)).map_ok(|m| m.location).boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(e)),
            }
        }
        if let Some(root) = &self.local_root {
            let _ = std::fs::remove_dir(root.join(container)); // the empty directory, if the store left it
        }
        Ok(())
    }
}

fn sync_dir(dir: &FsPath) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_urls_or_directories() {
        assert_eq!(Location::parse("/var/lib/x"), Location::Local("/var/lib/x".into()));
        assert_eq!(Location::parse("file:///var/lib/x"), Location::Local("/var/lib/x".into()));
        assert_eq!(Location::parse("rel/dir"), Location::Local("rel/dir".into()));
        assert_eq!(Location::parse("az://files"), Location::Url("az://files".into()));
        assert_eq!(Location::parse("s3://bucket/prefix"), Location::Url("s3://bucket/prefix".into()));
    }
}
