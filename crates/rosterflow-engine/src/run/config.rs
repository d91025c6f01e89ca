//! The tenant's configuration as a run reads it: the inbound flows active at the run's start (with their
//! source system's user matching settings), and every outbound flow set with its provisioning flows, parsed
//! from the stored JSON documents into the few fields a run uses. Parsing is pure (`parse_*`), reading is
//! [`load`].

use chrono::{DateTime, Utc};
use rosterflow_model::reference;
use rosterflow_store::{Resource, Store, StoreError, TenantId};
use serde_json::{Map, Value};

/// A role group: its id (`staff`, `students`), name and role codes (lower-cased, for case-insensitive
/// comparison).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGroup {
    pub id: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

/// The built-in role groups (`data/role-groups.json`), in their order.
pub fn role_groups() -> Vec<RoleGroup> {
    reference::role_groups()
        .iter()
        .map(|g| RoleGroup {
            id: str_of(g, "id").unwrap_or_default().to_string(),
            display_name: str_of(g, "displayName").unwrap_or_default().to_string(),
            roles: codes(g.get("roles")),
        })
        .collect()
}

/// `userMatchingSetting.sourceIdentifier` (`RefIdentifierType`): which value of the roster's user is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceId {
    SourcedId,
    Identifier,
    Email,
    Username,
    ActiveDirectoryMatchId,
}

/// `userMatchingSetting.matchTarget` (`RefUserMatchTarget`): which property of directory users it is compared to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    UserPrincipalName,
    Mail,
    EmployeeId,
}

/// One `userMatchingSetting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRule {
    /// Index into [`role_groups`].
    pub role_group: usize,
    pub priority: i64,
    pub source: SourceId,
    pub target: Target,
    /// Appended as `@domain` to the source value (Microsoft's Postman sample's `domainName`).
    pub domain: Option<String>,
}

/// An inbound flow active at the run's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub id: String,
    pub display_name: String,
    /// In priority order.
    pub rules: Vec<MatchRule>,
}

/// What a user flow creates for unmatched users of one role group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    pub role_group: usize,
    /// The default password, sealed as stored (`simplePasswordSettings.password`).
    pub password: Option<String>,
    pub licenses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserFlow {
    pub create_unmatched: bool,
    pub creations: Vec<Creation>,
    /// `additionalAttributes`: `userGradeLevel`, `userNumber`.
    pub grade: bool,
    pub number: bool,
    /// `studentAgeGroup` as the user's `ageGroup` (`Minor`, `NotAdult`, `Adult`); `markAllStudentsAsMinors`
    /// (deprecated) when `studentAgeGroup` is not set.
    pub age_group: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClassFlow {
    /// Section role codes, lower-cased.
    pub owners: Vec<String>,
    pub members: Vec<String>,
    /// `additionalClassGroupAttributes`, as spelled in the docs.
    pub attributes: Vec<String>,
    pub create_team: bool,
    pub display_name_on_create_only: bool,
}

impl ClassFlow {
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attribute))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowKind {
    User(UserFlow),
    SecurityGroup { by_role_group: bool, by_org_role_group: bool },
    AdministrativeUnit { by_org: bool, by_org_role_group: bool },
    ClassGroup(ClassFlow),
}

impl FlowKind {
    /// The flow's type name, for reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            FlowKind::User(_) => "userProvisioningFlow",
            FlowKind::SecurityGroup { .. } => "securityGroupProvisioningFlow",
            FlowKind::AdministrativeUnit { .. } => "administrativeUnitProvisioningFlow",
            FlowKind::ClassGroup(_) => "classGroupProvisioningFlow",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub id: String,
    pub kind: FlowKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSet {
    pub id: String,
    pub display_name: String,
    /// `filter` (`orgExternalId in [...]`): the org `sourcedId`s the set is restricted to; `None`: every org.
    pub orgs: Option<Vec<String>>,
    pub flows: Vec<Flow>,
}

impl FlowSet {
    pub fn includes_org(&self, sourced_id: &str) -> bool {
        self.orgs.as_ref().is_none_or(|o| o.iter().any(|x| x == sourced_id))
    }
}

/// Everything a run reads from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub inbound: Vec<Inbound>,
    pub flow_sets: Vec<FlowSet>,
    /// A digest of every document read (id and version) and of which inbound flows are active: equal
    /// digests, equal configuration.
    pub digest: u64,
}

