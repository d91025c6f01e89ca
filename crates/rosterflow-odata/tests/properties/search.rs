//! `$search`: hostile strings, limits, printing and matching.

use proptest::prelude::*;
use rosterflow_odata::limits::MAX_SEARCH_DEPTH;
use rosterflow_odata::{Search, SearchExpr};

use crate::strategies::{document, nest};
use crate::{config, on_small_stack};

fn clause() -> impl Strategy<Value = SearchExpr> {
    let property = prop_oneof![
        Just("displayName".to_string()),
        Just("description".to_string()),
        Just("mail".to_string()),
        Just("a/b".to_string()),
        "[A-Za-z_][A-Za-z0-9_]{0,6}",
    ];
    let text = prop_oneof![any::<String>(), "[a-zA-Z0-9 .\"\\\\:()-]{0,10}"]
        .prop_filter("something to search for", |t| !t.trim().is_empty());
    (property, text).prop_map(|(property, text)| SearchExpr::Clause { property, text })
}

fn tree() -> impl Strategy<Value = SearchExpr> {
    clause().prop_recursive(5, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(SearchExpr::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(SearchExpr::And),
            inner.prop_map(|e| SearchExpr::Not(Box::new(e))),
        ]
    })
}

const TOKENS: &[&str] = &[
    "\"displayName:room\"",
    "\"description:a b\"",
    "\"mail:x@y\"",
    "\"a:\\\"q\\\"\"",
    "\"a:\\\\\"",
    "\"pizza\"",
    "\"a:\"",
    "\"",
    "\\",
    "\\\"",
    "(",
    ")",
    " AND ",
    " and ",
    " OR ",
    " or ",
    "NOT ",
    "not ",
    " ",
    ":",
    "pizza",
    "\"李四:(David Li)\"",
    "%22",
    "+",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![10 => proptest::sample::select(TOKENS).prop_map(String::from), 1 => any::<String>()],
        0..16,
    )
    .prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config(256))]

    /// Hostile strings parse or fail, on a small stack; what parses prints back to itself.
    #[test]
    fn soup_parses_or_fails_and_round_trips(s in soup(), doc in document()) {
        let again = on_small_stack(move || match Search::parse(&s) {
            Ok(search) => {
                let _ = search.matches(&doc);
                Some((Search::parse(&search.to_string()).map_err(|e| e.message), search))
            }
            Err(e) => {
                assert!(!e.message.is_empty());
                None
            }
        });
        if let Some((again, search)) = again {
            prop_assert_eq!(again, Ok(search));
        }
    }

    /// Generated trees: `parse(print(tree)) == tree`, and matching any document never panics.
    #[test]
    fn printed_trees_parse_back(tree in tree(), doc in document()) {
        let printed = tree.to_string();
        let parsed = Search::parse(&printed).map_err(|e| e.message);
        prop_assert_eq!(parsed.as_ref().map(Search::expr), Ok(&tree), "printed {:?}", printed);
        let search = parsed.unwrap();
        let m = search.matches(&doc);
        let not = Search::parse(&format!("NOT ({printed})")).unwrap();
        prop_assert_eq!(not.matches(&doc), !m);
    }

    /// Nesting far past the limit is refused by name, on a small stack.
    #[test]
    fn deep_searches_are_bounded(n in 1usize..3000, shape in 0usize..3) {
        let (open, core, close) = [("(", "\"a:b\"", ")"), ("NOT ", "\"a:b\"", ""), ("NOT (", "\"a:b\"", ")")][shape];
        let s = nest(open, core, close, n);
        let parsed = on_small_stack(move || Search::parse(&s).map(|_| ()).map_err(|e| e.message));
        let levels = if shape == 2 { 2 * n } else { n };
        if levels <= MAX_SEARCH_DEPTH {
            prop_assert_eq!(parsed, Ok(()));
        } else {
            let message = parsed.expect_err("past the limit");
            prop_assert!(message.contains("the limit is"), "{}", message);
        }
    }
}
