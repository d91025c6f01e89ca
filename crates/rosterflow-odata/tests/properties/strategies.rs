//! Generators: valid `$filter` trees, token soup built from the grammar's own tokens, deep and long inputs,
//! and JSON documents whose property names overlap the ones the trees use.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use proptest::prelude::*;
use proptest::strategy::Union;
use rosterflow_odata::{CmpOp, Expr, LambdaKind, Literal};
use serde_json::{Map, Value};

/// Lambda variable names; property names never use them, so a path never reads as a variable.
const VARS: [&str; 3] = ["v", "w", "it1"];

/// Property names, some of them spelled like keywords (legal as names, in positions where no keyword is).
const NAMES: [&str; 12] =
    ["a", "b", "displayName", "tags", "count", "isValid", "eq", "and", "any", "in", "contains", "Ünï"];

/// Words that would not read as a property at the start of an operand.
fn reserved_first(s: &str) -> bool {
    ["not", "true", "false", "null"].iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&NAMES[..]).prop_map(String::from),
        1 => "[A-Za-z_][A-Za-z0-9_]{0,8}",
    ]
    .prop_filter("not a lambda variable", |s| !VARS.contains(&s.as_str()))
    // the lexer reads ASCII words only: keep the non-ASCII name out of generated paths
    .prop_filter("a word", |s| s.is_ascii())
}

/// A property path whose first segment reads as a property.
pub fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(name(), 1..4).prop_filter("first segment reads as a property", |p| !reserved_first(&p[0]))
}

pub fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        prop_oneof![any::<f64>(), -1e6f64..1e6].prop_filter("finite", |f| f.is_finite()).prop_map(Literal::Float),
        any::<String>().prop_map(Literal::Str),
        "[a-z' ]{0,6}".prop_map(Literal::Str),
        datetime().prop_map(Literal::DateTime),
        date().prop_map(Literal::Date),
    ]
}

fn datetime() -> impl Strategy<Value = DateTime<FixedOffset>> {
    // Years 0002..9998 so that no offset moves the local time out of four digits.
    (-62_104_000_000i64..253_370_000_000, 0u32..1_000_000_000, -1439i32..1440).prop_map(|(secs, nanos, mins)| {
        let tz = FixedOffset::east_opt(mins * 60).expect("offset within a day");
        tz.timestamp_opt(secs, nanos).single().expect("in range")
    })
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1i32..9999, 1u32..13, 1u32..29).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("a valid date"))
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    proptest::sample::select(&[CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le][..])
}

/// An operand of a comparison or function: any value expression, boolean or not.
fn value(depth: u32, scope: Vec<String>, lambdas: u32) -> BoxedStrategy<Expr> {
    let mut arms: Vec<BoxedStrategy<Expr>> = vec![
        literal().prop_map(Expr::Literal).boxed(),
        path().prop_map(Expr::Path).boxed(),
        boolean(depth, scope.clone(), lambdas),
    ];
    if !scope.is_empty() {
        arms.push(var(scope).boxed());
    }
    Union::new(arms).boxed()
}

fn var(scope: Vec<String>) -> impl Strategy<Value = Expr> {
    (proptest::sample::select(scope), prop::collection::vec(name(), 0..3))
        .prop_map(|(var, path)| Expr::Var { var, path })
}

