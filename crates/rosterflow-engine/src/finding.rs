//! Validation findings and the report that aggregates them: the `errors` and `warnings` of a
//! `fileValidateOperation` (graph-docs `industrydata-filevalidateoperation.md`), each a `publicError`
//! (`code`, `message`, `target`, `details[]`).
//!
//! A million-row file with one systematic mistake must not produce a million-entry report: findings are
//! grouped per (severity, file, code), each group counts every occurrence and keeps the first N examples
//! (file, line, column, offending value). The examples become the group's `details`. Every code is in
//! [`Code`] with its severity rule; `docs/validation.md` lists them.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file or the record is refused.
    Error,
    /// The value is dropped (or nothing is), the record kept.
    Warning,
}

/// Every finding code rosterflow emits. The first two are the docs' own examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    RequiredFileNotFound,
    OptionalFileNotFound,
    PreviouslyUploadedFileNotFound,
    UnsupportedFile,
    IncorrectFileName,
    DuplicateFile,
    InvalidArchive,
    UnsupportedArchiveEntry,
    ArchiveLimitExceeded,
    FileUnreadable,
    EmptyFile,
    InvalidEncoding,
    EmbeddedNullCharacter,
    MalformedCsv,
    RequiredHeaderNotFound,
    DuplicateHeader,
    UnknownHeader,
    InvalidManifest,
    DeltaFileNotSupported,
    FieldCountMismatch,
    RequiredValueMissing,
    InvalidCharacter,
    InvalidReferenceCode,
    DisabledReferenceCode,
    InvalidEmail,
    InvalidDate,
    InvalidPhoneNumber,
    InvalidBoolean,
    InvalidYear,
    DuplicateId,
    DuplicateRecord,
    ReferenceNotFound,
    DuplicateUsername,
    RecordNotActive,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::RequiredFileNotFound,
        Code::OptionalFileNotFound,
        Code::PreviouslyUploadedFileNotFound,
        Code::UnsupportedFile,
        Code::IncorrectFileName,
        Code::DuplicateFile,
        Code::InvalidArchive,
        Code::UnsupportedArchiveEntry,
        Code::ArchiveLimitExceeded,
        Code::FileUnreadable,
        Code::EmptyFile,
        Code::InvalidEncoding,
        Code::EmbeddedNullCharacter,
        Code::MalformedCsv,
        Code::RequiredHeaderNotFound,
        Code::DuplicateHeader,
        Code::UnknownHeader,
        Code::InvalidManifest,
        Code::DeltaFileNotSupported,
        Code::FieldCountMismatch,
        Code::RequiredValueMissing,
        Code::InvalidCharacter,
        Code::InvalidReferenceCode,
        Code::DisabledReferenceCode,
        Code::InvalidEmail,
        Code::InvalidDate,
        Code::InvalidPhoneNumber,
        Code::InvalidBoolean,
        Code::InvalidYear,
        Code::DuplicateId,
        Code::DuplicateRecord,
        Code::ReferenceNotFound,
        Code::DuplicateUsername,
        Code::RecordNotActive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::RequiredFileNotFound => "RequiredFileNotFound",
            Code::OptionalFileNotFound => "OptionalFileNotFound",
            Code::PreviouslyUploadedFileNotFound => "PreviouslyUploadedFileNotFound",
            Code::UnsupportedFile => "UnsupportedFile",
            Code::IncorrectFileName => "IncorrectFileName",
            Code::DuplicateFile => "DuplicateFile",
            Code::InvalidArchive => "InvalidArchive",
            Code::UnsupportedArchiveEntry => "UnsupportedArchiveEntry",
            Code::ArchiveLimitExceeded => "ArchiveLimitExceeded",
            Code::FileUnreadable => "FileUnreadable",
            Code::EmptyFile => "EmptyFile",
            Code::InvalidEncoding => "InvalidEncoding",
            Code::EmbeddedNullCharacter => "EmbeddedNullCharacter",
            Code::MalformedCsv => "MalformedCsv",
            Code::RequiredHeaderNotFound => "RequiredHeaderNotFound",
            Code::DuplicateHeader => "DuplicateHeader",
            Code::UnknownHeader => "UnknownHeader",
            Code::InvalidManifest => "InvalidManifest",
            Code::DeltaFileNotSupported => "DeltaFileNotSupported",
            Code::FieldCountMismatch => "FieldCountMismatch",
            Code::RequiredValueMissing => "RequiredValueMissing",
            Code::InvalidCharacter => "InvalidCharacter",
            Code::InvalidReferenceCode => "InvalidReferenceCode",
            Code::DisabledReferenceCode => "DisabledReferenceCode",
            Code::InvalidEmail => "InvalidEmail",
            Code::InvalidDate => "InvalidDate",
            Code::InvalidPhoneNumber => "InvalidPhoneNumber",
            Code::InvalidBoolean => "InvalidBoolean",
            Code::InvalidYear => "InvalidYear",
            Code::DuplicateId => "DuplicateId",
            Code::DuplicateRecord => "DuplicateRecord",
            Code::ReferenceNotFound => "ReferenceNotFound",
            Code::DuplicateUsername => "DuplicateUsername",
            Code::RecordNotActive => "RecordNotActive",
        }
    }

    /// What the group's `message` says, after the count.
    pub fn summary(self) -> &'static str {
        match self {
            Code::RequiredFileNotFound => "required file is missing",
            Code::OptionalFileNotFound => "file needed for class management is missing",
            Code::PreviouslyUploadedFileNotFound => {
                "file of the previous upload is missing: every record it held becomes inactive"
            }
            Code::UnsupportedFile => "file is not part of the format and was ignored",
            Code::IncorrectFileName => "file name differs from the format's only in case; names are exact",
            Code::DuplicateFile => "file is present more than once (inside and outside a zip, or twice)",
            Code::InvalidArchive => "zip archive could not be read",
            Code::UnsupportedArchiveEntry => "zip entry is not a file at the archive's root",
            Code::ArchiveLimitExceeded => "zip archive exceeds a size, count or compression-ratio limit",
            Code::FileUnreadable => "file could not be read",
            Code::EmptyFile => "file has no header row",
            Code::InvalidEncoding => "file is not UTF-8; the file was refused",
            Code::EmbeddedNullCharacter => "file contains a NUL character; the file was refused",
            Code::MalformedCsv => "file is not valid CSV (RFC 4180); the file was refused",
            Code::RequiredHeaderNotFound => {
                "required header is missing (headers are case-sensitive); the file was refused"
            }
            Code::DuplicateHeader => "header appears more than once; the file was refused",
            Code::UnknownHeader => "header is not part of the format; the column was ignored",
            Code::InvalidManifest => "manifest is missing or invalid",
            Code::DeltaFileNotSupported => "file is declared as a delta; only full (bulk) snapshots are accepted",
            Code::FieldCountMismatch => {
                "record has a different number of fields than the header; the record was dropped"
            }
            Code::RequiredValueMissing => "record lacks a required value; the record was dropped",
            Code::InvalidCharacter => "value contains a line break or control character",
            Code::InvalidReferenceCode => "value is not a code of the tenant's reference definitions",
            Code::DisabledReferenceCode => "value is a disabled reference code",
            Code::InvalidEmail => "value is not a valid email address (RFC 5322)",
            Code::InvalidDate => "value is not an ISO 8601 date",
            Code::InvalidPhoneNumber => "value is not an E.164 phone number (+1234567890)",
            Code::InvalidBoolean => "value is not true or false",
            Code::InvalidYear => "value is not a four-digit year",
            Code::DuplicateId => "record repeats an id already seen; the later record was dropped",
            Code::DuplicateRecord => "record repeats the key of an earlier record; the later record was dropped",
            Code::ReferenceNotFound => "value references a record that does not exist (or was dropped)",
            Code::DuplicateUsername => {
                "username is shared with an earlier user; matching by username will be ambiguous"
            }
            Code::RecordNotActive => "record is marked inactive or to be deleted in a full snapshot; it was skipped",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One occurrence, with where it is and what was there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub file: String,
    /// 1-based line of the record (0: the file as a whole).
    pub line: u64,
    pub column: Option<String>,
    /// The offending value, shortened to [`MAX_VALUE_CHARS`].
    pub value: Option<String>,
    pub message: String,
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Longest offending value quoted in a finding.
pub const MAX_VALUE_CHARS: usize = 100;

/// A value as quoted in a finding: lossy UTF-8, control characters escaped, shortened.
pub fn quote(value: &[u8]) -> String {
    let s = String::from_utf8_lossy(value);
    let mut out: String = s.chars().take(MAX_VALUE_CHARS).flat_map(char::escape_debug).collect();
    if s.chars().count() > MAX_VALUE_CHARS {
        out.push('…');
    }
    out
}

impl Finding {
    /// Where, as a `target`: `users.csv, line 12, column email`.
    pub fn target(&self) -> String {
        let mut t = self.file.clone();
        if self.line > 0 {
            t.push_str(&format!(", line {}", self.line));
        }
        if let Some(c) = &self.column {
            t.push_str(&format!(", column {c}"));
        }
        t
    }
}

/// Findings of one (severity, file, code): how many, and the first examples.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub code: Code,
    pub severity: Severity,
    pub file: String,
    pub count: u64,
    pub examples: Vec<Finding>,
}

