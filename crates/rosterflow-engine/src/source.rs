//! Where roster files come from: a [`FileSource`] lists files and opens each as a byte stream.
//!
//! The validator reads nothing else, so the same pipeline serves the CLI (a local folder or zip,
//! [`LocalSource`]), tests ([`MemorySource`]) and the server's upload containers (the files interface of
//! `rosterflow-store`, adapted in the `validate` action: its async streams can be read on the validator's
//! blocking thread through `tokio_util::io::SyncIoBridge`).
//!
//! Zip files are read by the store's zip reader (`rosterflow_store::files::zip`), for local sources as for
//! upload containers, so one set of rules bounds them: entry count, sizes and compression ratio checked before
//! anything is inflated, never more bytes than an entry declares (a lying header is a bomb), only plain files
//! at the archive's root (nested, absolute and `..` paths, folders and zips in zips are refused).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::finding::Code;

/// A file a source holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The file's name as uploaded (a zip entry: its name inside the archive).
    pub name: String,
    /// Its size in bytes, when known (for progress).
    pub size: Option<u64>,
    /// The zip archive it came out of, if any.
    pub archive: Option<String>,
    /// The source's own handle for it.
    pub handle: usize,
}

/// A problem with the source itself (an unreadable archive, a refused entry), reported as a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    pub code: Code,
    /// The file (or archive) concerned.
    pub target: String,
    pub message: String,
}

/// What a source lists.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<SourceFile>,
    pub problems: Vec<SourceProblem>,
}

/// A set of roster files to validate.
pub trait FileSource {
    fn list(&mut self) -> std::io::Result<Listing>;
    /// Open a file [`list`](Self::list) returned. The stream is read on a thread of its own (parsing runs
    /// ahead of validation), hence `Send`.
    fn open(&mut self, file: &SourceFile) -> std::io::Result<Box<dyn Read + Send + '_>>;
}

/// Files held in memory (tests; small uploads).
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    pub files: Vec<(String, Vec<u8>)>,
}

impl MemorySource {
    pub fn new<N: Into<String>, B: Into<Vec<u8>>>(files: impl IntoIterator<Item = (N, B)>) -> MemorySource {
        MemorySource { files: files.into_iter().map(|(n, b)| (n.into(), b.into())).collect() }
    }
}

impl FileSource for MemorySource {
    fn list(&mut self) -> std::io::Result<Listing> {
        let files = self
            .files
            .iter()
            .enumerate()
            .map(|(i, (name, bytes))| SourceFile {
                name: name.clone(),
                size: Some(bytes.len() as u64),
                archive: None,
                handle: i,
            })
            .collect();
        Ok(Listing { files, problems: Vec::new() })
    }

    fn open(&mut self, file: &SourceFile) -> std::io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(&self.files[file.handle].1[..]))
    }
}

use rosterflow_store::files::is_zip;
use rosterflow_store::files::zip::{self as zipfile, Archive};
pub use rosterflow_store::files::ZipLimits;

enum Item {
    Loose(PathBuf),
    Entry { archive: usize, index: usize },
}

/// A local folder (its files, and the entries of the zips in it) or a single zip file.
pub struct LocalSource {
    root: PathBuf,
    limits: ZipLimits,
    items: Vec<Item>,
    archives: Vec<Archive<BufReader<File>>>,
}

impl LocalSource {
    pub fn new(path: impl Into<PathBuf>) -> LocalSource {
        LocalSource::with_limits(path, ZipLimits::default())
    }

    pub fn with_limits(path: impl Into<PathBuf>, limits: ZipLimits) -> LocalSource {
        LocalSource { root: path.into(), limits, items: Vec::new(), archives: Vec::new() }
    }

    /// The zip's entries as files, under the same rules as an upload container's zips (the store's reader).
    fn add_zip(&mut self, path: &Path, name: &str, out: &mut Listing) {
        let unreadable = |e: std::io::Error| SourceProblem {
            code: Code::InvalidArchive,
            target: name.to_string(),
            message: format!("{name} can't be read: {e}"),
        };
        let (entries, problems) = match File::open(path) {
            Ok(f) => zipfile::list(BufReader::new(f), name, &self.limits),
            Err(e) => return out.problems.push(unreadable(e)),
        };
        out.problems.extend(problems.into_iter().map(|p| SourceProblem {
            code: problem_code(p.kind),
            target: p.file,
            message: p.message,
        }));
        if entries.is_empty() {
            return;
        }
        let archive = match File::open(path).and_then(|f| Archive::open(BufReader::new(f), self.limits)) {
            Ok(a) => a,
            Err(e) => return out.problems.push(unreadable(e)),
        };
        let a = self.archives.len();
        self.archives.push(archive);
        for e in entries {
            let index = match e.source {
                rosterflow_store::files::EntrySource::ZipEntry { index, .. } => index,
                rosterflow_store::files::EntrySource::Blob => continue,
            };
            out.files.push(SourceFile {
                name: e.name,
                size: Some(e.size),
                archive: Some(name.to_string()),
                handle: self.items.len(),
            });
            self.items.push(Item::Entry { archive: a, index });
        }
    }
}

