//! The entity sets under `/external/industryData`: what each holds, how its ids are made, which operations it
//! has, and where its items come from. Handlers are generic over these descriptors; the differences between
//! resources live here, as data.
//!
//! Inventory: `shared/reference/industrydata-model.md` §1–2 and the CSDL's `industryDataRoot` navigation properties.

use crate::schema::NS;

/// Where a set's items live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Created, changed and deleted through the API; stored per tenant.
    Stored,
    /// Built in and read-only (roleGroups).
    Builtin,
    /// Built-in items that tenants may extend and disable (referenceDefinitions): stored items overlay built-ins.
    BuiltinOverlay,
    /// Read-only through the API; written by the engine (operations, runs).
    System,
}

/// How a new item's id is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// A server-assigned GUID.
    Guid,
    /// `{referenceType}-{code}` (referenceDefinitions).
    ReferenceDefinition,
}

#[derive(Debug, PartialEq, Eq)]
pub struct EntitySet {
    /// The canonical path segment, e.g. `outboundProvisioningFlowSets`.
    pub name: &'static str,
    /// The set this one is contained in, by navigation property of an item (`provisioningFlows` of a flow set).
    pub parent: Option<&'static str>,
    /// Short name of the declared item type.
    pub item_type: &'static str,
    pub source: Source,
    pub key: KeyRule,
    /// Responses carry `@odata.type` on every item (the docs show it on polymorphic sets, runs and operations).
    pub typed_items: bool,
    /// At most one item of each concrete type per parent (provisioning flows in a set).
    pub one_per_type: bool,
    /// Actions and functions bound to an item: (name, is_function).
    pub operations: &'static [(&'static str, bool)],
    /// Actions and functions bound to the collection: (name, is_function).
    pub collection_operations: &'static [(&'static str, bool)],
}

impl EntitySet {
    /// Full name of the declared item type.
    pub fn item_type_name(&self) -> String {
        if self.item_type == "longRunningOperation" {
            return "microsoft.graph.longRunningOperation".into();
        }
        format!("{NS}.{}", self.item_type)
    }

    pub fn writable(&self) -> bool {
        matches!(self.source, Source::Stored | Source::BuiltinOverlay)
    }
}

const fn set(name: &'static str, item_type: &'static str) -> EntitySet {
    EntitySet {
        name,
        parent: None,
        item_type,
        source: Source::Stored,
        key: KeyRule::Guid,
        typed_items: false,
        one_per_type: false,
        operations: &[],
        collection_operations: &[],
    }
}

/// Every entity set, in the order of the docs' inventory.
pub static SETS: &[EntitySet] = &[
    EntitySet {
        typed_items: true,
        operations: &[("validate", false), ("getUploadSession", true)],
        ..set("dataConnectors", "industryDataConnector")
    },
    EntitySet { typed_items: true, ..set("inboundFlows", "inboundFlow") },
    EntitySet { typed_items: true, source: Source::System, ..set("operations", "longRunningOperation") },
    set("outboundProvisioningFlowSets", "outboundProvisioningFlowSet"),
    EntitySet {
        parent: Some("outboundProvisioningFlowSets"),
        typed_items: true,
        one_per_type: true,
        operations: &[("reset", false)],
        ..set("provisioningFlows", "provisioningFlow")
    },
    EntitySet {
        // The docs' create response carries `@odata.type`; carrying it on every item is harmless to clients.
        typed_items: true,
        source: Source::BuiltinOverlay,
        key: KeyRule::ReferenceDefinition,
        ..set("referenceDefinitions", "referenceDefinition")
    },
    EntitySet { source: Source::Builtin, ..set("roleGroups", "roleGroup") },
    EntitySet {
        typed_items: true,
        source: Source::System,
        operations: &[("getStatistics", true)],
        collection_operations: &[("start", false), ("getStatistics", true)],
        ..set("runs", "industryDataRun")
    },
    EntitySet {
        parent: Some("runs"),
        typed_items: true,
        source: Source::System,
        ..set("activities", "industryDataRunActivity")
    },
    set("sourceSystems", "sourceSystemDefinition"),
    set("years", "yearTimePeriodDefinition"),
];

/// A set by path segment, case-insensitively.
pub fn by_name(name: &str) -> Option<&'static EntitySet> {
    SETS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// The child set reached from an item of `parent` through the navigation segment `name`.
pub fn child(parent: &EntitySet, name: &str) -> Option<&'static EntitySet> {
    SETS.iter().find(|s| s.parent == Some(parent.name) && s.name.eq_ignore_ascii_case(name))
}

