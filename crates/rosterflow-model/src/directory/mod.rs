//! The directory: Graph's users, groups, administrative units, education schools, classes and users, and
//! teams (`shared/reference/graph-docs-directory/resources/*.md`, digest `directory-output.md`), as data.
//!
//! A directory **object** is a user, a group or an administrative unit; it is stored once, with one JSON
//! document holding every property of every facet it has. A **view** is how Graph shows an object through
//! one resource type: an education class is a group with the education facet, seen through the
//! `educationClass` view with the same id; an education school is an administrative unit with the education
//! facet; a team is a group with the team facet; an education user is any user. Each view lists its
//! properties ([`Prop`]): wire name, kind, whether it is returned by default or only on `$select`, whether it
//! is read-only, write-only (sealed, never returned) or required on create, how it can be filtered and
//! sorted, which indexed column holds it, and whether a delegated caller of an education user sees it. These
//! descriptors drive body checking ([`body`]), rendering and `$select` ([`render`]), the SQL column mapping
//! (the store's directory module) and `$metadata` ([`metadata`]): one place per rule.

pub mod body;
pub mod metadata;
pub mod render;

/// What a directory object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    User,
    Group,
    AdministrativeUnit,
}

impl ObjectKind {
    /// The name stored in the object table's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::AdministrativeUnit => "administrativeUnit",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectKind> {
        [ObjectKind::User, ObjectKind::Group, ObjectKind::AdministrativeUnit].into_iter().find(|k| k.as_str() == s)
    }

    /// The view an object of this kind is rendered through in a `directoryObject` collection (members, owners).
    pub fn base_view(self) -> &'static View {
        match self {
            ObjectKind::User => &USER,
            ObjectKind::Group => &GROUP,
            ObjectKind::AdministrativeUnit => &ADMINISTRATIVE_UNIT,
        }
    }
}

/// A facet an object may carry beyond its kind; a view may require one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    /// An education class (a group) or school (an administrative unit).
    Education,
    /// A team (a group).
    Team,
}

/// A property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A GUID string, stored lower-case.
    Guid,
    Bool,
    Int,
    /// `Edm.DateTimeOffset`, stored in UTC.
    DateTime,
    /// `Edm.Date` (`YYYY-MM-DD`).
    Date,
    /// A string from a fixed set, matched case-insensitively and stored canonically.
    Enum(&'static [&'static str]),
    /// A complex value with these members.
    Object(&'static str, &'static [Prop]),
    /// A collection of strings.
    Strings,
    /// A collection of complex values with these members.
    Objects(&'static str, &'static [Prop]),
}

impl Kind {
    pub fn is_collection(self) -> bool {
        matches!(self, Kind::Strings | Kind::Objects(..))
    }
}

/// How a property can be filtered (the "Supports `$filter`" notes of the resource pages, in three classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    No,
    /// `eq`, `ne`, `in`, and `eq null` (booleans, ids, enumerations).
    Eq,
    /// Also `ge`, `le`, `gt`, `lt` and `startsWith` (strings, times).
    Full,
    /// A collection: `any()` and `all()` with `eq`/`startsWith` on its items (and on their filterable members).
    Lambda,
    // A complex value with `Full` or `Eq` is filtered through its members' paths (`student/grade`), each as
    // its own `filter` says.
}

/// Who may write a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Set by the server (ids, timestamps, addresses it derives); a client echoing it back changes nothing.
    ReadOnly,
    /// Set on create only.
    CreateOnly,
    /// Accepted, sealed, never returned (`passwordProfile`).
    WriteOnly,
}

/// An indexed column of the object table that holds a property's folded value (the rest are filtered
/// through the object's folded JSON document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    DisplayName,
    UserPrincipalName,
    Mail,
    MailNickname,
    ExternalId,
    CreatedDateTime,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::DisplayName => "display_fold",
            Column::UserPrincipalName => "upn_fold",
            Column::Mail => "mail_fold",
            Column::MailNickname => "nick_fold",
            Column::ExternalId => "ext_fold",
            Column::CreatedDateTime => "created",
        }
    }

    pub const ALL: [Column; 7] = [
        Column::Id,
        Column::DisplayName,
        Column::UserPrincipalName,
        Column::Mail,
        Column::MailNickname,
        Column::ExternalId,
        Column::CreatedDateTime,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    /// The wire (and stored) name.
    pub name: &'static str,
    pub kind: Kind,
    pub access: Access,
    pub required: bool,
    /// Returned only when `$select` names it.
    pub select_only: bool,
    pub filter: Filter,
    pub sort: bool,
    pub column: Option<Column>,
    pub max_len: Option<usize>,
    /// Shown to a delegated caller of an education user (`educationuser-get.md`).
    pub delegated: bool,
}

