//! Request bodies of the directory (POST and PATCH of users, groups, administrative units, education
//! classes, schools and users), checked against a view's descriptors while they are parsed: each member is
//! looked up as it is read, and a body breaking a rule stops with a 400 naming the property's path (as
//! `document.rs` does for industryData). The output is canonical: property names as the view spells them,
//! enumeration members in their canonical case, GUIDs lower-case, times in UTC.
//!
//! Unknown properties are refused (Graph: "Property 'x' does not exist as a declared property"); read-only
//! ones are accepted and ignored, so a client may PATCH back what it read; instance annotations are ignored,
//! except the `members@odata.bind` / `owners@odata.bind` lists a group's POST may carry.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{is_guid, Access, Kind, Prop, Relation, View};
use crate::error::{DomainError, Result};
use crate::time;

/// Create an object, or update (PATCH) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// A checked body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// Canonical properties given (for an update: only those present in the body; `null` clears one).
    pub props: Map<String, Value>,
    /// `members@odata.bind` / `owners@odata.bind` of a group's POST: the ids they name, in order.
    pub binds: Vec<(Relation, String)>,
}

/// Check a POST or PATCH body for `view`.
pub fn check(view: &View, body: &[u8], mode: Mode) -> Result<Checked> {
    let mut error = None;
    let mut json = serde_json::Deserializer::from_slice(body);
    let seed = BodySeed { view, mode, error: &mut error };
    let checked = match seed.deserialize(&mut json).and_then(|c| json.end().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            return Err(error.take().unwrap_or_else(|| match crate::document::syntax_error(body) {
                Some(syntax) => syntax,
                None => DomainError::bad_request(format!("The request body is not valid: {e}.")),
            }))
        }
    };
    if mode == Mode::Create {
        for p in view.props.iter().filter(|p| p.required && p.access != Access::ReadOnly) {
            if checked.props.get(p.name).is_none_or(Value::is_null) {
                return Err(DomainError::invalid(p.name, "the property is required"));
            }
        }
    }
    Ok(checked)
}

struct BodySeed<'a> {
    view: &'a View,
    mode: Mode,
    error: &'a mut Option<DomainError>,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Checked;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut out = Checked::default();
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if let Err(e) = member(self.view, self.mode, &key, value, &mut out) {
                let unwind = de::Error::custom(&e.message);
                *self.error = Some(e);
                return Err(unwind);
            }
        }
        Ok(out)
    }
}

/// One `key: value` member of the body, into `out`.
fn member(view: &View, mode: Mode, key: &str, value: Value, out: &mut Checked) -> Result<()> {
    if key.eq_ignore_ascii_case("@odata.type") {
        let named = value.as_str().unwrap_or_default().trim_start_matches('#');
        return if named.eq_ignore_ascii_case(&view.odata_type()[1..]) {
            Ok(())
        } else {
            Err(DomainError::invalid("@odata.type", format_args!("expected '{}'", view.odata_type())))
        };
    }
    if let Some(nav) = key.strip_suffix("@odata.bind") {
        let relation = match Relation::parse(&nav.to_ascii_lowercase()) {
            Some(r) if mode == Mode::Create && view.kind == super::ObjectKind::Group && view.facet.is_none() => r,
            _ => return Err(DomainError::invalid(key, "binds are not supported here")),
        };
        let Value::Array(links) = value else {
            return Err(DomainError::invalid(key, "expected a JSON array of links"));
        };
        for (i, link) in links.iter().enumerate() {
            let id = link.as_str().and_then(bound_id).ok_or_else(|| {
                DomainError::invalid(
                    &format!("{key}/{i}"),
                    "expected a link to a directory object ('https://graph.microsoft.com/v1.0/users/{id}')",
                )
            })?;
            out.binds.push((relation, id));
        }
        return Ok(());
    }
    if key.starts_with('@') || key.contains("@odata.") {
        return Ok(()); // instance annotations carry no data
    }
    let prop = view.prop(key).ok_or_else(|| {
        DomainError::invalid(key, format_args!("the property does not exist on type 'microsoft.graph.{}'", view.name))
    })?;
    match prop.access {
        Access::ReadOnly => return Ok(()),
        Access::CreateOnly if mode == Mode::Update => {
            return Err(DomainError::invalid(prop.name, "the property can only be set when the object is created"))
        }
        _ => {}
    }
    if value.is_null() && prop.required {
        return Err(DomainError::invalid(prop.name, "the property can't be cleared"));
    }
    let value = checked_value(prop, value, prop.name)?;
    out.props.insert(prop.name.to_string(), value);
    Ok(())
}

