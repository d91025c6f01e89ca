//! outboundProvisioningFlowSets and their provisioningFlows over real HTTP: every operation's success path,
//! the seed example verbatim, PATCH semantics, and each class of bad input.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

const SETS: &str = "outboundProvisioningFlowSets";

fn flows(set: &str) -> String {
    format!("{SETS}/{set}/provisioningFlows")
}

#[tokio::test]
async fn seed_patch_verbatim_answers_204_and_get_returns_the_new_configuration() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let before = c.get(&format!("{}/{flow}", flows(&set))).await;
    before.expect(200);

    // The docs' casing (`OutboundProvisioningFlowSets`), the docs' body byte for byte.
    let path = format!("OutboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    let r = c.raw(Method::PATCH, &path, Some("application/json"), SEED_PATCH).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.text);
    assert!(r.text.is_empty());

    let after = c.get(&format!("{}/{flow}", flows(&set))).await;
    after.expect(200);
    assert_eq!(
        after.body["configuration"],
        json!({
            "additionalAttributes": ["courseTitle", "courseCode"],
            "additionalOptions": {"createTeam": false, "writeDisplayNameOnCreateOnly": false},
            "enrollmentMappings": {
                "memberEnrollmentMappings": [{"code": "substitute"}],
                "ownerEnrollmentMappings": [{"code": "teacher"}]
            }
        })
    );
    assert_eq!(after.body["@odata.type"], "#microsoft.graph.industryData.classGroupProvisioningFlow");
    assert_eq!(after.body["createdDateTime"], before.body["createdDateTime"]);
    let (old, new) =
        (before.body["lastModifiedDateTime"].as_str().unwrap(), after.body["lastModifiedDateTime"].as_str().unwrap());
    assert!(chrono::DateTime::parse_from_rfc3339(new).unwrap() > chrono::DateTime::parse_from_rfc3339(old).unwrap());
}

#[tokio::test]
async fn flow_sets_support_every_operation() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let empty = c.get(SETS).await;
    empty.expect(200);
    assert_eq!(empty.body["value"], json!([]));
    assert!(empty.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#external/industryData/outboundProvisioningFlowSets"));

    let created = c.post("OutboundProvisioningFlowSets", flow_set_body()).await;
    created.expect(201);
    let id = created.id();
    assert!(created.body["@odata.context"].as_str().unwrap().ends_with("/outboundProvisioningFlowSets/$entity"));
    assert_eq!(created.body["displayName"], "Outbound Provisioning Flow Test");
    assert_eq!(created.body["filter"]["@odata.type"], "#microsoft.graph.industryData.basicFilter");
    assert_eq!(created.body["filter"]["in"], json!(["Quarter", "Demo"]));
    assert!(created.body["createdDateTime"].is_string());
    assert_eq!(created.body["createdDateTime"], created.body["lastModifiedDateTime"]);
    assert!(created.body.get("@odata.type").is_none(), "the docs show sets without @odata.type");

    for path in [
        format!("{SETS}/{id}"),
        format!("{SETS}('{id}')"),
        format!("OUTBOUNDPROVISIONINGFLOWSETS/{}", id.to_uppercase()),
    ] {
        let got = c.get(&path).await;
        got.expect(200);
        assert_eq!(got.body["id"], id.as_str(), "{path}");
    }

    let patch = json!({"@odata.type": "#microsoft.graph.industryData.outboundProvisioningFlowSet", "displayName": "Outbound provisioning flow Updated"});
    assert_eq!(c.patch(&format!("{SETS}/{id}"), patch).await.status, 204);
    let got = c.get(&format!("{SETS}/{id}")).await;
    assert_eq!(got.body["displayName"], "Outbound provisioning flow Updated");
    assert_eq!(got.body["filter"]["in"], json!(["Quarter", "Demo"]), "absent properties keep their values");

    // Deleting a set deletes its flows.
    let flow = create_flow(&c, &id, security_group_flow_body()).await;
    assert_eq!(c.delete(&format!("{SETS}/{id}")).await.status, 204);
    c.get(&format!("{SETS}/{id}")).await.error(404);
    c.get(&format!("{}/{flow}", flows(&id))).await.error(404);
    c.delete(&format!("{SETS}/{id}")).await.error(404);
}

