use proptest::prelude::*;
use serde_json::json;

use super::*;

fn parse(body: serde_json::Value) -> Result<Vec<Item>, String> {
    batch(&Bytes::from(body.to_string())).map_err(|e| {
        assert_eq!(e.0.kind, ErrorKind::BadRequest);
        e.0.message
    })
}

fn get(id: &str) -> serde_json::Value {
    json!({"id": id, "method": "GET", "url": "/users"})
}

#[test]
fn the_docs_example_reads_as_written() {
    let items = parse(json!({"requests": [
        {"id": "1", "method": "GET", "url": "/me/memberOf"},
        {"id": "4", "url": "/users/161ab652/getPasswordSingleSignOnCredentials", "method": "POST", "body": {},
         "headers": {"Content-Type": "application/json"}},
        {"id": "5", "url": "users?$select=id,displayName&$filter=city eq null&$count=true", "method": "GET",
         "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "6", "dependsOn": ["4", "1"], "method": "delete", "url": "/groups/0e22"}
    ]}))
    .unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[1].body.as_deref(), Some(&b"{}"[..]));
    assert_eq!(items[2].headers, [("ConsistencyLevel".to_string(), "eventual".to_string())]);
    assert_eq!((items[3].method.clone(), items[3].depends_on.clone()), (Method::DELETE, vec![1, 0]));
}

#[test]
fn a_json_body_is_the_batchs_own_bytes_and_a_string_body_is_base64() {
    let text = r#"{"requests":[{"id":"a","method":"PATCH","url":"/x","headers":{"content-type":"application/json"},
        "body":{"displayName" : "Ünï","deep":[[[1]]]}},
        {"id":"b","method":"POST","url":"/x","headers":{"Content-Type":"image/png"},"body":"iVBORw0K+/8="},
        {"id":"c","method":"POST","url":"/x","headers":{"Content-Type":"image/png"},"body":"iVBORw0K-_8"}]}"#;
    let bytes = Bytes::from(text);
    let items = batch(&bytes).unwrap();
    let body = items[0].body.as_ref().unwrap();
    assert_eq!(&body[..], r#"{"displayName" : "Ünï","deep":[[[1]]]}"#.as_bytes());
    assert_eq!(body.as_ptr(), text[text.find("{\"displayName").unwrap()..].as_ptr(), "a slice, not a copy");
    let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a];
    assert_eq!(&items[1].body.as_ref().unwrap()[..6], png);
    assert_eq!(&items[2].body.as_ref().unwrap()[..6], png, "URL-safe, unpadded");
}

#[test]
fn malformed_batches_are_refused_whole_with_a_message_that_says_why() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!([1]), "must be a JSON object"),
        (json!({}), "no 'requests'"),
        (json!({"requests": {"id": "1"}}), "must be an array"),
        (json!({"requests": (0..21).map(|i| get(&i.to_string())).collect::<Vec<_>>()}), "at most 20"),
        (json!({"requests": [1]}), "position 1 is not a JSON object"),
        (json!({"requests": [{"method": "GET", "url": "/x"}]}), "no 'id'"),
        (json!({"requests": [{"id": 1, "method": "GET", "url": "/x"}]}), "no 'id'"),
        (json!({"requests": [{"id": "", "method": "GET", "url": "/x"}]}), "no 'id'"),
        (json!({"requests": [{"id": "x".repeat(257), "method": "GET", "url": "/x"}]}), "longer than 256"),
        (json!({"requests": [get("Ab"), get("aB")]}), "more than one request with id 'aB'"),
        (json!({"requests": [{"id": "1", "method": "FETCH", "url": "/x"}]}), "needs a 'method'"),
        (json!({"requests": [{"id": "1", "method": "GET"}]}), "needs a 'url'"),
        (json!({"requests": [{"id": "1", "method": "GET", "url": ""}]}), "needs a 'url'"),
        (
            json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/beta/users"}]}),
            "absolute",
        ),
        (json!({"requests": [{"id": "1", "method": "GET", "url": "//evil.test/beta/users"}]}), "absolute"),
        (
            json!({"requests": [{"id": "1", "method": "POST", "url": "/$Batch", "body": {},
            "headers": {"content-type": "application/json"}}]}),
            "batches can't be nested",
        ),
        (
            json!({"requests": [{"id": "1", "method": "POST", "url": "$batch?x=1", "body": {},
            "headers": {"content-type": "application/json"}}]}),
            "batches can't be nested",
        ),
        (json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "headers": ["a"]}]}), "'headers' that are not"),
        (json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "headers": {"a": {"b": 1}}}]}), "header 'a'"),
        (
            json!({"requests": [{"id": "1", "method": "POST", "url": "/x", "body": {}}]}),
            "Write request id : 1 does not contain Content-Type header or body.",
        ),
        (
            json!({"requests": [{"id": "1", "method": "PATCH", "url": "/x", "headers": {"Content-Type": "application/json"}}]}),
            "Write request id : 1 does not contain Content-Type header or body.",
        ),
        (
            json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "body": {"a": 1}}]}),
            "does not contain Content-Type",
        ),
        (
            json!({"requests": [{"id": "1", "method": "POST", "url": "/x", "headers": {"Content-Type": "image/png"},
            "body": "not base64!"}]}),
            "not base64",
        ),
        (json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "/x", "dependsOn": "1"}]}), "not an array"),
        (json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "/x", "dependsOn": [1]}]}), "not an array"),
        (
            json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "/x", "dependsOn": ["3"]}]}),
            "depends on '3'",
        ),
        (
            json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "dependsOn": ["2"]}, get("2")]}),
            "not a request before it",
        ),
        (
            json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "dependsOn": ["1"]}]}),
            "not a request before it",
        ),
    ];
    for (body, expected) in cases {
        let message = parse(body.clone()).expect_err(&body.to_string());
        assert!(message.contains(expected), "{body}: {message}");
    }
    let message = batch(&Bytes::from_static(br#"{"requests": [], "Requests": []}"#)).unwrap_err().0.message;
    assert!(message.contains("'requests' more than once"), "{message}");
    let message = batch(&Bytes::from_static(b"{\"requests\": [")).unwrap_err().0.message;
    assert!(message.contains("not valid JSON (line 1, column 14)"), "{message}");
}

#[test]
fn property_names_are_matched_without_case_and_the_python_sdks_depends_on_is_read() {
    let items = parse(json!({"Requests": [get("one"), {"ID": "two", "Method": "get", "URL": "x",
        "depends_on": ["ONE"], "atomicityGroup": "ignored"}, {"id": "three", "method": "GET", "url": "x",
        "DependsOn": [], "headers": null, "body": null}]}))
    .unwrap();
    assert_eq!(items[1].id, "two");
    assert_eq!(items[1].depends_on, [0]);
    assert!(items[2].depends_on.is_empty() && items[2].body.is_none());
    let message = parse(json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "x", "dependsOn": ["1"],
        "depends_on": ["1"]}]}))
    .unwrap_err();
    assert!(message.contains("more than once"), "{message}");
}

