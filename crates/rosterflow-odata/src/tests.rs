//! Tests of the public API: query-string parsing, apply and select.

use super::*;
use serde_json::json;

fn q(s: &str) -> QueryOptions {
    QueryOptions::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn e(s: &str) -> String {
    QueryOptions::parse(s).expect_err(s).message
}

#[test]
fn empty_query() {
    assert_eq!(q(""), QueryOptions::default());
    assert_eq!(q("?"), QueryOptions::default());
}

#[test]
fn all_options() {
    let o = q("$top=5&$skip=10&$count=true&$select=id, displayName&$orderby=displayName desc&$skiptoken=abc%3D%3D&resetSession=true&$filter=a eq 1");
    assert_eq!(o.top, Some(5));
    assert_eq!(o.skip, Some(10));
    assert!(o.count);
    assert_eq!(o.select, Some(vec!["id".into(), "displayName".into()]));
    assert_eq!(o.orderby, vec![OrderBy { property: "displayName".into(), descending: true }]);
    assert_eq!(o.skiptoken.as_deref(), Some("abc=="));
    assert_eq!(o.params, vec![("resetSession".into(), "true".into())]);
    assert_eq!(o.filter.unwrap().as_str(), "a eq 1");
}

#[test]
fn percent_encoding_variants() {
    // Python SDK: everything encoded, including `$` and commas.
    let py = q("%24filter=displayName%20eq%20%27x%27&%24select=configuration%2CreadinessStatus&%24top=2");
    // Node SDK: raw `$` and commas, spaces as %20.
    let node = q("$filter=displayName%20eq%20'x'&$select=configuration,readinessStatus&$top=2");
    // Form encoding: `+` for spaces.
    let form = q("$filter=displayName+eq+%27x%27&$select=configuration,+readinessStatus&$top=2");
    assert_eq!(py, node);
    assert_eq!(py, form);
    assert_eq!(py.select, Some(vec!["configuration".into(), "readinessStatus".into()]));
    assert_eq!(py.filter.unwrap().as_str(), "displayName eq 'x'");
    // Literal plus in an offset must be %2B.
    let o = q("$filter=createdDateTime%20gt%202024-03-05T03:12:29%2B01:00");
    assert!(o.filter.unwrap().matches(&json!({"createdDateTime": "2024-03-05T02:12:30Z"})));
    assert!(e("$filter=createdDateTime gt 2024-03-05T03:12:29+01:00").contains("%2B"));
    // Encoded names of function parameters and values are decoded too.
    assert_eq!(q("reset%53ession=a%26b").params, vec![("resetSession".into(), "a&b".into())]);
}

#[test]
fn names_case_insensitive() {
    let o = q("$TOP=1&$Filter=a eq 1&%24SELECT=a&$OrderBy=a&$COUNT=TRUE&$SkipToken=t&$SKIP=0");
    assert_eq!(o.top, Some(1));
    assert_eq!(o.skip, Some(0));
    assert!(o.count);
    assert!(o.filter.is_some());
    assert_eq!(o.select, Some(vec!["a".into()]));
    assert_eq!(o.orderby.len(), 1);
    assert_eq!(o.skiptoken.as_deref(), Some("t"));
}

#[test]
fn unsupported_options() {
    for name in ["$expand", "$apply", "$compute", "$format", "$levels", "$deltatoken", "$foo"] {
        assert_eq!(e(&format!("{name}=x")), format!("The query option '{name}' is not supported."));
    }
    assert_eq!(e("%24EXPAND=x"), "The query option '$EXPAND' is not supported.");
}

#[test]
fn search_is_parsed_and_applied_with_the_filter() {
    let o = q("$search=%22displayName:al%22+OR+%22displayName:ga%22&$filter=n+ne+null&$orderby=id+desc");
    assert_eq!(o.search.as_ref().unwrap().to_string(), "\"displayName:al\" OR \"displayName:ga\"");
    assert_eq!(o.referenced_properties(), ["n", "id", "displayName"]);
    assert_eq!(ids(&o.apply(flows())), ["5", "2"]);
    assert!(e("$search=alpha").contains("each clause must be in double quotes"));
    assert!(e("$search=\"a:b\"&$SEARCH=\"a:b\"").contains("specified more than once"));
}

#[test]
fn duplicates() {
    assert_eq!(e("$top=1&%24TOP=2"), "The query option '$top' was specified more than once.");
    assert!(e("$filter=a&$filter=b").contains("'$filter' was specified more than once"));
    // non-$ parameters may repeat
    assert_eq!(q("a=1&a=2").params.len(), 2);
}

#[test]
fn value_errors() {
    assert_eq!(e("$top=-1"), "The value of the query option '$top' must be a non-negative integer, but was '-1'.");
    assert!(e("$top=").contains("non-negative integer, but was ''"));
    assert!(e("$skip=1.5").contains("'$skip' must be a non-negative integer"));
    assert!(e("$top=99999999999999999999999").contains("non-negative integer"));
    assert_eq!(e("$count=yes"), "The value of the query option '$count' must be 'true' or 'false', but was 'yes'.");
    assert!(!q("$count=false").count);
    assert_eq!(e("$filter="), "The query option '$filter' must not be empty.");
    assert_eq!(e("$select="), "The query option '$select' must not be empty.");
    assert_eq!(e("$select=a,,b"), "The query option '$select' contains an empty item.");
    assert!(e("$select=a($select=b)").contains("not supported"));
    assert!(e("$select=microsoft.graph.x/a").contains("type-cast segments are not supported"));
    assert_eq!(e("$skiptoken="), "The query option '$skiptoken' must not be empty.");
    assert!(e("$filter=endswith(a,'x')").contains("'endswith' is not supported"));
}

#[test]
fn select_star() {
    assert_eq!(q("$select=*").select, None);
    assert_eq!(q("$select=a,*").select, None);
    assert_eq!(q("$select=configuration/name").select, Some(vec!["configuration/name".into()]));
}

#[test]
fn referenced_properties() {
    let o = q("$filter=displayName eq 'x' and configuration/additionalOptions/createTeam&$orderby=displayName,createdDateTime desc&$select=id,displayName");
    assert_eq!(
        o.referenced_properties(),
        vec!["displayName", "configuration/additionalOptions/createTeam", "createdDateTime", "id"]
    );
    assert!(q("").referenced_properties().is_empty());
}

fn flows() -> Vec<Value> {
    vec![
        json!({"id": "1", "displayName": "beta", "n": 2, "created": "2024-01-02T00:00:00Z"}),
        json!({"id": "2", "displayName": "Alpha", "n": 10, "created": "2024-01-01T00:00:00Z"}),
        json!({"id": "3", "n": 2, "created": "2024-01-03T00:00:00+05:00"}),
        json!({"id": "4", "displayName": "alpha", "n": null}),
        json!({"id": "5", "displayName": "Gamma", "n": 1}),
    ]
}

fn ids(v: &[Value]) -> Vec<&str> {
    v.iter().map(|d| d["id"].as_str().unwrap()).collect()
}

#[test]
fn apply_filter_and_order() {
    let out = q("$filter=n ge 2 or displayName eq 'ALPHA'").apply(flows());
    assert_eq!(ids(&out), ["1", "2", "3", "4"]);

    // asc: nulls first, case-insensitive, stable for equal keys ("Alpha" before "alpha").
    let out = q("$orderby=displayName").apply(flows());
    assert_eq!(ids(&out), ["3", "2", "4", "1", "5"]);
    let out = q("$orderby=displayName desc").apply(flows());
    assert_eq!(ids(&out), ["5", "1", "2", "4", "3"]);

    // multiple keys
    let out = q("$orderby=n desc,displayName asc").apply(flows());
    assert_eq!(ids(&out), ["2", "3", "1", "5", "4"]);

    // datetime strings sort as instants (id 3 is 2024-01-02T19:00Z)
    let out = q("$filter=created ne null&$orderby=created").apply(flows());
    assert_eq!(ids(&out), ["2", "1", "3"]);

    // no options: unchanged
    assert_eq!(ids(&q("").apply(flows())), ["1", "2", "3", "4", "5"]);
    // apply does no paging
    assert_eq!(q("$top=1&$skip=1").apply(flows()).len(), 5);
}

#[test]
fn select_after_apply() {
    let o = q("$select=displayName&$filter=id eq '5'");
    let mut out = o.apply(flows());
    let Value::Object(m) = &mut out[0] else { panic!() };
    select_properties(m, o.select.as_deref().unwrap());
    assert_eq!(out[0], json!({"displayName": "Gamma"}));
}

#[test]
fn error_display() {
    let err = QueryOptions::parse("$expand=x").unwrap_err();
    assert_eq!(err.to_string(), "The query option '$expand' is not supported.");
}
