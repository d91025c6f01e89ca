//! Every real sample set (tests/fixtures/rosters, provenance in PROVENANCE.md) validates to the findings it
//! should, line by line.

use rosterflow_engine::schema::{enrollment, role, user, Kind};
use rosterflow_engine::source::LocalSource;
use rosterflow_engine::{validate, Code, Format, NoProgress, Options, Outcome, Severity};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rosters").join(name)
}

fn run(name: &str) -> Outcome {
    validate(&mut LocalSource::new(fixture(name)), &Options::default(), &NoProgress).unwrap()
}

/// Every finding as `severity code file:line column`.
fn lines(o: &Outcome) -> Vec<String> {
    o.report
        .examples()
        .map(|f| {
            let sev = if f.severity == Severity::Error { "E" } else { "W" };
            format!("{sev} {} {}:{} {}", f.code, f.file, f.line, f.column.clone().unwrap_or_default())
        })
        .collect()
}

#[test]
fn microsofts_sds_v2_1_sample_is_clean_and_complete() {
    let o = run("microsoft-sds-v2.1");
    assert_eq!(o.format, Format::SdsV2_1);
    assert!(lines(&o).is_empty(), "{:?}", lines(&o));
    let r = o.roster.expect("loadable");
    let counts: Vec<usize> = Kind::ALL.iter().map(|&k| r.len(k)).collect();
    assert_eq!(counts, [4, 2, 3, 8, 7, 2, 6, 6, 3, 3]);
    assert_eq!(o.report.validated_files.len(), 10);
    // Codes are stored canonically: `ps1` (roles.csv) is the catalog's `PS1`, `TRUE` is `true`.
    let prof = r.find(Kind::User, "114006").unwrap();
    let role_row =
        (0..r.len(Kind::Role) as u32).find(|&i| r.reference(Kind::Role, i, role::USER) == Some(prof)).unwrap();
    assert_eq!(r.str(Kind::Role, role_row, role::GRADE), Some("PS1"));
    assert_eq!(r.str(Kind::Role, role_row, role::IS_PRIMARY), Some("true"));
    assert_eq!(r.str(Kind::Role, role_row, role::ROLE), Some("professor"));
    let guardian = r.find(Kind::User, "114002").unwrap();
    assert_eq!(r.str(Kind::User, guardian, user::EMAIL), Some("jean.craig@outlook.com"));
    assert_eq!(r.str(Kind::Enrollment, 1, enrollment::ROLE), Some("professor"));
    assert_eq!(r.reference(Kind::Enrollment, 1, enrollment::USER), Some(prof));
}

#[test]
fn sdslib_messy_set_bom_pascal_case_us_dates_and_a_misaligned_row() {
    let o = run("sdslib-v2.1");
    assert_eq!(
        lines(&o),
        [
            "E InvalidYear academicSessions.csv:2 schoolYear",
            "W ReferenceNotFound courses.csv:2 schoolYearSourcedId",
            "W InvalidReferenceCode courses.csv:2 subject",
            "W InvalidPhoneNumber users.csv:2 phone",
            "W InvalidPhoneNumber users.csv:2 sms",
            "W ReferenceNotFound roles.csv:2 sessionSourcedIds",
            "W InvalidReferenceCode roles.csv:2 grade",
            "W InvalidDate roles.csv:2 roleStartDate",
            "W InvalidDate roles.csv:2 roleEndDate",
            "W ReferenceNotFound classes.csv:2 sessionSourcedIds",
            "E FieldCountMismatch demographics.csv:2 ",
        ]
    );
    // The BOM is tolerated (sourcedId is found), PascalCase enums match case-insensitively and are stored
    // canonically (`School` → `school`, `Student` → `student`, `EnglishLanguageLearner`).
    let r = o.roster.expect("record errors don't refuse the upload");
    assert_eq!(r.str(Kind::Org, 0, 2), Some("school"));
    assert_eq!(r.str(Kind::Enrollment, 0, enrollment::ROLE), Some("student"));
    assert_eq!(r.str(Kind::UserFlag, 0, 1), Some("englishLanguageLearner"));
    assert_eq!(r.str(Kind::Relationship, 0, 2), Some("parent"));
    assert_eq!((r.len(Kind::AcademicSession), r.len(Kind::Demographic), r.len(Kind::User)), (0, 0, 3));
}

