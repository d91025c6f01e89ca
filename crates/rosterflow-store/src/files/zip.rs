//! A `.zip` upload read as the files it holds (the docs allow one, as long as it holds only supported files and
//! none of them is also uploaded outside it: `sds-semantics.md` §2). Zips are hostile input, so everything is
//! bounded before it is believed: the central directory's entry count and size are read from the end record
//! before the `zip` crate parses it; entries must be plain files at the top level (no folders, `..`, absolute
//! or drive paths, backslashes); only stored and deflated entries are read; each entry's declared size, the
//! total and the compression ratio are capped; and an entry's bytes are counted as they stream, so a lying size
//! ends the stream with an error instead of filling memory or disk. Nothing is ever extracted to disk.
//!
//! The rules live here once: upload containers read their zips through [`list`] and [`Archive`] over a
//! [`BlobReader`], and `rosterflow validate` (the engine's local source) reads local zips through the same two.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use tokio::runtime::Handle;

use super::objects::{ByteStream, Objects};
use super::{ChunkRow, EntrySource, FileEntry, Limits, Listing, Problem, ProblemKind};

/// Most entries a zip may have.
pub const MAX_ZIP_ENTRIES: u64 = 1000;
/// Largest central directory read (1000 entries with long names and extra fields fit easily).
const MAX_CENTRAL_DIRECTORY: u64 = 4 * 1024 * 1024;
/// Highest uncompressed:compressed ratio believed for an entry larger than [`RATIO_FLOOR`]; deflate can't do
/// better than about 1032:1, so anything past this is a crafted entry.
const MAX_RATIO: u64 = 1100;
const RATIO_FLOOR: u64 = 1024 * 1024;
/// Bytes read from the object store at a time.
const READ_AHEAD: u64 = 64 * 1024;

/// What a zip may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    pub max_entries: u64,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for ZipLimits {
    /// What an upload container accepts with the default [`Limits`].
    fn default() -> ZipLimits {
        ZipLimits::for_files(&Limits::default())
    }
}

impl ZipLimits {
    pub fn for_files(limits: &Limits) -> ZipLimits {
        ZipLimits {
            max_entries: MAX_ZIP_ENTRIES.min(u64::from(limits.max_files)),
            max_entry_bytes: limits.max_file_bytes,
            max_total_bytes: limits.max_file_bytes.saturating_mul(u64::from(limits.max_files)),
        }
    }
}

/// A committed blob as `Read + Seek`, fetching ranges from the object store on the runtime `handle`; for use
/// on a blocking thread only.
pub(crate) struct BlobReader {
    objects: Objects,
    chunks: Vec<ChunkRow>,
    size: u64,
    pos: u64,
    /// Bytes from `buf_start`.
    buf: Bytes,
    buf_start: u64,
    handle: Handle,
}