/// The top-level set whose items are of `type_name` (full or short), for resolving `@odata.bind` targets.
pub fn for_type(type_name: &str) -> Option<&'static EntitySet> {
    let short = type_name.rsplit('.').next().unwrap_or(type_name);
    SETS.iter().find(|s| s.parent.is_none() && s.item_type.eq_ignore_ascii_case(short))
}

/// Single-valued navigation properties that are addressable as paths (`inboundFlows/{id}/year`), mapped to the
/// set they point into.
pub fn navigation_alias(set: &EntitySet, segment: &str) -> Option<(&'static str, &'static EntitySet)> {
    const ALIASES: &[(&str, &str, &str)] = &[
        ("inboundFlows", "dataConnector", "dataConnectors"),
        ("inboundFlows", "year", "years"),
        ("dataConnectors", "sourceSystem", "sourceSystems"),
    ];
    ALIASES
        .iter()
        .find(|(from, nav, _)| *from == set.name && nav.eq_ignore_ascii_case(segment))
        .and_then(|(_, nav, to)| by_name(to).map(|s| (*nav, s)))
}

/// Bound operations this server carries out (every one the descriptors list; an operation added to them
/// answers 501 until it is listed here).
pub const IMPLEMENTED_OPERATIONS: &[&str] = &["reset", "getUploadSession", "validate", "start", "getStatistics"];

/// Properties whose length the docs limit (characters).
pub const MAX_LENGTHS: &[(&str, usize)] = &[("displayName", 100), ("vendor", 100)];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::schema;

    #[test]
    fn every_set_names_a_schema_type_and_lookups_ignore_case() {
        for s in SETS {
            assert!(schema().ty(&s.item_type_name()).is_some(), "{}", s.name);
        }
        assert_eq!(by_name("OutboundProvisioningFlowSets").unwrap().name, "outboundProvisioningFlowSets");
        let sets = by_name("outboundprovisioningflowsets").unwrap();
        assert_eq!(child(sets, "PROVISIONINGFLOWS").unwrap().name, "provisioningFlows");
        assert_eq!(for_type("microsoft.graph.industryData.roleGroup").unwrap().name, "roleGroups");
    }
}

/// One operation the API serves, for the README's coverage table (generated from these descriptors, the same
/// ones the handlers dispatch on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: String,
    /// The success status, or 501 for routed operations that are not carried out yet.
    pub status: u16,
    /// The set whose permissions govern it, and the access needed there.
    pub set: &'static str,
    pub access: crate::permissions::Access,
}

/// Every endpoint, in inventory order.
pub fn endpoints() -> Vec<Endpoint> {
    use crate::permissions::Access;
    let mut out = Vec::new();
    for set in SETS {
        let mut push =
            |method, path: String, status, access| out.push(Endpoint { method, path, status, set: set.name, access });
        let coll = match set.parent {
            Some(p) => format!("/{p}/{{id}}/{}", set.name),
            None => format!("/{}", set.name),
        };
        let item = format!("{coll}/{{id}}");
        push("GET", coll.clone(), 200, Access::Read);
        push("GET", format!("{coll}/$count"), 200, Access::Read);
        if set.writable() {
            push("POST", coll.clone(), 201, Access::Write);
        }
        push("GET", item.clone(), 200, Access::Read);
        if set.writable() {
            push("PATCH", item.clone(), 204, Access::Write);
            push("DELETE", item.clone(), 204, Access::Write);
        }
        for (ops, base) in [(set.operations, &item), (set.collection_operations, &coll)] {
            for (name, function) in ops {
                let access = crate::permissions::operation_access(name);
                let status = match (IMPLEMENTED_OPERATIONS.contains(name), *function) {
                    (false, _) => 501,
                    (true, true) => 200,
                    (true, false) => 202,
                };
                push(if *function { "GET" } else { "POST" }, format!("{base}/{name}"), status, access);
            }
        }
    }
    for from in SETS {
        for nav in ["dataConnector", "year", "sourceSystem"] {
            if let Some((nav, to)) = navigation_alias(from, nav) {
                let path = format!("/{}/{{id}}/{nav}", from.name);
                out.push(Endpoint {
                    method: "GET",
                    path: path.clone(),
                    status: 200,
                    set: to.name,
                    access: Access::Read,
                });
                if to.writable() {
                    out.push(Endpoint { method: "PATCH", path, status: 204, set: to.name, access: Access::Write });
                }
            }
        }
    }
    out
}