impl Group {
    /// The group as a `publicError`.
    pub fn public_error(&self) -> Value {
        let shown = self.examples.len() as u64;
        let mut message = match self.examples.as_slice() {
            [only] if self.count == 1 && only.message.starts_with(&self.file) => only.message.clone(),
            [only] if self.count == 1 => format!("{}: {}", self.file, only.message),
            _ => format!("{}: {} occurrences: {}.", self.file, self.count, self.code.summary()),
        };
        if self.count > shown && shown > 0 {
            message.push_str(&format!(" The first {shown} are listed in details."));
        }
        let details: Vec<Value> = self
            .examples
            .iter()
            .map(|f| json!({"code": f.code.as_str(), "message": f.message, "target": f.target()}))
            .collect();
        json!({"code": self.code.as_str(), "message": message, "target": self.file, "details": details, "innerError": null})
    }
}

/// The aggregated findings of one validation.
#[derive(Debug, Clone)]
pub struct Report {
    examples_per_code: usize,
    groups: Vec<Group>,
    index: rustc_hash::FxHashMap<(Severity, String, Code), usize>,
    /// Files read, in the order they were validated (`validatedFiles`).
    pub validated_files: Vec<String>,
}

impl Report {
    pub fn new(examples_per_code: usize) -> Report {
        Report { examples_per_code, groups: Vec::new(), index: Default::default(), validated_files: Vec::new() }
    }