fn str_of<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn bool_of(doc: Option<&Value>, key: &str) -> bool {
    doc.and_then(|d| d.get(key)).and_then(Value::as_bool).unwrap_or(false)
}

/// The codes of a collection of `referenceValue`s, lower-cased.
fn codes(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|r| r.get("code").and_then(Value::as_str)).map(str::to_ascii_lowercase).collect())
        .unwrap_or_default()
}

fn role_group_index(groups: &[RoleGroup], v: Option<&Value>) -> Option<usize> {
    let id = v.and_then(Value::as_str)?;
    groups.iter().position(|g| g.id.eq_ignore_ascii_case(id))
}

/// A source system's `userMatchingSettings`, in priority order (settings naming an unknown role group or code
/// are left out).
pub fn parse_rules(source_system: &Map<String, Value>, groups: &[RoleGroup]) -> Vec<MatchRule> {
    let mut rules: Vec<MatchRule> = source_system
        .get("userMatchingSettings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let code =
                |k: &str| s.get(k).and_then(|v| v.get("code")).and_then(Value::as_str).map(str::to_ascii_lowercase);
            let source = match code("sourceIdentifier")?.as_str() {
                "sourcedid" => SourceId::SourcedId,
                "identifier" => SourceId::Identifier,
                "email" => SourceId::Email,
                "username" => SourceId::Username,
                "activedirectorymatchid" => SourceId::ActiveDirectoryMatchId,
                _ => return None,
            };
            let target = match code("matchTarget").as_deref().unwrap_or("userprincipalname") {
                "userprincipalname" => Target::UserPrincipalName,
                "mail" => Target::Mail,
                "employeeid" => Target::EmployeeId,
                _ => return None,
            };
            Some(MatchRule {
                role_group: role_group_index(groups, s.get("roleGroup@odata.bind"))?,
                priority: s.get("priorityOrder").and_then(Value::as_i64).unwrap_or(0),
                source,
                target,
                domain: s.get("domainName").and_then(Value::as_str).filter(|d| !d.is_empty()).map(str::to_string),
            })
        })
        .collect();
    rules.sort_by_key(|r| r.priority);
    rules
}

