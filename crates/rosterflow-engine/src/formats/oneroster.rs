//! OneRoster 1.1 and 1.2 CSV, bulk files only (sds-semantics §3; 1EdTech's CSV binding). Every file starts
//! `sourcedId,status,dateLastModified` (required headers); `manifest.csv` declares the version and each
//! file as `bulk`, `delta` or `absent`. Mapped into the normalized model:
//! - 1.1 `users.csv` → users, and a role at each of `orgSourcedIds`; 1.2 → users, roles from `roles.csv`;
//! - roles: `administrator`, `aide`, `proctor`, `student`, `teacher`, `principal` as they are; 1.2's
//!   `districtAdministrator` / `siteAdministrator` / `systemAdministrator` → `administrator`, `counselor` →
//!   `advisor`; `guardian`, `parent`, `relative` are contacts, not org roles (no role record);
//! - `classes.csv` → classes (`schoolSourcedId` → org, `termSourcedIds` → sessions, `classCode` → code);
//! - `enrollments.csv`, `academicSessions.csv`, `courses.csv`, `orgs.csv` → their kinds.
//!
//! A record whose `status` is `tobedeleted` or `inactive` is skipped (a full snapshot leaves it out).

use super::{us_date_to_iso, Emit, FileSpec, Need, OneRosterVersion, Src};
use crate::schema::{class, course, enrollment, org, role, session, user, Kind};

const COMMON: [&str; 3] = ["sourcedId", "status", "dateLastModified"];

