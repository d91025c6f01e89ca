//! The industryData type system, read from Microsoft's own CSDL (`csdl/industryData.csdl.xml`, an excerpt of
//! `msgraph-metadata/schemas/beta-Prod.csdl`) the first time it is needed.
//!
//! Reading the metadata instead of hand-writing Rust structs keeps every property, enum member, nullability,
//! inheritance edge and `Core.Computed` / `Core.Permissions` annotation exactly as Microsoft publishes them:
//! a new CSDL drop is a file copy, not a code change.

use std::collections::HashMap;

// Looked up several times per request with short trusted keys: FxHash, not SipHash.
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::{Arc, OnceLock};

/// The namespace of every industryData type.
pub const NS: &str = "microsoft.graph.industryData";

const CSDL: &str = include_str!("../csdl/industryData.csdl.xml");

/// The primitive, enum, complex or entity type of a property (or of a collection's items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElemType {
    String,
    Boolean,
    Int32,
    DateTimeOffset,
    Date,
    /// Full name of an enum type.
    Enum(String),
    /// Full name of a complex or entity type.
    Structured(String),
}

#[derive(Debug, Clone)]
pub struct PropDef {
    pub name: String,
    pub elem: ElemType,
    pub collection: bool,
    pub nullable: bool,
    /// A navigation property: set with `name@odata.bind`, never inline.
    pub navigation: bool,
    /// `Core.Computed`: the server sets it; input values are ignored.
    pub computed: bool,
    /// `Core.Immutable`: settable on create only.
    pub immutable: bool,
    /// `Core.Permissions = Write`: accepted on input, never returned (secrets).
    pub write_only: bool,
    /// `Core.ComputedDefaultValue`: the server fills it in when the client leaves it out.
    pub has_default: bool,
    /// `Core.IsURL`: an absolute http(s) URL.
    pub is_url: bool,
}

impl PropDef {
    /// A password: returned masked (`render::MASKED_PASSWORD`), as the docs show them.
    pub fn is_password(&self) -> bool {
        self.name == "password"
    }

    /// A credential (a write-only property such as `clientSecret`, or a password): stored sealed, never returned
    /// as given.
    pub fn is_secret(&self) -> bool {
        self.write_only || self.is_password()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Entity,
    Complex,
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    /// Full name, e.g. `microsoft.graph.industryData.classGroupProvisioningFlow`.
    pub name: String,
    pub kind: TypeKind,
    pub is_abstract: bool,
    pub base: Option<String>,
    /// Own and inherited properties, base first.
    pub props: Vec<PropDef>,
    /// This type's full name, then its bases' up to the root: `derives_from` without walking the map.
    lineage: Vec<String>,
}

impl TypeDef {
    /// The `@odata.type` value for this type, with the leading `#`.
    pub fn odata_type(&self) -> String {
        format!("#{}", self.name)
    }

    /// The name without namespace (`classGroupProvisioningFlow`).
    pub fn short_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// Property lookup; JSON names match case-insensitively (the docs' own examples send
    /// `createBasedOnOrgPlusroleGroup`), and the canonical name is what gets stored.
    pub fn prop(&self, name: &str) -> Option<&PropDef> {
        self.props.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone)]
pub struct EnumDef {
    pub name: String,
    pub members: Vec<String>,
}

impl EnumDef {
    /// The canonical member matching `value` case-insensitively.
    pub fn member(&self, value: &str) -> Option<&str> {
        self.members.iter().find(|m| m.eq_ignore_ascii_case(value)).map(String::as_str)
    }
}

#[derive(Debug, Default)]
pub struct Schema {
    /// Keyed by lower-cased full name, so that `@odata.type` values resolve case-insensitively.
    types: FxHashMap<String, Arc<TypeDef>>,
    /// The same types by canonical full name: the common, exactly spelled lookups take one probe and allocate
    /// nothing.
    canonical: FxHashMap<String, Arc<TypeDef>>,
    /// Keyed by lower-cased full name.
    enums: FxHashMap<String, Arc<EnumDef>>,
    /// The same enums by canonical full name.
    canonical_enums: FxHashMap<String, Arc<EnumDef>>,
    /// The concrete types of each type (itself and what derives from it), by lower-cased full name.
    concrete: FxHashMap<String, Vec<String>>,
    /// Canonical names of the types whose values must name their type: abstract ones, and those with derived
    /// concrete types.
    polymorphic: FxHashSet<String>,
    /// Canonical names of the types whose values can hold a secret (see [`PropDef::is_secret`]) at any depth.
    secret_holders: FxHashSet<String>,
}

/// The schema, parsed once.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::parse(CSDL).expect("the embedded CSDL is valid"))
}