/// A boolean-valued expression, as the parser requires at the top, around `and`/`or`/`not` and in lambdas.
/// `scope`: the lambda variables in scope; `lambdas`: how many lambdas enclose it.
pub fn boolean(depth: u32, scope: Vec<String>, lambdas: u32) -> BoxedStrategy<Expr> {
    let mut leaves: Vec<BoxedStrategy<Expr>> = vec![
        any::<bool>().prop_map(|b| Expr::Literal(Literal::Bool(b))).boxed(),
        path().prop_map(Expr::Path).boxed(),
        (proptest::option::of(path()), any::<String>())
            .prop_map(|(path, type_name)| Expr::IsOf { path, type_name })
            .boxed(),
        path()
            .prop_map(|collection| Expr::Lambda {
                kind: LambdaKind::Any,
                collection,
                var: String::new(),
                predicate: None,
            })
            .boxed(),
    ];
    if !scope.is_empty() {
        leaves.push(var(scope.clone()).boxed());
    }
    if depth == 0 {
        return Union::new(leaves).boxed();
    }
    let sub = || boolean(depth - 1, scope.clone(), lambdas);
    let val = || value(depth - 1, scope.clone(), lambdas);
    let mut arms = leaves;
    arms.extend([
        prop::collection::vec(sub(), 2..4).prop_map(Expr::Or).boxed(),
        prop::collection::vec(sub(), 2..4).prop_map(Expr::And).boxed(),
        sub().prop_map(|e| Expr::Not(Box::new(e))).boxed(),
        (val(), cmp_op(), val()).prop_map(|(a, op, b)| Expr::Compare(Box::new(a), op, Box::new(b))).boxed(),
        (val(), prop::collection::vec(literal(), 1..4)).prop_map(|(a, l)| Expr::In(Box::new(a), l)).boxed(),
        (val(), val()).prop_map(|(a, b)| Expr::StartsWith(Box::new(a), Box::new(b))).boxed(),
        (val(), val()).prop_map(|(a, b)| Expr::Contains(Box::new(a), Box::new(b))).boxed(),
    ]);
    if lambdas < rosterflow_odata::limits::MAX_LAMBDA_DEPTH as u32 {
        let (depth, scope) = (depth - 1, scope.clone());
        arms.push(
            (path(), proptest::sample::select(&VARS[..]), any::<bool>())
                .prop_flat_map(move |(collection, var, all)| {
                    let mut inner = scope.clone();
                    inner.push(var.to_string());
                    boolean(depth, inner, lambdas + 1).prop_map(move |p| Expr::Lambda {
                        kind: if all { LambdaKind::All } else { LambdaKind::Any },
                        collection: collection.clone(),
                        var: var.to_string(),
                        predicate: Some(Box::new(p)),
                    })
                })
                .boxed(),
        );
    }
    Union::new(arms).boxed()
}

/// A valid `$filter` tree, nested a few levels.
pub fn filter_tree() -> BoxedStrategy<Expr> {
    (0u32..4).prop_flat_map(|depth| boolean(depth, Vec::new(), 0)).boxed()
}

/// The grammar's own tokens, valid and not, to build strings that reach the parser's corners.
const FILTER_TOKENS: &[&str] = &[
    "(",
    ")",
    "(",
    ")",
    "not ",
    "NOT ",
    " and ",
    " or ",
    " Or ",
    "a",
    "b/c",
    "tags",
    "x",
    "x/y",
    "/",
    ":",
    ",",
    "'",
    "''",
    "'it''s'",
    "'é ü'",
    " eq ",
    " ne ",
    " gt ",
    " LE ",
    " in ",
    " in (",
    "1",
    "-2",
    "2.5",
    "1e3",
    "1e999",
    "-1e999",
    "9223372036854775808",
    "-9223372036854775809",
    "true",
    "false",
    "null",
    "2024-03-05T02:12:29Z",
    "2024-03-05T02:12+05:30",
    "2024-13-01",
    "2022-09-01",
    "0b3f3a1e-1111-2222-3333-444455556666",
    "ns.Enum'member'",
    "duration'P1D'",
    "startswith(",
    "contains(",
    "isof(",
    "isof('n.T')",
    "endswith(",
    "tags/any(",
    "tags/all(",
    "any(",
    "all(",
    "x:",
    "x: ",
    "/any()",
    "$it",
    "@p",
    "$filter=",
    " ",
    "  ",
    "\t",
    "%20",
    "%",
    "%2",
    "+",
    "é",
    "😀",
    "\u{0}",
    "[",
    "add ",
    " has ",
    ".",
    "-",
];

