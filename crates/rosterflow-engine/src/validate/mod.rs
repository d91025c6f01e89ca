//! Validation: roster files in, findings and a [`Roster`] out. The engine behind `POST
//! dataConnectors/{id}/validate` (its `fileValidateOperation`) and `rosterflow validate`.
//!
//! Basic validation (sds-semantics §2): the format's required files are there under their exact names,
//! nothing else is; each file is UTF-8 (a BOM tolerated) and RFC 4180 CSV, without NULs; its required headers
//! are present (case-sensitive; optional columns may be absent). A failure here refuses the upload: findings
//! are still collected, but no roster is returned, so nothing is loaded.
//!
//! Advanced validation, per record, on the fields of the normalized model (`schema.rs`): types, codes
//! case-insensitively against the tenant's reference definitions (stored canonically; disabled codes
//! refused), emails, ISO 8601 dates, E.164 phones, unique ids and keys, foreign keys. **An error drops the
//! record, a warning drops the optional value**, as the docs say. Files are read once each, in dependency
//! order (orgs, sessions, courses, users, roles, classes, enrollments, ...), so a foreign key is a lookup in
//! the id index of a kind already read; memory is bounded by those indexes, not by the files.
//!
//! [`validate`] is synchronous and CPU-bound: run it on a blocking thread, and watch it through [`Progress`].

mod read;
mod record;
mod values;

use std::io::Read;
use std::sync::Arc;

use rosterflow_model::reference::Catalog;
use rustc_hash::FxHashMap;

use crate::finding::{Code, Report, Severity};
use crate::formats::{FileSpec, Format, Need, OneRosterVersion};
use crate::roster::Roster;
use crate::source::{FileSource, SourceFile};

pub use read::Limits;