impl FileSource for LocalSource {
    fn list(&mut self) -> std::io::Result<Listing> {
        let mut out = Listing::default();
        self.items.clear();
        self.archives.clear();
        let root = self.root.clone();
        if root.is_file() {
            let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if is_zip(&name) {
                self.add_zip(&root, &name, &mut out);
            } else {
                let size = root.metadata()?.len();
                out.files.push(SourceFile { name, size: Some(size), archive: None, handle: 0 });
                self.items.push(Item::Loose(root));
            }
            return Ok(out);
        }
        let mut entries: Vec<_> = std::fs::read_dir(&root)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                out.problems.push(SourceProblem {
                    code: Code::UnsupportedFile,
                    target: name.clone(),
                    message: format!("{name} is a folder; folders are not read"),
                });
            } else if is_zip(&name) {
                self.add_zip(&path, &name, &mut out);
            } else {
                out.files.push(SourceFile { name, size: Some(meta.len()), archive: None, handle: self.items.len() });
                self.items.push(Item::Loose(path));
            }
        }
        Ok(out)
    }

    fn open(&mut self, file: &SourceFile) -> std::io::Result<Box<dyn Read + Send + '_>> {
        match &self.items[file.handle] {
            Item::Loose(path) => Ok(Box::new(File::open(path)?)),
            &Item::Entry { archive, index } => Ok(Box::new(self.archives[archive].entry(index)?)),
        }
    }
}

/// The finding a problem of the store's zip reading or listing is reported as. Every one refuses the upload
/// (the docs' "catastrophic error").
pub fn problem_code(kind: rosterflow_store::files::ProblemKind) -> Code {
    use rosterflow_store::files::ProblemKind;
    match kind {
        ProblemKind::Duplicate => Code::DuplicateFile,
        ProblemKind::NestedPath | ProblemKind::UnsupportedEntry => Code::UnsupportedArchiveEntry,
        ProblemKind::TooLarge => Code::ArchiveLimitExceeded,
        ProblemKind::Malformed => Code::InvalidArchive,
    }
}

/// An upload container, through the store's files interface: its blobs and the entries of its zips. Its
/// methods block on the runtime `handle`: call them on a blocking thread (the validator runs on one), never
/// on a runtime worker.
pub struct ContainerSource {
    files: rosterflow_store::files::Files,
    tenant: rosterflow_store::TenantId,
    container: String,
    handle: tokio::runtime::Handle,
    entries: Vec<rosterflow_store::files::FileEntry>,
}

impl ContainerSource {
    pub fn new(
        files: rosterflow_store::files::Files,
        tenant: rosterflow_store::TenantId,
        container: String,
        handle: tokio::runtime::Handle,
    ) -> ContainerSource {
        ContainerSource { files, tenant, container, handle, entries: Vec::new() }
    }
}

impl FileSource for ContainerSource {
    fn list(&mut self) -> std::io::Result<Listing> {
        use rosterflow_store::files::EntrySource;
        let listing =
            self.handle.block_on(self.files.entries(&self.tenant, &self.container)).map_err(std::io::Error::other)?;
        let files = listing
            .files
            .iter()
            .enumerate()
            .map(|(handle, e)| SourceFile {
                name: e.name.clone(),
                size: Some(e.size),
                archive: match &e.source {
                    EntrySource::Blob => None,
                    EntrySource::ZipEntry { zip, .. } => Some(zip.clone()),
                },
                handle,
            })
            .collect();
        self.entries = listing.files;
        let problems = listing
            .problems
            .into_iter()
            .map(|p| SourceProblem { code: problem_code(p.kind), target: p.file, message: p.message })
            .collect();
        Ok(Listing { files, problems })
    }

    fn open(&mut self, file: &SourceFile) -> std::io::Result<Box<dyn Read + Send + '_>> {
        let entry = &self.entries[file.handle];
        let stream = self
            .handle
            .block_on(self.files.open_entry(&self.tenant, &self.container, entry))
            .map_err(std::io::Error::other)?;
        Ok(Box::new(rosterflow_store::files::SyncReader::new(stream, self.handle.clone())))
    }
}
