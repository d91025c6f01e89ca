//! Objects on the wire and in the index: what a view returns by default and on `$select`, what a delegated
//! caller of an education user sees, and the folded copies of filterable values that the store keeps for SQL
//! (indexed columns and the folded JSON document).

use rustc_hash::FxHashMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{fold, props_of, sortable_time, Access, Column, Filter, Kind, ObjectKind, Prop, View};
use crate::error::{DomainError, ErrorKind, Result};

/// How an object is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape<'a> {
    /// `$select`, checked with [`check_select`].
    pub select: Option<&'a [String]>,
    /// A delegated caller of an education user: only the properties Graph shows it.
    pub limited: bool,
    /// Carry `@odata.type` (items of `directoryObject` collections, which mix users and groups).
    pub typed: bool,
}

/// `$select` against a view: unknown names are 400; properties returned only on `$select` can't be listed
/// on a collection (Graph answers 501 for `/users?$select=aboutMe`).
pub fn check_select(view: &View, select: &[String], collection: bool) -> Result<()> {
    for name in select {
        let first = name.split('/').next().unwrap_or_default();
        let prop = view.prop(first).filter(|p| p.access != Access::WriteOnly).ok_or_else(|| {
            DomainError::bad_request(format!(
                "Could not find a property named '{first}' on type 'microsoft.graph.{}'.",
                view.name
            ))
        })?;
        if prop.select_only && collection {
            return Err(DomainError::new(
                ErrorKind::NotImplemented,
                format!("The property '{}' can only be selected on a single {}.", prop.name, view.name),
            ));
        }
    }
    Ok(())
}

/// An object as `view` shows it.
pub fn render(view: &View, id: &str, doc: &Map<String, Value>, shape: Shape) -> Map<String, Value> {
    let mut out = Map::new();
    if shape.typed {
        out.insert("@odata.type".into(), Value::String(view.odata_type()));
    }
    for prop in view.props {
        if prop.access == Access::WriteOnly || (shape.limited && !prop.delegated) {
            continue;
        }
        let shown = match shape.select {
            Some(select) => {
                select.iter().any(|s| s.split('/').next().is_some_and(|f| f.eq_ignore_ascii_case(prop.name)))
            }
            None => !prop.select_only,
        };
        if !shown {
            continue;
        }
        let value = if prop.name == "id" {
            Value::String(id.to_string())
        } else {
            match doc.get(prop.name) {
                Some(Value::Object(obj)) if shape.limited => Value::Object(limited(prop, obj)),
                Some(v) => v.clone(),
                None if prop.kind.is_collection() => Value::Array(Vec::new()),
                None => Value::Null,
            }
        };
        out.insert(prop.name.to_string(), value);
    }
    if let Some(select) = shape.select {
        narrow(&mut out, select);
    }
    out
}

/// An object as `view` shows it, written as JSON to `out` from its stored document (`body`, the JSON text of
/// the document [`render`] takes). In the default shape (no `$select`, not `limited`), which is every item of a
/// members list or a page of users, each property's stored text is copied through as it is: the same bytes
/// [`render`] and serialising would give (the store's text is serde_json's own), without building two maps.
/// Any other shape goes through [`render`].
pub fn write(view: &View, id: &str, body: &str, shape: Shape, out: &mut String) -> Result<()> {
    if shape.select.is_none() && !shape.limited {
        // Borrowed keys fail on an escaped name, which no property has: such a body takes the general path.
        if let Ok(doc) = serde_json::from_str::<FxHashMap<&str, &RawValue>>(body) {
            write_default(view, id, &doc, shape.typed, out);
            return Ok(());
        }
    }
    let doc: Map<String, Value> = serde_json::from_str(body)
        .map_err(|e| DomainError::new(ErrorKind::Internal, format!("a stored directory object is not JSON: {e}")))?;
    out.push_str(&Value::Object(render(view, id, &doc, shape)).to_string());
    Ok(())
}