/// The id at the end of a bind link: `.../users/{id}`, `.../directoryObjects('{id}')`, or a bare GUID.
pub fn bound_id(link: &str) -> Option<String> {
    let last = link.trim_end_matches('/').rsplit('/').next()?;
    let id = match crate::bind::split_key(last) {
        Some((_, key)) => key,
        None => last.to_string(),
    };
    is_guid(&id).then(|| id.to_ascii_lowercase())
}

/// A property's value, checked and made canonical; `path` names it in errors.
pub fn checked_value(prop: &Prop, value: Value, path: &str) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let wrong = |expected: &str| DomainError::invalid(path, format_args!("expected {expected}"));
    let v = match prop.kind {
        Kind::Str => Value::String(value.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Kind::Guid => {
            let s = value.as_str().filter(|s| is_guid(s)).ok_or_else(|| wrong("a GUID"))?;
            Value::String(s.to_ascii_lowercase())
        }
        Kind::Bool => Value::Bool(value.as_bool().ok_or_else(|| wrong("true or false"))?),
        Kind::Int => {
            Value::from(value.as_i64().filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| wrong("a 32-bit integer"))?)
        }
        Kind::DateTime => Value::String(
            value
                .as_str()
                .and_then(time::normalize_datetime)
                .ok_or_else(|| wrong("a date and time with offset (RFC 3339)"))?,
        ),
        Kind::Date => match value {
            Value::String(s) if time::is_date(&s) => Value::String(s),
            _ => return Err(wrong("a date (YYYY-MM-DD)")),
        },
        Kind::Enum(members) => {
            let s = value.as_str().ok_or_else(|| wrong("a string"))?;
            let m = members.iter().find(|m| m.eq_ignore_ascii_case(s)).ok_or_else(|| {
                DomainError::invalid(path, format_args!("'{s}' is not one of: {}", members.join(", ")))
            })?;
            Value::String(m.to_string())
        }
        Kind::Object(ty, members) => Value::Object(object(ty, members, value, path)?),
        Kind::Strings => {
            let Value::Array(items) = value else { return Err(wrong("a JSON array of strings")) };
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    return Err(DomainError::invalid(&format!("{path}/{i}"), "expected a string"));
                }
            }
            Value::Array(items)
        }
        Kind::Objects(ty, members) => {
            let Value::Array(items) = value else { return Err(wrong("a JSON array of objects")) };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let item_path = format!("{path}/{i}");
                if item.is_null() {
                    return Err(DomainError::invalid(&item_path, "collection items can't be null"));
                }
                out.push(Value::Object(object(ty, members, item, &item_path)?));
            }
            Value::Array(out)
        }
    };
    if let (Some(max), Value::String(s)) = (prop.max_len, &v) {
        if s.chars().count() > max {
            return Err(DomainError::invalid(path, format_args!("must be at most {max} characters long")));
        }
    }
    Ok(v)
}

/// A complex value: known members only, each checked; its required members present.
fn object(ty: &str, members: &'static [Prop], value: Value, path: &str) -> Result<Map<String, Value>> {
    let Value::Object(obj) = value else {
        return Err(DomainError::invalid(
            path,
            format_args!("expected an object of type 'microsoft.graph.{}'", short(ty)),
        ));
    };
    let mut out = Map::new();
    for (key, v) in obj {
        if key.starts_with('@') || key.contains("@odata.") {
            continue;
        }
        let member_path = format!("{path}/{key}");
        let prop = members.iter().find(|p| p.name.eq_ignore_ascii_case(&key)).ok_or_else(|| {
            DomainError::invalid(&member_path, format_args!("the property does not exist on type '{ty}'"))
        })?;
        out.insert(prop.name.to_string(), checked_value(prop, v, &member_path)?);
    }
    for p in members.iter().filter(|p| p.required) {
        if out.get(p.name).is_none_or(Value::is_null) {
            return Err(DomainError::invalid(&format!("{path}/{}", p.name), "the property is required"));
        }
    }
    Ok(out)
}