impl BlobReader {
    pub(crate) fn new(objects: Objects, chunks: Vec<ChunkRow>, size: u64, handle: Handle) -> BlobReader {
        BlobReader { objects, chunks, size, pos: 0, buf: Bytes::new(), buf_start: 0, handle }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let pos = self.pos;
        let chunk = self
            .chunks
            .iter()
            .find(|c| (c.start as u64) <= pos && pos < (c.start + c.size) as u64)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "past the blob's chunks"))?;
        let local = pos - chunk.start as u64;
        let end = (local + READ_AHEAD).min(chunk.size as u64);
        let object = chunk.object.clone();
        self.buf = self.handle.block_on(self.objects.read_range(&object, local..end))?;
        self.buf_start = pos;
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let in_buf = self.pos >= self.buf_start && self.pos < self.buf_start + self.buf.len() as u64;
        if !in_buf {
            self.fill()?;
        }
        let offset = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - offset);
        out[..n].copy_from_slice(&self.buf[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

/// The entry count and central directory size the end records declare, read before anything else.
fn declared_directory<R: Read + Seek>(r: &mut R, size: u64) -> Result<(u64, u64), String> {
    const EOCD: u32 = 0x0605_4b50;
    const LOCATOR: u32 = 0x0706_4b50;
    const EOCD64: u32 = 0x0606_4b50;
    let tail_len = size.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    r.seek(SeekFrom::Start(size - tail_len)).map_err(|e| e.to_string())?;
    r.read_exact(&mut tail).map_err(|e| e.to_string())?;
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == EOCD)
        .ok_or("no end of central directory record: not a zip file")?;
    let (entries, cd_size) = (u64::from(u16_at(&tail, at + 10)), u64::from(u32_at(&tail, at + 12)));
    if entries != 0xFFFF && cd_size != 0xFFFF_FFFF {
        return Ok((entries, cd_size));
    }
    // ZIP64: the locator sits just before the end record and points at the ZIP64 end record.
    let locator = at.checked_sub(20).filter(|&l| u32_at(&tail, l) == LOCATOR).ok_or("a damaged ZIP64 end record")?;
    let record = u64_at(&tail, locator + 8);
    let mut rec = [0u8; 56];
    r.seek(SeekFrom::Start(record)).map_err(|e| e.to_string())?;
    r.read_exact(&mut rec).map_err(|_| "a damaged ZIP64 end record")?;
    if u32_at(&rec, 0) != EOCD64 {
        return Err("a damaged ZIP64 end record".into());
    }
    Ok((u64_at(&rec, 32), u64_at(&rec, 40)))
}

/// Why an entry name is not a plain top-level file name, if it isn't.
fn nested(name: &str) -> Option<&'static str> {
    if name.ends_with('/') || name.ends_with('\\') {
        Some("it is a folder")
    } else if name.contains('/') || name.contains('\\') {
        Some("it is inside a folder; put the files at the top of the zip")
    } else if name == "." || name == ".." || name.contains(':') {
        Some("it is not a file name")
    } else if name.chars().any(char::is_control) || name.is_empty() {
        Some("its name has control characters")
    } else {
        None
    }
}

/// The files of the zip `zip_name` (read through `reader`), and its problems.
pub fn list<R: Read + Seek>(mut reader: R, zip_name: &str, limits: &ZipLimits) -> (Vec<FileEntry>, Vec<Problem>) {
    let problem = |kind, file: String, message: String| Problem { kind, file, message };
    let size = match reader.seek(SeekFrom::End(0)) {
        Ok(n) => n,
        Err(e) => return (Vec::new(), vec![problem(ProblemKind::Malformed, zip_name.into(), e.to_string())]),
    };
    match declared_directory(&mut reader, size) {
        Err(e) => return (Vec::new(), vec![problem(ProblemKind::Malformed, zip_name.into(), e)]),
        Ok((entries, _)) if entries > limits.max_entries => {
            let message = format!("it has {entries} entries; at most {} are allowed", limits.max_entries);
            return (Vec::new(), vec![problem(ProblemKind::TooLarge, zip_name.into(), message)]);
        }
        Ok((_, cd)) if cd > MAX_CENTRAL_DIRECTORY => {
            let message = format!("its central directory is {cd} bytes; at most {MAX_CENTRAL_DIRECTORY} are allowed");
            return (Vec::new(), vec![problem(ProblemKind::TooLarge, zip_name.into(), message)]);
        }
        Ok(_) => {}
    }
    let mut archive = match ::zip::ZipArchive::new(reader) {
        Ok(a) => a,
        Err(e) => return (Vec::new(), vec![problem(ProblemKind::Malformed, zip_name.into(), e.to_string())]),
    };
    let (mut files, mut problems) = (Vec::new(), Vec::new());
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = match archive.by_index_raw(index) {
            Ok(e) => e,
            Err(e) => {
                problems.push(problem(ProblemKind::Malformed, zip_name.into(), format!("entry {index}: {e}")));
                continue;
            }
        };
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let file = format!("{zip_name}/{name}");
        if let Some(why) = nested(&name) {
            problems.push(problem(
                ProblemKind::NestedPath,
                file,
                format!("the entry '{name}' is not supported: {why}"),
            ));
            continue;
        }
        let (uncompressed, compressed) = (entry.size(), entry.compressed_size());
        let method = entry.compression();
        let unsupported = if entry.encrypted() {
            Some("it is encrypted".to_string())
        } else if super::is_zip(&name) {
            Some("it is a zip inside the zip".to_string())
        } else if !matches!(method, ::zip::CompressionMethod::Stored | ::zip::CompressionMethod::Deflated) {
            Some(format!("its compression ({method}) is not stored or deflate"))
        } else {
            None
        };
        if let Some(why) = unsupported {
            problems.push(problem(
                ProblemKind::UnsupportedEntry,
                file,
                format!("the entry '{name}' is not supported: {why}"),
            ));
            continue;
        }
        total = total.saturating_add(uncompressed);
        let too_large = if uncompressed > limits.max_entry_bytes {
            Some(format!("it is {uncompressed} bytes uncompressed; at most {} are allowed", limits.max_entry_bytes))
        } else if total > limits.max_total_bytes {
            Some(format!("the zip's entries add up to more than {} bytes uncompressed", limits.max_total_bytes))
        } else if uncompressed > RATIO_FLOOR && uncompressed / compressed.max(1) > MAX_RATIO {
            Some(format!("it claims {uncompressed} bytes from {compressed} compressed, more than deflate can do"))
        } else {
            None
        };
        if let Some(why) = too_large {
            problems.push(problem(ProblemKind::TooLarge, file, format!("the entry '{name}' is refused: {why}")));
            continue;
        }
        files.push(FileEntry {
            name,
            size: uncompressed,
            source: EntrySource::ZipEntry { zip: zip_name.into(), index },
        });
    }
    (files, problems)
}

