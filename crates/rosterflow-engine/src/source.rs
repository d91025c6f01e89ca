//! Where roster files come from: a [`FileSource`] lists files and opens each as a byte stream.
//!
//! The validator reads nothing else, so the same pipeline serves the CLI (a local folder or zip,
//! [`LocalSource`]), tests ([`MemorySource`]) and the server's upload containers (the files interface of
//! `rosterflow-store`, adapted in the `validate` action: its async streams can be read on the validator's
//! blocking thread through `tokio_util::io::SyncIoBridge`).
//!
//! Zip files are read here for local sources, bounded: at most [`ZipLimits::max_entries`] entries, each
//! entry at most [`ZipLimits::max_entry_bytes`] and [`ZipLimits::max_ratio`] times its compressed size, and
//! never more bytes than its header declares (a lying header is a bomb). Entries must be plain files at the
//! archive's root: nested paths (`a/users.csv`, `../x`), absolute paths and nested archives are refused.

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

/// Bounds on zip archives.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    /// Largest uncompressed / compressed ratio of an entry over 1 MiB (CSV compresses 5–50×; bombs 1000×).
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits { max_entries: 100, max_entry_bytes: 16 << 30, max_ratio: 1000 }
    }
}

enum Item {
    Loose(PathBuf),
    Entry { archive: usize, index: usize, declared: u64 },
}

/// A local folder (its files, and the entries of the zips in it) or a single zip file.
pub struct LocalSource {
    root: PathBuf,
    limits: ZipLimits,
    items: Vec<Item>,
    archives: Vec<zip::ZipArchive<BufReader<File>>>,
}

impl LocalSource {
    pub fn new(path: impl Into<PathBuf>) -> LocalSource {
        LocalSource::with_limits(path, ZipLimits::default())
    }

    pub fn with_limits(path: impl Into<PathBuf>, limits: ZipLimits) -> LocalSource {
        LocalSource { root: path.into(), limits, items: Vec::new(), archives: Vec::new() }
    }

    fn add_zip(&mut self, path: &Path, name: &str, out: &mut Listing) {
        let problem = |code, message: String| SourceProblem { code, target: name.to_string(), message };
        let archive = File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| zip::ZipArchive::new(BufReader::new(f)).map_err(|e| e.to_string()));
        let mut archive = match archive {
            Ok(a) => a,
            Err(e) => {
                return out
                    .problems
                    .push(problem(Code::InvalidArchive, format!("{name} is not a readable zip archive: {e}")))
            }
        };
        if archive.len() > self.limits.max_entries {
            let message = format!("{name} has {} entries; at most {} are read", archive.len(), self.limits.max_entries);
            return out.problems.push(problem(Code::ArchiveLimitExceeded, message));
        }
        let a = self.archives.len();
        for index in 0..archive.len() {
            let entry = match archive.by_index_raw(index) {
                Ok(e) => e,
                Err(e) => {
                    out.problems
                        .push(problem(Code::InvalidArchive, format!("{name}: entry {index} is unreadable: {e}")));
                    continue;
                }
            };
            let entry_name = entry.name().to_string();
            let (size, compressed) = (entry.size(), entry.compressed_size());
            let target = format!("{name}/{entry_name}");
            let refuse =
                |code, why: &str| SourceProblem { code, target: target.clone(), message: format!("{target}: {why}") };
            if entry.is_dir() {
                if entry_name.trim_end_matches('/').contains(['/', '\\']) || entry_name.starts_with("..") {
                    out.problems.push(refuse(
                        Code::UnsupportedArchiveEntry,
                        "folders inside the archive are not read; put the files at its root",
                    ));
                }
                continue;
            }
            if entry_name.contains(['/', '\\']) || entry_name.starts_with("..") || entry_name.contains(':') {
                out.problems.push(refuse(
                    Code::UnsupportedArchiveEntry,
                    "nested or absolute paths are refused; put the files at the archive's root",
                ));
                continue;
            }
            if entry_name.to_ascii_lowercase().ends_with(".zip") {
                out.problems.push(refuse(Code::UnsupportedArchiveEntry, "archives inside archives are not read"));
                continue;
            }
            if size > self.limits.max_entry_bytes
                || (size > 1 << 20 && size / compressed.max(1) > self.limits.max_ratio)
            {
                out.problems.push(refuse(
                    Code::ArchiveLimitExceeded,
                    &format!("{size} bytes uncompressed from {compressed}: over the limits (size or ratio)"),
                ));
                continue;
            }
            out.files.push(SourceFile {
                name: entry_name,
                size: Some(size),
                archive: Some(name.to_string()),
                handle: self.items.len(),
            });
            self.items.push(Item::Entry { archive: a, index, declared: size });
        }
        self.archives.push(archive);
    }
}

fn is_zip(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".zip")
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
            &Item::Entry { archive, index, declared } => {
                let entry = self.archives[archive].by_index(index).map_err(std::io::Error::other)?;
                Ok(Box::new(Bounded { inner: entry, left: declared }))
            }
        }
    }
}

/// Fails a read that goes past the size the entry declared.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the entry holds more bytes than its header declares",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