/// What to validate against, and what to keep.
#[derive(Debug, Clone)]
pub struct Options {
    /// The connector's `fileFormat`; `None`: detected from the file names ([`Format::detect`]).
    pub format: Option<Format>,
    /// The tenant's reference codes.
    pub catalog: Arc<Catalog>,
    /// Examples kept per (file, code); every occurrence is counted.
    pub examples_per_code: usize,
    /// Keep the records (to load a snapshot); without, only the id indexes are kept.
    pub keep_records: bool,
    /// The files of the previous snapshot of the flow: one missing now is reported
    /// (`PreviouslyUploadedFileNotFound`), because every record it held becomes inactive.
    pub previous_files: Vec<String>,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            catalog: Arc::new(Catalog::default()),
            examples_per_code: 20,
            keep_records: true,
            previous_files: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// Progress of a validation, reported from the validating thread: every file as it starts, then every
/// [`PROGRESS_EVERY`] rows, then as it ends.
pub trait Progress {
    fn file_started(&self, _name: &str, _size: Option<u64>) {}
    /// Rows read so far in the file, and the byte offset reached.
    fn advanced(&self, _name: &str, _rows: u64, _bytes: u64) {}
    fn file_finished(&self, _name: &str, _rows: u64) {}
}

/// Rows between two [`Progress::advanced`] calls.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What a validation found and built.
#[derive(Debug)]
pub struct Outcome {
    pub format: Format,
    pub report: Report,
    /// A basic validation failed (a required file or header missing, a file not UTF-8 or not CSV, a broken
    /// archive): nothing may be loaded.
    pub refused: bool,
    /// The records that passed, unless the upload was refused.
    pub roster: Option<Roster>,
    /// Data rows read, over all files.
    pub rows: u64,
}

/// Validate the files of `source`. Errors are findings; `Err` only when the source itself can't be listed.
pub fn validate(source: &mut dyn FileSource, opts: &Options, progress: &dyn Progress) -> std::io::Result<Outcome> {
    let listing = source.list()?;
    let mut v = Validator::new(opts);
    for p in &listing.problems {
        // A folder is ignored (a warning); every archive problem is catastrophic and refuses the upload.
        let severity = if p.code == Code::UnsupportedFile { Severity::Warning } else { Severity::Error };
        v.refused |= severity == Severity::Error;
        v.report.file(severity, p.code, &p.target, p.message.clone());
    }
    let format = opts.format.unwrap_or_else(|| Format::detect(listing.files.iter().map(|f| f.name.as_str())));
    let mut by_name: FxHashMap<&str, Vec<&SourceFile>> = FxHashMap::default();
    for f in &listing.files {
        by_name.entry(f.name.as_str()).or_default().push(f);
    }
    for (name, copies) in &by_name {
        if copies.len() > 1 {
            v.refused = true;
            let places: Vec<String> =
                copies.iter().map(|f| f.archive.clone().unwrap_or_else(|| "the upload".into())).collect();
            v.report.file(
                Severity::Error,
                Code::DuplicateFile,
                name,
                format!("{name} is present {} times (in {})", copies.len(), places.join(", ")),
            );
        }
    }

    let mut manifest = Manifest::default();
    if format == Format::OneRoster {
        // Without one, `RequiredFileNotFound` below.
        if let Some(f) = by_name.get("manifest.csv").and_then(|c| c.first()) {
            manifest = v.read_manifest(source, f);
        }
    }
    let specs = format.files(manifest.version);

    // Files the format doesn't have (or has under another case).
    for f in &listing.files {
        if specs.iter().any(|s| s.name == f.name) {
            continue;
        }
        match specs.iter().find(|s| s.name.eq_ignore_ascii_case(&f.name)) {
            Some(s) => {
                let severity = if s.need == Need::NotRead { Severity::Warning } else { Severity::Error };
                v.report.file(
                    severity,
                    Code::IncorrectFileName,
                    &f.name,
                    format!("{} must be named exactly {}; it was not read", f.name, s.name),
                );
            }
            None => v.report.file(
                Severity::Warning,
                Code::UnsupportedFile,
                &f.name,
                format!("{} is not a file of the {} format; it was ignored", f.name, format.code()),
            ),
        }
    }

    let mut rows = 0;
    for spec in &specs {
        let present = by_name.get(spec.name).and_then(|c| c.first()).copied();
        if let Some(state) = manifest.files.get(spec.name.trim_end_matches(".csv")) {
            if state == "delta" {
                v.refused = true;
                v.report.file(
                    Severity::Error,
                    Code::DeltaFileNotSupported,
                    spec.name,
                    format!("manifest.csv declares {} as delta; upload the full (bulk) file", spec.name),
                );
                continue;
            }
            if state == "bulk" && present.is_none() && spec.need == Need::Optional {
                v.missing(spec, Code::RequiredFileNotFound, "manifest.csv declares it bulk but it is missing");
                continue;
            }
        }
        match (present, spec.need) {
            (_, Need::NotRead) => {}
            (Some(f), _) if spec.name != "manifest.csv" => rows += v.read_file(source, spec, f, progress),
            (Some(_), _) => {}
            (None, Need::Required) => v.missing(spec, Code::RequiredFileNotFound, "it is required"),
            (None, Need::ClassManagement) => {
                v.missing(spec, Code::OptionalFileNotFound, "classes can't be managed without it")
            }
            (None, Need::Optional) => v.incomplete_kinds(spec),
        }
    }
    for prev in &opts.previous_files {
        if !by_name.contains_key(prev.as_str()) && specs.iter().any(|s| s.name == prev) {
            v.report.file(
                Severity::Warning,
                Code::PreviouslyUploadedFileNotFound,
                prev,
                format!("{prev} was part of the previous upload; every record it held becomes inactive"),
            );
        }
    }
    let Validator { report, roster, refused, .. } = v;
    Ok(Outcome { format, report, refused, roster: (!refused).then_some(roster), rows })
}

#[derive(Debug, Default)]
struct Manifest {
    version: OneRosterVersion,
    /// `file.X` → `bulk` | `delta` | `absent`, lower-cased.
    files: FxHashMap<String, String>,
}

/// The state of one validation.
pub(crate) struct Validator<'o> {
    opts: &'o Options,
    pub(crate) report: Report,
    pub(crate) roster: Roster,
    /// A basic validation failed: nothing is loaded.
    refused: bool,
    /// Kinds whose file is missing or was refused: references to them are not reported (each would only
    /// repeat the file's own finding).
    incomplete: [bool; 10],
    record: record::State,
}