/// A provisioning flow's configuration from its stored document and type.
pub fn parse_flow(odata_type: &str, doc: &Map<String, Value>, groups: &[RoleGroup]) -> Option<FlowKind> {
    let short = odata_type.rsplit('.').next().unwrap_or(odata_type);
    Some(match short {
        "userProvisioningFlow" => {
            let management = doc.get("managementOptions");
            let attributes = codes_or_strings(management.and_then(|m| m.get("additionalAttributes")));
            let options = management.and_then(|m| m.get("additionalOptions"));
            let age_group = match options.and_then(|o| o.get("studentAgeGroup")).and_then(Value::as_str) {
                Some(a) if a.eq_ignore_ascii_case("minor") => Some("Minor"),
                Some(a) if a.eq_ignore_ascii_case("notAdult") => Some("NotAdult"),
                Some(a) if a.eq_ignore_ascii_case("adult") => Some("Adult"),
                _ if bool_of(options, "markAllStudentsAsMinors") => Some("Minor"),
                _ => None,
            };
            let creations = doc
                .get("creationOptions")
                .and_then(|c| c.get("configurations"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some(Creation {
                        role_group: role_group_index(groups, c.get("roleGroup@odata.bind"))?,
                        password: c
                            .get("defaultPasswordSettings")
                            .and_then(|p| p.get("password"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        licenses: c
                            .get("licenseSkus")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .unwrap_or_default(),
                    })
                })
                .collect();
            FlowKind::User(UserFlow {
                create_unmatched: doc.get("createUnmatchedUsers").and_then(Value::as_bool).unwrap_or(false),
                creations,
                grade: attributes.iter().any(|a| a == "usergradelevel"),
                number: attributes.iter().any(|a| a == "usernumber"),
                age_group,
            })
        }
        "securityGroupProvisioningFlow" => {
            let c = doc.get("creationOptions");
            FlowKind::SecurityGroup {
                by_role_group: bool_of(c, "createBasedOnRoleGroup"),
                by_org_role_group: bool_of(c, "createBasedOnOrgPlusRoleGroup"),
            }
        }
        "administrativeUnitProvisioningFlow" => {
            let c = doc.get("creationOptions");
            FlowKind::AdministrativeUnit {
                by_org: bool_of(c, "createBasedOnOrg"),
                by_org_role_group: bool_of(c, "createBasedOnOrgPlusRoleGroup"),
            }
        }
        "classGroupProvisioningFlow" => {
            let c = doc.get("configuration");
            let mappings = c.and_then(|c| c.get("enrollmentMappings"));
            let options = c.and_then(|c| c.get("additionalOptions"));
            FlowKind::ClassGroup(ClassFlow {
                owners: codes(mappings.and_then(|m| m.get("ownerEnrollmentMappings"))),
                members: codes(mappings.and_then(|m| m.get("memberEnrollmentMappings"))),
                attributes: c
                    .and_then(|c| c.get("additionalAttributes"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
                create_team: bool_of(options, "createTeam"),
                display_name_on_create_only: bool_of(options, "writeDisplayNameOnCreateOnly"),
            })
        }
        _ => return None,
    })
}

/// Strings of an enum collection, lower-cased.
fn codes_or_strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect())
        .unwrap_or_default()
}

/// A flow set's `filter`: `orgExternalId in [...]`, or `None` for every org.
pub fn parse_filter(doc: &Map<String, Value>) -> Option<Vec<String>> {
    let f = doc.get("filter")?;
    let attribute = f.get("attribute").and_then(Value::as_str).unwrap_or("orgExternalId");
    if !attribute.eq_ignore_ascii_case("orgExternalId") {
        return None;
    }
    let list = f.get("in").and_then(Value::as_array)?;
    Some(list.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

fn time_of(doc: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(str_of(doc, key)?).ok().map(|t| t.with_timezone(&Utc))
}

/// Whether an inbound flow's effective window holds `now`.
pub fn active_at(doc: &Map<String, Value>, now: DateTime<Utc>) -> bool {
    time_of(doc, "effectiveDateTime").is_none_or(|t| t <= now)
        && time_of(doc, "expirationDateTime").is_none_or(|t| now < t)
}

async fn get(
    store: &dyn Store,
    tenant: &TenantId,
    set: &str,
    id: Option<&Value>,
) -> Result<Option<Resource>, StoreError> {
    match id.and_then(Value::as_str) {
        Some(id) => store.get(tenant, set, id).await,
        None => Ok(None),
    }
}

/// Adds what identifies a document's content (its set, id and version) to a digest.
fn mix(digest: &mut xxhash_rust::xxh3::Xxh3, r: &Resource) {
    for part in [r.set.as_bytes(), &b"\x1f"[..], r.id.as_bytes(), &r.version.to_le_bytes()[..]] {
        digest.update(part);
    }
}

/// Read the tenant's configuration as it stands at `now`.
pub async fn load(store: &dyn Store, tenant: &TenantId, now: DateTime<Utc>) -> Result<Config, StoreError> {
    let groups = role_groups();
    let mut config = Config::default();
    let mut digest = xxhash_rust::xxh3::Xxh3::new();
    for flow in store.list(tenant, "inboundFlows", None).await? {
        if !active_at(&flow.doc, now) {
            continue;
        }
        mix(&mut digest, &flow);
        let connector = get(store, tenant, "dataConnectors", flow.doc.get("dataConnector@odata.bind")).await?;
        let source = match &connector {
            Some(c) => get(store, tenant, "sourceSystems", c.doc.get("sourceSystem@odata.bind")).await?,
            None => None,
        };
        for r in connector.iter().chain(&source) {
            mix(&mut digest, r);
        }
        config.inbound.push(Inbound {
            id: flow.id.clone(),
            display_name: str_of(&flow.doc, "displayName").unwrap_or_default().to_string(),
            rules: source.map(|s| parse_rules(&s.doc, &groups)).unwrap_or_default(),
        });
    }
    for set in store.list(tenant, "outboundProvisioningFlowSets", None).await? {
        mix(&mut digest, &set);
        let mut flows = Vec::new();
        for f in store.list(tenant, "provisioningFlows", Some(&set.id)).await? {
            mix(&mut digest, &f);
            if let Some(kind) = parse_flow(&f.odata_type, &f.doc, &groups) {
                flows.push(Flow { id: f.id.clone(), kind });
            }
        }
        config.flow_sets.push(FlowSet {
            id: set.id.clone(),
            display_name: str_of(&set.doc, "displayName").unwrap_or_default().to_string(),
            orgs: parse_filter(&set.doc),
            flows,
        });
    }
    config.digest = digest.digest();
    Ok(config)
}
