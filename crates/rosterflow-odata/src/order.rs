//! `$orderby`: parsing (`path [asc|desc]`, comma-separated) and the stable sort.

use std::cmp::Ordering;

use serde_json::Value;

use crate::eval::{resolve, sort_cmp};
use crate::limits::{self, MAX_ORDERBY_ITEMS};
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
    let items = value.split(',').count();
    if items > MAX_ORDERBY_ITEMS {
        return Err(limits::too_many_items("$orderby", items, MAX_ORDERBY_ITEMS));
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
                        "Invalid $orderby item '{}': expected 'asc' or 'desc' after the property, found '{}'.",
                        limits::shorten(item.trim()),
                        limits::shorten(other)
                    )))
                }
            };
            if let Some(extra) = words.next() {
                return Err(QueryError::new(format!(
                    "Invalid $orderby item '{}': unexpected '{}'.",
                    limits::shorten(item.trim()),
                    limits::shorten(extra)
                )));
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

    mod total_order {
        use proptest::prelude::*;
        use serde_json::{json, Value};

        use super::super::sort_cmp;

        /// Values that stress the comparison: instants in several offsets next to strings that only look like
        /// them, integers next to the floats they round to, and every other kind.
        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (0i64..3).prop_map(|d| json!(9_007_199_254_740_992i64 + d)),
                (0i64..3).prop_map(|d| json!(9_007_199_254_740_992.0f64 + d as f64)),
                Just(json!(i64::MAX)),
                Just(json!(u64::MAX)),
                Just(json!(9.223372036854776e18)),
                Just(json!(-9.223372036854776e18)),
                Just(json!(i64::MIN)),
                any::<i64>().prop_map(Value::from),
                (-3.0f64..3.0).prop_map(Value::from),
                (0u32..6, 0u32..3).prop_map(|(h, z)| {
                    json!(format!("2024-01-01T0{h}:00:00{}", ["Z", "+05:00", "-03:00"][z as usize]))
                }),
                (0u32..6).prop_map(|h| json!(format!("2024-01-01T0{h}"))),
                "[aAbB0-9:T-]{0,6}".prop_map(Value::String),
                Just(json!([])),
                Just(json!({})),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            /// `$orderby`'s comparison is a total order: antisymmetric and transitive, so the standard sort
            /// never panics and never depends on the order of its input.
            #[test]
            fn sort_comparison_is_a_total_order(a in value(), b in value(), c in value()) {
                let cmp = |x: &Value, y: &Value| sort_cmp(Some(x), Some(y));
                prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
                if cmp(&a, &b).is_le() && cmp(&b, &c).is_le() {
                    prop_assert!(cmp(&a, &c).is_le(), "{} <= {} <= {} but not {} <= {}", a, b, c, a, c);
                }
            }

            #[test]
            fn sorting_never_panics(mut values in prop::collection::vec(value(), 0..40)) {
                values.sort_by(|x, y| sort_cmp(Some(x), Some(y)));
                prop_assert!(values.windows(2).all(|w| sort_cmp(Some(&w[0]), Some(&w[1])).is_le()));
            }
        }
    }
}
