//! Stored documents → the wire: properties in schema order, absent ones as `null`, write-only secrets
//! dropped, passwords masked, binds to built-in role groups expanded (`Core.AutoExpand` in the CSDL) and other
//! binds hidden (they are navigation properties, read through their own paths).

use serde_json::{Map, Value};

use crate::document;
use crate::reference;
use crate::schema::{ElemType, TypeDef};

/// How the docs show a stored password.
pub const MASKED_PASSWORD: &str = "***************";

/// The wire form of an entity. `typed` adds `@odata.type` (sets whose items the docs show with it).
pub fn entity(ty: &TypeDef, doc: &Map<String, Value>, typed: bool) -> Map<String, Value> {
    let mut out = Map::new();
    if typed {
        out.insert("@odata.type".into(), Value::String(ty.odata_type()));
    }
    members(ty, doc, &mut out);
    out
}

fn members(ty: &TypeDef, doc: &Map<String, Value>, out: &mut Map<String, Value>) {
    for p in &ty.props {
        if p.write_only {
            continue;
        }
        if p.navigation {
            let bound = doc.get(&format!("{}@odata.bind", p.name)).and_then(Value::as_str);
            if let Some(group) = bound.and_then(reference::role_group) {
                out.insert(p.name.clone(), Value::Object(group.clone()));
            }
            continue;
        }
        let value = match doc.get(&p.name) {
            None | Some(Value::Null) => Value::Null,
            Some(_) if p.is_password() => Value::String(MASKED_PASSWORD.into()),
            Some(v) => match &p.elem {
                ElemType::Structured(name) => structured(name, v),
                _ => v.clone(),
            },
        };
        out.insert(p.name.clone(), value);
    }
}

fn structured(declared: &str, v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| structured(declared, i)).collect()),
        Value::Object(obj) => {
            let ty = document::stored_type(declared, obj);
            let mut out = Map::new();
            if let Some(t) = obj.get("@odata.type") {
                out.insert("@odata.type".into(), t.clone());
            }
            members(ty, obj, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}
