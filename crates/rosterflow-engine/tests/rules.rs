//! Validation rules on small fixtures: basic validation (files, names, encodings, headers) and advanced
//! validation (types, codes, keys, references), each finding with its line, column and value.

use std::sync::Arc;

use rosterflow_engine::schema::{role, user, Kind};
use rosterflow_engine::source::MemorySource;
use rosterflow_engine::{validate, Code, Format, NoProgress, Options, Outcome, Severity};
use rosterflow_model::reference::Catalog;

const ORGS: &str = "sourcedId,name,type,parentSourcedId\no1,North High,School,d1\nd1,District,district,\n";
const USERS: &str = "sourcedId,username,email,phone\nu1,ann,Ann@Example.ORG,+14255550100\nu2,bob,,\n";
const ROLES: &str = "userSourcedId,orgSourcedId,role\nu1,o1,student\nu2,o1,teacher\n";

fn run_with(files: Vec<(&'static str, Vec<u8>)>, opts: &Options) -> Outcome {
    validate(&mut MemorySource::new(files), opts, &NoProgress).unwrap()
}

fn run(files: &[(&'static str, &str)]) -> Outcome {
    run_with(files.iter().map(|(n, b)| (*n, b.as_bytes().to_vec())).collect(), &Options::default())
}

fn base<'a>(extra: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut v = vec![("orgs.csv", ORGS), ("users.csv", USERS), ("roles.csv", ROLES)];
    for (n, b) in extra {
        v.retain(|(m, _)| m != n);
        v.push((n, b));
    }
    v
}

/// `code file:line column value` of each finding.
fn found(o: &Outcome) -> Vec<String> {
    o.report
        .examples()
        .map(|f| {
            format!(
                "{} {}:{} {} {}",
                f.code,
                f.file,
                f.line,
                f.column.clone().unwrap_or_default(),
                f.value.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn a_minimal_set_is_clean_normalized_and_warns_about_class_files() {
    let o = run(&base(&[]));
    assert_eq!(o.format, Format::SdsV2_1);
    let codes: Vec<Code> = o.report.groups().iter().map(|g| g.code).collect();
    assert_eq!(codes, [Code::OptionalFileNotFound, Code::OptionalFileNotFound], "classes.csv and enrollments.csv");
    let r = o.roster.unwrap();
    assert_eq!(r.str(Kind::Org, 0, 2), Some("school"), "enums stored as the catalog spells them");
    assert_eq!(r.reference(Kind::Org, 0, 3), Some(1), "a parent later in the same file resolves");
    assert_eq!(r.str(Kind::User, 0, user::EMAIL), Some("ann@example.org"), "emails lower-cased");
    let json = rosterflow_engine::render::operation_json(&o_again(), "id", "t0", "t1");
    assert_eq!(json["warnings"][0]["code"], "OptionalFileNotFound");
    assert_eq!(json["warnings"][0]["target"], "classes.csv");
    assert_eq!(json["status"], "succeeded");
}

fn o_again() -> Outcome {
    run(&base(&[]))
}

#[test]
fn missing_misnamed_unknown_and_duplicate_files() {
    let o = run(&[("Orgs.csv", ORGS), ("users.csv", USERS), ("notes.txt", "hi")]);
    let got = found(&o);
    assert!(got.contains(&"IncorrectFileName Orgs.csv:0  ".to_string()), "{got:?}");
    assert!(got.contains(&"UnsupportedFile notes.txt:0  ".to_string()));
    assert_eq!(o.report.count_of(Code::RequiredFileNotFound), 2, "orgs.csv (misnamed) and roles.csv");
    assert!(o.refused);
    let o = run(&[("orgs.csv", ORGS), ("orgs.csv", ORGS), ("users.csv", USERS), ("roles.csv", ROLES)]);
    assert_eq!(o.report.count_of(Code::DuplicateFile), 1);
    assert!(o.refused);
}

#[test]
fn headers_are_exact_and_optional_columns_may_be_absent() {
    let o = run(&base(&[("users.csv", "sourcedId,UserName,familyname\nu1,ann,x\n")]));
    assert_eq!(
        found(&o),
        [
            "UnknownHeader users.csv:1 UserName ",
            "UnknownHeader users.csv:1 familyname ",
            "RequiredHeaderNotFound users.csv:1 username ",
            "OptionalFileNotFound classes.csv:0  ",
            "OptionalFileNotFound enrollments.csv:0  ",
        ]
    );
    assert!(o.refused);
    let o = run(&base(&[("users.csv", "username,sourcedId\nann,u1\nbob,u2\n")]));
    assert!(!o.report.has_errors() && !o.refused, "any column order, optional columns absent");
    let o = run(&base(&[("users.csv", "sourcedId,username,username\nu1,a,a\n")]));
    assert_eq!(o.report.count_of(Code::DuplicateHeader), 1);
}

#[test]
fn a_bom_is_tolerated_nuls_and_invalid_utf8_refuse_the_file() {
    let bom = format!("\u{feff}{USERS}");
    let o = run(&base(&[("users.csv", &bom)]));
    assert!(!o.report.has_errors());
    let mut nul = USERS.as_bytes().to_vec();
    nul.extend_from_slice(b"u3,c\0d,,\n");
    let mut files: Vec<(&str, Vec<u8>)> = base(&[]).into_iter().map(|(n, b)| (n, b.as_bytes().to_vec())).collect();
    files[1].1 = nul;
    let o = run_with(files.clone(), &Options::default());
    assert_eq!(
        found(&o).iter().filter(|f| f.starts_with("EmbeddedNull")).collect::<Vec<_>>(),
        ["EmbeddedNullCharacter users.csv:4 username "]
    );
    assert!(o.refused);
    files[1].1 = b"sourcedId,username\nu1,caf\xe9\n".to_vec();
    let o = run_with(files, &Options::default());
    assert_eq!(
        found(&o).iter().filter(|f| f.starts_with("InvalidEncoding")).collect::<Vec<_>>(),
        ["InvalidEncoding users.csv:2 username caf\u{fffd}"]
    );
    assert!(o.refused);
}

#[test]
fn broken_csv_is_refused_and_misaligned_rows_are_dropped() {
    let unterminated = format!("sourcedId,username\nu1,\"{}", "x\n".repeat(600_000));
    let o = run(&base(&[("users.csv", &unterminated)]));
    assert_eq!(o.report.count_of(Code::MalformedCsv), 1);
    assert!(o.refused);
    let o = run(&base(&[("users.csv", "sourcedId,username\nu1,ann,extra\nu2\nu3,cy\n")]));
    assert_eq!(found(&o)[..2], ["FieldCountMismatch users.csv:2  ", "FieldCountMismatch users.csv:3  "]);
    assert_eq!(o.roster.unwrap().len(Kind::User), 1);
    let o = run(&base(&[("users.csv", "sourcedId,username\nu1,\"two\nlines\"\nu2,b\n")]));
    assert_eq!(found(&o)[0], "InvalidCharacter users.csv:2 username two\\nlines");
    assert_eq!(o.report.groups()[0].severity, Severity::Error, "a required value: the record is dropped");
}

#[test]
fn errors_drop_records_and_warnings_drop_values() {
    let users = "sourcedId,username,email,phone,sms\nu1,ann,not-an-email,12345,+14255550100\nu1,dup,,,\n,nobody,,,\nu3,Ann,,,\n";
    let roles = "userSourcedId,orgSourcedId,role,grade,isPrimary,roleStartDate\nu1,o1,STUDENT,1,yes,2024-13-01\nu9,o1,student,,,\nu3,o1,wizard,,,\nu1,o1,student,,,\n";
    let o = run(&base(&[("users.csv", users), ("roles.csv", roles)]));
    assert_eq!(
        found(&o)[..11],
        [
            "InvalidEmail users.csv:2 email not-an-email",
            "InvalidPhoneNumber users.csv:2 phone 12345",
            "DuplicateId users.csv:3 sourcedId u1",
            "RequiredValueMissing users.csv:4 sourcedId ",
            "DuplicateUsername users.csv:5 username Ann",
            "InvalidBoolean roles.csv:2 isPrimary yes",
            "InvalidDate roles.csv:2 roleStartDate 2024-13-01",
            "ReferenceNotFound roles.csv:3 userSourcedId u9",
            "InvalidReferenceCode roles.csv:4 role wizard",
            "DuplicateRecord roles.csv:5  ",
            "OptionalFileNotFound classes.csv:0  ",
        ]
    );
    let r = o.roster.unwrap();
    assert_eq!((r.len(Kind::User), r.len(Kind::Role)), (2, 1));
    assert_eq!(r.str(Kind::User, 0, user::EMAIL), None, "the invalid optional value is dropped, the record kept");
    assert_eq!(r.str(Kind::User, 0, user::SMS), Some("+14255550100"));
    assert_eq!(r.str(Kind::Role, 0, role::ROLE), Some("student"));
    assert_eq!(r.str(Kind::Role, 0, role::GRADE), Some("01"), "grade 1 is padded to 01");
}

#[test]
fn codes_follow_the_tenants_catalog() {
    let disabled = serde_json::json!({"referenceType": "RefRole", "code": "teacher", "isDisabled": true});
    let added = serde_json::json!({"referenceType": "RefOrgType", "code": "academy", "isDisabled": false});
    let catalog = Catalog::new([disabled.as_object().unwrap(), added.as_object().unwrap()]);
    let opts = Options { catalog: Arc::new(catalog), ..Options::default() };
    let orgs = "sourcedId,name,type\no1,North,ACADEMY\n";
    let files = base(&[("orgs.csv", orgs)]).into_iter().map(|(n, b)| (n, b.as_bytes().to_vec())).collect();
    let o = run_with(files, &opts);
    assert_eq!(found(&o)[0], "DisabledReferenceCode roles.csv:3 role teacher");
    let r = o.roster.unwrap();
    assert_eq!(r.str(Kind::Org, 0, 2), Some("academy"), "a tenant's own code, stored as it defined it");
    assert_eq!(r.len(Kind::Role), 1);
}

#[test]
fn the_report_counts_everything_and_keeps_n_examples() {
    let mut users = String::from("sourcedId,username,email\n");
    for i in 0..10_000 {
        users.push_str(&format!("u{i},user{i},bad{i}\n"));
    }
    let opts = Options { examples_per_code: 3, ..Options::default() };
    let files = base(&[("users.csv", &users), ("roles.csv", "userSourcedId,orgSourcedId,role\n")])
        .into_iter()
        .map(|(n, b)| (n, b.as_bytes().to_vec()))
        .collect();
    let o = run_with(files, &opts);
    let g = o.report.groups().iter().find(|g| g.code == Code::InvalidEmail).unwrap();
    assert_eq!((g.count, g.examples.len()), (10_000, 3));
    assert_eq!(g.examples[2].line, 4);
    let e = g.public_error();
    assert_eq!(e["details"].as_array().unwrap().len(), 3);
    assert!(e["message"].as_str().unwrap().contains("10000 occurrences"));
}

#[test]
fn oneroster_deltas_are_refused() {
    let manifest =
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\n";
    let o = run(&[
        ("manifest.csv", manifest),
        ("orgs.csv", "sourcedId,status,dateLastModified,name,type\no1,,,North,school\n"),
    ]);
    assert_eq!(o.format, Format::OneRoster);
    assert_eq!(o.report.count_of(Code::DeltaFileNotSupported), 1);
    assert!(o.refused);
}