const fn p(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        access: Access::ReadWrite,
        required: false,
        select_only: false,
        filter: Filter::No,
        sort: false,
        column: None,
        max_len: None,
        delegated: false,
    }
}

/// A string filterable with every operator.
const fn s(name: &'static str) -> Prop {
    Prop { filter: Filter::Full, ..p(name, Kind::Str) }
}

const fn b(name: &'static str) -> Prop {
    Prop { filter: Filter::Eq, ..p(name, Kind::Bool) }
}

const fn strings(name: &'static str) -> Prop {
    Prop { filter: Filter::Lambda, ..p(name, Kind::Strings) }
}

const ID: Prop = Prop { access: Access::ReadOnly, filter: Filter::Eq, column: Some(Column::Id), ..p("id", Kind::Guid) };
const DISPLAY_NAME: Prop =
    Prop { required: true, sort: true, column: Some(Column::DisplayName), max_len: Some(256), ..s("displayName") };
const DESCRIPTION: Prop = s("description");
const MAIL_NICKNAME: Prop =
    Prop { required: true, column: Some(Column::MailNickname), max_len: Some(64), ..s("mailNickname") };
const CREATED: Prop = Prop {
    access: Access::ReadOnly,
    sort: true,
    column: Some(Column::CreatedDateTime),
    filter: Filter::Full,
    ..p("createdDateTime", Kind::DateTime)
};
const EXTERNAL_SOURCE: Prop =
    Prop { filter: Filter::Eq, ..p("externalSource", Kind::Enum(&["sis", "manual", "lms", "unknownFutureValue"])) };
const EXTERNAL_SOURCE_DETAIL: Prop = s("externalSourceDetail");
const EXTERNAL_ID: Prop = Prop { column: Some(Column::ExternalId), ..s("externalId") };
const IDENTITY: &[Prop] = &[p("id", Kind::Str), p("displayName", Kind::Str)];
const IDENTITY_SET: &[Prop] = &[
    p("user", Kind::Object("microsoft.graph.identity", IDENTITY)),
    p("application", Kind::Object("microsoft.graph.identity", IDENTITY)),
];
const CREATED_BY: Prop =
    Prop { access: Access::ReadOnly, ..p("createdBy", Kind::Object("microsoft.graph.identitySet", IDENTITY_SET)) };

// ---- user -----------------------------------------------------------------------------------------------

const LICENSE: &[Prop] = &[Prop { filter: Filter::Eq, ..p("skuId", Kind::Guid) }, p("disabledPlans", Kind::Strings)];
const PASSWORD_PROFILE: &[Prop] = &[
    p("forceChangePasswordNextSignIn", Kind::Bool),
    p("forceChangePasswordNextSignInWithMfa", Kind::Bool),
    Prop { required: true, ..p("password", Kind::Str) },
];
const ACCOUNT_ENABLED: Prop = Prop { required: true, delegated: true, ..b("accountEnabled") };
const USER_PRINCIPAL_NAME: Prop = Prop {
    required: true,
    sort: true,
    delegated: true,
    column: Some(Column::UserPrincipalName),
    max_len: Some(113),
    ..s("userPrincipalName")
};
const GIVEN_NAME: Prop = Prop { delegated: true, max_len: Some(64), ..s("givenName") };
const SURNAME: Prop = Prop { delegated: true, max_len: Some(64), ..s("surname") };
const MAIL: Prop = Prop { column: Some(Column::Mail), ..s("mail") };
const USER_TYPE: Prop = Prop { filter: Filter::Eq, delegated: true, ..p("userType", Kind::Str) };
const PASSWORD: Prop = Prop {
    access: Access::WriteOnly,
    required: true,
    ..p("passwordProfile", Kind::Object("microsoft.graph.passwordProfile", PASSWORD_PROFILE))
};
const ASSIGNED_LICENSES: Prop =
    Prop { filter: Filter::Lambda, ..p("assignedLicenses", Kind::Objects("microsoft.graph.assignedLicense", LICENSE)) };