#[tokio::test]
async fn all_four_flow_types_round_trip_with_their_types() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let bodies = [class_group_flow_body(), security_group_flow_body(), admin_unit_flow_body(), user_flow_body()];
    let mut ids = Vec::new();
    for body in bodies {
        let r = c.post(&flows(&set), body.clone()).await;
        r.expect(201);
        assert_eq!(r.body["@odata.type"], body["@odata.type"]);
        assert_eq!(r.body["readinessStatus"], "notReady");
        assert!(r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with(&format!("outboundProvisioningFlowSets('{set}')/provisioningFlows/$entity")));
        ids.push(r.id());
    }
    let sg = c.get(&format!("{}/{}", flows(&set), ids[1])).await;
    assert_eq!(
        sg.body["creationOptions"],
        json!({"createBasedOnOrgPlusRoleGroup": false, "createBasedOnRoleGroup": true})
    );
    let au = c.get(&format!("{}/{}", flows(&set), ids[2])).await;
    assert_eq!(au.body["creationOptions"], json!({"createBasedOnOrg": true, "createBasedOnOrgPlusRoleGroup": true}));
    let cg = c.get(&format!("{}/{}", flows(&set), ids[0])).await;
    assert_eq!(
        cg.body["configuration"]["enrollmentMappings"]["ownerEnrollmentMappings"],
        json!([{"code": "teacher"}, {"code": "paraprofessional"}])
    );

    let user = c.get(&format!("{}/{}", flows(&set), ids[3])).await;
    user.expect(200);
    assert_eq!(user.body["createUnmatchedUsers"], true);
    assert_eq!(user.body["managementOptions"]["additionalOptions"]["studentAgeGroup"], "minor");
    let configs = user.body["creationOptions"]["configurations"].as_array().unwrap();
    assert_eq!(configs[0]["roleGroup"]["id"], "staff");
    assert_eq!(configs[1]["roleGroup"]["id"], "students");
    assert_eq!(
        configs[0]["defaultPasswordSettings"]["@odata.type"],
        "#microsoft.graph.industryData.simplePasswordSettings"
    );
    assert_eq!(configs[0]["defaultPasswordSettings"]["password"], "***************");
    assert!(!user.text.contains("Secret-123"), "passwords are never returned");

    let list = c.get(&format!("{}?$count=true", flows(&set))).await;
    list.expect(200);
    assert_eq!(list.body["@odata.count"], 4);
    let types: Vec<&str> =
        list.body["value"].as_array().unwrap().iter().map(|v| v["@odata.type"].as_str().unwrap()).collect();
    assert_eq!(types.len(), 4);
    assert!(types.iter().all(|t| t.starts_with("#microsoft.graph.industryData.") && t.ends_with("ProvisioningFlow")));

    let only_users = c.get(&format!("{}/microsoft.graph.industryData.userProvisioningFlow", flows(&set))).await;
    assert_eq!(only_users.body["value"].as_array().unwrap().len(), 1);

    // Each type at most once per set.
    let dup = c.post(&flows(&set), user_flow_body()).await;
    assert!(dup.error(409)["message"].as_str().unwrap().contains("userProvisioningFlow"));
    // ...but another set may have one.
    let other = create_set(&c).await;
    create_flow(&c, &other, user_flow_body()).await;

    for id in &ids {
        assert_eq!(c.delete(&format!("{}/{id}", flows(&set))).await.status, 204);
        c.get(&format!("{}/{id}", flows(&set))).await.error(404);
    }
}

