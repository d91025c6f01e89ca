//! Least privilege, as the docs' permission pages state it (`shared/reference/graph-docs/permissions/`,
//! summarised in `industrydata-model.md` §2; the directory's API pages under
//! `shared/reference/graph-docs-directory/api/`). This table is the only place that maps an operation to the
//! permissions that grant it. For industryData a token passes when it holds any one of them, delegated
//! (`scp`) or application (`roles`) alike; directory operations may differ by token kind (a [`Rule`]), and
//! some need a second permission on top ("EduRoster.Read.All plus Member.Read.Hidden").

/// What an operation does to a set, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET of a collection, an item, `$count` or a function.
    Read,
    /// POST, PATCH, DELETE and actions that change configuration.
    Write,
    /// `getUploadSession` and `validate` on data connectors.
    Upload,
    /// `runs/start`.
    Start,
}

const P: &str = "IndustryData-";

/// The access a bound operation needs.
pub fn operation_access(name: &str) -> Access {
    match name {
        "validate" | "getUploadSession" => Access::Upload,
        "start" => Access::Start,
        "getStatistics" => Access::Read,
        _ => Access::Write,
    }
}

/// The permissions any one of which grants `access` on the entity set named `set`.
pub fn granting(set: &str, access: Access) -> &'static [&'static str] {
    use Access::*;
    match (set, access) {
        ("outboundProvisioningFlowSets" | "provisioningFlows", Read) => {
            &["IndustryData-OutboundFlow.Read.All", "IndustryData-OutboundFlow.ReadWrite.All"]
        }
        ("outboundProvisioningFlowSets" | "provisioningFlows", Write) => &["IndustryData-OutboundFlow.ReadWrite.All"],
        ("dataConnectors", Read) => {
            &["IndustryData-DataConnector.Read.All", "IndustryData-DataConnector.ReadWrite.All"]
        }
        ("dataConnectors", Write) => &["IndustryData-DataConnector.ReadWrite.All"],
        ("dataConnectors", Upload) => {
            &["IndustryData-DataConnector.Upload", "IndustryData-DataConnector.ReadWrite.All"]
        }
        ("inboundFlows", Read) => &["IndustryData-InboundFlow.Read.All", "IndustryData-InboundFlow.ReadWrite.All"],
        ("inboundFlows", Write) => &["IndustryData-InboundFlow.ReadWrite.All"],
        ("sourceSystems", Read) => &["IndustryData-SourceSystem.Read.All", "IndustryData-SourceSystem.ReadWrite.All"],
        ("sourceSystems", Write) => &["IndustryData-SourceSystem.ReadWrite.All"],
        ("years", Read) => &["IndustryData-TimePeriod.Read.All", "IndustryData-TimePeriod.ReadWrite.All"],
        ("years", Write) => &["IndustryData-TimePeriod.ReadWrite.All"],
        // The list page names ReadBasic.All as least privileged; the get page names ReferenceDefinition.Read.All.
        // Both grant reads of the whole set here, so a list's items can always be fetched one by one.
        ("referenceDefinitions" | "roleGroups", Read) => &[
            "IndustryData.ReadBasic.All",
            "IndustryData-ReferenceDefinition.Read.All",
            "IndustryData-ReferenceDefinition.ReadWrite.All",
        ],
        ("referenceDefinitions", Write) => &["IndustryData-ReferenceDefinition.ReadWrite.All"],
        ("operations", Read) => &["IndustryData.ReadBasic.All"],
        ("runs" | "activities", Read) => &["IndustryData-Run.Read.All", "IndustryData-Run.Start"],
        ("runs", Start) => &["IndustryData-Run.Start"],
        _ => &[],
    }
}

/// Who may call a directory operation: any one of `delegated` (for a delegated token) or `application` (for an
/// application token), **plus** any one of the matching `plus` list when it is not empty. An empty list:
/// that kind of token is not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub delegated: &'static [&'static str],
    pub application: &'static [&'static str],
    pub delegated_plus: &'static [&'static str],
    pub application_plus: &'static [&'static str],
}