const DEPARTMENT: Prop = Prop { max_len: Some(64), ..s("department") };
const USAGE_LOCATION: Prop = s("usageLocation");
const BUSINESS_PHONES: Prop = strings("businessPhones");
const MOBILE_PHONE: Prop = s("mobilePhone");
const PREFERRED_LANGUAGE: Prop = s("preferredLanguage");

const USER_PROPS: &[Prop] = &[
    ID,
    ACCOUNT_ENABLED,
    Prop { filter: Filter::Eq, ..p("ageGroup", Kind::Enum(&["Minor", "NotAdult", "Adult"])) },
    ASSIGNED_LICENSES,
    BUSINESS_PHONES,
    s("city"),
    s("companyName"),
    Prop { filter: Filter::Eq, ..p("consentProvidedForMinor", Kind::Enum(&["Granted", "Denied", "NotRequired"])) },
    s("country"),
    CREATED,
    DEPARTMENT,
    DISPLAY_NAME,
    Prop { max_len: Some(16), ..s("employeeId") },
    s("employeeType"),
    GIVEN_NAME,
    Prop { max_len: Some(128), ..s("jobTitle") },
    MAIL,
    MAIL_NICKNAME,
    MOBILE_PHONE,
    s("officeLocation"),
    strings("otherMails"),
    Prop { filter: Filter::No, ..s("passwordPolicies") },
    PASSWORD,
    s("postalCode"),
    PREFERRED_LANGUAGE,
    Prop { access: Access::ReadOnly, ..strings("proxyAddresses") },
    s("state"),
    s("streetAddress"),
    SURNAME,
    USAGE_LOCATION,
    USER_PRINCIPAL_NAME,
    USER_TYPE,
    // Only on `$select` (user.md): a list asking for it is refused with 501, as Graph does.
    Prop { select_only: true, ..p("aboutMe", Kind::Str) },
];

const ADDRESS: &[Prop] = &[
    p("city", Kind::Str),
    p("countryOrRegion", Kind::Str),
    p("postalCode", Kind::Str),
    p("state", Kind::Str),
    p("street", Kind::Str),
];
const STUDENT: &[Prop] = &[
    p("birthDate", Kind::Date),
    Prop { filter: Filter::Full, delegated: true, ..p("externalId", Kind::Str) },
    p("gender", Kind::Enum(&["female", "male", "other", "unknownFutureValue"])),
    Prop { filter: Filter::Full, ..p("grade", Kind::Str) },
    p("graduationYear", Kind::Str),
    Prop { filter: Filter::Full, ..p("studentNumber", Kind::Str) },
];
const TEACHER: &[Prop] = &[
    Prop { filter: Filter::Full, delegated: true, ..p("externalId", Kind::Str) },
    Prop { filter: Filter::Full, ..p("teacherNumber", Kind::Str) },
];

const EDUCATION_USER_PROPS: &[Prop] = &[
    Prop { delegated: true, ..ID },
    ACCOUNT_ENABLED,
    ASSIGNED_LICENSES,
    BUSINESS_PHONES,
    CREATED_BY,
    DEPARTMENT,
    Prop { delegated: true, ..DISPLAY_NAME },
    EXTERNAL_SOURCE,
    EXTERNAL_SOURCE_DETAIL,
    GIVEN_NAME,
    MAIL,
    MAIL_NICKNAME,
    p("mailingAddress", Kind::Object("microsoft.graph.physicalAddress", ADDRESS)),
    s("middleName"),
    MOBILE_PHONE,
    Prop { filter: Filter::No, ..s("passwordPolicies") },
    PASSWORD,
    PREFERRED_LANGUAGE,
    Prop {
        filter: Filter::Eq,
        delegated: true,
        ..p("primaryRole", Kind::Enum(&["student", "teacher", "none", "unknownFutureValue", "faculty"]))
    },
    p("residenceAddress", Kind::Object("microsoft.graph.physicalAddress", ADDRESS)),
    Prop {
        delegated: true,
        filter: Filter::Full,
        ..p("student", Kind::Object("microsoft.graph.educationStudent", STUDENT))
    },
    SURNAME,
    Prop {
        delegated: true,
        filter: Filter::Full,
        ..p("teacher", Kind::Object("microsoft.graph.educationTeacher", TEACHER))
    },
    USAGE_LOCATION,
    USER_PRINCIPAL_NAME,
    USER_TYPE,
];