/// A file both inside and outside a zip (or in two zips, or twice in one) is a catastrophic error; names are
/// compared case-insensitively, as SDS matches file names. Later copies are dropped from `files`.
pub(crate) fn duplicates(listing: &mut Listing) {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut kept = Vec::with_capacity(listing.files.len());
    for f in listing.files.drain(..) {
        let place = match &f.source {
            EntrySource::Blob => f.name.clone(),
            EntrySource::ZipEntry { zip, .. } => format!("{zip}/{}", f.name),
        };
        match seen.get(&f.name.to_lowercase()) {
            Some(first) => listing.problems.push(Problem {
                kind: ProblemKind::Duplicate,
                file: place.clone(),
                message: format!("'{}' is uploaded twice: as {first} and as {place}", f.name),
            }),
            None => {
                seen.insert(f.name.to_lowercase(), place);
                kept.push(f);
            }
        }
    }
    listing.files = kept;
}

/// A zip whose entries [`list`] accepted, opened for reading them.
pub struct Archive<R: Read + Seek + Send> {
    inner: ::zip::ZipArchive<R>,
    limits: ZipLimits,
}

impl<R: Read + Seek + Send> Archive<R> {
    pub fn open(reader: R, limits: ZipLimits) -> std::io::Result<Archive<R>> {
        Ok(Archive { inner: ::zip::ZipArchive::new(reader).map_err(std::io::Error::other)?, limits })
    }

    /// Entry `index`'s bytes, inflated as they are read. A read fails once the entry yields more than it
    /// declared (or than the limit), or when its CRC is wrong at the end.
    pub fn entry(&mut self, index: usize) -> std::io::Result<impl Read + Send + '_> {
        let entry = self.inner.by_index(index).map_err(std::io::Error::other)?;
        let left = entry.size().min(self.limits.max_entry_bytes);
        Ok(Bounded { inner: entry, left })
    }
}

/// Fails a read that goes past the size the entry declared: a lying header is a bomb.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "the zip entry holds more bytes than it declares")
        })?;
        Ok(n)
    }
}