impl Schema {
    /// A type by full name (`microsoft.graph.industryData.x` or `graph.x` alias), case-insensitively.
    pub fn ty(&self, name: &str) -> Option<&TypeDef> {
        self.canonical.get(name).or_else(|| self.types.get(&expand_alias(name).to_ascii_lowercase())).map(|t| &**t)
    }

    /// The type an `@odata.type` annotation names: `#microsoft.graph.industryData.x`, with or without `#`.
    pub fn ty_from_annotation(&self, value: &str) -> Option<&TypeDef> {
        self.ty(value.strip_prefix('#').unwrap_or(value))
    }

    pub fn enum_type(&self, name: &str) -> Option<&EnumDef> {
        self.canonical_enums
            .get(name)
            .or_else(|| self.enums.get(&expand_alias(name).to_ascii_lowercase()))
            .map(|e| &**e)
    }

    /// Whether `ty` is `base` or derives from it.
    pub fn derives_from(&self, ty: &str, base: &str) -> bool {
        self.ty(ty).is_some_and(|t| t.lineage.iter().any(|n| n.eq_ignore_ascii_case(base)))
    }

    /// Whether a value declared as `ty` can be of more than one type (it is abstract or has derived types).
    pub fn is_polymorphic(&self, ty: &TypeDef) -> bool {
        self.polymorphic.contains(&ty.name)
    }

    /// Whether a value of type `ty` can hold a secret at any depth (values of a base type are walked as the
    /// concrete type they name).
    pub fn may_hold_secrets(&self, ty: &TypeDef) -> bool {
        self.secret_holders.contains(&ty.name)
    }