/// Strings near the grammar: tokens strung together at random, sequences shaped like `operand op operand
/// (and|or ...)`, and printed valid trees with a token spliced in or a slice cut out.
pub fn filter_soup() -> impl Strategy<Value = String> {
    let token = || {
        prop_oneof![
            10 => proptest::sample::select(FILTER_TOKENS).prop_map(String::from),
            1 => any::<String>(),
        ]
    };
    let operand = proptest::sample::select(FILTER_OPERANDS).prop_map(String::from);
    let operator = proptest::sample::select(FILTER_OPERATORS).prop_map(String::from);
    let shaped = (operand.clone(), prop::collection::vec((operator, operand), 0..6))
        .prop_map(|(first, rest)| rest.into_iter().fold(first, |acc, (op, x)| format!("{acc}{op}{x}")));
    let spliced = (filter_tree(), prop::collection::vec((any::<prop::sample::Index>(), token()), 1..3)).prop_map(
        |(tree, splices)| {
            let mut s = tree.to_string();
            for (at, t) in splices {
                let at = char_boundary(&s, at.index(s.len() + 1));
                s.insert_str(at, &t);
            }
            s
        },
    );
    let cut = (filter_tree(), any::<prop::sample::Index>(), 1usize..8).prop_map(|(tree, at, len)| {
        let s = tree.to_string();
        let from = char_boundary(&s, at.index(s.len() + 1));
        let to = char_boundary(&s, (from + len).min(s.len()));
        format!("{}{}", &s[..from], &s[to..])
    });
    prop_oneof![
        2 => prop::collection::vec(token(), 0..12).prop_map(|tokens| tokens.concat()),
        1 => prop::collection::vec(token(), 0..40).prop_map(|tokens| tokens.concat()),
        2 => shaped,
        2 => spliced,
        1 => cut,
    ]
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Operands and operators for strings shaped like expressions.
const FILTER_OPERANDS: &[&str] = &[
    "a",
    "b/c",
    "tags/any()",
    "tags/any(x:x eq 1)",
    "tags/all(x: x/y ne null)",
    "'s'",
    "'it''s'",
    "1",
    "-2",
    "2.5",
    "1e3",
    "1e999",
    "9223372036854775808",
    "true",
    "null",
    "2024-03-05T02:12:29Z",
    "2022-09-01",
    "0b3f3a1e-1111-2222-3333-444455556666",
    "ns.E'm'",
    "startswith(a,'x')",
    "contains(a, b)",
    "isof('n.T')",
    "isof(a,'n.T')",
    "(a)",
    "(1)",
    "not a",
    "NOT(a)",
    "not",
    "and",
    "x",
    "$it",
    "@p",
    "(",
    ")",
];
const FILTER_OPERATORS: &[&str] = &[
    " eq ",
    " ne ",
    " gt ",
    " ge ",
    " lt ",
    " le ",
    " and ",
    " or ",
    " AND ",
    " in (1, 'a') and ",
    " in ",
    " add ",
    " has ",
    ", ",
    " ",
    "/",
];

/// `open` repeated `n` times, then `core`, then `close` repeated `n` times.
pub fn nest(open: &str, core: &str, close: &str, n: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * n + core.len());
    for _ in 0..n {
        s.push_str(open);
    }
    s.push_str(core);
    for _ in 0..n {
        s.push_str(close);
    }
    s
}

/// Deeply nested or very long `$filter` expressions: each nesting construct, alone and mixed, from a few
/// levels to far past every limit.
pub fn deep_filter() -> impl Strategy<Value = String> {
    let shapes: &[(&str, &str, &str)] = &[
        ("(", "a", ")"),
        ("not ", "a", ""),
        ("not(", "a", ")"),
        ("startswith(", "a", ",'x')"),
        ("contains(a,", "'x'", ")"),
        ("tags/any(x:", "x eq 1", ")"),
        ("tags/all(x:(", "x", "))"),
        ("isof(", "'x'", ")"),
        ("(a or ", "b", ")"),
        ("a eq ", "1", ""),
        ("a in (1) eq ", "true", ""),
        ("(", "", ""),
        ("", "a", ")"),
        ("a and ", "b", ""),
    ];
    (proptest::sample::select(shapes), 1usize..6000).prop_map(|((open, core, close), n)| nest(open, core, close, n))
}

/// JSON documents with property names from [`NAMES`] and values of every kind, nested a few levels.
pub fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-zA-Z é'.-]{0,8}".prop_map(Value::String),
        datetime().prop_map(|d| Value::String(d.to_rfc3339())),
        date().prop_map(|d| Value::String(d.to_string())),
        any::<String>().prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((proptest::sample::select(&NAMES[..]), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    });
    prop::collection::vec((proptest::sample::select(&NAMES[..]), tree), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}
