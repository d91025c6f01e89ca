//! Whole query strings: splitting, percent-decoding, every option; `$orderby` sorting and `$select`.

use proptest::prelude::*;
use rosterflow_odata::limits::{
    MAX_OPTION_LENGTH, MAX_ORDERBY_ITEMS, MAX_PATH_SEGMENTS, MAX_QUERY_LENGTH, MAX_SELECT_ITEMS,
};
use rosterflow_odata::{select_properties, QueryOptions};
use serde_json::Value;

use crate::strategies::{document, filter_soup};
use crate::{config, on_small_stack};

const NAMES: &[&str] = &[
    "$filter",
    "$orderby",
    "$select",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$search",
    "$expand",
    "%24filter",
    "%24TOP",
    "$Select",
    "resetSession",
    "",
    "$",
    "%",
    "%2",
    "%zz",
    "a+b",
    "%C3%A9",
    "%FF",
];

const VALUES: &[&str] = &[
    "",
    "1",
    "-1",
    "0",
    "99999999999999999999",
    "true",
    "TRUE",
    "maybe",
    "*",
    "a,b",
    "a/b/c",
    "a desc",
    "a asc,b desc",
    "a up",
    "a,,b",
    "length(a)",
    "ns.T/a",
    "%22displayName:x%22",
    "\"displayName:x\" AND \"mail:y\"",
    "\"a:b\" OR",
    "NOT \"a:b\"",
    "(\"a:b\"",
    "%2C",
    "%20",
    "+",
    "%",
    "%E2%82",
    "%F0%9F%98%80",
    "a eq 1",
    "a%20eq%20'x'",
    "abc%3D%3D",
];

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(VALUES).prop_map(String::from),
        2 => filter_soup(),
        1 => any::<String>(),
        1 => "[%0-9A-Fa-f+&=$ ,/*]{0,12}",
    ]
}

/// `name=value&...`, with the separators themselves sometimes missing or doubled.
fn query_string() -> impl Strategy<Value = String> {
    let pair = (proptest::sample::select(NAMES), component(), proptest::sample::select(&["=", "", "==", "=&"][..]))
        .prop_map(|(n, v, eq)| format!("{n}{eq}{v}"));
    (any::<bool>(), prop::collection::vec(pair, 0..6)).prop_map(|(q, pairs)| {
        let s = pairs.join("&");
        if q {
            format!("?{s}")
        } else {
            s
        }
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Any query string parses to options or to a `QueryError`, on a small stack.
    #[test]
    fn query_strings_parse_or_fail(q in query_string()) {
        let parsed = on_small_stack(move || QueryOptions::parse(&q).map(|o| o.referenced_properties().len()));
        if let Err(e) = parsed {
            prop_assert!(!e.message.is_empty());
        }
    }

    /// `$orderby` sorting of any documents never panics (a comparison that is not a total order can make the
    /// standard sort panic) and sorting sorted documents changes nothing. (That the comparison is a total
    /// order is a property test of its own, in `order.rs`.)
    #[test]
    fn sorting_never_panics(
        keys in prop::collection::vec((proptest::sample::select(&["a", "b", "count", "tags", "a/b", "displayName"][..]), any::<bool>()), 1..4),
        docs in prop::collection::vec(document(), 0..24),
    ) {
        let orderby: Vec<String> = keys.iter().map(|(k, d)| format!("{k}{}", if *d { " desc" } else { "" })).collect();
        let q = QueryOptions::parse(&format!("$orderby={}", orderby.join(","))).unwrap();
        let sorted = q.apply(docs);
        prop_assert_eq!(q.apply(sorted.clone()), sorted);
    }

    /// `$select` projection of any document by any paths never panics and never adds a property.
    #[test]
    fn select_never_panics(doc in document(), paths in prop::collection::vec("[a-z]{1,2}(/[a-z]{1,2}){0,20}|\\*|[a-z/ ]{0,5}", 0..6)) {
        let Value::Object(mut m) = doc.clone() else { unreachable!() };
        select_properties(&mut m, &paths);
        let before = doc.as_object().unwrap();
        prop_assert!(m.keys().all(|k| before.contains_key(k)));
    }
}

#[test]
fn limits_of_the_query_string_and_its_options() {
    let e = |q: &str| match QueryOptions::parse(q) {
        Ok(_) => panic!("no error for a query of {} bytes", q.len()),
        Err(e) => e.message,
    };
    let long = "a".repeat(MAX_QUERY_LENGTH + 1);
    assert!(e(&long).contains(&format!("the limit is {MAX_QUERY_LENGTH}")), "{}", e(&long));
    let filter = format!("$filter={}", vec!["a"; MAX_OPTION_LENGTH / 2 + 1].join("+"));
    assert!(e(&filter).contains(&format!("the limit is {MAX_OPTION_LENGTH}")), "{}", e(&filter));
    let select = |n: usize| format!("$select={}", vec!["a"; n].join(","));
    assert!(QueryOptions::parse(&select(MAX_SELECT_ITEMS)).is_ok());
    assert!(e(&select(MAX_SELECT_ITEMS + 1)).contains(&format!("the limit is {MAX_SELECT_ITEMS}")));
    let orderby = |n: usize| format!("$orderby={}", vec!["a desc"; n].join(","));
    assert!(QueryOptions::parse(&orderby(MAX_ORDERBY_ITEMS)).is_ok());
    assert!(e(&orderby(MAX_ORDERBY_ITEMS + 1)).contains(&format!("the limit is {MAX_ORDERBY_ITEMS}")));
    let path = |n: usize| vec!["a"; n].join("/");
    for option in ["$select", "$orderby"] {
        assert!(QueryOptions::parse(&format!("{option}={}", path(MAX_PATH_SEGMENTS))).is_ok());
        let message = e(&format!("{option}={}", path(MAX_PATH_SEGMENTS + 1)));
        assert!(message.contains(&format!("the limit is {MAX_PATH_SEGMENTS}")), "{message}");
    }
    assert!(QueryOptions::parse(&format!("$filter={}+eq+1", path(MAX_PATH_SEGMENTS))).is_ok());
    let message = e(&format!("$filter={}+eq+1", path(MAX_PATH_SEGMENTS + 1)));
    assert!(message.contains(&format!("the limit is {MAX_PATH_SEGMENTS}")), "{message}");
}