    /// The concrete (non-abstract) types that are `base` or derive from it, sorted by name.
    pub fn concrete_types_of(&self, base: &str) -> Vec<&TypeDef> {
        let mut out: Vec<&TypeDef> =
            self.types.values().map(|t| &**t).filter(|t| !t.is_abstract && self.derives_from(&t.name, base)).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn parse(xml: &str) -> Result<Schema, String> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
        let mut schema = Schema::default();
        let mut own: HashMap<String, (TypeDef, Vec<PropDef>)> = HashMap::new();
        let mut annotations: Vec<(String, String)> = Vec::new(); // (target, term)

        for node in doc.descendants().filter(|n| n.is_element()) {
            match node.tag_name().name() {
                "EnumType" => {
                    let name = qualified(node);
                    let members = node
                        .children()
                        .filter(|c| c.has_tag_name("Member"))
                        .filter_map(|c| c.attribute("Name").map(str::to_string))
                        .collect();
                    schema.enums.insert(name.to_ascii_lowercase(), Arc::new(EnumDef { name, members }));
                }
                kind @ ("EntityType" | "ComplexType") => {
                    let name = qualified(node);
                    let props = node
                        .children()
                        .filter(|c| c.has_tag_name("Property") || c.has_tag_name("NavigationProperty"))
                        .map(prop_def)
                        .collect();
                    let def = TypeDef {
                        name: name.clone(),
                        kind: if kind == "EntityType" { TypeKind::Entity } else { TypeKind::Complex },
                        is_abstract: node.attribute("Abstract") == Some("true"),
                        base: node.attribute("BaseType").map(expand_alias),
                        props: Vec::new(),
                        lineage: Vec::new(),
                    };
                    own.insert(name.to_ascii_lowercase(), (def, props));
                }
                "Annotation" => {
                    let target = node.parent().and_then(|p| p.attribute("Target"));
                    let enum_member = node.children().find(|c| c.has_tag_name("EnumMember")).and_then(|c| c.text());
                    if let (Some(target), Some(term)) = (target, node.attribute("Term")) {
                        let term = match (term, node.attribute("Bool"), enum_member) {
                            ("Org.OData.Core.V1.Computed", Some("true"), _) => "computed",
                            ("Org.OData.Core.V1.Immutable", Some("true"), _) => "immutable",
                            ("Org.OData.Core.V1.ComputedDefaultValue", Some("true"), _) => "has_default",
                            ("Org.OData.Core.V1.IsURL", Some("true"), _) => "is_url",
                            ("Org.OData.Core.V1.Permissions", _, Some(p)) if p.ends_with("/Write") => "write_only",
                            _ => continue,
                        };
                        annotations.push((target.to_ascii_lowercase(), term.to_string()));
                    }
                }
                _ => {}
            }
        }

        for (target, term) in annotations {
            let Some((ty, prop)) = target.split_once('/') else { continue };
            if let Some((_, props)) = own.get_mut(ty) {
                if let Some(p) = props.iter_mut().find(|p| p.name.eq_ignore_ascii_case(prop)) {
                    match term.as_str() {
                        "computed" => p.computed = true,
                        "immutable" => p.immutable = true,
                        "has_default" => p.has_default = true,
                        "is_url" => p.is_url = true,
                        _ => p.write_only = true,
                    }
                }
            }
        }

        // Flatten inheritance: each type lists its bases' properties first.
        for key in own.keys().cloned().collect::<Vec<_>>() {
            let mut chain = Vec::new();
            let mut lineage = Vec::new();
            let mut cur = Some(key.clone());
            while let Some(k) = cur {
                let Some((def, props)) = own.get(&k) else { break };
                chain.push(props.clone());
                lineage.push(def.name.clone());
                cur = def.base.as_ref().map(|b| b.to_ascii_lowercase());
            }
            let mut def = own[&key].0.clone();
            def.props = chain.into_iter().rev().flatten().collect();
            def.lineage = lineage;
            for p in &mut def.props {
                if let ElemType::Structured(n) = &p.elem {
                    if schema.enum_type(n).is_some() {
                        p.elem = ElemType::Enum(n.clone());
                    }
                }
            }
            schema.types.insert(key, Arc::new(def));
        }
        schema.canonical = schema.types.values().map(|t| (t.name.clone(), t.clone())).collect();
        schema.canonical_enums = schema.enums.values().map(|e| (e.name.clone(), e.clone())).collect();
        for (lower, ty) in &schema.types {
            let mut concrete: Vec<&TypeDef> = schema
                .types
                .values()
                .map(|t| &**t)
                .filter(|t| !t.is_abstract && schema.derives_from(&t.name, &ty.name))
                .collect();
            concrete.sort_by(|a, b| a.name.cmp(&b.name));
            if ty.is_abstract || concrete.len() > 1 {
                schema.polymorphic.insert(ty.name.clone());
            }
            let names = concrete.iter().map(|t| t.name.to_ascii_lowercase()).collect();
            schema.concrete.insert(lower.clone(), names);
        }
        schema.secret_holders = secret_holders(&schema);
        Ok(schema)
    }
}

