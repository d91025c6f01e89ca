//! Hostile and broken input never panics and always ends in findings: arbitrary bytes as any roster file
//! (proptest; `PROPTEST_CASES=5000 cargo test -p rosterflow-engine --test hostile` for a longer run), CSV
//! soup, zip bombs, nested paths and broken archives.

use std::io::Write;
use std::path::PathBuf;

use proptest::prelude::*;
use rosterflow_engine::formats::{Format, OneRosterVersion};
use rosterflow_engine::source::{LocalSource, MemorySource, ZipLimits};
use rosterflow_engine::{validate, Code, NoProgress, Options, Outcome, Severity};

fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = Vec::new();
    for f in Format::ALL {
        for spec in f.files(OneRosterVersion::V1_2) {
            if !v.contains(&spec.name) {
                v.push(spec.name);
            }
        }
    }
    v
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rosterflow-hostile-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What every outcome must satisfy: a refused upload says why, and findings name a file.
fn sane(o: &Outcome) {
    if o.refused {
        assert!(o.report.has_errors(), "refused without an error");
        assert!(o.roster.is_none());
    }
    for f in o.report.examples() {
        assert!(!f.file.is_empty());
        assert!(f.value.as_ref().is_none_or(|v| v.chars().count() <= 101));
    }
}

/// Tokens that make CSV interesting.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"sourcedId".to_vec()),
        Just(b"userSourcedId".to_vec()),
        Just(b"username".to_vec()),
        Just(b"role".to_vec()),
        Just(b"student".to_vec()),
        Just(b"u1".to_vec()),
        Just(b"o1".to_vec()),
        Just(b"2024-01-01".to_vec()),
        "[a-z0-9@.+]{0,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(token, 0..200).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_any_roster_file_make_findings_not_crashes(
        picks in prop::collection::vec((0usize..64, prop::collection::vec(any::<u8>(), 0..600)), 1..6),
        format in 0usize..4,
    ) {
        let names = names();
        let files: Vec<(String, Vec<u8>)> = picks.into_iter().map(|(i, b)| (names[i % names.len()].to_string(), b)).collect();
        let opts = Options { format: [None, Some(Format::SdsV2_1), Some(Format::SdsV1), Some(Format::OneRoster)][format], ..Options::default() };
        let o = validate(&mut MemorySource::new(files), &opts, &NoProgress).unwrap();
        sane(&o);
    }

    #[test]
    fn csv_soup_makes_findings_not_crashes(users in soup(), orgs in soup(), enrollments in soup()) {
        let files = vec![
            ("users.csv".to_string(), users),
            ("orgs.csv".to_string(), orgs),
            ("roles.csv".to_string(), b"userSourcedId,orgSourcedId,role\nu1,o1,student\n".to_vec()),
            ("enrollments.csv".to_string(), enrollments),
        ];
        let o = validate(&mut MemorySource::new(files), &Options::default(), &NoProgress).unwrap();
        sane(&o);
    }

    #[test]
    fn arbitrary_bytes_as_a_zip_make_findings_not_crashes(bytes in prop::collection::vec(any::<u8>(), 0..2000), valid_prefix in any::<bool>()) {
        let dir = temp_dir();
        let mut data = if valid_prefix { b"PK\x03\x04".to_vec() } else { Vec::new() };
        data.extend(bytes);
        std::fs::write(dir.join("upload.zip"), data).unwrap();
        let o = validate(&mut LocalSource::new(dir.join("upload.zip")), &Options::default(), &NoProgress).unwrap();
        sane(&o);
        prop_assert!(o.refused);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn zip(path: &std::path::Path, entries: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        if name.ends_with('/') {
            z.add_directory(*name, opts).unwrap();
        } else {
            z.start_file(*name, opts).unwrap();
            z.write_all(bytes).unwrap();
        }
    }
    z.finish().unwrap();
}

const ORGS: &[u8] = b"sourcedId,name,type\no1,North,school\n";
const USERS: &[u8] = b"sourcedId,username\nu1,ann\n";
const ROLES: &[u8] = b"userSourcedId,orgSourcedId,role\nu1,o1,student\n";

#[test]
fn a_zip_upload_validates_like_loose_files() {
    let dir = temp_dir();
    zip(&dir.join("roster.zip"), &[("orgs.csv", ORGS), ("users.csv", USERS), ("roles.csv", ROLES)]);
    let o = validate(&mut LocalSource::new(dir.join("roster.zip")), &Options::default(), &NoProgress).unwrap();
    assert!(!o.report.has_errors() && !o.refused);
    assert_eq!(o.report.validated_files, ["orgs.csv", "users.csv", "roles.csv"]);
    // A folder holding the same zip and a loose copy of one of its files: the file is there twice.
    std::fs::write(dir.join("users.csv"), USERS).unwrap();
    let o = validate(&mut LocalSource::new(&dir), &Options::default(), &NoProgress).unwrap();
    assert_eq!(o.report.count_of(Code::DuplicateFile), 1);
    assert!(o.refused);
}

#[test]
fn nested_paths_nested_archives_and_bombs_are_refused() {
    let dir = temp_dir();
    let zeros = vec![0u8; 8 << 20];
    zip(
        &dir.join("evil.zip"),
        &[
            ("orgs.csv", ORGS),
            ("../users.csv", USERS),
            ("sub/", b""),
            ("sub/roles.csv", ROLES),
            ("/etc/passwd", b"x"),
            ("inner.zip", b"PK"),
            ("enrollments.csv", &zeros),
        ],
    );
    let limits = ZipLimits { max_entry_bytes: 4 << 20, ..ZipLimits::default() };
    let o = validate(&mut LocalSource::with_limits(dir.join("evil.zip"), limits), &Options::default(), &NoProgress)
        .unwrap();
    let refused: Vec<String> = o
        .report
        .examples()
        .filter(|f| matches!(f.code, Code::UnsupportedArchiveEntry | Code::ArchiveLimitExceeded))
        .map(|f| format!("{} {}", f.code, f.file))
        .collect();
    assert_eq!(
        refused,
        [
            "UnsupportedArchiveEntry evil.zip/../users.csv",
            "UnsupportedArchiveEntry evil.zip/sub/",
            "UnsupportedArchiveEntry evil.zip/sub/roles.csv",
            "UnsupportedArchiveEntry evil.zip//etc/passwd",
            "UnsupportedArchiveEntry evil.zip/inner.zip",
            "ArchiveLimitExceeded evil.zip/enrollments.csv",
        ]
    );
    assert!(o.refused);
    assert_eq!(o.report.count_of(Code::RequiredFileNotFound), 2, "users.csv and roles.csv were not read");
    assert!(o.report.groups().iter().all(|g| g.severity == Severity::Error || g.code != Code::ArchiveLimitExceeded));

    let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("f{i}.csv"), b"a\n".to_vec())).collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    zip(&dir.join("many.zip"), &refs);
    let limits = ZipLimits { max_entries: 4, ..ZipLimits::default() };
    let o = validate(&mut LocalSource::with_limits(dir.join("many.zip"), limits), &Options::default(), &NoProgress)
        .unwrap();
    assert_eq!(o.report.count_of(Code::ArchiveLimitExceeded), 1);
    assert!(o.refused);
}
