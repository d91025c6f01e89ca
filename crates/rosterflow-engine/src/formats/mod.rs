//! Roster file formats, chosen by the data connector's `fileFormat` (a `RefFileFormat` code): SDS v2.1 CSV
//! (`schoolDataSyncV2Rev1`), SDS v1 CSV (`schoolDataSyncV1`) and OneRoster 1.1/1.2 CSV (rosterflow's own
//! `oneRosterCsv`; Graph reads OneRoster through its API only). sds-semantics §2, §2.2, §3.
//!
//! A format is a list of files; a file maps its columns onto the fields of one or more record kinds of the
//! normalized model (`schema.rs`), so validation rules are written once, per field type. SDS v2.1 maps each
//! column onto the field of the same name; the others say where each field comes from ([`Src`]), and may
//! make several records out of one row (an SDS v1 `Student.csv` row is a user and its role at a school).

mod oneroster;
mod sds1;
mod sds21;

use crate::schema::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    SdsV2_1,
    SdsV1,
    /// OneRoster 1.1 or 1.2 CSV; the version comes from `manifest.csv`.
    OneRoster,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::SdsV2_1, Format::SdsV1, Format::OneRoster];

    /// The `RefFileFormat` code (`fileFormat.code` of an `azureDataLakeConnector`).
    pub fn code(self) -> &'static str {
        match self {
            Format::SdsV2_1 => "schoolDataSyncV2Rev1",
            Format::SdsV1 => "schoolDataSyncV1",
            Format::OneRoster => "oneRosterCsv",
        }
    }

    /// A format by its code or a short name (`v2.1`, `sds-v1`, `oneroster`), case-insensitively.
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
        match s.as_str() {
            "schooldatasyncv2rev1" | "schooldatasyncv2.1" | "v2.1" | "sdsv2.1" | "sds21" | "v21" | "sds" => {
                Some(Format::SdsV2_1)
            }
            "schooldatasyncv1" | "v1" | "sdsv1" | "sds1" | "classic" => Some(Format::SdsV1),
            "onerostercsv" | "oneroster" | "oneroster1.1" | "oneroster1.2" | "or" => Some(Format::OneRoster),
            _ => None,
        }
    }

    /// The format a set of file names looks like: SDS v1 if it has `Section.csv` or `School.csv`, OneRoster if
    /// it has `manifest.csv`, else SDS v2.1.
    pub fn detect<'a>(names: impl IntoIterator<Item = &'a str>) -> Format {
        let mut format = Format::SdsV2_1;
        for n in names {
            let n = n.to_ascii_lowercase();
            if n == "section.csv" || n == "school.csv" {
                return Format::SdsV1;
            }
            if n == "manifest.csv" {
                format = Format::OneRoster;
            }
        }
        format
    }

    /// The format's files, in the order they are read (every reference points to a file read earlier).
    /// OneRoster's depend on its version (`manifest.csv`).
    pub fn files(self, oneroster_version: OneRosterVersion) -> Vec<FileSpec> {
        match self {
            Format::SdsV2_1 => sds21::files(),
            Format::SdsV1 => sds1::files(),
            Format::OneRoster => oneroster::files(oneroster_version),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OneRosterVersion {
    #[default]
    V1_1,
    V1_2,
}

/// Whether a file must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Missing: `RequiredFileNotFound`, and nothing is loaded.
    Required,
    /// Missing: `OptionalFileNotFound` (a warning; SDS's own for classes and enrollments).
    ClassManagement,
    Optional,
    /// Part of the format but carries nothing rosterflow reads (OneRoster gradebook files, SDS v1's
    /// `manifest`): accepted, not read.
    NotRead,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Src {
    /// A column, by header.
    Col(&'static str),
    /// A fixed value (an SDS v1 `Student.csv` row's role is `student`).
    Const(&'static str),
    /// The current item of the emit's [`Emit::each`] list.
    Each,
    /// A column's value converted; `None` skips the record (a OneRoster `parent` is a contact, not a role).
    Map(&'static str, fn(&str) -> Option<String>),
}

impl Src {
    pub fn column(self) -> Option<&'static str> {
        match self {
            Src::Col(c) | Src::Map(c, _) => Some(c),
            Src::Const(_) | Src::Each => None,
        }
    }
}

/// One record a row makes.
#[derive(Debug, Clone)]
pub struct Emit {
    pub kind: Kind,
    /// `(field index, source)`; fields not listed are absent.
    pub fields: Vec<(usize, Src)>,
    /// Make one record per item of this comma-separated column (OneRoster `users.orgSourcedIds` → roles).
    pub each: Option<&'static str>,
    /// Made only when this column is present and non-empty (an SDS v1 section's course, if it names one).
    pub when: Option<&'static str>,
    /// Records many rows repeat (an SDS v1 course named by each of its sections): a repeated key is
    /// skipped silently, the first row's values win.
    pub repeated: bool,
}

impl Emit {
    pub fn new(kind: Kind, fields: Vec<(usize, Src)>) -> Emit {
        Emit { kind, fields, each: None, when: None, repeated: false }
    }

    /// SDS v2.1: every field from the column of its own name.
    pub fn same_names(kind: Kind) -> Emit {
        Emit::new(kind, kind.fields().iter().enumerate().map(|(i, f)| (i, Src::Col(f.name))).collect())
    }
}

/// One file of a format.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: &'static str,
    pub need: Need,
    /// Headers that must be present (case-sensitive), or the file is refused.
    pub required_headers: Vec<&'static str>,
    /// Other headers the format knows; any header outside both lists is `UnknownHeader`.
    pub optional_headers: Vec<&'static str>,
    /// Other spellings accepted for a header: `(alias, header)`.
    pub aliases: Vec<(&'static str, &'static str)>,
    /// OneRoster's `status` column: a record `tobedeleted` or `inactive` is skipped (`RecordNotActive`).
    pub status: Option<&'static str>,
    pub emits: Vec<Emit>,
}

impl FileSpec {
    fn new(name: &'static str, need: Need, emits: Vec<Emit>) -> FileSpec {
        FileSpec {
            name,
            need,
            required_headers: Vec::new(),
            optional_headers: Vec::new(),
            aliases: Vec::new(),
            status: None,
            emits,
        }
    }

    /// SDS v2.1-style: headers are the kind's field names, required as the fields are.
    fn canonical(kind: Kind, need: Need) -> FileSpec {
        let mut spec = FileSpec::new(leak_csv_name(kind), need, vec![Emit::same_names(kind)]);
        for f in kind.fields() {
            if f.required {
                spec.required_headers.push(f.name);
            } else {
                spec.optional_headers.push(f.name);
            }
        }
        spec
    }

    pub fn knows_header(&self, h: &str) -> bool {
        self.required_headers.contains(&h) || self.optional_headers.contains(&h)
    }
}

/// `orgs.csv` for `Kind::Org`, ...
fn leak_csv_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Org => "orgs.csv",
        Kind::AcademicSession => "academicSessions.csv",
        Kind::Course => "courses.csv",
        Kind::User => "users.csv",
        Kind::Role => "roles.csv",
        Kind::Class => "classes.csv",
        Kind::Enrollment => "enrollments.csv",
        Kind::Demographic => "demographics.csv",
        Kind::UserFlag => "userFlags.csv",
        Kind::Relationship => "relationships.csv",
    }
}

/// `M/D/YYYY` (US dates, as SDS v1 and some OneRoster exports write them) as `YYYY-MM-DD`; anything else
/// unchanged, for validation to judge.
pub(crate) fn us_date_to_iso(s: &str) -> Option<String> {
    let date = s.split_whitespace().next().unwrap_or(s);
    let parts: Vec<&str> = date.split('/').collect();
    if let [m, d, y] = parts.as_slice() {
        if let (Ok(m), Ok(d), Ok(y)) = (m.parse::<u32>(), d.parse::<u32>(), y.parse::<u32>()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) && (1000..=9999).contains(&y) {
                return Some(format!("{y:04}-{m:02}-{d:02}"));
            }
        }
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_detect() {
        assert_eq!(Format::parse("schoolDataSyncV2.1"), Some(Format::SdsV2_1));
        assert_eq!(Format::parse("SDS-v1"), Some(Format::SdsV1));
        assert_eq!(Format::parse("OneRoster"), Some(Format::OneRoster));
        assert_eq!(Format::parse("csv"), None);
        assert_eq!(Format::detect(["Section.csv", "School.csv"]), Format::SdsV1);
        assert_eq!(Format::detect(["manifest.csv", "orgs.csv"]), Format::OneRoster);
        assert_eq!(Format::detect(["orgs.csv"]), Format::SdsV2_1);
        assert_eq!(us_date_to_iso("7/1/2017").as_deref(), Some("2017-07-01"));
        assert_eq!(us_date_to_iso("2017-07-01").as_deref(), Some("2017-07-01"));
    }

    #[test]
    fn every_column_a_file_reads_is_a_header_it_knows() {
        for format in Format::ALL {
            for v in [OneRosterVersion::V1_1, OneRosterVersion::V1_2] {
                for spec in format.files(v) {
                    for emit in &spec.emits {
                        let cols = emit.fields.iter().filter_map(|(_, s)| s.column()).chain(emit.each).chain(emit.when);
                        for c in cols {
                            assert!(spec.knows_header(c), "{format} {}: {c}", spec.name);
                        }
                        for (f, _) in &emit.fields {
                            assert!(*f < emit.kind.fields().len());
                        }
                    }
                }
            }
        }
    }
}