/// Entry `index`'s bytes, decompressed on a blocking thread and handed over in pieces (see [`Archive::entry`]).
pub(crate) fn stream_entry(reader: BlobReader, index: usize, limits: ZipLimits) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let result = (|| -> std::io::Result<()> {
            let mut archive = Archive::open(reader, limits)?;
            let mut entry = archive.entry(index)?;
            loop {
                let mut buf = vec![0u8; READ_AHEAD as usize];
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Ok(()); // the reader went away
                }
            }
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn limits() -> ZipLimits {
        ZipLimits { max_entries: 10, max_entry_bytes: 10_000_000, max_total_bytes: 20_000_000 }
    }

    fn zip_of(entries: &[(&str, &[u8], ::zip::CompressionMethod)]) -> Vec<u8> {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in entries {
            w.start_file(*name, ::zip::write::SimpleFileOptions::default().compression_method(*method)).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn entries_are_listed_and_unsafe_ones_are_problems() {
        use ::zip::CompressionMethod::{Deflated, Stored};
        let bytes = zip_of(&[
            ("users.csv", b"sourcedId\n1\n", Deflated),
            ("orgs.csv", b"sourcedId\n", Stored),
            ("../evil.csv", b"x", Stored),
            ("dir/roles.csv", b"x", Stored),
            ("/abs.csv", b"x", Stored),
            ("inner.zip", b"PK", Stored),
        ]);
        let (files, problems) = list(Cursor::new(bytes), "roster.zip", &limits());
        let names: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.size)).collect();
        assert_eq!(names, vec![("users.csv", 12), ("orgs.csv", 10)]);
        let kinds: Vec<_> = problems.iter().map(|p| (p.kind, p.file.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (ProblemKind::NestedPath, "roster.zip/../evil.csv"),
                (ProblemKind::NestedPath, "roster.zip/dir/roles.csv"),
                (ProblemKind::NestedPath, "roster.zip//abs.csv"),
                (ProblemKind::UnsupportedEntry, "roster.zip/inner.zip"),
            ]
        );
    }

    #[test]
    fn bombs_and_garbage_are_refused_before_they_are_read() {
        use ::zip::CompressionMethod::Deflated;
        let big = vec![0u8; 5 * 1024 * 1024];
        let bytes = zip_of(&[("users.csv", &big, Deflated)]);
        // 5 MiB of zeros deflate to 5 KiB: declared past the entry limit, refused without inflating a byte.
        let small = ZipLimits { max_entry_bytes: 1024 * 1024, ..limits() };
        let (files, problems) = list(Cursor::new(bytes), "bomb.zip", &small);
        assert!(files.is_empty());
        assert_eq!(problems[0].kind, ProblemKind::TooLarge, "{problems:?}");
        let many: Vec<(String, Vec<u8>)> = (0..11).map(|i| (format!("f{i}.csv"), vec![b'a'])).collect();
        let refs: Vec<(&str, &[u8], _)> = many.iter().map(|(n, d)| (n.as_str(), d.as_slice(), Deflated)).collect();
        let (_, problems) = list(Cursor::new(zip_of(&refs)), "many.zip", &limits());
        assert_eq!(problems[0].kind, ProblemKind::TooLarge);
        for garbage in [Vec::new(), b"PK\x05\x06".to_vec(), vec![0xAB; 100_000]] {
            let (files, problems) = list(Cursor::new(garbage), "x.zip", &limits());
            assert!(files.is_empty() && problems[0].kind == ProblemKind::Malformed, "{problems:?}");
        }
    }

    #[test]
    fn a_file_inside_and_outside_a_zip_is_a_duplicate() {
        let blob = |n: &str| FileEntry { name: n.into(), size: 1, source: EntrySource::Blob };
        let entry = |n: &str| FileEntry {
            name: n.into(),
            size: 1,
            source: EntrySource::ZipEntry { zip: "r.zip".into(), index: 0 },
        };
        let mut listing =
            Listing { files: vec![blob("users.csv"), entry("Users.csv"), entry("orgs.csv")], problems: vec![] };
        duplicates(&mut listing);
        assert_eq!(listing.files.len(), 2);
        assert_eq!(listing.problems[0].kind, ProblemKind::Duplicate);
        assert_eq!(listing.problems[0].file, "r.zip/Users.csv");
    }
}