fn file(
    name: &'static str,
    need: Need,
    required: &[&'static str],
    optional: &[&'static str],
    emits: Vec<Emit>,
) -> FileSpec {
    let mut spec = FileSpec::new(name, need, emits);
    spec.required_headers = COMMON.iter().chain(required).copied().collect();
    spec.optional_headers = optional.to_vec();
    spec.status = Some("status");
    spec
}

fn org_role(r: &str) -> Option<String> {
    let canonical = match r.to_ascii_lowercase().as_str() {
        "guardian" | "parent" | "relative" => return None,
        "districtadministrator" | "siteadministrator" | "systemadministrator" => "administrator",
        "counselor" => "advisor",
        _ => return Some(r.to_string()),
    };
    Some(canonical.to_string())
}

fn primary(r: &str) -> Option<String> {
    Some(if r.eq_ignore_ascii_case("primary") { "true" } else { "false" }.to_string())
}

fn date(s: &str) -> Option<String> {
    us_date_to_iso(s)
}

pub(super) fn files(version: OneRosterVersion) -> Vec<FileSpec> {
    let v12 = version == OneRosterVersion::V1_2;
    let mut manifest = FileSpec::new("manifest.csv", Need::Required, vec![]);
    manifest.required_headers = vec!["propertyName", "value"];
    let orgs = file(
        "orgs.csv",
        Need::Required,
        &["name", "type"],
        &["identifier", "parentSourcedId", "metadata.classification", "metadata.gender", "metadata.boarding"],
        vec![Emit::new(
            Kind::Org,
            vec![
                (org::ID, Src::Col("sourcedId")),
                (org::NAME, Src::Col("name")),
                (org::TYPE, Src::Col("type")),
                (org::PARENT, Src::Col("parentSourcedId")),
            ],
        )],
    );
    let sessions = file(
        "academicSessions.csv",
        Need::Optional,
        &["title", "type", "startDate", "endDate"],
        &["parentSourcedId", "schoolYear"],
        vec![Emit::new(
            Kind::AcademicSession,
            vec![
                (session::ID, Src::Col("sourcedId")),
                (session::TITLE, Src::Col("title")),
                (session::TYPE, Src::Col("type")),
                (session::SCHOOL_YEAR, Src::Col("schoolYear")),
                (session::START, Src::Map("startDate", date)),
                (session::END, Src::Map("endDate", date)),
            ],
        )],
    );
    let courses = file(
        "courses.csv",
        Need::Optional,
        &["title", "orgSourcedId"],
        &["schoolYearSourcedId", "courseCode", "grades", "subjects", "subjectCodes", "metadata.duration"],
        vec![Emit::new(
            Kind::Course,
            vec![
                (course::ID, Src::Col("sourcedId")),
                (course::ORG, Src::Col("orgSourcedId")),
                (course::TITLE, Src::Col("title")),
                (course::CODE, Src::Col("courseCode")),
                (course::SCHOOL_YEAR, Src::Col("schoolYearSourcedId")),
            ],
        )],
    );
    let user_emit = Emit::new(
        Kind::User,
        vec![
            (user::ID, Src::Col("sourcedId")),
            (user::USERNAME, Src::Col("username")),
            (user::GIVEN_NAME, Src::Col("givenName")),
            (user::FAMILY_NAME, Src::Col("familyName")),
            (user::MIDDLE_NAME, Src::Col("middleName")),
            (user::PASSWORD, Src::Col("password")),
            (user::EMAIL, Src::Col("email")),
            (user::PHONE, Src::Col("phone")),
            (user::SMS, Src::Col("sms")),
            (user::USER_NUMBER, Src::Col("identifier")),
        ],
    );
    let mut user_optional = vec![
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ];
    let users = if v12 {
        user_optional.extend([
            "userMasterIdentifier",
            "preferredGivenName",
            "preferredMiddleName",
            "preferredFamilyName",
            "primaryOrgSourcedId",
            "pronouns",
            "resourceSourcedIds",
        ]);
        file("users.csv", Need::Required, &["enabledUser", "username"], &user_optional, vec![user_emit])
    } else {
        let roles = Emit {
            each: Some("orgSourcedIds"),
            ..Emit::new(
                Kind::Role,
                vec![
                    (role::USER, Src::Col("sourcedId")),
                    (role::ORG, Src::Each),
                    (role::ROLE, Src::Map("role", org_role)),
                ],
            )
        };
        file(
            "users.csv",
            Need::Required,
            &["enabledUser", "orgSourcedIds", "role", "username"],
            &user_optional,
            vec![user_emit, roles],
        )
    };
    let mut out = vec![manifest, orgs, sessions, courses, users];
    if v12 {
        out.push(file(
            "roles.csv",
            Need::Required,
            &["userSourcedId", "roleType", "role", "orgSourcedId"],
            &["beginDate", "endDate", "userProfileSourcedId"],
            vec![Emit::new(
                Kind::Role,
                vec![
                    (role::USER, Src::Col("userSourcedId")),
                    (role::ORG, Src::Col("orgSourcedId")),
                    (role::ROLE, Src::Map("role", org_role)),
                    (role::IS_PRIMARY, Src::Map("roleType", primary)),
                    (role::START, Src::Map("beginDate", date)),
                    (role::END, Src::Map("endDate", date)),
                ],
            )],
        ));
    }
    out.push(file(
        "classes.csv",
        Need::Required,
        &["title", "classType", "schoolSourcedId"],
        &[
            "grades",
            "courseSourcedId",
            "classCode",
            "location",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
            "resourceSourcedIds",
        ],
        vec![Emit::new(
            Kind::Class,
            vec![
                (class::ID, Src::Col("sourcedId")),
                (class::ORG, Src::Col("schoolSourcedId")),
                (class::TITLE, Src::Col("title")),
                (class::SESSIONS, Src::Col("termSourcedIds")),
                (class::COURSE, Src::Col("courseSourcedId")),
                (class::CODE, Src::Col("classCode")),
            ],
        )],
    ));
    out.push(file(
        "enrollments.csv",
        Need::Required,
        &["classSourcedId", "schoolSourcedId", "userSourcedId", "role"],
        &["primary", "beginDate", "endDate"],
        vec![Emit::new(
            Kind::Enrollment,
            vec![
                (enrollment::CLASS, Src::Col("classSourcedId")),
                (enrollment::USER, Src::Col("userSourcedId")),
                (enrollment::ROLE, Src::Col("role")),
            ],
        )],
    ));
    // Files of the format rosterflow does not read (gradebook, resources, demographics, profiles).
    for name in [
        "demographics.csv",
        "userProfiles.csv",
        "userResources.csv",
        "categories.csv",
        "classResources.csv",
        "courseResources.csv",
        "lineItems.csv",
        "resources.csv",
        "results.csv",
        "scoreScales.csv",
        "lineItemLearningObjectiveIds.csv",
        "lineItemScoreScales.csv",
        "resultLearningObjectiveIds.csv",
        "resultScoreScales.csv",
        "assessmentLineItems.csv",
        "assessmentResults.csv",
    ] {
        out.push(FileSpec::new(name, Need::NotRead, vec![]));
    }
    out
}
