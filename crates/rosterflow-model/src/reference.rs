//! Reference data: the built-in `referenceDefinitions` and `roleGroups` every tenant starts with
//! (`data/*.json`, sources and decisions in `docs/reference-data.md`), and the [`Catalog`] that checks the
//! codes of `referenceValue` properties against a tenant's view of them (built-ins plus its own definitions,
//! minus what it disabled).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One built-in reference definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinDefinition {
    pub reference_type: String,
    pub code: String,
    pub display_name: Option<String>,
    pub sort_index: i32,
    pub source: String,
}

impl BuiltinDefinition {
    /// The entity as the API returns it; built-ins carry the docs' default timestamps.
    pub fn to_document(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), definition_id(&self.reference_type, &self.code).into());
        m.insert("code".into(), self.code.clone().into());
        m.insert("createdDateTime".into(), BUILTIN_TIMESTAMP.into());
        m.insert("displayName".into(), self.display_name.clone().map_or(Value::Null, Value::String));
        m.insert("isDisabled".into(), false.into());
        m.insert("lastModifiedDateTime".into(), BUILTIN_TIMESTAMP.into());
        m.insert("referenceType".into(), self.reference_type.clone().into());
        m.insert("sortIndex".into(), self.sort_index.into());
        m.insert("source".into(), self.source.clone().into());
        m
    }
}

/// The timestamp the docs show on system-defined reference definitions.
pub const BUILTIN_TIMESTAMP: &str = "0001-01-01T00:00:00Z";

/// The `source` of definitions a tenant creates.
pub const TENANT_SOURCE: &str = "Tenant Defined";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceTypes {
    extensible: Vec<String>,
    value_types: HashMap<String, String>,
    /// Other spellings seen in the wild, per type: alias → built-in code.
    #[serde(default)]
    aliases: HashMap<String, HashMap<String, String>>,
}

fn types() -> &'static ReferenceTypes {
    static T: OnceLock<ReferenceTypes> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../data/reference-types.json")).expect("valid reference-types.json")
    })
}

/// Every built-in reference definition.
pub fn builtin_definitions() -> &'static [BuiltinDefinition] {
    static D: OnceLock<Vec<BuiltinDefinition>> = OnceLock::new();
    D.get_or_init(|| {
        serde_json::from_str(include_str!("../data/reference-definitions.json"))
            .expect("valid reference-definitions.json")
    })
}

/// The built-in role groups, as API documents.
pub fn role_groups() -> &'static [Map<String, Value>] {
    static G: OnceLock<Vec<Map<String, Value>>> = OnceLock::new();
    G.get_or_init(|| serde_json::from_str(include_str!("../data/role-groups.json")).expect("valid role-groups.json"))
}

/// A built-in role group by id, case-insensitively.
pub fn role_group(id: &str) -> Option<&'static Map<String, Value>> {
    role_groups().iter().find(|g| g.get("id").and_then(Value::as_str).is_some_and(|g| g.eq_ignore_ascii_case(id)))
}

/// The reference type a `referenceValue` subtype draws its codes from (`sectionRoleReferenceValue` → `RefSectionRole`).
pub fn reference_type_of(value_type_short_name: &str) -> Option<&'static str> {
    types().value_types.iter().find(|(k, _)| k.eq_ignore_ascii_case(value_type_short_name)).map(|(_, v)| v.as_str())
}

/// The canonical spelling of a known reference type, case-insensitively.
pub fn canonical_reference_type(name: &str) -> Option<&'static str> {
    builtin_definitions().iter().map(|d| d.reference_type.as_str()).find(|t| t.eq_ignore_ascii_case(name))
}

/// Whether tenants may add definitions of this type.
pub fn is_extensible(reference_type: &str) -> bool {
    types().extensible.iter().any(|t| t.eq_ignore_ascii_case(reference_type))
}

/// `{referenceType}-{code}`.
pub fn definition_id(reference_type: &str, code: &str) -> String {
    format!("{reference_type}-{code}")
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    Unknown,
    Disabled,
}

#[derive(Debug, Clone)]
struct Entry {
    code: String,
    disabled: bool,
}

/// A tenant's reference codes: the built-ins overlaid with the definitions it created or changed.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Keyed by lower-cased (referenceType, code).
    overlay: HashMap<(String, String), Entry>,
}

impl Catalog {
    /// Built-ins plus the tenant's stored definition documents.
    pub fn new<'a>(stored: impl IntoIterator<Item = &'a Map<String, Value>>) -> Catalog {
        let mut overlay = HashMap::new();
        for doc in stored {
            let field = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (ty, code) = (field("referenceType"), field("code"));
            let disabled = doc.get("isDisabled").and_then(Value::as_bool).unwrap_or(false);
            overlay.insert((ty.to_ascii_lowercase(), code.to_ascii_lowercase()), Entry { code, disabled });
        }
        Catalog { overlay }
    }

    /// The canonical code for `code` of `reference_type`, matched case-insensitively.
    pub fn resolve(&self, reference_type: &str, code: &str) -> Result<String, CodeProblem> {
        let mut key = (reference_type.to_ascii_lowercase(), code.to_ascii_lowercase());
        let builtin = builtin_index().get(&key).copied();
        if let Some(canonical) = builtin {
            // An alias (`aid`) is the built-in it names: disabling `aide` disables `aid` too.
            key.1 = canonical.to_ascii_lowercase();
        }
        match (self.overlay.get(&key), builtin) {
            (Some(e), _) if e.disabled => Err(CodeProblem::Disabled),
            (Some(e), _) => Ok(e.code.clone()),
            (None, Some(canonical)) => Ok(canonical.to_string()),
            (None, None) => Err(CodeProblem::Unknown),
        }
    }
}

fn builtin_index() -> &'static HashMap<(String, String), &'static str> {
    static I: OnceLock<HashMap<(String, String), &'static str>> = OnceLock::new();
    I.get_or_init(|| {
        let mut index: HashMap<(String, String), &'static str> = builtin_definitions()
            .iter()
            .map(|d| ((d.reference_type.to_ascii_lowercase(), d.code.to_ascii_lowercase()), d.code.as_str()))
            .collect();
        // Other tools' spellings (`aid` for Graph's `aide`, ...) resolve to the built-in code
        // (docs/reference-data.md).
        for (ty, aliases) in &types().aliases {
            for (alias, code) in aliases {
                let ty = ty.to_ascii_lowercase();
                if let Some(canonical) = index.get(&(ty.clone(), code.to_ascii_lowercase())).copied() {
                    index.insert((ty, alias.to_ascii_lowercase()), canonical);
                }
            }
        }
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_roles_resolve_case_insensitively_and_disabling_takes_effect() {
        let none: Vec<Map<String, Value>> = Vec::new();
        let cat = Catalog::new(&none);
        let section = reference_type_of("sectionRoleReferenceValue").unwrap();
        assert_eq!(cat.resolve(section, "paraProfessional"), Ok("paraprofessional".into()));
        assert_eq!(cat.resolve(section, "nope"), Err(CodeProblem::Unknown));
        let count = builtin_definitions().iter().filter(|d| d.reference_type == section).count();
        assert_eq!(count, 27);
        let disabled: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "referenceType": "RefSectionRole", "code": "teacher", "isDisabled": true
        }))
        .unwrap();
        let cat = Catalog::new([&disabled]);
        assert_eq!(cat.resolve(section, "TEACHER"), Err(CodeProblem::Disabled));
        assert!(role_group("Staff").is_some());
    }
}
