//! `$orderby`: parsing (`path [asc|desc]`, comma-separated) and the stable sort.

use std::cmp::Ordering;

use serde_json::Value;

use crate::eval::{resolve, sort_cmp};
use crate::parse::validate_path;
use crate::QueryError;

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Property path as given, `/`-separated (e.g. `configuration/name`).
    pub property: String,
    /// `desc` was given (`asc` is the default).
    pub descending: bool,
}

/// Parses an already decoded `$orderby` value.
pub(crate) fn parse_orderby(value: &str) -> Result<Vec<OrderBy>, QueryError> {
    if value.trim().is_empty() {
        return Err(QueryError::new("The query option '$orderby' must not be empty."));
    }
    value
        .split(',')
        .map(|item| {
            let mut words = item.split_whitespace();
            let property =
                words.next().ok_or_else(|| QueryError::new("The query option '$orderby' contains an empty item."))?;
            validate_path("$orderby", property)?;
            let descending = match words.next() {
                None => false,
                Some(d) if d.eq_ignore_ascii_case("asc") => false,
                Some(d) if d.eq_ignore_ascii_case("desc") => true,
                Some(other) => {
                    return Err(QueryError::new(format!(
                        "Invalid $orderby item '{}': expected 'asc' or 'desc' after the property, found '{other}'.",
                        item.trim()
                    )))
                }
            };
            if let Some(extra) = words.next() {
                return Err(QueryError::new(format!("Invalid $orderby item '{}': unexpected '{extra}'.", item.trim())));
            }
            Ok(OrderBy { property: property.to_owned(), descending })
        })
        .collect()
}

/// Compares two documents by the `$orderby` keys (nulls first ascending, last descending).
pub(crate) fn compare_docs(keys: &[OrderBy], a: &Value, b: &Value) -> Ordering {
    for key in keys {
        let path: Vec<&str> = key.property.split('/').collect();
        let o = sort_cmp(resolve(a, &path), resolve(b, &path));
        let o = if key.descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(p: &str, d: bool) -> OrderBy {
        OrderBy { property: p.into(), descending: d }
    }

    #[test]
    fn parses_items() {
        assert_eq!(
            parse_orderby("displayName desc, createdDateTime asc,a/b ,c DESC").unwrap(),
            vec![ob("displayName", true), ob("createdDateTime", false), ob("a/b", false), ob("c", true)]
        );
    }

    #[test]
    fn rejects_bad_items() {
        let e = |s: &str| parse_orderby(s).unwrap_err().message;
        assert_eq!(e(""), "The query option '$orderby' must not be empty.");
        assert_eq!(e("a,,b"), "The query option '$orderby' contains an empty item.");
        assert_eq!(e("a up"), "Invalid $orderby item 'a up': expected 'asc' or 'desc' after the property, found 'up'.");
        assert_eq!(e("a desc x"), "Invalid $orderby item 'a desc x': unexpected 'x'.");
        assert!(e("length(a)").contains("not supported"));
    }
}
