//! `$filter`: parsing hostile strings, the depth and size limits, printing and evaluation.

use proptest::prelude::*;
use rosterflow_odata::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_IN_ITEMS, MAX_OPTION_LENGTH};
use rosterflow_odata::{Expr, Filter};
use serde_json::Value;

use crate::strategies::{deep_filter, document, filter_soup, filter_tree, nest};
use crate::{config, on_small_stack};

/// Parses `s` on a small stack; when it parses, prints it, parses the print, evaluates it and drops it all
/// there too. Returns the parse result and, if it parsed, the reparse of its print.
fn exercise(s: String, doc: Value) -> (Result<Expr, String>, Option<Result<Expr, String>>) {
    on_small_stack(move || match Filter::parse(&s) {
        Ok(f) => {
            let _ = f.matches(&doc);
            let _ = f.referenced_properties();
            let printed = f.expr().to_string();
            let again = Filter::parse(&printed).map(|g| g.expr().clone()).map_err(|e| e.message);
            let cloned = f.expr().clone();
            assert_eq!(&cloned, f.expr());
            (Ok(cloned), Some(again))
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            (Err(e.message), None)
        }
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Token soup: never a panic; whatever parses prints to text that parses back to the same tree.
    #[test]
    fn soup_parses_or_fails_and_round_trips(s in filter_soup(), doc in document()) {
        let (parsed, again) = exercise(s.clone(), doc);
        if let (Ok(tree), Some(again)) = (parsed, again) {
            prop_assert_eq!(again, Ok(tree), "input {:?}", s);
        }
    }

    /// Generated trees within the limits: `parse(print(tree)) == tree`.
    #[test]
    fn printed_trees_parse_back(tree in filter_tree()) {
        let printed = tree.to_string();
        let parsed = Filter::parse(&printed).map(|f| f.expr().clone()).map_err(|e| e.message);
        prop_assert_eq!(parsed, Ok(tree), "printed {:?}", printed);
    }

    /// Evaluation over arbitrary documents never panics, and `not`, `and` and `or` mean what they say.
    #[test]
    fn matches_never_panics_and_is_boolean(tree in filter_tree(), other in filter_tree(), doc in document()) {
        let f = Filter::parse(&tree.to_string()).expect("a generated tree parses");
        let g = Filter::parse(&other.to_string()).expect("a generated tree parses");
        let (m, n) = (f.matches(&doc), g.matches(&doc));
        let not = Filter::parse(&format!("not ({tree})")).unwrap();
        prop_assert_eq!(not.matches(&doc), !m);
        let and = Filter::parse(&format!("({tree}) and ({other})")).unwrap();
        prop_assert_eq!(and.matches(&doc), m && n);
        let or = Filter::parse(&format!("({tree}) or ({other})")).unwrap();
        prop_assert_eq!(or.matches(&doc), m || n);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Deep and long inputs, far past every limit, on a small stack: parsed within the limits or refused with a
    /// message that names the limit, never a crash.
    #[test]
    fn deep_inputs_are_bounded(s in deep_filter(), doc in document()) {
        let len = s.len();
        let (parsed, again) = exercise(s, doc);
        match parsed {
            Ok(tree) => prop_assert_eq!(again, Some(Ok(tree))),
            Err(message) if len > MAX_OPTION_LENGTH => prop_assert!(message.contains("the limit is"), "{}", message),
            Err(_) => {}
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Each nesting construct is accepted up to the depth limit and refused, naming it, one level past it.
    #[test]
    fn depth_limit_is_exact(n in (MAX_FILTER_DEPTH - 3)..(MAX_FILTER_DEPTH + 3), shape in 0usize..5) {
        // (`not(` opens two levels; `isof(` holds no expression to nest; lambdas have a limit of their own.)
        let (open, core, close) = [
            ("(", "a", ")"),
            ("not ", "a", ""),
            ("startswith(", "a", ",'x')"),
            ("contains('x',", "a", ")"),
            ("(a or ", "b", ")"),
        ][shape];
        let s = nest(open, core, close, n);
        let parsed = on_small_stack(move || Filter::parse(&s).map(|_| ()).map_err(|e| e.message));
        if n <= MAX_FILTER_DEPTH {
            prop_assert_eq!(parsed, Ok(()));
        } else {
            let message = parsed.expect_err("past the depth limit");
            prop_assert!(
                message.contains(&format!("nested {} levels deep", MAX_FILTER_DEPTH + 1))
                    && message.contains(&format!("the limit is {MAX_FILTER_DEPTH}")),
                "{}", message
            );
        }
    }

    /// Chains: `or` operands and `in` values are accepted up to their limits and refused past them.
    #[test]
    fn size_limits_are_exact(extra in 0usize..3, past in any::<bool>()) {
        // `a or a or ...` is one Or node and k paths; `a in (1, ...)` holds k values.
        let k = |limit: usize| if past { limit + 1 } else { limit - extra };
        for (s, limit) in [
            (vec!["a"; k(MAX_FILTER_NODES - 1)].join(" or "), MAX_FILTER_NODES),
            (format!("a in ({})", vec!["1"; k(MAX_IN_ITEMS)].join(",")), MAX_IN_ITEMS),
        ] {
            match Filter::parse(&s) {
                Ok(_) => prop_assert!(!past, "no error past the limit of {}", limit),
                Err(e) => {
                    prop_assert!(past, "{}", e.message);
                    prop_assert!(e.message.contains(&format!("the limit is {limit}")), "{}", e.message);
                }
            }
        }
    }
}