/// The types whose values can hold a secret: one of their properties is a secret, or holds a value of a type
/// (or of a type derived from it) that can. A fixed point: a pass adds the holders the previous pass revealed.
fn secret_holders(schema: &Schema) -> FxHashSet<String> {
    let mut holders: FxHashSet<String> = FxHashSet::default();
    loop {
        let found: Vec<String> = schema
            .canonical
            .values()
            .filter(|t| !holders.contains(&t.name))
            .filter(|t| {
                t.props.iter().filter(|p| !p.navigation).any(|p| {
                    p.is_secret()
                        || matches!(&p.elem, ElemType::Structured(declared) if holders.iter().any(|h| schema.derives_from(h, declared)))
                })
            })
            .map(|t| t.name.clone())
            .collect();
        if found.is_empty() {
            return holders;
        }
        holders.extend(found);
    }
}

fn qualified(node: roxmltree::Node) -> String {
    let ns = node.ancestors().find(|a| a.has_tag_name("Schema")).and_then(|s| s.attribute("Namespace")).unwrap_or(NS);
    format!("{ns}.{}", node.attribute("Name").unwrap_or_default())
}

fn expand_alias(name: &str) -> String {
    match name.strip_prefix("graph.") {
        Some(rest) => format!("microsoft.graph.{rest}"),
        None => name.to_string(),
    }
}

fn prop_def(node: roxmltree::Node) -> PropDef {
    let raw = node.attribute("Type").unwrap_or("Edm.String");
    let (collection, inner) = match raw.strip_prefix("Collection(").and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner),
        None => (false, raw),
    };
    let elem = match inner {
        "Edm.String" => ElemType::String,
        "Edm.Boolean" => ElemType::Boolean,
        "Edm.Int32" => ElemType::Int32,
        "Edm.DateTimeOffset" => ElemType::DateTimeOffset,
        "Edm.Date" => ElemType::Date,
        other => ElemType::Structured(expand_alias(other)),
    };
    PropDef {
        name: node.attribute("Name").unwrap_or_default().to_string(),
        elem,
        collection,
        nullable: node.attribute("Nullable") != Some("false"),
        navigation: node.has_tag_name("NavigationProperty"),
        computed: false,
        immutable: false,
        write_only: false,
        has_default: false,
        is_url: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_that_can_hold_secrets_are_known() {
        let s = schema();
        let ns = "microsoft.graph.industryData";
        for (name, holds) in [
            ("oAuth2ClientCredential", true),    // clientSecret, write-only
            ("oneRosterApiDataConnector", true), // through its credential, declared as the base type
            ("simplePasswordSettings", true),    // password
            ("userProvisioningFlow", true),      // creationOptions/configurations/defaultPasswordSettings
            ("classGroupProvisioningFlow", false),
            ("outboundProvisioningFlowSet", false),
        ] {
            let ty = s.ty(&format!("{ns}.{name}")).unwrap();
            assert_eq!(s.may_hold_secrets(ty), holds, "{name}");
        }
    }

    #[test]
    fn reads_the_flow_hierarchy_and_annotations() {
        let s = schema();
        let flow = s.ty("microsoft.graph.industryData.classGroupProvisioningFlow").unwrap();
        assert!(!flow.is_abstract);
        let names: Vec<&str> = flow.props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["id", "createdDateTime", "lastModifiedDateTime", "readinessStatus", "configuration"]);
        assert!(flow.prop("readinessstatus").unwrap().computed);
        assert!(s.ty("microsoft.graph.industryData.provisioningFlow").unwrap().is_abstract);
        let kinds: Vec<&str> = s
            .concrete_types_of("microsoft.graph.industryData.provisioningFlow")
            .iter()
            .map(|t| t.short_name())
            .collect();
        assert_eq!(
            kinds,
            [
                "administrativeUnitProvisioningFlow",
                "classGroupProvisioningFlow",
                "securityGroupProvisioningFlow",
                "userProvisioningFlow"
            ]
        );
        let secret = s.ty("#microsoft.graph.industryData.oAuth2ClientCredential".trim_start_matches('#')).unwrap();
        assert!(secret.prop("clientSecret").unwrap().write_only);
        assert_eq!(
            s.enum_type("microsoft.graph.industryData.additionalClassGroupAttributes").unwrap().member("COURSETITLE"),
            Some("courseTitle")
        );
    }
}