#[test]
fn bounds_hold_whatever_the_body_holds() {
    // 100,000 header fields: 101 kept (the request will answer 431), the rest skipped.
    let headers: serde_json::Map<String, serde_json::Value> =
        (0..100_000).map(|i| (format!("x-{i}"), json!("v"))).collect();
    let items = parse(json!({"requests": [{"id": "1", "method": "GET", "url": "x", "headers": headers}]})).unwrap();
    assert_eq!(items[0].headers.len(), MAX_HEADERS + 1);
    // Nesting 200,000 deep in values the batch skips or passes on costs no stack.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let text = format!(
        r#"{{"x":{deep},"requests":[{{"id":"1","method":"PUT","url":"x","headers":{{"content-type":"application/json"}},"body":{deep},"y":{deep}}}]}}"#
    );
    let items = batch(&Bytes::from(text)).unwrap();
    assert_eq!(items[0].body.as_ref().unwrap().len(), 400_000);
    // A dependsOn of 10,000 ids is refused without keeping them.
    let ids: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let message = parse(json!({"requests": [get("1"), {"id": "2", "method": "GET", "url": "x", "dependsOn": ids}]}));
    assert!(message.unwrap_err().contains("not an array"));
}

/// JSON values of any shape, as arbitrary as a hostile client's.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![Just("1".to_string()), Just("GET".to_string()), Just("/x".to_string()), ".{0,12}"]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let key = prop_oneof![
            Just("requests".to_string()),
            Just("id".to_string()),
            Just("method".to_string()),
            Just("url".to_string()),
            Just("headers".to_string()),
            Just("body".to_string()),
            Just("dependsOn".to_string()),
            Just("Content-Type".to_string()),
            ".{0,8}"
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = batch(&Bytes::from(bytes));
    }

    #[test]
    fn arbitrary_json_is_read_or_refused_with_a_400(value in any_json()) {
        if let Err(e) = batch(&Bytes::from(value.to_string())) {
            prop_assert_eq!(e.0.kind, ErrorKind::BadRequest);
        }
    }

    #[test]
    fn what_is_read_keeps_the_bounds(requests in prop::collection::vec(any_json(), 0..24)) {
        let value = json!({"requests": requests});
        if let Ok(items) = batch(&Bytes::from(value.to_string())) {
            prop_assert!(items.len() <= MAX_REQUESTS);
            for (n, item) in items.iter().enumerate() {
                prop_assert!(item.depends_on.iter().all(|&d| d < n));
                prop_assert!(!item.id.is_empty() && item.id.len() <= MAX_ID_BYTES);
                prop_assert!(item.headers.len() <= MAX_HEADERS + 1);
            }
        }
    }
}