/// [`render`]'s default shape, property by property, onto `out`.
fn write_default(view: &View, id: &str, doc: &FxHashMap<&str, &RawValue>, typed: bool, out: &mut String) {
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, name: &str| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        // Names of the model's own properties and annotations: nothing in them needs escaping.
        debug_assert!(!name.contains(['"', '\\']));
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
    };
    if typed {
        key(out, "@odata.type");
        out.push_str(&Value::String(view.odata_type()).to_string());
    }
    for prop in view.props.iter().filter(|p| p.access != Access::WriteOnly && !p.select_only) {
        key(out, prop.name);
        if prop.name == "id" {
            out.push_str(&Value::String(id.to_string()).to_string());
            continue;
        }
        match doc.get(prop.name) {
            Some(raw) => out.push_str(raw.get()),
            None if prop.kind.is_collection() => out.push_str("[]"),
            None => out.push_str("null"),
        }
    }
    out.push('}');
}

/// `$select` paths into complex values (`student/externalId`) keep only the members they name, unless the
/// whole property is selected too.
fn narrow(out: &mut Map<String, Value>, select: &[String]) {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for (key, value) in out.iter_mut() {
        if select.iter().any(|s| same(s, key)) {
            continue;
        }
        let members: Vec<&str> =
            select.iter().filter_map(|s| s.split_once('/').filter(|(f, _)| same(f, key)).map(|(_, m)| m)).collect();
        if let (false, Value::Object(inner)) = (members.is_empty(), value) {
            inner.retain(|k, _| members.iter().any(|m| same(m.split('/').next().unwrap_or_default(), k)));
        }
    }
}

/// The delegated members of a complex value (`student/externalId`).
fn limited(prop: &Prop, obj: &Map<String, Value>) -> Map<String, Value> {
    let Kind::Object(_, members) = prop.kind else { return obj.clone() };
    members
        .iter()
        .filter(|m| m.delegated)
        .filter_map(|m| obj.get(m.name).map(|v| (m.name.to_string(), v.clone())))
        .collect()
}

/// The folded values of an object's indexed columns (every column but `id`, in [`Column::ALL`] order after it).
pub fn columns(kind: ObjectKind, doc: &Map<String, Value>) -> Vec<Option<String>> {
    Column::ALL[1..]
        .iter()
        .map(|col| {
            let prop = props_of(kind).find(|p| p.column == Some(*col))?;
            match doc.get(prop.name)? {
                Value::String(s) if prop.kind == Kind::DateTime => sortable_time(s),
                Value::String(s) => Some(fold(s)),
                _ => None,
            }
        })
        .collect()
}

/// The folded JSON document of an object: every filterable property that has no indexed column, with its
/// strings folded and its times sortable, so that SQL compares them as plain values.
pub fn folded(kind: ObjectKind, doc: &Map<String, Value>) -> Map<String, Value> {
    props_of(kind)
        .filter(|p| p.filter != Filter::No && p.column.is_none())
        .filter_map(|p| Some((p.name.to_string(), fold_value(p, doc.get(p.name)?)?)))
        .collect()
}

fn fold_value(prop: &Prop, v: &Value) -> Option<Value> {
    Some(match (prop.kind, v) {
        (_, Value::Null) => return None,
        (Kind::DateTime, Value::String(s)) => Value::String(sortable_time(s)?),
        (Kind::Date, Value::String(s)) => Value::String(s.clone()),
        (Kind::Str | Kind::Guid | Kind::Enum(_), Value::String(s)) => Value::String(fold(s)),
        (Kind::Strings, Value::Array(items)) => {
            Value::Array(items.iter().filter_map(|i| i.as_str().map(|s| Value::String(fold(s)))).collect())
        }
        (Kind::Object(_, members), Value::Object(obj)) => Value::Object(fold_object(members, obj)),
        (Kind::Objects(_, members), Value::Array(items)) => Value::Array(
            items.iter().filter_map(|i| i.as_object().map(|o| Value::Object(fold_object(members, o)))).collect(),
        ),
        (_, other) => other.clone(),
    })
}