#[tokio::test]
async fn patch_reads_the_body_as_graph_does() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let path = format!("{}/{flow}", flows(&set));
    let original = c.get(&path).await.body;

    // Only @odata.type (what the TypeScript SDK sends): a no-op.
    let r = c.patch(&path, json!({"@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow"})).await;
    assert_eq!(r.status, 204);
    assert_eq!(c.get(&path).await.body, original);

    // The Python SDK's round trip: id, @odata.context and other annotations are ignored; nested
    // @odata.type is optional; key order doesn't matter; \u escapes decode; codes match case-insensitively.
    let body = r##"{"id": "FLOW", "@odata.context": "http://x/$metadata#y/$entity", "@odata.etag": "W/1",
        "configuration": {"enrollmentMappings": {"ownerEnrollmentMappings": [{"code": "T\u0065ACHER"}],
        "memberEnrollmentMappings": []}, "additionalOptions": {"writeDisplayNameOnCreateOnly": true, "createTeam": true}},
        "@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow"}"##
        .replace("FLOW", &flow);
    let r = c.raw(Method::PATCH, &path, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = c.get(&path).await.body;
    assert_eq!(got["configuration"]["enrollmentMappings"]["ownerEnrollmentMappings"], json!([{"code": "teacher"}]));
    assert_eq!(
        got["configuration"]["additionalAttributes"],
        Value::Null,
        "a present complex property is replaced whole"
    );

    // The base type is accepted; another flow type, a different id, or a wrong nested type are not.
    assert_eq!(
        c.patch(&path, json!({"@odata.type": "microsoft.graph.industryData.provisioningFlow"})).await.status,
        204
    );
    for (body, field) in [
        (json!({"@odata.type": "#microsoft.graph.industryData.userProvisioningFlow"}), "@odata.type"),
        (json!({"id": "someone-else"}), "id"),
        (
            json!({"configuration": {"@odata.type": "#microsoft.graph.industryData.enrollmentMappings"}}),
            "configuration/@odata.type",
        ),
    ] {
        let r = c.patch(&path, body).await;
        assert_eq!(r.error(400)["target"], field, "{}", r.text);
    }
    let patched = c.get(&path).await.body;
    assert_eq!(patched["configuration"], got["configuration"], "failed PATCHes change nothing");

    let set_path = format!("{SETS}/{set}");
    let r =
        c.raw(Method::PATCH, &set_path, Some("application/json"), r#"{"displayName": "Caf\u00e9 \ud83c\udf4e"}"#).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(c.get(&set_path).await.body["displayName"], "Café 🍎");
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let flow_path = format!("{}/{flow}", flows(&set));
    let before = c.get(&flow_path).await.body;

    let class = |config: Value| json!({"@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow", "configuration": config});
    let good_config = || class_group_flow_body()["configuration"].clone();
    let with = |pointer: &str, value: Value| {
        let mut config = good_config();
        *config.pointer_mut(pointer).unwrap() = value;
        class(config)
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"bogus": 1}), "bogus"),
        (class(json!("not an object")), "configuration"),
        (with("/additionalAttributes", json!(["courseTitle", "shoeSize"])), "configuration/additionalAttributes/1"),
        (with("/additionalOptions/createTeam", json!("yes")), "configuration/additionalOptions/createTeam"),
        (
            with("/enrollmentMappings/ownerEnrollmentMappings", json!([{"code": "janitor"}])),
            "configuration/enrollmentMappings/ownerEnrollmentMappings/0/code",
        ),
        (
            with("/enrollmentMappings/memberEnrollmentMappings", json!([{"code": 7}])),
            "configuration/enrollmentMappings/memberEnrollmentMappings/0/code",
        ),
        (
            with("/enrollmentMappings/memberEnrollmentMappings", json!([{}])),
            "configuration/enrollmentMappings/memberEnrollmentMappings/0/code",
        ),
        (
            with("/enrollmentMappings/memberEnrollmentMappings", json!([null])),
            "configuration/enrollmentMappings/memberEnrollmentMappings/0",
        ),
        (
            with("/additionalOptions", json!({"createTeam": true, "color": "red"})),
            "configuration/additionalOptions/color",
        ),
        (class(json!(null)), "configuration"),
        (class(json!({"additionalAttributes": []})), "configuration/additionalOptions"),
        (
            json!({"readinessStatus": "ready", "createdDateTime": 5, "configuration": {"enrollmentMappings": {}, "additionalOptions": {}, "x": 1}}),
            "configuration/x",
        ),
    ];
    for (body, target) in cases {
        let r = c.patch(&flow_path, body.clone()).await;
        let e = r.error(400);
        assert_eq!(e["target"], target, "{body}: {}", r.text);
        assert!(e["message"].as_str().unwrap().contains(target.rsplit('/').next().unwrap()), "{}", r.text);
    }
    let r = c.patch(&format!("{SETS}/{set}"), json!({"displayName": "x".repeat(101)})).await;
    assert_eq!(r.error(400)["target"], "displayName");
    assert_eq!(c.patch(&format!("{SETS}/{set}"), json!({"displayName": "é".repeat(100)})).await.status, 204);
    let r = c.patch(&format!("{SETS}/{set}"), json!({"filter": {"@odata.type": "#microsoft.graph.industryData.basicFilter", "attribute": "schoolName", "in": []}})).await;
    assert_eq!(r.error(400)["target"], "filter/attribute");
    let r = c.patch(&format!("{SETS}/{set}"), json!({"filter": {"attribute": "orgExternalId", "in": []}})).await;
    assert_eq!(r.error(400)["target"], "filter/@odata.type", "filter is abstract");

    // User flow enums.
    let mut user = user_flow_body();
    user["managementOptions"]["additionalOptions"]["studentAgeGroup"] = json!("elder");
    let r = c.post(&flows(&set), user).await;
    assert_eq!(r.error(400)["target"], "managementOptions/additionalOptions/studentAgeGroup");
    let mut user = user_flow_body();
    user["creationOptions"]["configurations"][0]["roleGroup@odata.bind"] =
        json!("https://graph.microsoft.com/beta/external/industryData/roleGroups/parents");
    assert!(c.post(&flows(&set), user).await.error(400)["message"].as_str().unwrap().contains("parents"));

    // Create: type rules and required properties.
    for (body, target) in [
        (json!({"configuration": good_config()}), "@odata.type"),
        (json!({"@odata.type": "#microsoft.graph.industryData.provisioningFlow"}), "@odata.type"),
        (json!({"@odata.type": "#microsoft.graph.industryData.nope"}), "@odata.type"),
        (json!({"@odata.type": "#microsoft.graph.industryData.outboundProvisioningFlowSet"}), "@odata.type"),
        (json!({"@odata.type": "#microsoft.graph.industryData.securityGroupProvisioningFlow"}), "creationOptions"),
        (
            json!({"@odata.type": "#microsoft.graph.industryData.userProvisioningFlow", "createUnmatchedUsers": true}),
            "managementOptions",
        ),
    ] {
        let r = c.post(&flows(&set), body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}");
    }
    assert_eq!(c.post(SETS, json!({"filter": null})).await.error(400)["target"], "displayName");

    // Transport-level problems.
    let r = c.raw(Method::PATCH, &flow_path, Some("application/json"), "{\"configuration\": ").await;
    assert!(r.error(400)["message"].as_str().unwrap().contains("not valid JSON"));
    c.raw(Method::PATCH, &flow_path, Some("application/json"), "[1, 2]").await.error(400);
    c.raw(Method::PATCH, &flow_path, Some("application/json"), "").await.error(400);
    c.raw(Method::PATCH, &flow_path, Some("text/plain"), SEED_PATCH).await.error(415);
    c.raw(Method::PATCH, &flow_path, None, SEED_PATCH).await.error(415);
    let huge = format!("{{\"displayName\": \"{}\"}}", "x".repeat(5 * 1024 * 1024));
    c.raw(Method::PATCH, &format!("{SETS}/{set}"), Some("application/json"), huge).await.error(413);

    // Unknown ids, and a flow addressed through a set it doesn't belong to.
    let other = create_set(&c).await;
    c.get(&format!("{}/{flow}", flows(&other))).await.error(404);
    c.patch(&format!("{}/{flow}", flows(&other)), json!({})).await.error(404);
    c.get(&format!("{SETS}/00000000-0000-0000-0000-000000000000")).await.error(404);
    c.get(&format!("{}/x", flows("missing"))).await.error(404);
    c.post(&flows("missing"), class_group_flow_body()).await.error(404);
    // A body that no item could take is refused as such before the item or parent is looked up.
    let missing_flow = format!("{}/{flow}", flows(&other));
    let r = c.raw(Method::PATCH, &missing_flow, Some("application/json"), "{\"configuration\": ").await;
    assert!(r.error(400)["message"].as_str().unwrap().contains("not valid JSON"));
    c.raw(Method::PATCH, &missing_flow, Some("application/json"), "[1]").await.error(400);
    assert_eq!(c.post(&flows("missing"), json!({"configuration": {}})).await.error(400)["target"], "@odata.type");
    c.get("outboundProvisioningFlowSets/x/nonsense").await.error(404);
    c.send(Method::PUT, &flow_path, Some(&json!({}))).await.error(405);
    c.send(Method::GET, &format!("{flow_path}/reset"), None).await.error(405);

    assert_eq!(c.get(&flow_path).await.body, before, "nothing was half-written");
}