impl Rule {
    const fn both(any: &'static [&'static str]) -> Rule {
        Rule { delegated: any, application: any, delegated_plus: &[], application_plus: &[] }
    }

    /// Whether a caller of this kind, holding what `holds` says, passes.
    pub fn allows(&self, delegated: bool, holds: impl Fn(&[&str]) -> bool) -> bool {
        let (any, plus) =
            if delegated { (self.delegated, self.delegated_plus) } else { (self.application, self.application_plus) };
        !any.is_empty() && holds(any) && (plus.is_empty() || holds(plus))
    }

    /// What a caller of this kind needs, for the 403's message.
    pub fn describe(&self, delegated: bool) -> String {
        let (any, plus) =
            if delegated { (self.delegated, self.delegated_plus) } else { (self.application, self.application_plus) };
        match (any.is_empty(), plus.is_empty()) {
            (true, _) => format!("This operation does not support {} permissions.", kind(delegated)),
            (false, true) => format!("Requires one of: {}.", any.join(", ")),
            (false, false) => format!("Requires one of: {}; plus one of: {}.", any.join(", "), plus.join(", ")),
        }
    }
}

fn kind(delegated: bool) -> &'static str {
    if delegated {
        "delegated"
    } else {
        "application"
    }
}

const USER_READ_D: &[&str] =
    &["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const USER_READ_A: &[&str] = &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const GROUP_READ: &[&str] =
    &["GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"];
const GROUP_WRITE: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];
const MEMBER_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const MEMBER_WRITE: &[&str] = &["GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"];
const AU_READ: &[&str] = &[
    "AdministrativeUnit.Read.All",
    "Directory.Read.All",
    "AdministrativeUnit.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const AU_WRITE: &[&str] = &["AdministrativeUnit.ReadWrite.All", "Directory.ReadWrite.All"];
const HIDDEN: &[&str] = &["Member.Read.Hidden"];
const EDU_READ_D: &[&str] = &["EduRoster.ReadBasic", "EduRoster.Read", "EduRoster.ReadWrite"];
const EDU_READ_A: &[&str] = &["EduRoster.ReadBasic.All", "EduRoster.Read.All", "EduRoster.ReadWrite.All"];
const EDU_FULL_A: &[&str] = &["EduRoster.Read.All", "EduRoster.ReadWrite.All"];
const EDU_WRITE_D: &[&str] = &["EduRoster.ReadWrite"];
const EDU_WRITE_A: &[&str] = &["EduRoster.ReadWrite.All"];
const TEAM_READ: &[&str] = &[
    "Team.ReadBasic.All",
    "TeamSettings.Read.All",
    "TeamSettings.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const EDU_READ: Rule =
    Rule { delegated: EDU_READ_D, application: EDU_READ_A, delegated_plus: &[], application_plus: &[] };
const EDU_WRITE: Rule =
    Rule { delegated: EDU_WRITE_D, application: EDU_WRITE_A, delegated_plus: &[], application_plus: &[] };

/// The rule of a directory operation. `set` names the resource the docs give a permission table for:
/// `users`, `groups`, `groups/members` (members and owners), `administrativeUnits`, `education/classes`,
/// `education/classes/members`, `education/classes/group`, `education/schools`, `education/schools/users`,
/// `education/users` (the list), `education/user` (one user, its classes and schools), `teams`,
/// `directoryObjects` (one object by id).
pub fn directory_rule(set: &str, access: Access) -> Option<Rule> {
    use Access::*;
    Some(match (set, access) {
        ("users", Read) => {
            Rule { delegated: USER_READ_D, application: USER_READ_A, delegated_plus: &[], application_plus: &[] }
        }
        ("users", Write) => Rule::both(USER_WRITE),
        ("groups", Read) => Rule::both(GROUP_READ),
        ("groups", Write) => Rule::both(GROUP_WRITE),
        ("groups/members", Read) => Rule::both(MEMBER_READ),
        ("groups/members", Write) => Rule::both(MEMBER_WRITE),
        // Members of a group or unit with hidden membership: Member.Read.Hidden on top (group-list-members.md,
        // administrativeunit-list-members.md).
        ("groups/members/hidden", Read) => {
            Rule { delegated_plus: HIDDEN, application_plus: HIDDEN, ..Rule::both(MEMBER_READ) }
        }
        ("administrativeUnits/members/hidden", Read) => {
            Rule { delegated_plus: HIDDEN, application_plus: HIDDEN, ..Rule::both(AU_READ) }
        }
        ("administrativeUnits", Read) => Rule::both(AU_READ),
        ("administrativeUnits", Write) => Rule::both(AU_WRITE),
        ("education/classes" | "education/schools" | "education/user", Read) => EDU_READ,
        // Listing a class's members needs Member.Read.Hidden on top for applications (class groups have
        // hidden membership), as educationclass-list-members.md says.
        ("education/classes/members", Read) => {
            Rule { application: EDU_FULL_A, application_plus: &["Member.Read.Hidden"], ..EDU_READ }
        }
        ("education/classes/group", Read) => Rule {
            delegated_plus: &["Directory.Read.All", "Directory.ReadWrite.All"],
            application: EDU_FULL_A,
            application_plus: &["Directory.Read.All", "Directory.ReadWrite.All"],
            ..EDU_READ
        },
        // Application only (educationroot-list-users.md, educationschool-list-users.md).
        ("education/users" | "education/schools/users", Read) => {
            Rule { delegated: &[], application: EDU_FULL_A, delegated_plus: &[], application_plus: &[] }
        }
        ("education/classes" | "education/schools" | "education/users" | "education/user", Write) => EDU_WRITE,
        ("teams", Read) => Rule::both(TEAM_READ),
        // directoryobject-get.md: the umbrella permission, for either kind of token.
        ("directoryObjects", Read) => Rule::both(&["Directory.Read.All", "Directory.ReadWrite.All"]),
        _ => return None,
    })
}

/// Every directory resource [`directory_rule`] knows, for [`all`] and the tests.
pub const DIRECTORY_SETS: &[&str] = &[
    "users",
    "groups",
    "groups/members",
    "groups/members/hidden",
    "administrativeUnits",
    "administrativeUnits/members/hidden",
    "education/classes",
    "education/classes/members",
    "education/classes/group",
    "education/schools",
    "education/schools/users",
    "education/users",
    "education/user",
    "teams",
    "directoryObjects",
];

/// Every permission name this server knows, for the dev-mode token command's help and checks.
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = crate::sets::SETS
        .iter()
        .flat_map(|s| [Access::Read, Access::Write, Access::Upload, Access::Start].map(|a| granting(s.name, a)))
        .flatten()
        .copied()
        .collect();
    debug_assert!(out.iter().all(|p| p.starts_with(P) || p.starts_with("IndustryData.")));
    for set in DIRECTORY_SETS {
        for rule in [Access::Read, Access::Write].into_iter().filter_map(|a| directory_rule(set, a)) {
            out.extend([rule.delegated, rule.application, rule.delegated_plus, rule.application_plus].concat());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readwrite_grants_read_but_read_does_not_grant_write() {
        let read = granting("provisioningFlows", Access::Read);
        let write = granting("provisioningFlows", Access::Write);
        assert!(read.contains(&"IndustryData-OutboundFlow.ReadWrite.All"));
        assert!(!write.contains(&"IndustryData-OutboundFlow.Read.All"));
        assert!(granting("roleGroups", Access::Write).is_empty());
        assert!(all().contains(&"IndustryData-Run.Start"));
    }
}
