//! Property tests of the model's parsers of untrusted input: request bodies (`document::check_entity`) and
//! `@odata.bind` values (`bind::parse`, `bind::split_key`). Whatever the input: no panic, no stack overflow,
//! and either a result or a `DomainError` whose status is a 4xx.
//!
//! Modest case counts in the normal test run; run longer with
//! `PROPTEST_CASES=10000 cargo test -p rosterflow-model --test properties`.

use proptest::prelude::*;
use proptest::test_runner::Config;
use rosterflow_model::bind;
use rosterflow_model::document::{check_entity, Mode};
use rosterflow_model::reference::{self, Catalog};
use rosterflow_model::schema::{schema, ElemType, TypeDef, NS};
use rosterflow_model::sets::{EntitySet, SETS};
use serde_json::{json, Map, Value};

fn config(cases: u32) -> Config {
    let mut c = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

/// Bodies are checked on the server's worker threads (tokio's default stack: 2 MiB). Here they run on a
/// quarter of that, in this unoptimized build, so a recursion that is not bounded crashes the test. (The
/// check recurses once per JSON level and serde_json stops at 128 levels; at 128 it needs more than 256 KiB
/// unoptimized, less than 512 KiB.)
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .expect("spawn a test thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn concrete_types(set: &EntitySet) -> Vec<&'static TypeDef> {
    schema().concrete_types_of(&set.item_type_name())
}

/// A plausible or nearly plausible value of a property of type `elem`: the right kind usually, a wrong one
/// sometimes, nested objects built from the schema a few levels down.
fn value_of(elem: ElemType, depth: u32) -> BoxedStrategy<Value> {
    let wrong = prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(12)),
        Just(json!("x")),
        Just(json!([])),
        Just(json!({})),
        Just(json!(1e300)),
        Just(json!(-9_223_372_036_854_775_808i64)),
    ];
    let right: BoxedStrategy<Value> = match elem {
        ElemType::String => prop_oneof![
            "[a-zA-Z0-9 ._-]{0,12}".prop_map(Value::String),
            Just(json!("https://example.com/x")),
            any::<String>().prop_map(Value::String),
            Just(Value::String("x".repeat(300))),
        ]
        .boxed(),
        ElemType::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        ElemType::Int32 => prop_oneof![any::<i32>().prop_map(Value::from), any::<i64>().prop_map(Value::from)].boxed(),
        ElemType::DateTimeOffset => prop_oneof![
            Just(json!("2024-03-05T02:12:29Z")),
            Just(json!("2024-03-05T02:12:29.1234567+05:30")),
            Just(json!("2024-13-45T99:99:99Z")),
            "[0-9T:Z+-]{0,20}".prop_map(Value::String),
        ]
        .boxed(),
        ElemType::Date => {
            prop_oneof![Just(json!("2022-09-01")), Just(json!("2022-02-30")), "[0-9-]{0,12}".prop_map(Value::String)]
                .boxed()
        }
        ElemType::Enum(name) => {
            let members: Vec<String> = schema().enum_type(&name).map(|e| e.members.clone()).unwrap_or_default();
            if members.is_empty() {
                Just(json!("unknown")).boxed()
            } else {
                prop_oneof![
                    3 => proptest::sample::select(members.clone()).prop_map(Value::String),
                    1 => proptest::sample::select(members).prop_map(|m| Value::String(m.to_uppercase())),
                    1 => Just(json!("notAMember")),
                ]
                .boxed()
            }
        }
        ElemType::Structured(name) if depth > 0 => object_of(&name, depth - 1),
        ElemType::Structured(_) => Just(json!({})).boxed(),
    };
    prop_oneof![6 => right, 1 => wrong].boxed()
}

/// An object of `base` or one of its concrete types: some of its properties, an `@odata.type` first, last or
/// missing, and `@odata.bind` values for navigation properties.
fn object_of(base: &str, depth: u32) -> BoxedStrategy<Value> {
    let types: Vec<&'static TypeDef> = schema().concrete_types_of(base);
    if types.is_empty() {
        return Just(json!({})).boxed();
    }
    proptest::sample::select(types)
        .prop_flat_map(move |ty| {
            let props: Vec<BoxedStrategy<Option<(String, Value)>>> = ty
                .props
                .iter()
                .map(|p| {
                    let name = p.name.clone();
                    let member = if p.navigation {
                        bind_value().prop_map(move |v| (format!("{name}@odata.bind"), Value::String(v))).boxed()
                    } else if p.collection {
                        prop::collection::vec(value_of(p.elem.clone(), depth), 0..3)
                            .prop_map(move |v| (name.clone(), Value::Array(v)))
                            .boxed()
                    } else {
                        value_of(p.elem.clone(), depth).prop_map(move |v| (name.clone(), v)).boxed()
                    };
                    proptest::option::weighted(0.6, member).boxed()
                })
                .collect();
            let annotation = format!("#{}", ty.name);
            (props, 0u8..3).prop_map(move |(members, placement)| {
                let mut m = Map::new();
                if placement == 0 {
                    m.insert("@odata.type".into(), Value::String(annotation.clone()));
                }
                m.extend(members.into_iter().flatten());
                if placement == 1 {
                    m.insert("@odata.type".into(), Value::String(annotation.clone()));
                }
                Value::Object(m)
            })
        })
        .boxed()
}