#[tokio::test]
async fn reset_answers_202_qualified_or_not() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, admin_unit_flow_body()).await;
    for op in ["reset", "microsoft.graph.industryData.reset"] {
        let r = c.send(Method::POST, &format!("{}/{flow}/{op}", flows(&set)), None).await;
        assert_eq!(r.status, 202, "{op}: {}", r.text);
        assert!(r.text.is_empty());
    }
    c.send(Method::POST, &format!("{}/nope/reset", flows(&set)), None).await.error(404);
    c.send(Method::POST, &format!("{}/{flow}/reset", flows(&set)), None).await.expect(202);
    server.as_(OUTBOUND_R).send(Method::POST, &format!("{}/{flow}/reset", flows(&set)), None).await.error(403);
}

#[tokio::test]
async fn collections_take_odata_query_options() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    for name in ["Charlie", "alpha", "Bravo"] {
        let r = c.post(SETS, json!({"displayName": name})).await;
        r.expect(201);
    }
    let names = |r: &Reply| -> Vec<String> {
        r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap().to_string()).collect()
    };

    let r = c.get(&format!("{SETS}?$orderby=displayName")).await;
    assert_eq!(names(&r), ["alpha", "Bravo", "Charlie"]);
    let r = c.get(&format!("{SETS}?$orderby=displayName%20desc&$top=2&$count=true")).await;
    assert_eq!(names(&r), ["Charlie", "Bravo"]);
    assert_eq!(r.body["@odata.count"], 3);
    let next = r.body["@odata.nextLink"].as_str().expect("a next link when more remain");
    let tail = c.get(next).await;
    let tail = if tail.status.is_success() { tail } else { c.get(&next[next.find("/beta").unwrap()..]).await };
    assert_eq!(names(&tail), ["alpha"]);
    assert!(tail.body.get("@odata.nextLink").is_none());
    let r = c.get(&format!("{SETS}?$skip=1&$orderby=displayName")).await;
    assert_eq!(names(&r), ["Bravo", "Charlie"]);

    let r = c
        .get(&format!(
            "{SETS}?$filter=startswith(displayName,'b')%20or%20displayName%20eq%20'ALPHA'&$orderby=displayName"
        ))
        .await;
    assert_eq!(names(&r), ["alpha", "Bravo"]);
    let r = c.get(&format!("{SETS}?%24filter=not%20contains(displayName%2C'a')")).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 0, "{}", r.text);
    let r = c.get(&format!("{SETS}?$select=displayName")).await;
    let first = r.body["value"][0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["displayName"]);

    let count = c.get(&format!("{SETS}/$count?$filter=displayName%20ne%20'alpha'")).await;
    assert_eq!(count.text, "2");
    assert!(count.header("content-type").unwrap().starts_with("text/plain"));

    let set = c.get(SETS).await.body["value"][0]["id"].as_str().unwrap().to_string();
    create_flow(&c, &set, user_flow_body()).await;
    create_flow(&c, &set, admin_unit_flow_body()).await;
    let r = c.get(&format!("{}?$filter=isof('microsoft.graph.industryData.userProvisioningFlow')", flows(&set))).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = c
        .get(&format!(
            "{}?$filter=readinessStatus%20eq%20'notReady'%20and%20createUnmatchedUsers%20eq%20true",
            flows(&set)
        ))
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = c.get(&format!("{SETS}/{set}?$select=id,filter")).await;
    assert_eq!(r.body.as_object().unwrap().keys().filter(|k| !k.starts_with('@')).count(), 2, "{}", r.text);

    for bad in [
        "$expand=provisioningFlows",
        "$search=x",
        "$search=%22displayName:x%22",
        "$filter=endswith(displayName,'a')",
        "$filter=shoeSize%20eq%201",
        "$orderby=nope",
        "$top=-1",
        "$count=maybe",
        "$filter=displayName%20eq",
        "$select=bogus",
    ] {
        let r = c.get(&format!("{SETS}?{bad}")).await;
        r.error(400);
    }
    c.get(&format!("{SETS}/{set}?$top=1")).await.error(400);
}