fn fold_object(members: &[Prop], obj: &Map<String, Value>) -> Map<String, Value> {
    members
        .iter()
        .filter(|m| m.filter != Filter::No)
        .filter_map(|m| Some((m.name.to_string(), fold_value(m, obj.get(m.name)?)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::directory::{EDUCATION_USER, USER};

    fn doc() -> Map<String, Value> {
        json!({
            "displayName": "Ädele", "userPrincipalName": "Adele@X.com", "passwordProfile": {"password": "sealed"},
            "primaryRole": "student", "student": {"externalId": "S1", "grade": "9"}, "createdDateTime": "2024-01-01T00:00:00Z",
            "assignedLicenses": [{"skuId": "0b3f3a1e-1111-2222-3333-444455556666", "disabledPlans": ["X"]}],
            "department": "Math"
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn secrets_never_render_and_delegated_callers_see_less() {
        let full = render(&USER, "u1", &doc(), Shape::default());
        assert!(!full.contains_key("passwordProfile"));
        assert_eq!(full["id"], "u1");
        assert_eq!(full["businessPhones"], json!([]));
        assert!(!full.contains_key("aboutMe"), "select-only");
        let limited = render(&EDUCATION_USER, "u1", &doc(), Shape { limited: true, ..Shape::default() });
        assert_eq!(limited["student"], json!({"externalId": "S1"}));
        assert!(!limited.contains_key("department"));
        let select = vec!["displayName".to_string(), "student/grade".to_string()];
        let picked = render(&EDUCATION_USER, "u1", &doc(), Shape { select: Some(&select), ..Shape::default() });
        assert_eq!(Value::Object(picked), json!({"displayName": "Ädele", "student": {"grade": "9"}}));
        assert!(check_select(&USER, &["passwordProfile".into()], true).is_err());
        assert_eq!(check_select(&USER, &["aboutMe".into()], true).unwrap_err().kind, ErrorKind::NotImplemented);
        assert!(check_select(&USER, &["aboutMe".into()], false).is_ok());
    }

    /// The stored text written through is what rendering the parsed document gives, in every default shape.
    #[test]
    fn written_through_is_rendered() {
        let mut d = doc();
        d.insert("mail".into(), json!("a\"b\\c\u{1}é"));
        d.insert("usageLocation".into(), Value::Null);
        let body = serde_json::to_string(&d).unwrap();
        for view in crate::directory::VIEWS {
            for typed in [false, true] {
                let shape = Shape { typed, ..Shape::default() };
                let mut out = String::new();
                write(view, "u1", &body, shape, &mut out).unwrap();
                assert_eq!(out, Value::Object(render(view, "u1", &d, shape)).to_string(), "{}", view.name);
            }
        }
        let select = vec!["displayName".to_string()];
        let mut out = String::new();
        write(&USER, "u1", &body, Shape { select: Some(&select), ..Shape::default() }, &mut out).unwrap();
        assert_eq!(out, r#"{"displayName":"Ädele"}"#);
        let mut out = String::new();
        write(&EDUCATION_USER, "u1", &body, Shape { limited: true, ..Shape::default() }, &mut out).unwrap();
        assert_eq!(
            out,
            Value::Object(render(&EDUCATION_USER, "u1", &d, Shape { limited: true, ..Shape::default() })).to_string()
        );
        assert!(write(&USER, "u1", "{", Shape::default(), &mut String::new()).is_err());
    }

    #[test]
    fn indexed_values_are_folded() {
        let cols = columns(ObjectKind::User, &doc());
        assert_eq!(cols[0].as_deref(), Some("ädele"));
        assert_eq!(cols[1].as_deref(), Some("adele@x.com"));
        assert_eq!(cols[5].as_deref(), Some("2024-01-01T00:00:00.000000Z"));
        let f = folded(ObjectKind::User, &doc());
        assert_eq!(f["department"], "math");
        assert_eq!(f["student"], json!({"externalId": "s1", "grade": "9"}));
        assert_eq!(f["assignedLicenses"], json!([{"skuId": "0b3f3a1e-1111-2222-3333-444455556666"}]));
        assert!(!f.contains_key("displayName"), "in a column");
    }
}