fn short(ty: &str) -> &str {
    ty.rsplit('.').next().unwrap_or(ty)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::directory::{GROUP, USER};

    fn target(view: &View, body: Value, mode: Mode) -> String {
        let e = check(view, body.to_string().as_bytes(), mode).expect_err("refused");
        assert_eq!(e.kind, crate::ErrorKind::BadRequest);
        e.target.unwrap_or(e.message)
    }

    #[test]
    fn users_are_checked_and_made_canonical() {
        let body = json!({
            "accountEnabled": true, "displayName": "Adele", "mailNickname": "adele",
            "userPrincipalName": "Adele@contoso.com", "@odata.context": "x", "id": "ignored",
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "x"},
            "AGEGROUP": "minor",
            "assignedLicenses": [{"skuId": "0B3F3A1E-1111-2222-3333-444455556666", "disabledPlans": []}]
        });
        let c = check(&USER, body.to_string().as_bytes(), Mode::Create).unwrap();
        assert_eq!(c.props["ageGroup"], "Minor");
        assert_eq!(c.props["assignedLicenses"][0]["skuId"], "0b3f3a1e-1111-2222-3333-444455556666");
        assert!(!c.props.contains_key("id"));
        assert_eq!(target(&USER, json!({"displayName": "x"}), Mode::Create), "accountEnabled");
        assert_eq!(target(&USER, json!({"nope": 1}), Mode::Update), "nope");
        assert_eq!(target(&USER, json!({"accountEnabled": "yes"}), Mode::Update), "accountEnabled");
        assert_eq!(target(&USER, json!({"displayName": null}), Mode::Update), "displayName");
        assert_eq!(target(&USER, json!({"employeeId": "12345678901234567"}), Mode::Update), "employeeId");
        assert_eq!(
            target(&USER, json!({"passwordProfile": {"password": 1}}), Mode::Update),
            "passwordProfile/password"
        );
        assert_eq!(target(&USER, json!({"passwordProfile": {"x": 1}}), Mode::Update), "passwordProfile/x");
        assert_eq!(
            target(&USER, json!({"assignedLicenses": [{"skuId": "nope"}]}), Mode::Update),
            "assignedLicenses/0/skuId"
        );
        assert!(target(&USER, json!([1]), Mode::Update).contains("JSON object"));
        assert!(target(&USER, json!("x"), Mode::Update).contains("JSON object"));
    }

    use proptest::prelude::Strategy as _;

    proptest::proptest! {
        // PROPTEST_CASES=5000 for a longer run.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            ..Default::default()
        })]

        /// Hostile bodies never panic: anything that is not a valid body is a 400.
        #[test]
        fn any_bytes_are_checked_or_refused_with_400(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for view in crate::directory::VIEWS {
                for mode in [Mode::Create, Mode::Update] {
                    if let Err(e) = check(view, &bytes, mode) {
                        proptest::prop_assert_eq!(e.kind, crate::ErrorKind::BadRequest);
                    }
                }
            }
        }

        #[test]
        fn any_json_values_are_checked_or_refused_with_400(
            key in "[a-zA-Z@.]{0,20}",
            value in proptest::prop_oneof![
                proptest::prelude::Just(json!(null)), proptest::prelude::Just(json!([{"a": [1]}])),
                "[a-z ]{0,10}".prop_map(|s| json!(s)), proptest::prelude::any::<i64>().prop_map(|n| json!(n)),
                proptest::prelude::Just(json!({"password": "x", "skuId": 1})),
            ],
        ) {
            let body = json!({ key.clone(): value.clone(), "student": {"externalId": value.clone()} }).to_string();
            for view in crate::directory::VIEWS {
                if let Err(e) = check(view, body.as_bytes(), Mode::Update) {
                    proptest::prop_assert_eq!(e.kind, crate::ErrorKind::BadRequest);
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body = format!(r#"{{"student": {deep}}}"#);
        assert!(check(&crate::directory::EDUCATION_USER, body.as_bytes(), Mode::Update).is_err());
    }

    #[test]
    fn groups_take_binds_on_create() {
        let id = "0b3f3a1e-1111-2222-3333-444455556666";
        let body = json!({
            "displayName": "G", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true,
            "owners@odata.bind": [format!("https://graph.microsoft.com/v1.0/users/{id}")],
            "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects('{}')", id.to_uppercase())]
        });
        let c = check(&GROUP, body.to_string().as_bytes(), Mode::Create).unwrap();
        assert_eq!(c.binds, vec![(Relation::Owners, id.to_string()), (Relation::Members, id.to_string())]);
        assert_eq!(target(&GROUP, json!({"members@odata.bind": ["x"]}), Mode::Create), "members@odata.bind/0");
        assert_eq!(target(&GROUP, json!({"groupTypes": ["Unified"]}), Mode::Update), "groupTypes");
    }
}