/// Generic JSON of every kind, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z@.]{0,12}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// `n` levels of `open`, a core, and the closes: far past serde_json's recursion limit of 128.
fn deep(open: &str, core: &str, close: &str, n: usize) -> Vec<u8> {
    format!("{{\"displayName\": {}{core}{}}}", open.repeat(n), close.repeat(n)).into_bytes()
}

fn body(set: &'static EntitySet) -> BoxedStrategy<Vec<u8>> {
    let base = set.item_type_name();
    prop_oneof![
        4 => object_of(&base, 3).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => any_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => "[{}\\[\\]\",: 0-9a-z@#.]{0,40}".prop_map(String::into_bytes),
        1 => (proptest::sample::select(vec![("[", "1", "]"), ("{\"a\":", "1", "}"), ("[{\"@odata.type\":\"#x\",\"a\":", "1", "}]")]), prop_oneof![100usize..140, 140usize..20_000])
            .prop_map(|((o, c, e), n)| deep(o, c, e, n)),
        1 => (1usize..20_000).prop_map(|n| {
            // wide: many members (duplicates included) and long arrays
            let members: Vec<String> = (0..n).map(|i| format!("\"p{}\": [{}]", i % 50, "1,".repeat(i % 7) + "1")).collect();
            format!("{{{}}}", members.join(",")).into_bytes()
        }),
    ]
    .boxed()
}

fn set_and_body() -> impl Strategy<Value = (&'static EntitySet, Vec<u8>, usize)> {
    proptest::sample::select(SETS.iter().collect::<Vec<_>>())
        .prop_flat_map(|set| (Just(set), body(set), any::<usize>()))
}

/// Every documented spelling of a bind to `(set, id)`.
fn spellings(set: &str, id: &str) -> Vec<String> {
    let quoted = id.replace('\'', "''");
    vec![
        format!("https://graph.microsoft.com/beta/external/industryData/{set}/{id}"),
        format!("https://graph.microsoft.com/v1.0/external/industryData/{set}('{quoted}')"),
        format!("external/industryData/{set}/{id}"),
        format!("/{set}('{quoted}')"),
        format!("{set}({quoted})"),
        format!("{set}/{id}"),
        format!("  /beta/external/industryData/{set}/{id}  "),
    ]
}

fn bind_value() -> impl Strategy<Value = String> {
    let sets: Vec<&'static str> = SETS.iter().map(|s| s.name).collect();
    prop_oneof![
        (proptest::sample::select(sets), "[a-zA-Z0-9-]{1,12}", 0usize..7)
            .prop_map(|(s, id, i)| spellings(s, &id)[i].clone()),
        any::<String>(),
        "[/:a-zA-Z()'.]{0,30}",
    ]
}

proptest! {
    #![proptest_config(config(192))]

    /// Any body for any set, to create or to update an item of any of its types: a checked document or a 4xx.
    #[test]
    fn bodies_are_checked_or_refused_with_a_4xx((set, body, pick) in set_and_body()) {
        let outcome = on_worker_stack(move || {
            let catalog = Catalog::new(&Vec::<Map<String, Value>>::new());
            let mut outcomes = vec![check_entity(set, &body, Mode::Create, &catalog).map(|_| ())];
            let types = concrete_types(set);
            if !types.is_empty() {
                let stored = &types[pick % types.len()].name;
                outcomes.push(check_entity(set, &body, Mode::Update { id: "x", stored_type: stored }, &catalog).map(|_| ()));
            }
            outcomes
        });
        for o in outcome {
            if let Err(e) = o {
                let status = e.kind.status();
                prop_assert!((400..500).contains(&status), "{} {}", status, e);
            }
        }
    }

    /// Any string: a bind or `None`, never a panic; `split_key` likewise.
    #[test]
    fn bind_values_never_panic(s in prop_oneof![any::<String>(), bind_value()]) {
        if let Some((set, id)) = bind::parse(&s) {
            prop_assert!(set.parent.is_none() && !id.is_empty());
        }
        let _ = bind::split_key(&s);
    }

    /// Every documented spelling of a generated (set, id) parses back to it.
    #[test]
    fn every_spelling_of_a_bind_parses_back(set in proptest::sample::select(SETS.iter().filter(|s| s.parent.is_none()).collect::<Vec<_>>()),
                                            id in "[a-zA-Z0-9_-]{1,16}|[a-z]{1,4}'[a-z]{1,4}") {
        for spelling in spellings(set.name, &id) {
            if id.contains('\'') && !spelling.contains('(') {
                continue; // a quote in a path segment is only spelled inside a key
            }
            let parsed = bind::parse(&spelling).map(|(s, i)| (s.name, i));
            prop_assert_eq!(parsed, Some((set.name, id.clone())), "{}", spelling);
        }
    }
}

#[test]
fn the_catalog_and_types_used_above_exist() {
    assert!(SETS.iter().filter(|s| s.writable()).all(|s| !concrete_types(s).is_empty()));
    assert!(reference::builtin_definitions().len() > 10);
    assert!(schema().ty(&format!("{NS}.provisioningFlow")).is_some());
}
