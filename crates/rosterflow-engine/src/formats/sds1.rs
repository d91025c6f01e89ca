//! SDS v1 CSV ("SDS format", `schoolDataSyncV1`): School, Section, Student, Teacher, StudentEnrollment,
//! TeacherRoster (sds-semantics §2.2; Microsoft's samples `SDS_v1_Format_*`). Mapped into the normalized model:
//! - `School.csv` → orgs of type `school`;
//! - `Section.csv` → classes, plus the courses and terms (academic sessions) its course and term columns name;
//! - `Student.csv`, `Teacher.csv` → users, each with a role (`student` / `teacher`) at its school;
//! - `StudentEnrollment.csv`, `TeacherRoster.csv` → enrollments as `student` / `teacher`.
//!
//! v1 writes US dates (`7/1/2017`); they are read as the ISO dates they mean.

use super::{us_date_to_iso, Emit, FileSpec, Need, Src};
use crate::schema::{class, course, enrollment, org, role, session, user, Kind};

fn year_of(date: &str) -> Option<String> {
    let iso = us_date_to_iso(date)?;
    Some(iso.get(..4).map_or(iso.clone(), str::to_string))
}

fn file(name: &'static str, required: &[&'static str], optional: &[&'static str], emits: Vec<Emit>) -> FileSpec {
    let mut spec = FileSpec::new(name, Need::Required, emits);
    spec.required_headers = required.to_vec();
    spec.optional_headers = optional.to_vec();
    spec
}

fn person(name: &'static str, role_code: &'static str, optional: &[&'static str], number: &'static str) -> FileSpec {
    let user = Emit::new(
        Kind::User,
        vec![
            (user::ID, Src::Col("SIS ID")),
            (user::USERNAME, Src::Col("Username")),
            (user::GIVEN_NAME, Src::Col("First Name")),
            (user::FAMILY_NAME, Src::Col("Last Name")),
            (user::MIDDLE_NAME, Src::Col("Middle Name")),
            (user::PASSWORD, Src::Col("Password")),
            (user::EMAIL, Src::Col("Secondary Email")),
            (user::USER_NUMBER, Src::Col(number)),
        ],
    );
    let mut role_fields = vec![
        (role::USER, Src::Col("SIS ID")),
        (role::ORG, Src::Col("School SIS ID")),
        (role::ROLE, Src::Const(role_code)),
    ];
    if optional.contains(&"Grade") {
        role_fields.push((role::GRADE, Src::Col("Grade")));
    }
    file(name, &["SIS ID", "School SIS ID", "Username"], optional, vec![user, Emit::new(Kind::Role, role_fields)])
}

fn roster(name: &'static str, role_code: &'static str) -> FileSpec {
    let emit = Emit::new(
        Kind::Enrollment,
        vec![
            (enrollment::CLASS, Src::Col("Section SIS ID")),
            (enrollment::USER, Src::Col("SIS ID")),
            (enrollment::ROLE, Src::Const(role_code)),
        ],
    );
    file(name, &["Section SIS ID", "SIS ID"], &[], vec![emit])
}

pub(super) fn files() -> Vec<FileSpec> {
    let school = file(
        "School.csv",
        &["SIS ID", "Name"],
        &[
            "School Number",
            "School NCES_ID",
            "State ID",
            "Grade Low",
            "Grade High",
            "Principal SIS ID",
            "Principal Name",
            "Principal Secondary Email",
            "Address",
            "City",
            "State",
            "Country",
            "Zip",
            "Phone",
            "Zone",
        ],
        vec![Emit::new(
            Kind::Org,
            vec![(org::ID, Src::Col("SIS ID")), (org::NAME, Src::Col("Name")), (org::TYPE, Src::Const("school"))],
        )],
    );
    let term = Emit {
        when: Some("Term SIS ID"),
        repeated: true,
        ..Emit::new(
            Kind::AcademicSession,
            vec![
                (session::ID, Src::Col("Term SIS ID")),
                (session::TITLE, Src::Col("Term Name")),
                (session::TYPE, Src::Const("term")),
                (session::SCHOOL_YEAR, Src::Map("Term EndDate", year_of)),
                (session::START, Src::Map("Term StartDate", us_date_to_iso)),
                (session::END, Src::Map("Term EndDate", us_date_to_iso)),
            ],
        )
    };
    let course = Emit {
        when: Some("Course SIS ID"),
        repeated: true,
        ..Emit::new(
            Kind::Course,
            vec![
                (course::ID, Src::Col("Course SIS ID")),
                (course::ORG, Src::Col("School SIS ID")),
                (course::TITLE, Src::Col("Course Name")),
                (course::CODE, Src::Col("Course Number")),
            ],
        )
    };
    let class = Emit::new(
        Kind::Class,
        vec![
            (class::ID, Src::Col("SIS ID")),
            (class::ORG, Src::Col("School SIS ID")),
            (class::TITLE, Src::Col("Section Name")),
            (class::SESSIONS, Src::Col("Term SIS ID")),
            (class::COURSE, Src::Col("Course SIS ID")),
            (class::CODE, Src::Col("Section Number")),
        ],
    );
    let section = file(
        "Section.csv",
        &["SIS ID", "School SIS ID", "Section Name"],
        &[
            "Section Number",
            "Term SIS ID",
            "Term Name",
            "Term StartDate",
            "Term EndDate",
            "Course SIS ID",
            "Course Name",
            "Course Number",
            "Course Description",
            "Course Subject",
            "Periods",
            "Status",
        ],
        vec![term, course, class],
    );
    let student = person(
        "Student.csv",
        "student",
        &[
            "First Name",
            "Last Name",
            "Password",
            "State ID",
            "Secondary Email",
            "Student Number",
            "Middle Name",
            "Grade",
            "Status",
            "Birthdate",
            "Graduation Year",
        ],
        "Student Number",
    );
    let teacher = person(
        "Teacher.csv",
        "teacher",
        &[
            "First Name",
            "Last Name",
            "Password",
            "State ID",
            "Teacher Number",
            "Status",
            "Middle Name",
            "Secondary Email",
            "Title",
            "Qualification",
        ],
        "Teacher Number",
    );
    vec![
        school,
        section,
        student,
        teacher,
        roster("StudentEnrollment.csv", "student"),
        roster("TeacherRoster.csv", "teacher"),
    ]
}
