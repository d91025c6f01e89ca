//! Lifecycle rules the CSDL can't express: what the server fills in when an item is created, which values
//! must be unique, and what a soft delete does. Decisions where the docs are silent are recorded in
//! `docs/decisions.md`.

use serde_json::{Map, Value};

use crate::reference;
use crate::schema::{schema, TypeDef};
use crate::sets::EntitySet;

const PROVISIONING_FLOW: &str = "microsoft.graph.industryData.provisioningFlow";
const INBOUND_FLOW: &str = "microsoft.graph.industryData.inboundFlow";

/// Fill in the server-set properties of a new item of type `ty`.
pub fn initialize(set: &EntitySet, ty: &TypeDef, doc: &mut Map<String, Value>, now: &str) {
    for stamp in ["createdDateTime", "lastModifiedDateTime"] {
        if ty.prop(stamp).is_some_and(|p| p.computed) {
            doc.insert(stamp.into(), Value::String(now.into()));
        }
    }
    let s = schema();
    if s.derives_from(&ty.name, PROVISIONING_FLOW) {
        // "notReady right after create" (the docs' create responses); runs move it on.
        doc.insert("readinessStatus".into(), "notReady".into());
    } else if s.derives_from(&ty.name, INBOUND_FLOW) {
        // The docs' create responses show an inbound flow `ready` at once: its connector and year are bound.
        doc.insert("readinessStatus".into(), "ready".into());
    }
    if set.name == "referenceDefinitions" {
        doc.insert("source".into(), reference::TENANT_SOURCE.into());
        doc.entry("isDisabled").or_insert(false.into());
    }
}

/// Fill in what the server computes inside complex values, after a create or a PATCH (a PATCH replaces a
/// complex value whole, computed members included).
pub fn complete(doc: &mut Map<String, Value>) {
    if let Some(Value::Object(credential)) = doc.get_mut("credential") {
        // Validity is only known after the connector's `validate` action; a new credential starts unvalidated.
        if !credential.contains_key("isValid") {
            credential.insert("isValid".into(), false.into());
            credential.insert("lastValidDateTime".into(), Value::Null);
        }
    }
    if let Some(Value::Array(settings)) = doc.get_mut("userMatchingSettings") {
        // `priorityOrder` is a computed default (CSDL): left out, a setting ranks by its position.
        for (i, setting) in settings.iter_mut().enumerate() {
            if let Value::Object(setting) = setting {
                setting.entry("priorityOrder").or_insert(Value::from(i));
            }
        }
    }
}

/// Keys that must be unique among the items of one set under one parent.
pub fn unique_keys(set: &EntitySet, ty: &TypeDef, doc: &Map<String, Value>) -> Vec<String> {
    let mut keys = Vec::new();
    if set.one_per_type {
        keys.push(format!("type:{}", ty.name));
    }
    if set.name == "referenceDefinitions" {
        let field = |k: &str| doc.get(k).map(Value::to_string).unwrap_or_default().to_ascii_lowercase();
        keys.push(format!("sortIndex:{}:{}", field("referenceType"), field("sortIndex")));
    }
    keys
}

/// The 409 message for a violated unique key.
pub fn duplicate_message(set: &EntitySet, key: &str) -> String {
    if let Some(ty) = key.strip_prefix("type:") {
        let short = ty.rsplit('.').next().unwrap_or(ty);
        return format!(
            "This outbound provisioning flow set already has a {short}; a set holds at most one flow of each type."
        );
    }
    if key.starts_with("sortIndex:") {
        return "Another reference definition of this referenceType already uses this sortIndex.".into();
    }
    format!("The value of '{key}' is already used in {}.", set.name)
}
