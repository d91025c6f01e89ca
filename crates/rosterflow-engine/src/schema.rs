//! The normalized record model every roster format maps into: the ten record kinds of SDS v2.1 CSV
//! (sds-semantics §2.1, Microsoft's "SDS v2.1 CSV file format"), each a fixed list of fields with a type.
//!
//! SDS v2.1 is the canonical shape: its files are these kinds and its headers are these field names. SDS v1
//! and OneRoster files map their columns onto the same fields (`formats/`), so validation, snapshots and the
//! run planner know one model. Validation rules hang on the field types: a unique id, a reference to another
//! kind, a code checked against the tenant's reference definitions (stored canonically), an email (stored
//! lower-cased), an ISO 8601 date, an E.164 phone number, a boolean (stored lower-cased).

/// A record kind. The discriminant is stable: it is stored with every snapshot record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Org = 0,
    AcademicSession = 1,
    Course = 2,
    User = 3,
    Role = 4,
    Class = 5,
    Enrollment = 6,
    Demographic = 7,
    UserFlag = 8,
    Relationship = 9,
}

impl Kind {
    /// In dependency order: a kind only references kinds before it (orgs reference orgs, checked at the end of
    /// their file).
    pub const ALL: [Kind; 10] = [
        Kind::Org,
        Kind::AcademicSession,
        Kind::Course,
        Kind::User,
        Kind::Role,
        Kind::Class,
        Kind::Enrollment,
        Kind::Demographic,
        Kind::UserFlag,
        Kind::Relationship,
    ];

    pub fn from_u8(v: u8) -> Option<Kind> {
        Kind::ALL.get(v as usize).copied()
    }

    /// The SDS v2.1 name of the kind's file (without `.csv`), also the kind's wire name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Org => "orgs",
            Kind::AcademicSession => "academicSessions",
            Kind::Course => "courses",
            Kind::User => "users",
            Kind::Role => "roles",
            Kind::Class => "classes",
            Kind::Enrollment => "enrollments",
            Kind::Demographic => "demographics",
            Kind::UserFlag => "userFlags",
            Kind::Relationship => "relationships",
        }
    }

    pub fn fields(self) -> &'static [FieldDef] {
        match self {
            Kind::Org => ORG,
            Kind::AcademicSession => SESSION,
            Kind::Course => COURSE,
            Kind::User => USER,
            Kind::Role => ROLE,
            Kind::Class => CLASS,
            Kind::Enrollment => ENROLLMENT,
            Kind::Demographic => DEMOGRAPHIC,
            Kind::UserFlag => USER_FLAG,
            Kind::Relationship => RELATIONSHIP,
        }
    }

    /// The fields whose values together are the record's natural key (unique within the kind).
    pub fn key(self) -> &'static [usize] {
        match self {
            Kind::Org | Kind::AcademicSession | Kind::Course | Kind::User | Kind::Class => &[0],
            Kind::Role => &[role::USER, role::ORG, role::ROLE],
            Kind::Enrollment => &[enrollment::CLASS, enrollment::USER, enrollment::ROLE],
            Kind::Demographic => &[demographic::USER],
            Kind::UserFlag => &[user_flag::USER, user_flag::FLAG],
            Kind::Relationship => &[relationship::USER, relationship::CONTACT],
        }
    }

    /// Whether records of this kind are identified by a `sourcedId` of their own (field 0), which other kinds
    /// reference.
    pub fn has_id(self) -> bool {
        matches!(self, Kind::Org | Kind::AcademicSession | Kind::Course | Kind::User | Kind::Class)
    }

    pub fn field(self, name: &str) -> Option<usize> {
        self.fields().iter().position(|f| f.name == name)
    }
}