impl<'o> Validator<'o> {
    fn new(opts: &'o Options) -> Validator<'o> {
        Validator {
            opts,
            report: Report::new(opts.examples_per_code),
            roster: Roster::new(opts.keep_records),
            refused: false,
            incomplete: [false; 10],
            record: record::State::default(),
        }
    }

    fn incomplete_kinds(&mut self, spec: &FileSpec) {
        for e in &spec.emits {
            self.incomplete[e.kind as usize] = true;
        }
    }

    fn missing(&mut self, spec: &FileSpec, code: Code, why: &str) {
        let severity = if code == Code::OptionalFileNotFound { Severity::Warning } else { Severity::Error };
        if severity == Severity::Error {
            self.refused = true;
        }
        self.incomplete_kinds(spec);
        let message = match code {
            Code::RequiredFileNotFound => format!(
                "When trying to validate required file {} encountered RequiredFileNotFound error ({why}).",
                spec.name
            ),
            _ => format!("When trying to validate file {} encountered {code} error ({why}).", spec.name),
        };
        self.report.file(severity, code, spec.name, message);
    }

    /// A file-level failure: the file (and so the upload) is refused.
    fn refuse(
        &mut self,
        spec: &FileSpec,
        code: Code,
        line: u64,
        column: Option<String>,
        value: Option<String>,
        message: String,
    ) {
        self.refused = true;
        self.incomplete_kinds(spec);
        let file = spec.name.to_string();
        self.report.add(Severity::Error, code, spec.name, || crate::finding::Finding {
            code,
            severity: Severity::Error,
            file,
            line,
            column,
            value,
            message,
        });
    }

    fn read_manifest(&mut self, source: &mut dyn FileSource, f: &SourceFile) -> Manifest {
        let mut m = Manifest::default();
        let mut bytes = Vec::new();
        let read = source.open(f).and_then(|r| r.take(1 << 20).read_to_end(&mut bytes));
        let text = match read.ok().and_then(|_| String::from_utf8(bytes).ok()) {
            Some(t) => t,
            None => {
                self.refused = true;
                self.report.file(
                    Severity::Error,
                    Code::InvalidManifest,
                    "manifest.csv",
                    "manifest.csv is unreadable or not UTF-8",
                );
                return m;
            }
        };
        let mut r =
            csv::ReaderBuilder::new().flexible(true).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let mut version = None;
        for row in r.records().flatten() {
            let (k, val) = (row.get(0).unwrap_or("").trim(), row.get(1).unwrap_or("").trim());
            if k == "oneroster.version" {
                version = Some(val.to_string());
            } else if let Some(file) = k.strip_prefix("file.") {
                m.files.insert(file.to_string(), val.to_ascii_lowercase());
            }
        }
        m.version = match version.as_deref() {
            Some(v) if v.starts_with("1.2") => OneRosterVersion::V1_2,
            Some(v) if v.starts_with("1.1") || v.starts_with("1.0") => OneRosterVersion::V1_1,
            other => {
                self.refused = true;
                let message =
                    format!("manifest.csv: oneroster.version is {:?}; 1.1 or 1.2 is required", other.unwrap_or(""));
                self.report.file(Severity::Error, Code::InvalidManifest, "manifest.csv", message);
                OneRosterVersion::V1_1
            }
        };
        self.report.validated_files.push("manifest.csv".into());
        m
    }

    /// Read one file whole; returns the rows read.
    fn read_file(
        &mut self,
        source: &mut dyn FileSource,
        spec: &FileSpec,
        f: &SourceFile,
        progress: &dyn Progress,
    ) -> u64 {
        progress.file_started(spec.name, f.size);
        let input = match source.open(f) {
            Ok(r) => r,
            Err(e) => {
                self.refuse(
                    spec,
                    Code::FileUnreadable,
                    0,
                    None,
                    None,
                    format!("{} could not be opened: {e}", spec.name),
                );
                return 0;
            }
        };
        // Keys of big files: sized once from the file's size (rows are 20 bytes or more), not grown and rehashed.
        if let Some(size) = f.size {
            for e in &spec.emits {
                let t = self.roster.table_mut(e.kind);
                if !e.kind.has_id() && t.keys.is_empty() {
                    t.keys.reserve((size / 20).min(1 << 27) as usize);
                }
            }
        }
        let rows = self.read_csv(input, spec, progress);
        progress.file_finished(spec.name, rows);
        self.report.validated_files.push(spec.name.to_string());
        rows
    }
}