// ---- group, education class, team -----------------------------------------------------------------------

const GROUP_PROPS: &[Prop] = &[
    ID,
    Prop { select_only: true, ..p("allowExternalSenders", Kind::Bool) },
    s("classification"),
    CREATED,
    DESCRIPTION,
    DISPLAY_NAME,
    Prop { access: Access::CreateOnly, ..strings("groupTypes") },
    Prop { select_only: true, ..p("hideFromAddressLists", Kind::Bool) },
    Prop { access: Access::CreateOnly, ..p("isAssignableToRole", Kind::Bool) },
    Prop { access: Access::ReadOnly, ..MAIL },
    Prop { required: true, ..b("mailEnabled") },
    MAIL_NICKNAME,
    Prop { filter: Filter::Eq, ..p("membershipRule", Kind::Str) },
    Prop { filter: Filter::Eq, ..p("membershipRuleProcessingState", Kind::Enum(&["On", "Paused"])) },
    PREFERRED_LANGUAGE,
    Prop { access: Access::ReadOnly, ..strings("proxyAddresses") },
    Prop { access: Access::CreateOnly, ..strings("resourceBehaviorOptions") },
    strings("resourceProvisioningOptions"),
    Prop { access: Access::ReadOnly, ..strings("creationOptions") },
    Prop { required: true, ..b("securityEnabled") },
    p("theme", Kind::Str),
    p("visibility", Kind::Enum(&["Private", "Public", "HiddenMembership"])),
];

const COURSE: &[Prop] = &[
    p("courseNumber", Kind::Str),
    p("description", Kind::Str),
    p("displayName", Kind::Str),
    Prop { filter: Filter::Full, ..p("externalId", Kind::Str) },
    p("subject", Kind::Str),
];
const TERM: &[Prop] = &[
    p("displayName", Kind::Str),
    Prop { filter: Filter::Full, ..p("externalId", Kind::Str) },
    p("startDate", Kind::Date),
    p("endDate", Kind::Date),
];

const EDUCATION_CLASS_PROPS: &[Prop] = &[
    ID,
    s("classCode"),
    p("course", Kind::Object("microsoft.graph.educationCourse", COURSE)),
    CREATED_BY,
    DESCRIPTION,
    DISPLAY_NAME,
    EXTERNAL_ID,
    s("externalName"),
    EXTERNAL_SOURCE,
    EXTERNAL_SOURCE_DETAIL,
    s("grade"),
    MAIL_NICKNAME,
    p("term", Kind::Object("microsoft.graph.educationTerm", TERM)),
];

const TEAM_PROPS: &[Prop] = &[
    ID,
    Prop { access: Access::ReadOnly, filter: Filter::No, ..s("classification") },
    CREATED,
    Prop { access: Access::ReadOnly, ..DESCRIPTION },
    Prop { access: Access::ReadOnly, required: false, ..DISPLAY_NAME },
    Prop { access: Access::ReadOnly, ..p("internalId", Kind::Str) },
    p("isArchived", Kind::Bool),
    p("isMembershipLimitedToOwners", Kind::Bool),
    p(
        "specialization",
        Kind::Enum(&[
            "none",
            "educationStandard",
            "educationClass",
            "educationProfessionalLearningCommunity",
            "educationStaff",
            "unknownFutureValue",
        ]),
    ),
    Prop { access: Access::ReadOnly, ..p("tenantId", Kind::Str) },
    Prop { access: Access::ReadOnly, ..p("webUrl", Kind::Str) },
];

// ---- administrative unit, education school ---------------------------------------------------------------