/// Where a code's allowed values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    /// A reference type of the tenant's reference definitions (built-ins plus its own, minus disabled ones).
    Catalog(&'static str),
    /// A fixed list (SDS values that are not reference definitions), matched case-insensitively.
    Fixed(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// The record's own unique id (case-sensitive, as received).
    Id,
    /// The `sourcedId` of a record of another (or the same) kind.
    Ref(Kind),
    /// A comma-separated list of references.
    Refs(Kind),
    Text,
    Code(Vocab),
    /// A comma-separated list of codes.
    Codes(Vocab),
    Email,
    /// ISO 8601 date or date-time.
    Date,
    /// E.164.
    Phone,
    Bool,
    /// A four-digit year.
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    /// Header and value required: a record without a valid value is dropped (an error); an optional value
    /// that is invalid is dropped from its record (a warning).
    pub required: bool,
}

const fn req(name: &'static str, ty: Ty) -> FieldDef {
    FieldDef { name, ty, required: true }
}

const fn opt(name: &'static str, ty: Ty) -> FieldDef {
    FieldDef { name, ty, required: false }
}

/// `sex` in demographics.csv.
pub const SEXES: &[&str] = &["male", "female", "notSelected"];
/// `relationshipRole` in relationships.csv (Graph's `contactRelationship` members SDS accepts).
pub const RELATIONSHIP_ROLES: &[&str] = &["parent", "guardian", "relative", "aide", "doctor", "other"];

const ORG: &[FieldDef] = &[
    req("sourcedId", Ty::Id),
    req("name", Ty::Text),
    req("type", Ty::Code(Vocab::Catalog("RefOrgType"))),
    opt("parentSourcedId", Ty::Ref(Kind::Org)),
];
pub mod org {
    pub const ID: usize = 0;
    pub const NAME: usize = 1;
    pub const TYPE: usize = 2;
    pub const PARENT: usize = 3;
}

const SESSION: &[FieldDef] = &[
    req("sourcedId", Ty::Id),
    req("title", Ty::Text),
    req("type", Ty::Code(Vocab::Catalog("RefSessionType"))),
    req("schoolYear", Ty::Year),
    req("startDate", Ty::Date),
    req("endDate", Ty::Date),
];
pub mod session {
    pub const ID: usize = 0;
    pub const TITLE: usize = 1;
    pub const TYPE: usize = 2;
    pub const SCHOOL_YEAR: usize = 3;
    pub const START: usize = 4;
    pub const END: usize = 5;
}

const COURSE: &[FieldDef] = &[
    req("sourcedId", Ty::Id),
    req("orgSourcedId", Ty::Ref(Kind::Org)),
    req("title", Ty::Text),
    opt("code", Ty::Text),
    opt("schoolYearSourcedId", Ty::Ref(Kind::AcademicSession)),
    opt("subject", Ty::Code(Vocab::Catalog("RefAcademicSubject"))),
    opt("grade", Ty::Code(Vocab::Catalog("RefGradeLevel"))),
];
pub mod course {
    pub const ID: usize = 0;
    pub const ORG: usize = 1;
    pub const TITLE: usize = 2;
    pub const CODE: usize = 3;
    pub const SCHOOL_YEAR: usize = 4;
    pub const SUBJECT: usize = 5;
    pub const GRADE: usize = 6;
}

const USER: &[FieldDef] = &[
    req("sourcedId", Ty::Id),
    req("username", Ty::Text),
    opt("givenName", Ty::Text),
    opt("familyName", Ty::Text),
    opt("middleName", Ty::Text),
    opt("password", Ty::Text),
    opt("activeDirectoryMatchId", Ty::Text),
    opt("email", Ty::Email),
    opt("phone", Ty::Phone),
    opt("sms", Ty::Phone),
    opt("userNumber", Ty::Text),
];
pub mod user {
    pub const ID: usize = 0;
    pub const USERNAME: usize = 1;
    pub const GIVEN_NAME: usize = 2;
    pub const FAMILY_NAME: usize = 3;
    pub const MIDDLE_NAME: usize = 4;
    pub const PASSWORD: usize = 5;
    pub const AD_MATCH_ID: usize = 6;
    pub const EMAIL: usize = 7;
    pub const PHONE: usize = 8;
    pub const SMS: usize = 9;
    pub const USER_NUMBER: usize = 10;
}

const ROLE: &[FieldDef] = &[
    req("userSourcedId", Ty::Ref(Kind::User)),
    req("orgSourcedId", Ty::Ref(Kind::Org)),
    req("role", Ty::Code(Vocab::Catalog("RefRole"))),
    opt("sessionSourcedIds", Ty::Refs(Kind::AcademicSession)),
    opt("grade", Ty::Code(Vocab::Catalog("RefGradeLevel"))),
    opt("isPrimary", Ty::Bool),
    opt("roleStartDate", Ty::Date),
    opt("roleEndDate", Ty::Date),
];
pub mod role {
    pub const USER: usize = 0;
    pub const ORG: usize = 1;
    pub const ROLE: usize = 2;
    pub const SESSIONS: usize = 3;
    pub const GRADE: usize = 4;
    pub const IS_PRIMARY: usize = 5;
    pub const START: usize = 6;
    pub const END: usize = 7;
}

const CLASS: &[FieldDef] = &[
    req("sourcedId", Ty::Id),
    req("orgSourcedId", Ty::Ref(Kind::Org)),
    req("title", Ty::Text),
    opt("sessionSourcedIds", Ty::Refs(Kind::AcademicSession)),
    opt("courseSourcedId", Ty::Ref(Kind::Course)),
    opt("code", Ty::Text),
];
pub mod class {
    pub const ID: usize = 0;
    pub const ORG: usize = 1;
    pub const TITLE: usize = 2;
    pub const SESSIONS: usize = 3;
    pub const COURSE: usize = 4;
    pub const CODE: usize = 5;
}

const ENROLLMENT: &[FieldDef] = &[
    req("classSourcedId", Ty::Ref(Kind::Class)),
    req("userSourcedId", Ty::Ref(Kind::User)),
    req("role", Ty::Code(Vocab::Catalog("RefSectionRole"))),
];
pub mod enrollment {
    pub const CLASS: usize = 0;
    pub const USER: usize = 1;
    pub const ROLE: usize = 2;
}

const DEMOGRAPHIC: &[FieldDef] = &[
    req("userSourcedId", Ty::Ref(Kind::User)),
    opt("sex", Ty::Code(Vocab::Fixed(SEXES))),
    opt("birthDate", Ty::Date),
    opt("birthCity", Ty::Text),
    opt("birthState", Ty::Text),
    opt("birthCountry", Ty::Text),
    opt("ethnicityCodes", Ty::Codes(Vocab::Catalog("RefEthnicity"))),
    opt("raceCodes", Ty::Codes(Vocab::Catalog("RefRace"))),
];
pub mod demographic {
    pub const USER: usize = 0;
    pub const SEX: usize = 1;
    pub const BIRTH_DATE: usize = 2;
    pub const ETHNICITIES: usize = 6;
    pub const RACES: usize = 7;
}

const USER_FLAG: &[FieldDef] =
    &[req("userSourcedId", Ty::Ref(Kind::User)), req("flag", Ty::Code(Vocab::Catalog("RefPersonFlagType")))];
pub mod user_flag {
    pub const USER: usize = 0;
    pub const FLAG: usize = 1;
}

const RELATIONSHIP: &[FieldDef] = &[
    req("userSourcedId", Ty::Ref(Kind::User)),
    req("relationshipUserSourcedId", Ty::Ref(Kind::User)),
    req("relationshipRole", Ty::Code(Vocab::Fixed(RELATIONSHIP_ROLES))),
];
pub mod relationship {
    pub const USER: usize = 0;
    pub const CONTACT: usize = 1;
    pub const ROLE: usize = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_constants_name_real_fields() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_u8(kind as u8), Some(kind));
            for &k in kind.key() {
                assert!(kind.fields()[k].required, "{kind:?} key field {k} must be required");
            }
            assert_eq!(kind.has_id(), kind.fields()[0].ty == Ty::Id);
        }
        assert_eq!(Kind::Enrollment.fields()[enrollment::ROLE].name, "role");
        assert_eq!(Kind::User.fields()[user::USER_NUMBER].name, "userNumber");
        assert_eq!(Kind::Demographic.fields()[demographic::RACES].name, "raceCodes");
    }
}
