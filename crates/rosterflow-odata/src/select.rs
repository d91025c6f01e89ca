//! `$select` projection of entity objects.

use serde_json::{Map, Value};

use crate::limits::MAX_PATH_SEGMENTS;

/// Keeps only the selected properties of an entity object, plus annotations:
/// keys starting with `@` (`@odata.type`, `@odata.id`, ...) and property
/// annotations of kept properties (`name@odata.type`).
///
/// Property names match exactly or, failing that, ASCII case-insensitively.
/// A path `a/b` keeps `a` but projects its value (an object, or each object of
/// an array) down to `b`; selecting `a` itself keeps `a` whole. `*` keeps everything.
///
/// The projection recurses once per path segment, so only the first [`MAX_PATH_SEGMENTS`] segments of a path
/// count ([`crate::QueryOptions::parse`] refuses longer ones; this bounds what other callers can pass).
pub fn select_properties(doc: &mut Map<String, Value>, select: &[String]) {
    if select.iter().any(|s| s.trim() == "*") {
        return;
    }
    let paths: Vec<Vec<&str>> =
        select.iter().map(|s| s.trim().split('/').map(str::trim).take(MAX_PATH_SEGMENTS).collect()).collect();
    project(doc, &paths);
}

/// The property a key belongs to: `name` for `name` and `name@odata.type`.
fn property_of(key: &str) -> &str {
    key.split_once('@').map_or(key, |(p, _)| p)
}

fn same_name(key: &str, name: &str) -> bool {
    key == name || key.eq_ignore_ascii_case(name)
}

/// `paths`: non-empty selected paths relative to `obj`. Keeps the key order. Recurses once per segment of the
/// longest path.
fn project(obj: &mut Map<String, Value>, paths: &[Vec<&str>]) {
    obj.retain(|key, _| key.starts_with('@') || paths.iter().any(|p| same_name(property_of(key), p[0])));
    for (key, value) in obj.iter_mut() {
        if key.starts_with('@') || property_of(key) != key {
            continue;
        }
        let relevant: Vec<&Vec<&str>> = paths.iter().filter(|p| same_name(key, p[0])).collect();
        if relevant.iter().any(|p| p.len() == 1) {
            continue; // the whole property is selected
        }
        let sub: Vec<Vec<&str>> = relevant.iter().map(|p| p[1..].to_vec()).collect();
        match value {
            Value::Object(inner) => project(inner, &sub),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        project(inner, &sub);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(doc: Value, select: &[&str]) -> Value {
        let Value::Object(mut m) = doc else { panic!() };
        let s: Vec<String> = select.iter().map(|s| s.to_string()).collect();
        select_properties(&mut m, &s);
        Value::Object(m)
    }

    #[test]
    fn keeps_selected_and_annotations() {
        let d = json!({
            "@odata.type": "#x.y",
            "id": "1",
            "displayName": "n",
            "displayName@odata.type": "#String",
            "other@odata.type": "#String",
            "other": 1,
            "readinessStatus": "ready"
        });
        let out = sel(d.clone(), &["displayName", "ReadinessStatus"]);
        assert_eq!(
            out,
            json!({
                "@odata.type": "#x.y",
                "displayName": "n",
                "displayName@odata.type": "#String",
                "readinessStatus": "ready"
            })
        );
        // order of the document is preserved, not the order of $select
        let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[1], "displayName");
        assert_eq!(sel(d.clone(), &["*"]), d);
        assert_eq!(sel(d, &["nope"]), json!({"@odata.type": "#x.y"}));
    }

    #[test]
    fn nested_paths() {
        let d = json!({
            "id": "1",
            "configuration": {"@odata.type": "#c", "a": 1, "b": {"x": 1, "y": 2}},
            "items": [{"a": 1, "b": 2}, 3]
        });
        assert_eq!(
            sel(d.clone(), &["configuration/b/x", "items/a"]),
            json!({
                "configuration": {"@odata.type": "#c", "b": {"x": 1}},
                "items": [{"a": 1}, 3]
            })
        );
        assert_eq!(
            sel(d.clone(), &["configuration/a", "configuration"]),
            json!({"configuration": d["configuration"].clone()})
        );
    }

    #[test]
    fn long_paths_are_cut_to_the_limit() {
        // 17 levels of nesting; a path of 100,000 segments is read as its first 16.
        let mut d = json!({"x": 1, "y": 2});
        for _ in 0..16 {
            d = json!({"a": d, "b": 0});
        }
        let long = vec!["a"; 100_000].join("/");
        let out = sel(d.clone(), &[long.as_str()]);
        let mut inner = &out;
        for _ in 0..16 {
            assert_eq!(inner.as_object().unwrap().len(), 1);
            inner = &inner["a"];
        }
        assert_eq!(inner, &json!({"x": 1, "y": 2}), "kept whole below the 16th segment");
    }
}