    /// Count a finding; `build` makes its example only when the group still wants examples, so a repeated
    /// mistake on a million rows costs a counter increment per row.
    pub fn add(&mut self, severity: Severity, code: Code, file: &str, build: impl FnOnce() -> Finding) {
        let key = (severity, file.to_string(), code);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.groups.push(Group { code, severity, file: file.to_string(), count: 0, examples: Vec::new() });
                self.index.insert(key, self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[i];
        g.count += 1;
        if g.examples.len() < self.examples_per_code {
            g.examples.push(build());
        }
    }

    /// A finding about a file as a whole.
    pub fn file(&mut self, severity: Severity, code: Code, file: &str, message: impl Into<String>) {
        let message = message.into();
        self.add(severity, code, file, || Finding {
            code,
            severity,
            file: file.to_string(),
            line: 0,
            column: None,
            value: None,
            message,
        });
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn count(&self, severity: Severity) -> u64 {
        self.groups.iter().filter(|g| g.severity == severity).map(|g| g.count).sum()
    }

    /// Occurrences of `code` (any file, any severity).
    pub fn count_of(&self, code: Code) -> u64 {
        self.groups.iter().filter(|g| g.code == code).map(|g| g.count).sum()
    }

    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// Every example kept, in order.
    pub fn examples(&self) -> impl Iterator<Item = &Finding> {
        self.groups.iter().flat_map(|g| g.examples.iter())
    }

    /// `errors` or `warnings` of the operation, as `publicError`s.
    pub fn public_errors(&self, severity: Severity) -> Vec<Value> {
        self.groups.iter().filter(|g| g.severity == severity).map(Group::public_error).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_count_everything_and_keep_the_first_examples() {
        let mut r = Report::new(2);
        for line in 2..1000 {
            r.add(Severity::Warning, Code::InvalidEmail, "users.csv", || Finding {
                code: Code::InvalidEmail,
                severity: Severity::Warning,
                file: "users.csv".into(),
                line,
                column: Some("email".into()),
                value: Some("x@".into()),
                message: format!("line {line}"),
            });
        }
        r.file(Severity::Error, Code::RequiredFileNotFound, "orgs.csv", "orgs.csv is required");
        assert_eq!(r.groups().len(), 2);
        assert_eq!(r.groups()[0].count, 998);
        assert_eq!(r.groups()[0].examples.len(), 2);
        let w = r.public_errors(Severity::Warning);
        assert_eq!(w[0]["code"], "InvalidEmail");
        assert_eq!(w[0]["target"], "users.csv");
        assert_eq!(w[0]["details"][1]["target"], "users.csv, line 3, column email");
        assert!(w[0]["message"].as_str().unwrap().contains("998 occurrences"));
        assert!(r.has_errors());
        assert_eq!(r.public_errors(Severity::Error)[0]["code"], "RequiredFileNotFound");
    }

    #[test]
    fn quoted_values_are_short_and_escaped() {
        assert_eq!(quote(b"a\tb"), "a\\tb");
        assert_eq!(quote(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(quote("é".repeat(150).as_bytes()).chars().count(), MAX_VALUE_CHARS + 1);
    }
}