const ADMINISTRATIVE_UNIT_PROPS: &[Prop] = &[
    ID,
    DESCRIPTION,
    DISPLAY_NAME,
    Prop { access: Access::CreateOnly, ..b("isMemberManagementRestricted") },
    p("membershipRule", Kind::Str),
    Prop { filter: Filter::Eq, ..p("membershipRuleProcessingState", Kind::Enum(&["On", "Paused"])) },
    Prop { filter: Filter::Eq, ..p("membershipType", Kind::Enum(&["Assigned", "Dynamic"])) },
    Prop { filter: Filter::Eq, ..p("visibility", Kind::Enum(&["Public", "HiddenMembership"])) },
];

const EDUCATION_SCHOOL_PROPS: &[Prop] = &[
    ID,
    p("address", Kind::Object("microsoft.graph.physicalAddress", ADDRESS)),
    CREATED_BY,
    DESCRIPTION,
    DISPLAY_NAME,
    EXTERNAL_ID,
    s("externalPrincipalId"),
    EXTERNAL_SOURCE,
    EXTERNAL_SOURCE_DETAIL,
    s("highestGrade"),
    s("lowestGrade"),
    s("phone"),
    s("principalEmail"),
    s("principalName"),
    s("schoolNumber"),
];

// ---- views -----------------------------------------------------------------------------------------------

/// A resource type through which objects are read and written.
#[derive(Debug, PartialEq, Eq)]
pub struct View {
    /// The entity type's short name (`educationClass`).
    pub name: &'static str,
    /// The collection a GET list answers from (`education/classes`), for `@odata.context`.
    pub collection: &'static str,
    pub kind: ObjectKind,
    /// Objects must carry this facet to be seen through the view.
    pub facet: Option<Facet>,
    pub props: &'static [Prop],
    /// Derives from `directoryObject`: `$count` and `$search` are advanced queries (`ConsistencyLevel: eventual`).
    pub directory_object: bool,
    /// The properties `$search` takes (`displayName`; `description` too on groups and administrative units,
    /// as their resource pages say). How a clause matches: `rosterflow_odata`'s `search_match.rs`.
    pub search: &'static [&'static str],
    /// Page size without `$top`, and the largest `$top`.
    pub default_page: usize,
    pub max_page: usize,
}

impl View {
    pub fn odata_type(&self) -> String {
        format!("#microsoft.graph.{}", self.name)
    }

    /// A property by name, matched case-insensitively (`displayname` is `displayName`).
    pub fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether an object with this kind and facets is seen through the view.
    pub fn shows(&self, kind: ObjectKind, education: bool, team: bool) -> bool {
        kind == self.kind
            && match self.facet {
                None => true,
                Some(Facet::Education) => education,
                Some(Facet::Team) => team,
            }
    }
}

const fn view(name: &'static str, collection: &'static str, kind: ObjectKind, props: &'static [Prop]) -> View {
    View {
        name,
        collection,
        kind,
        facet: None,
        props,
        directory_object: true,
        search: &["displayName"],
        default_page: 100,
        max_page: 999,
    }
}

pub static USER: View = view("user", "users", ObjectKind::User, USER_PROPS);
pub static GROUP: View =
    View { search: &["displayName", "description"], ..view("group", "groups", ObjectKind::Group, GROUP_PROPS) };
pub static ADMINISTRATIVE_UNIT: View = View {
    search: &["displayName", "description"],
    ..view("administrativeUnit", "administrativeUnits", ObjectKind::AdministrativeUnit, ADMINISTRATIVE_UNIT_PROPS)
};
/// Education resources are not directory objects: no advanced queries, no `$search`.
const fn education(name: &'static str, collection: &'static str, kind: ObjectKind, props: &'static [Prop]) -> View {
    View { facet: Some(Facet::Education), directory_object: false, search: &[], ..view(name, collection, kind, props) }
}
pub static EDUCATION_CLASS: View =
    education("educationClass", "education/classes", ObjectKind::Group, EDUCATION_CLASS_PROPS);
pub static EDUCATION_SCHOOL: View =
    education("educationSchool", "education/schools", ObjectKind::AdministrativeUnit, EDUCATION_SCHOOL_PROPS);