#[tokio::test]
async fn requests_need_a_valid_token_with_the_least_privilege() {
    let server = TestServer::start().await;
    let writer = server.as_(OUTBOUND_RW);
    let set = create_set(&writer).await;
    let flow = create_flow(&writer, &set, class_group_flow_body()).await;
    let flow_path = format!("{}/{flow}", flows(&set));

    let r = server.anonymous().get(SETS).await;
    r.error(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let garbage = Client { token: Some("not.a.jwt".into()), ..server.anonymous() };
    garbage.get(SETS).await.error(401);
    let forged_dir = temp_dir();
    let forged = Client { token: Some(token(&forged_dir, &server.tenant, OUTBOUND_RW)), ..server.anonymous() };
    forged.get(SETS).await.error(401);

    let reader = server.as_(OUTBOUND_R);
    reader.get(&flow_path).await.expect(200);
    reader.get(SETS).await.expect(200);
    reader.patch(&flow_path, serde_json::from_str(SEED_PATCH).unwrap()).await.error(403);
    reader.post(SETS, flow_set_body()).await.error(403);
    reader.delete(&flow_path).await.error(403);
    let stranger = server.as_("IndustryData-DataConnector.ReadWrite.All User.Read");
    let e = stranger.get(SETS).await;
    assert!(e.error(403)["message"].as_str().unwrap().contains(OUTBOUND_R));

    // Application permissions (`roles`) count the same as delegated ones.
    let roles = vec![OUTBOUND_RW.to_string()];
    let app_token = server.app_token(&roles);
    let app = Client { token: Some(app_token), ..server.anonymous() };
    assert_eq!(app.patch(&flow_path, serde_json::from_str(SEED_PATCH).unwrap()).await.status, 204);
}

#[tokio::test]
async fn another_tenants_ids_answer_404() {
    let server = TestServer::start().await;
    let ours = server.as_(OUTBOUND_RW);
    let set = create_set(&ours).await;
    let flow = create_flow(&ours, &set, class_group_flow_body()).await;
    let theirs = Client {
        token: Some(server.token_for(&format!("other-{}", server.tenant), OUTBOUND_RW)),
        ..server.anonymous()
    };
    assert_eq!(theirs.get(SETS).await.body["value"], json!([]));
    theirs.get(&format!("{SETS}/{set}")).await.error(404);
    theirs.get(&format!("{}/{flow}", flows(&set))).await.error(404);
    theirs.patch(&format!("{}/{flow}", flows(&set)), serde_json::from_str(SEED_PATCH).unwrap()).await.error(404);
    theirs.delete(&format!("{SETS}/{set}")).await.error(404);
    theirs.post(&flows(&set), user_flow_body()).await.error(404);
    ours.get(&format!("{}/{flow}", flows(&set))).await.expect(200);
}

#[tokio::test]
async fn request_ids_are_headers_and_client_request_id_is_echoed() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    let r = c
        .http
        .get(format!("{}{BASE}/{SETS}/nope", c.url))
        .bearer_auth(c.token.as_ref().unwrap())
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["client-request-id"], "abc-123");
    let request_id = r.headers()["request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");
    assert_eq!(body["error"]["innerError"]["request-id"], request_id.as_str());
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let ok = c.get(SETS).await;
    assert!(ok.header("request-id").is_some());
    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn every_error_response_uses_the_envelope() {
    let server = TestServer::start().await;
    let c = server.as_(OUTBOUND_RW);
    c.send(Method::POST, "/healthz", None).await.error(405);
    c.get("/v1.0/me").await.error(404);
    c.get("/beta/external/somethingElse").await.error(404);
    c.get("/BETA/EXTERNAL/INDUSTRYDATA/outboundProvisioningFlowSets").await.expect(200);
}