#[test]
fn microsofts_sds_v1_sets_map_into_the_same_model() {
    let o = run("microsoft-sds-v1-100-users");
    assert_eq!(o.format, Format::SdsV1);
    assert!(lines(&o).is_empty(), "{:?}", lines(&o));
    let r = o.roster.unwrap();
    assert_eq!((r.len(Kind::Org), r.len(Kind::Class), r.len(Kind::User), r.len(Kind::Enrollment)), (2, 28, 98, 630));
    // Terms and courses come out of Section.csv; US dates are read as the ISO dates they mean.
    assert_eq!((r.len(Kind::AcademicSession), r.len(Kind::Course)), (1, 28));
    assert_eq!(r.str(Kind::AcademicSession, 0, 4), Some("2017-07-01"));
    let s = r.find(Kind::User, "13001").unwrap();
    let student_role =
        (0..r.len(Kind::Role) as u32).find(|&i| r.reference(Kind::Role, i, role::USER) == Some(s)).unwrap();
    assert_eq!(r.str(Kind::Role, student_role, role::ROLE), Some("student"));
    assert_eq!(r.str(Kind::Role, student_role, role::GRADE), Some("09"), "grade 9 is padded to 09");

    let o = run("microsoft-sds-v1-min");
    assert!(lines(&o).is_empty(), "{:?}", lines(&o));
    let r = o.roster.unwrap();
    assert_eq!((r.len(Kind::Class), r.len(Kind::User), r.len(Kind::Enrollment), r.len(Kind::Course)), (2, 24, 46, 0));
}

#[test]
fn oneroster_1_1_sets() {
    let o = run("oat-oneroster-1.1");
    assert_eq!(o.format, Format::OneRoster);
    let got = lines(&o);
    for expected in [
        "W UnknownHeader users.csv:1 userId",
        "W UnknownHeader users.csv:1 agents",
        "W UnknownHeader courses.csv:1 schoolYearId",
        "W UnknownHeader orgs.csv:1 ext_imagineLearning_databaseId",
        "W ReferenceNotFound classes.csv:2 termSourcedIds",
        "W ReferenceNotFound classes.csv:4 termSourcedIds",
    ] {
        assert!(got.contains(&expected.to_string()), "{expected} in {got:#?}");
    }
    assert!(!o.report.has_errors(), "{got:#?}");
    let r = o.roster.unwrap();
    assert_eq!(
        (r.len(Kind::Org), r.len(Kind::User), r.len(Kind::Role), r.len(Kind::Class), r.len(Kind::Enrollment)),
        (2, 2, 2, 3, 3)
    );

    let o = run("catalyst-oneroster-1.1");
    let got = lines(&o);
    assert_eq!(
        got.iter().filter(|l| !l.contains("InvalidPhoneNumber")).collect::<Vec<_>>(),
        [
            "W ReferenceNotFound orgs.csv:2 parentSourcedId",
            "W RecordNotActive academicSessions.csv:2 status",
            "W RecordNotActive academicSessions.csv:4 status",
            "W RecordNotActive classes.csv:3 status",
            "E ReferenceNotFound enrollments.csv:5 classSourcedId",
            "E ReferenceNotFound enrollments.csv:6 classSourcedId",
            "E ReferenceNotFound enrollments.csv:7 classSourcedId",
        ]
    );
    assert_eq!(o.report.count_of(Code::InvalidPhoneNumber), 12, "US numbers are not E.164");
    let r = o.roster.unwrap();
    // The parent (role `parent`) is a contact: a user without an org role.
    assert_eq!((r.len(Kind::User), r.len(Kind::Role)), (6, 5));
}

#[test]
fn oneroster_1_2_header_typos_refuse_roles_csv() {
    let o = run("catalyst-oneroster-1.2");
    let got = lines(&o);
    for expected in [
        "W IncorrectFileName userprofiles.csv:0 ",
        "W UnknownHeader users.csv:1 prefferedGivenName",
        "W UnknownHeader users.csv:1 prefferedMiddleName",
        "W UnknownHeader users.csv:1 prefferedFamilyName",
        "W UnknownHeader roles.csv:1 dataLastModified",
        "W UnknownHeader roles.csv:1 ",
        "E RequiredHeaderNotFound roles.csv:1 dateLastModified",
    ] {
        assert!(got.contains(&expected.to_string()), "{expected} in {got:#?}");
    }
    assert!(o.roster.is_none(), "a refused file refuses the upload");
}