/// Every user is an education user (same id); the view needs no facet.
pub static EDUCATION_USER: View =
    View { facet: None, ..education("educationUser", "education/users", ObjectKind::User, EDUCATION_USER_PROPS) };
pub static TEAM: View = View {
    facet: Some(Facet::Team),
    directory_object: false,
    search: &[],
    ..view("team", "teams", ObjectKind::Group, TEAM_PROPS)
};

/// The properties every `directoryObject` list (`/groups/{id}/members`) can filter and sort on, whatever the
/// kinds it mixes; each item is shown through its own kind's view.
pub static DIRECTORY_OBJECT: View = View {
    search: &["displayName"],
    ..view(
        "directoryObject",
        "directoryObjects",
        ObjectKind::User,
        &[ID, Prop { required: false, ..DISPLAY_NAME }, MAIL],
    )
};

/// Every view.
pub static VIEWS: [&View; 7] =
    [&USER, &GROUP, &ADMINISTRATIVE_UNIT, &EDUCATION_USER, &EDUCATION_CLASS, &EDUCATION_SCHOOL, &TEAM];

/// Every property an object of `kind` may hold, over all its views (first declaration wins); computed once.
pub fn props_of(kind: ObjectKind) -> impl Iterator<Item = &'static Prop> {
    use std::sync::OnceLock;
    static ALL: OnceLock<[Vec<&'static Prop>; 3]> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        [ObjectKind::User, ObjectKind::Group, ObjectKind::AdministrativeUnit].map(|kind| {
            let mut out: Vec<&'static Prop> = Vec::new();
            for p in VIEWS.iter().filter(|v| v.kind == kind).flat_map(|v| v.props.iter()) {
                if !out.iter().any(|o| o.name == p.name) {
                    out.push(p);
                }
            }
            out
        })
    });
    let i = match kind {
        ObjectKind::User => 0,
        ObjectKind::Group => 1,
        ObjectKind::AdministrativeUnit => 2,
    };
    all[i].iter().copied()
}

/// A relation between two objects, stored as a row and indexed both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// Members of a group or an administrative unit (and so of a class or school).
    Members,
    /// Owners of a group (and so the teachers of a class).
    Owners,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Members => "members",
            Relation::Owners => "owners",
        }
    }

    pub fn parse(s: &str) -> Option<Relation> {
        [Relation::Members, Relation::Owners].into_iter().find(|r| r.as_str() == s)
    }
}

/// Case folding, the one function: stored copies of indexed string values and `$filter` literals are folded
/// alike, so that case-insensitive comparison is a plain comparison in SQL (and uses the index). The same
/// lower-casing as the in-memory evaluator (`rosterflow_odata`), so both agree on every string.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A stored timestamp in a form whose text order is its time order (fixed microseconds), for SQL.
pub fn sortable_time(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&chrono::Utc);
    Some(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// A new object id: a lower-case GUID, as Graph's.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `s` is a GUID (any case).
pub fn is_guid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_consistent() {
        for v in VIEWS {
            let mut names: Vec<&str> = v.props.iter().map(|p| p.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{}: a property declared twice", v.name);
            assert!(v.prop("ID").is_some(), "{}", v.name);
            for p in v.props {
                assert!(p.column.is_none() || p.filter != Filter::No, "{}.{}", v.name, p.name);
            }
        }
        // A property shared by two views of one kind means the same everywhere it is filtered.
        for kind in [ObjectKind::User, ObjectKind::Group, ObjectKind::AdministrativeUnit] {
            for a in props_of(kind) {
                for v in VIEWS.iter().filter(|v| v.kind == kind) {
                    if let Some(b) = v.prop(a.name) {
                        assert_eq!(a.column, b.column, "{}.{}", v.name, a.name);
                        assert_eq!(a.kind.is_collection(), b.kind.is_collection(), "{}.{}", v.name, a.name);
                    }
                }
            }
        }
        assert_eq!(fold("ÄbC"), "äbc");
        assert_eq!(sortable_time("2024-03-05T03:12:29+01:00").unwrap(), "2024-03-05T02:12:29.000000Z");
    }
}
