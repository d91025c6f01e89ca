//! `@odata.bind` values: `https://graph.microsoft.com/beta/external/industryData/roleGroups/staff`,
//! `external/industryData/referenceDefinitions/RefIdentifierType-username`, `/sourceSystems('{id}')`,
//! `years/{id}`: any of those spellings names one entity of one set.

use crate::sets::{self, EntitySet};

/// The entity a bind value names, or `None` when it is not a path to an industryData entity.
pub fn parse(value: &str) -> Option<(&'static EntitySet, String)> {
    let mut rest = value.trim();
    if let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        rest = after.find('/').map_or("", |slash| &after[slash..]);
    }
    let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    for prefix in [&["beta", "v1.0"][..], &["external"], &["industryData"]] {
        if segments.first().is_some_and(|s| prefix.iter().any(|p| p.eq_ignore_ascii_case(s))) {
            segments.remove(0);
        }
    }
    let (set, id) = match segments.as_slice() {
        [set, id] => (sets::by_name(set)?, (*id).to_string()),
        [one] => {
            let (name, key) = split_key(one)?;
            (sets::by_name(name)?, key)
        }
        _ => return None,
    };
    (set.parent.is_none() && !id.is_empty()).then_some((set, id))
}

/// `name('key')` or `name(key)` → (`name`, `key`).
pub fn split_key(segment: &str) -> Option<(&str, String)> {
    let open = segment.find('(')?;
    let inner = segment[open + 1..].strip_suffix(')')?;
    let key = inner.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')).unwrap_or(inner);
    Some((&segment[..open], key.replace("''", "'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_documented_spelling() {
        for v in [
            "https://graph.microsoft.com/beta/external/industryData/roleGroups/staff",
            "https://graph.microsoft.com/beta/external/industryData/roleGroups('staff')",
            "external/industryData/roleGroups/staff",
            "/roleGroups('staff')",
            "roleGroups/staff",
        ] {
            let (set, id) = parse(v).unwrap_or_else(|| panic!("{v}"));
            assert_eq!((set.name, id.as_str()), ("roleGroups", "staff"), "{v}");
        }
        assert!(parse("https://graph.microsoft.com/beta/me").is_none());
        assert!(parse("provisioningFlows/x").is_none());
    }
}
