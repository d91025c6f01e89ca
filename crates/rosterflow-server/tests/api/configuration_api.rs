//! Everything beyond outbound provisioning, over real HTTP: dataConnectors, inboundFlows, sourceSystems, years,
//! referenceDefinitions, roleGroups, operations and runs. Each resource's documented examples, its navigation
//! paths, `@odata.bind` in every spelling, what deleting a bound entity does, write-only secrets, soft deletes of
//! reference codes, least privilege per resource family, OData options and tenant isolation.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

const GRAPH: &str = "https://graph.microsoft.com/beta/external/industryData";
const NS: &str = "microsoft.graph.industryData";

const SS_R: &str = "IndustryData-SourceSystem.Read.All";
const SS_RW: &str = "IndustryData-SourceSystem.ReadWrite.All";
const YEAR_R: &str = "IndustryData-TimePeriod.Read.All";
const YEAR_RW: &str = "IndustryData-TimePeriod.ReadWrite.All";
const CONN_R: &str = "IndustryData-DataConnector.Read.All";
const CONN_RW: &str = "IndustryData-DataConnector.ReadWrite.All";
const CONN_UPLOAD: &str = "IndustryData-DataConnector.Upload";
const FLOW_R: &str = "IndustryData-InboundFlow.Read.All";
const FLOW_RW: &str = "IndustryData-InboundFlow.ReadWrite.All";
const REF_R: &str = "IndustryData-ReferenceDefinition.Read.All";
const REF_RW: &str = "IndustryData-ReferenceDefinition.ReadWrite.All";
const BASIC: &str = "IndustryData.ReadBasic.All";
const RUN_R: &str = "IndustryData-Run.Read.All";
const RUN_START: &str = "IndustryData-Run.Start";

const SECRET: &str = "thisIsASecret";
const TOKEN_URL: &str = "https://login.microsoftonline.com/c27f982b-f7ee-4b8b-bb0e-3c55bd1dc02c/oauth2/token";
const MISSING: &str = "0b7e5c1a-1111-4a4a-9c9c-08daddab0000";

// ---- fixtures: the docs' own examples -----------------------------------------------------------------------

/// "Create sourceSystemDefinition", verbatim.
pub(crate) fn source_system_body() -> Value {
    json!({
        "displayName": "Rostering source",
        "userMatchingSettings": [
            {
                "matchTarget": {"code": "userPrincipalName"},
                "priorityOrder": 0,
                "roleGroup@odata.bind": format!("{GRAPH}/roleGroups/staff"),
                "sourceIdentifier": {"code": "username"}
            },
            {
                "matchTarget": {"code": "userPrincipalName"},
                "priorityOrder": 1,
                "roleGroup@odata.bind": format!("{GRAPH}/roleGroups('students')"),
                "sourceIdentifier": {"code": "username"}
            }
        ]
    })
}

/// "Create yearTimePeriodDefinition", verbatim.
pub(crate) fn year_body() -> Value {
    json!({"displayName": "Fiscal Year 2022", "endDate": "2023-06-15", "startDate": "2022-09-01", "year": {"code": "2022"}})
}

/// "Create azureDataLakeConnector", with this tenant's source system.
pub(crate) fn lake_body(source_system: &str) -> Value {
    json!({
        "@odata.type": format!("#{NS}.azureDataLakeConnector"),
        "displayName": "CSV connector",
        "sourceSystem@odata.bind": format!("{GRAPH}/sourceSystems('{source_system}')")
    })
}

/// "Create oneRosterApiDataConnector", with this tenant's source system.
pub(crate) fn one_roster_body(source_system: &str) -> Value {
    json!({
        "@odata.type": format!("#{NS}.oneRosterApiDataConnector"),
        "displayName": "Generic OAuth2 Connector",
        "sourceSystem@odata.bind": format!("{GRAPH}/sourceSystems('{source_system}')"),
        "apiFormat": "oneRoster",
        "baseUrl": "https://fakeProvider.net/ims/oneroster/v1p1",
        "apiVersion": "1.1",
        "credential": {
            "@odata.type": format!("#{NS}.oAuth2ClientCredential"),
            "displayName": "One Roster API Credentials",
            "clientId": "530be723-6af3-4952-8658-668fb2598ad7",
            "clientSecret": SECRET,
            "tokenUrl": TOKEN_URL,
            "scope": null
        },
        "isDemographicsEnabled": false,
        "isFlagsEnabled": false,
        "isContactsEnabled": false
    })
}

/// "Create inboundFileFlow" / "Create inboundApiFlow" (`kind`), bound to this tenant's connector and year.
pub(crate) fn flow_body(kind: &str, connector: &str, year: &str) -> Value {
    json!({
        "@odata.type": format!("#{NS}.{kind}"),
        "dataConnector@odata.bind": format!("{GRAPH}/dataConnectors/{connector}"),
        "dataDomain": "educationRostering",
        "displayName": "Inbound rostering flow",
        "effectiveDateTime": "2023-03-12T16:40:46.924769+05:30",
        "expirationDateTime": "2023-03-13T16:40:46.924769+05:30",
        "year@odata.bind": format!("{GRAPH}/years/{year}")
    })
}

/// "Create referenceDefinition", verbatim.
fn reference_definition_body() -> Value {
    json!({
        "@odata.type": format!("#{NS}.referenceDefinition"),
        "referenceType": "RefGradeLevel",
        "code": "TestGrade",
        "isDisabled": false,
        "sortIndex": 300,
        "displayName": "New Test Grade Level"
    })
}

pub(crate) fn definition(reference_type: &str, code: &str, sort_index: i64) -> Value {
    json!({"referenceType": reference_type, "code": code, "isDisabled": false, "sortIndex": sort_index})
}

async fn create(c: &Client, path: &str, body: Value) -> String {
    c.post(path, body).await.expect(201).id()
}

/// A source system, a lake connector on it, a year and an inbound file flow bound to both.
struct Chain {
    source_system: String,
    connector: String,
    year: String,
    flow: String,
}

async fn chain(c: &Client) -> Chain {
    let source_system = create(c, "sourceSystems", source_system_body()).await;
    let connector = create(c, "dataConnectors", lake_body(&source_system)).await;
    let year = create(c, "years", year_body()).await;
    let flow = create(c, "inboundFlows", flow_body("inboundFileFlow", &connector, &year)).await;
    Chain { source_system, connector, year, flow }
}

/// The body without `@odata.context` and `id`.
fn strip(v: &Value) -> Value {
    let mut m = v.as_object().unwrap().clone();
    m.remove("@odata.context");
    m.remove("id");
    Value::Object(m)
}

fn values(r: &Reply) -> &Vec<Value> {
    r.body["value"].as_array().unwrap_or_else(|| panic!("no value array in {}", r.text))
}

fn field<'a>(r: &'a Reply, name: &str) -> Vec<&'a str> {
    values(r).iter().map(|v| v[name].as_str().unwrap_or_default()).collect()
}

/// Follow an absolute `@odata.nextLink`.
async fn follow(c: &Client, next: &str) -> Reply {
    let at = next.find("/beta/").unwrap_or_else(|| panic!("next link {next}"));
    c.get(&next[at..]).await
}

fn message(e: &Value) -> &str {
    e["message"].as_str().unwrap()
}

// ---- sourceSystems ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn source_systems_round_trip_the_docs_example() {
    let server = TestServer::start().await;
    let c = server.as_(SS_RW);
    let created = c.post("sourceSystems", source_system_body()).await;
    created.expect(201);
    let id = created.id();
    assert!(created.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#external/industryData/sourceSystems/$entity"));
    assert!(created.body.get("@odata.type").is_none(), "the docs show source systems without @odata.type");
    assert_eq!(created.body["displayName"], "Rostering source");
    assert_eq!(created.body["vendor"], Value::Null);
    let settings = created.body["userMatchingSettings"].as_array().unwrap();
    assert_eq!(settings.len(), 2);
    for (i, (s, group)) in settings.iter().zip(["staff", "students"]).enumerate() {
        assert_eq!(s["priorityOrder"], i as i64);
        assert_eq!(s["sourceIdentifier"], json!({"code": "username"}));
        assert_eq!(s["matchTarget"], json!({"code": "userPrincipalName"}));
        assert_eq!(s["roleGroup"]["id"], group, "the bound role group is auto-expanded (CSDL)");
        assert!(s.get("roleGroup@odata.bind").is_none());
    }

    let got = c.get(&format!("sourceSystems/{id}")).await;
    got.expect(200);
    assert_eq!(strip(&got.body), strip(&created.body));
    let got = c.get(&format!("SourceSystems('{}')", id.to_uppercase())).await;
    assert_eq!(got.expect(200).body["id"], id.as_str());

    // The docs' PATCH: absent properties keep their values.
    assert_eq!(c.patch(&format!("sourceSystems/{id}"), json!({"vendor": "LMS Vendor"})).await.status, 204);
    let got = c.get(&format!("sourceSystems/{id}")).await;
    assert_eq!(got.body["vendor"], "LMS Vendor");
    assert_eq!(got.body["displayName"], "Rostering source");
    assert_eq!(got.body["userMatchingSettings"], created.body["userMatchingSettings"]);

    let list = c.get("sourceSystems").await;
    list.expect(200);
    assert!(list.body["@odata.context"].as_str().unwrap().ends_with("$metadata#external/industryData/sourceSystems"));
    assert_eq!(values(&list).len(), 1);
    assert!(values(&list)[0].get("@odata.type").is_none());

    assert_eq!(c.delete(&format!("sourceSystems/{id}")).await.status, 204);
    c.get(&format!("sourceSystems/{id}")).await.error(404);
    c.delete(&format!("sourceSystems/{id}")).await.error(404);
    c.patch(&format!("sourceSystems/{id}"), json!({"vendor": "x"})).await.error(404);
    assert_eq!(values(&c.get("sourceSystems").await).len(), 0);
}

#[tokio::test]
async fn user_matching_settings_take_codes_or_definition_binds_and_are_checked() {
    let server = TestServer::start().await;
    let c = server.as_(SS_RW);
    // sourceIdentifier as a bind to a reference definition (relative and absolute), codes in any case.
    let body = json!({
        "displayName": "Bound identifiers",
        "userMatchingSettings": [
            {"matchTarget": {"code": "USERPRINCIPALNAME"}, "priorityOrder": 0,
             "roleGroup@odata.bind": "roleGroups/staff",
             "sourceIdentifier": {"value@odata.bind": "external/industryData/referenceDefinitions/RefIdentifierType-username"}},
            {"matchTarget": {"value@odata.bind": format!("{GRAPH}/referenceDefinitions('RefUserMatchTarget-mail')")},
             "priorityOrder": 1, "roleGroup@odata.bind": "/roleGroups('students')",
             "sourceIdentifier": {"@odata.type": format!("#{NS}.identifierTypeReferenceValue"), "code": "SourcedId"}}
        ]
    });
    let r = c.post("sourceSystems", body).await;
    r.expect(201);
    let s = &r.body["userMatchingSettings"];
    assert_eq!(s[0]["sourceIdentifier"], json!({"code": "username"}));
    assert_eq!(s[0]["matchTarget"], json!({"code": "userPrincipalName"}));
    assert_eq!(s[1]["matchTarget"], json!({"code": "mail"}));
    assert_eq!(s[1]["sourceIdentifier"], json!({"code": "sourcedId"}));
    assert_eq!(s[1]["roleGroup"]["id"], "students");
    assert!(!r.text.contains("value@odata.bind"), "binds are reduced to codes: {}", r.text);

    let good = || source_system_body()["userMatchingSettings"][0].clone();
    let with = |key: &str, value: Value| {
        let mut setting = good();
        if value.is_null() {
            setting.as_object_mut().unwrap().remove(key);
        } else {
            setting[key] = value;
        }
        json!({"displayName": "Bad", "userMatchingSettings": [setting]})
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(
                "sourceIdentifier",
                json!({"value@odata.bind": "external/industryData/referenceDefinitions/RefUserMatchTarget-mail"}),
            ),
            "userMatchingSettings/0/sourceIdentifier/value@odata.bind",
        ),
        (with("matchTarget", json!({"code": "shoeSize"})), "userMatchingSettings/0/matchTarget/code"),
        (
            with("sourceIdentifier", json!({"code": "userPrincipalName"})),
            "userMatchingSettings/0/sourceIdentifier/code",
        ),
        (with("sourceIdentifier", Value::Null), "userMatchingSettings/0/sourceIdentifier"),
        (with("roleGroup@odata.bind", Value::Null), "userMatchingSettings/0/roleGroup"),
        (with("roleGroup@odata.bind", json!(format!("{GRAPH}/years/x"))), "userMatchingSettings/0/roleGroup"),
        (with("priorityOrder", json!("first")), "userMatchingSettings/0/priorityOrder"),
        (json!({"displayName": "x".repeat(101)}), "displayName"),
        (json!({"displayName": "ok", "vendor": "v".repeat(101)}), "vendor"),
        (json!({"vendor": "no name"}), "displayName"),
        (json!({"displayName": "ok", "userMatchingSettings": {"matchTarget": null}}), "userMatchingSettings"),
        (json!({"displayName": "ok", "color": "red"}), "color"),
    ];
    for (body, target) in cases {
        let r = c.post("sourceSystems", body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    // A role group that doesn't exist is named.
    let r = c.post("sourceSystems", with("roleGroup@odata.bind", json!(format!("{GRAPH}/roleGroups/parents")))).await;
    let e = r.error(400);
    assert!(message(e).contains("parents"), "{}", r.text);
    assert_eq!(e["target"], "userMatchingSettings/0/roleGroup");
    assert_eq!(c.post("sourceSystems", json!({"displayName": "é".repeat(100)})).await.status, 201);
    assert_eq!(values(&c.get("sourceSystems").await).len(), 2, "failed creates leave nothing behind");
}

#[tokio::test]
async fn an_omitted_priority_order_is_computed_not_null() {
    // CSDL: userMatchingSetting/priorityOrder is Nullable="false" with Core.ComputedDefaultValue: the client may
    // leave it out and the server supplies it. It must never come back null.
    let server = TestServer::start().await;
    let c = server.as_(SS_RW);
    let mut body = source_system_body();
    for s in body["userMatchingSettings"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("priorityOrder");
    }
    let r = c.post("sourceSystems", body).await;
    r.expect(201);
    for s in r.body["userMatchingSettings"].as_array().unwrap() {
        assert!(s["priorityOrder"].is_i64(), "priorityOrder must be an Int32: {}", r.text);
    }
}

// ---- years -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn years_round_trip_the_docs_example_and_check_the_year_code() {
    let server = TestServer::start().await;
    let c = server.as_(YEAR_RW);
    let created = c.post("years", year_body()).await;
    created.expect(201);
    let id = created.id();
    assert!(created.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#external/industryData/years/$entity"));
    assert_eq!(strip(&created.body), year_body(), "{}", created.text);
    let got = c.get(&format!("years/{id}")).await;
    assert_eq!(strip(&got.expect(200).body), year_body());

    // The docs' PATCH carries the id in the body.
    let r = c.patch(&format!("years/{id}"), json!({"displayName": "Fiscal Year 2022", "id": id})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = c.patch(&format!("years/{id}"), json!({"displayName": "FY22", "endDate": "2023-06-30"})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = c.get(&format!("years/{id}")).await.body;
    assert_eq!((got["displayName"].as_str(), got["endDate"].as_str()), (Some("FY22"), Some("2023-06-30")));
    assert_eq!(got["year"], json!({"code": "2022"}));
    assert_eq!(got["startDate"], "2022-09-01");

    // A year bound by reference definition.
    let mut bound = year_body();
    bound["year"] = json!({"value@odata.bind": format!("{GRAPH}/referenceDefinitions/RefAcademicYear-2023")});
    let r = c.post("years", bound).await;
    assert_eq!(r.expect(201).body["year"], json!({"code": "2023"}));

    let with = |key: &str, value: Value| {
        let mut body = year_body();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    for (body, target) in [
        (with("year", json!({"code": "1999"})), "year/code"),
        (with("year", json!({"code": 2022})), "year/code"),
        (with("year", json!({"code": "22"})), "year/code"),
        (with("year", json!({"value@odata.bind": "referenceDefinitions/RefGradeLevel-01"})), "year/value@odata.bind"),
        (with("year", Value::Null), "year"),
        (with("startDate", json!("2022-9-1")), "startDate"),
        (with("endDate", json!("2023-02-30")), "endDate"),
        (with("endDate", json!("2023-06-15T00:00:00Z")), "endDate"),
        (with("endDate", Value::Null), "endDate"),
        (with("displayName", Value::Null), "displayName"),
        (with("displayName", json!("y".repeat(101))), "displayName"),
    ] {
        let r = c.post("years", body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    let r = c.patch(&format!("years/{id}"), json!({"id": "someone-else"})).await;
    assert_eq!(r.error(400)["target"], "id");
    let r = c.patch(&format!("years/{id}"), json!({"year": {"code": "2100"}})).await;
    assert_eq!(r.error(400)["target"], "year/code");

    let list = c.get("years").await;
    assert_eq!(values(&list).len(), 2);
    assert!(values(&list).iter().all(|v| v.get("@odata.type").is_none()));
    assert_eq!(c.delete(&format!("years/{id}")).await.status, 204);
    c.get(&format!("years/{id}")).await.error(404);
}

// ---- dataConnectors ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn azure_data_lake_connectors_bind_a_source_system() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let created = c.post("dataConnectors", lake_body(&ss)).await;
    created.expect(201);
    let id = created.id();
    assert!(created.body["@odata.context"].as_str().unwrap().ends_with("external/industryData/dataConnectors/$entity"));
    assert_eq!(created.body["@odata.type"], format!("#{NS}.azureDataLakeConnector"));
    assert_eq!(created.body["displayName"], "CSV connector");
    assert!(created.body.get("sourceSystem@odata.bind").is_none());

    // fileFormat: codes and their aliases, canonically.
    let mut body = lake_body(&ss);
    body["fileFormat"] = json!({"code": "schoolDataSyncV2.1"});
    let r = c.post("dataConnectors", body).await;
    assert_eq!(r.expect(201).body["fileFormat"], json!({"code": "schoolDataSyncV2Rev1"}));
    let with_format = r.id();
    let r =
        c.patch(&format!("dataConnectors/{with_format}"), json!({"fileFormat": {"code": "SCHOOLDATASYNCV1"}})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        c.get(&format!("dataConnectors/{with_format}")).await.body["fileFormat"],
        json!({"code": "schoolDataSyncV1"})
    );

    // The docs' PATCH: the type without '#'.
    let patch = json!({"@odata.type": format!("{NS}.azureDataLakeConnector"), "displayName": "API Monitor 60201009"});
    assert_eq!(c.patch(&format!("dataConnectors/{id}"), patch).await.status, 204);
    let got = c.get(&format!("dataConnectors/{id}")).await;
    got.expect(200);
    assert_eq!(got.body["displayName"], "API Monitor 60201009");
    assert_eq!(got.body["@odata.type"], format!("#{NS}.azureDataLakeConnector"));
    assert!(got.body.get("value").is_none(), "a single entity is returned bare");

    // The bound source system through the connector.
    let alias = c.get(&format!("dataConnectors/{id}/sourceSystem")).await;
    alias.expect(200);
    assert_eq!(alias.body["id"], ss.as_str());
    assert_eq!(alias.body["displayName"], "Rostering source");
    assert!(alias.body["@odata.context"].as_str().unwrap().ends_with("external/industryData/sourceSystems/$entity"));
    // ...which follows a rebind.
    let other = create(&c, "sourceSystems", json!({"displayName": "Other source"})).await;
    let r = c
        .patch(&format!("dataConnectors/{id}"), json!({"sourceSystem@odata.bind": format!("sourceSystems/{other}")}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(c.get(&format!("dataConnectors/{id}/sourceSystem")).await.body["id"], other.as_str());

    let bad: Vec<(Value, &str)> = vec![
        (json!({"@odata.type": format!("#{NS}.azureDataLakeConnector"), "displayName": "no source"}), "sourceSystem"),
        (json!({"displayName": "untyped", "sourceSystem@odata.bind": format!("sourceSystems/{ss}")}), "@odata.type"),
        (
            json!({"@odata.type": format!("#{NS}.industryDataConnector"), "displayName": "abstract", "sourceSystem@odata.bind": format!("sourceSystems/{ss}")}),
            "@odata.type",
        ),
        (
            json!({"@odata.type": format!("#{NS}.fileDataConnector"), "displayName": "abstract", "sourceSystem@odata.bind": format!("sourceSystems/{ss}")}),
            "@odata.type",
        ),
        (
            json!({"@odata.type": format!("#{NS}.inboundFileFlow"), "displayName": "wrong set", "sourceSystem@odata.bind": format!("sourceSystems/{ss}")}),
            "@odata.type",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["fileFormat"] = json!({"code": "csv"});
                b
            },
            "fileFormat/code",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["sourceSystem@odata.bind"] = json!(format!("{GRAPH}/years/{ss}"));
                b
            },
            "sourceSystem",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["sourceSystem@odata.bind"] = json!(42);
                b
            },
            "sourceSystem",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["sourceSystem"] = json!({"id": ss});
                b
            },
            "sourceSystem",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["displayName"] = json!("c".repeat(101));
                b
            },
            "displayName",
        ),
        (
            {
                let mut b = lake_body(&ss);
                b["apiVersion"] = json!("1.1");
                b
            },
            "apiVersion",
        ),
    ];
    for (body, target) in bad {
        let r = c.post("dataConnectors", body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    let r = c
        .post("dataConnectors", json!({"@odata.type": format!("#{NS}.azureDataLakeConnector"), "displayName": "x"}))
        .await;
    assert!(message(r.error(400)).contains("sourceSystem@odata.bind"), "{}", r.text);
    // A missing source system is named.
    let r = c.post("dataConnectors", lake_body(MISSING)).await;
    assert!(message(r.error(400)).contains(MISSING), "{}", r.text);
    let r = c
        .patch(&format!("dataConnectors/{id}"), json!({"@odata.type": format!("#{NS}.oneRosterApiDataConnector")}))
        .await;
    assert_eq!(r.error(400)["target"], "@odata.type");

    let list = c.get("dataConnectors").await;
    assert_eq!(values(&list).len(), 2, "{}", list.text);
    assert!(field(&list, "@odata.type").iter().all(|t| *t == format!("#{NS}.azureDataLakeConnector")));
    assert_eq!(c.delete(&format!("dataConnectors/{id}")).await.status, 204);
    c.get(&format!("dataConnectors/{id}")).await.error(404);
    c.get(&format!("dataConnectors/{id}/sourceSystem")).await.error(404);
}

#[tokio::test]
async fn one_roster_connectors_never_return_the_client_secret() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let created = c.post("dataConnectors", one_roster_body(&ss)).await;
    created.expect(201);
    let id = created.id();
    let expected = json!({
        "@odata.type": format!("#{NS}.oneRosterApiDataConnector"),
        "displayName": "Generic OAuth2 Connector",
        "apiFormat": "oneRoster",
        "baseUrl": "https://fakeProvider.net/ims/oneroster/v1p1",
        "apiVersion": "1.1",
        "isDemographicsEnabled": false,
        "isFlagsEnabled": false,
        "isContactsEnabled": false,
        "credential": {
            "@odata.type": format!("#{NS}.oAuth2ClientCredential"),
            "displayName": "One Roster API Credentials",
            "isValid": false,
            "lastValidDateTime": null,
            "clientId": "530be723-6af3-4952-8658-668fb2598ad7",
            "tokenUrl": TOKEN_URL,
            "scope": null
        }
    });
    assert_eq!(strip(&created.body), expected, "{}", created.text);
    assert!(!created.text.contains(SECRET) && !created.text.contains("clientSecret"), "{}", created.text);

    let got = c.get(&format!("dataConnectors/{id}")).await;
    assert_eq!(strip(&got.expect(200).body), expected);
    for path in [
        "dataConnectors".to_string(),
        format!("dataConnectors/{id}?$select=credential"),
        "dataConnectors?$select=id,credential".to_string(),
        format!("dataConnectors/{NS}.oneRosterApiDataConnector"),
    ] {
        let r = c.get(&path).await;
        r.expect(200);
        assert!(r.text.contains("One Roster API Credentials"), "{path}: {}", r.text);
        assert!(!r.text.contains(SECRET) && !r.text.contains("clientSecret"), "{path}: {}", r.text);
    }
    // Not even as an oracle through $filter.
    let r = c.get("dataConnectors?$filter=credential/clientSecret%20eq%20'thisIsASecret'").await;
    if r.status.is_success() {
        assert_eq!(values(&r).len(), 0, "{}", r.text);
    } else {
        r.error(400);
    }

    // Validity is server-computed: a client can't claim it.
    let mut body = one_roster_body(&ss);
    body["credential"]["isValid"] = json!(true);
    body["credential"]["lastValidDateTime"] = json!("2024-01-01T00:00:00Z");
    let r = c.post("dataConnectors", body).await;
    r.expect(201);
    assert_eq!(r.body["credential"]["isValid"], false);
    assert_eq!(r.body["credential"]["lastValidDateTime"], Value::Null);

    // OAuth 1.
    let mut body = one_roster_body(&ss);
    body["credential"] = json!({"@odata.type": format!("#{NS}.oAuth1ClientCredential"), "displayName": "OAuth1",
        "clientId": "key", "clientSecret": "oauth1-secret-value"});
    let r = c.post("dataConnectors", body).await;
    r.expect(201);
    assert_eq!(
        r.body["credential"],
        json!({"@odata.type": format!("#{NS}.oAuth1ClientCredential"), "displayName": "OAuth1", "isValid": false,
            "lastValidDateTime": null, "clientId": "key"})
    );
    let all = c.get("dataConnectors").await;
    assert_eq!(values(&all).len(), 3);
    assert!(!all.text.contains("oauth1-secret-value") && !all.text.contains(SECRET), "{}", all.text);

    // A PATCH of other properties keeps the credential (and its secret, unseen).
    let r = c.patch(&format!("dataConnectors/{id}"), json!({"isFlagsEnabled": true, "apiVersion": "1.2"})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = c.get(&format!("dataConnectors/{id}")).await;
    assert_eq!(got.body["isFlagsEnabled"], true);
    assert_eq!(got.body["apiVersion"], "1.2");
    assert_eq!(got.body["credential"], expected["credential"]);
    assert!(!got.text.contains(SECRET));
}

#[tokio::test]
async fn one_roster_connector_bodies_are_checked() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = one_roster_body(&ss);
        f(&mut b);
        b
    };
    let remove = |key: &'static str| {
        move |b: &mut Value| {
            b.as_object_mut().unwrap().remove(key);
        }
    };
    let remove_cred = |key: &'static str| {
        move |b: &mut Value| {
            b["credential"].as_object_mut().unwrap().remove(key);
        }
    };
    let cases: Vec<(Value, &str)> = vec![
        (edit(&remove("apiVersion")), "apiVersion"),
        (edit(&remove("baseUrl")), "baseUrl"),
        (edit(&remove("apiFormat")), "apiFormat"),
        (edit(&remove("credential")), "credential"),
        (edit(&remove("isContactsEnabled")), "isContactsEnabled"),
        (edit(&remove("sourceSystem@odata.bind")), "sourceSystem"),
        (edit(&|b| b["apiFormat"] = json!("csv")), "apiFormat"),
        (edit(&|b| b["baseUrl"] = json!("fakeProvider.net/ims/oneroster")), "baseUrl"),
        (edit(&|b| b["isFlagsEnabled"] = json!("no")), "isFlagsEnabled"),
        (edit(&|b| b["credential"] = json!(null)), "credential"),
        (edit(&remove_cred("@odata.type")), "credential/@odata.type"),
        (
            edit(&|b| b["credential"]["@odata.type"] = json!(format!("#{NS}.oAuthClientCredential"))),
            "credential/@odata.type",
        ),
        (edit(&|b| b["credential"]["@odata.type"] = json!(format!("#{NS}.basicFilter"))), "credential/@odata.type"),
        (edit(&remove_cred("tokenUrl")), "credential/tokenUrl"),
        (edit(&|b| b["credential"]["tokenUrl"] = json!("not a url")), "credential/tokenUrl"),
        (edit(&remove_cred("clientId")), "credential/clientId"),
        (edit(&remove_cred("displayName")), "credential/displayName"),
        (edit(&|b| b["credential"]["password"] = json!("x")), "credential/password"),
        (edit(&|b| b["fileFormat"] = json!({"code": "schoolDataSyncV1"})), "fileFormat"),
        (edit(&|b| b["eTag"] = json!("1")), "eTag"),
    ];
    for (body, target) in cases {
        let r = c.post("dataConnectors", body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    assert_eq!(values(&c.get("dataConnectors").await).len(), 0, "nothing was created");
    let id = create(&c, "dataConnectors", one_roster_body(&ss)).await;
    let r = c.patch(&format!("dataConnectors/{id}"), json!({"baseUrl": "ftp://example.com"})).await;
    assert_eq!(r.error(400)["target"], "baseUrl");
    let r =
        c.patch(&format!("dataConnectors/{id}"), json!({"@odata.type": format!("#{NS}.azureDataLakeConnector")})).await;
    assert_eq!(r.error(400)["target"], "@odata.type");
    // The base types are accepted in a PATCH.
    for base in ["apiDataConnector", "industryDataConnector"] {
        let r = c
            .patch(
                &format!("dataConnectors/{id}"),
                json!({"@odata.type": format!("#{NS}.{base}"), "displayName": base}),
            )
            .await;
        assert_eq!(r.status, 204, "{base}: {}", r.text);
    }
    assert_eq!(c.get(&format!("dataConnectors/{id}")).await.body["displayName"], "industryDataConnector");
}

#[tokio::test]
async fn replacing_a_credential_resets_its_validity() {
    // credential/isValid is Nullable="false" and Core.Computed: a new credential has not been validated, so it
    // reads false, exactly as on create; it never reads null.
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let id = create(&c, "dataConnectors", one_roster_body(&ss)).await;
    let credential = json!({"@odata.type": format!("#{NS}.oAuth2ClientCredential"), "displayName": "Rotated",
        "clientId": "new-client", "clientSecret": "rotated-secret", "tokenUrl": TOKEN_URL, "scope": "roster.readonly"});
    let r = c.patch(&format!("dataConnectors/{id}"), json!({"credential": credential})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = c.get(&format!("dataConnectors/{id}")).await;
    assert!(!got.text.contains("rotated-secret"));
    assert_eq!(
        got.body["credential"],
        json!({"@odata.type": format!("#{NS}.oAuth2ClientCredential"), "displayName": "Rotated", "isValid": false,
            "lastValidDateTime": null, "clientId": "new-client", "tokenUrl": TOKEN_URL, "scope": "roster.readonly"}),
        "{}",
        got.text
    );
}

// ---- inboundFlows ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn inbound_flows_round_trip_with_times_in_utc() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let connector = create(&c, "dataConnectors", lake_body(&ss)).await;
    let year = create(&c, "years", year_body()).await;
    let mut ids = Vec::new();
    for kind in ["inboundFileFlow", "inboundApiFlow"] {
        let r = c.post("InboundFlows", flow_body(kind, &connector, &year)).await;
        r.expect(201);
        assert!(r.body["@odata.context"].as_str().unwrap().ends_with("external/industryData/inboundFlows/$entity"));
        assert_eq!(
            strip(&r.body),
            json!({
                "@odata.type": format!("#{NS}.{kind}"),
                "dataDomain": "educationRostering",
                "displayName": "Inbound rostering flow",
                "effectiveDateTime": "2023-03-12T11:10:46.924769Z",
                "expirationDateTime": "2023-03-13T11:10:46.924769Z",
                // Computed (docs/runs.md): the flow's window ended in 2023.
                "readinessStatus": "expired"
            }),
            "{}",
            r.text
        );
        ids.push(r.id());
    }
    let (file, api) = (&ids[0], &ids[1]);
    let got = c.get(&format!("inboundFlows/{file}")).await;
    assert_eq!(got.expect(200).body["effectiveDateTime"], "2023-03-12T11:10:46.924769Z");
    assert!(got.body.get("value").is_none(), "a single entity is returned bare");
    let list = c.get("inboundFlows?$count=true").await;
    assert_eq!(list.body["@odata.count"], 2);
    let mut types = field(&list, "@odata.type");
    types.sort_unstable();
    assert_eq!(types, [format!("#{NS}.inboundApiFlow"), format!("#{NS}.inboundFileFlow")]);
    let only_api = c.get(&format!("inboundFlows/{NS}.inboundApiFlow")).await;
    assert_eq!(field(&only_api, "id"), [api.as_str()]);

    // The docs' PATCH names the base type; other offsets and precisions normalise too.
    let patch = json!({"@odata.type": format!("#{NS}.inboundFlow"), "displayName": "My Inbound Flow",
        "effectiveDateTime": "2023-03-12T23:30:00-02:00", "expirationDateTime": "2023-03-14T00:00:00.1234567+01:00",
        "readinessStatus": "failed"});
    assert_eq!(c.patch(&format!("inboundFlows/{file}"), patch).await.status, 204);
    let got = c.get(&format!("inboundFlows/{file}")).await.body;
    assert_eq!(got["displayName"], "My Inbound Flow");
    assert_eq!(got["effectiveDateTime"], "2023-03-13T01:30:00Z");
    assert_eq!(got["expirationDateTime"], "2023-03-13T23:00:00.123456Z");
    // Computed (docs/runs.md, "Readiness"): a body can't set it, and the docs' window ended in 2023.
    assert_eq!(got["readinessStatus"], "expired", "readinessStatus is computed; a body can't set it");
    assert_eq!(got["@odata.type"], format!("#{NS}.inboundFileFlow"));
    // expirationDateTime is optional (nullable); effectiveDateTime is not.
    assert_eq!(c.patch(&format!("inboundFlows/{file}"), json!({"expirationDateTime": null})).await.status, 204);
    assert_eq!(c.get(&format!("inboundFlows/{file}")).await.body["expirationDateTime"], Value::Null);
    let r = c.patch(&format!("inboundFlows/{file}"), json!({"effectiveDateTime": null})).await;
    assert_eq!(r.error(400)["target"], "effectiveDateTime");
    let r = c.patch(&format!("inboundFlows/{file}"), json!({"@odata.type": format!("#{NS}.inboundApiFlow")})).await;
    assert_eq!(r.error(400)["target"], "@odata.type");
    // The docs' older PATCH example has a trailing comma: not JSON.
    let r = c
        .raw(
            Method::PATCH,
            &format!("inboundFlows/{file}"),
            Some("application/json"),
            format!("{{\"@odata.type\":\"#{NS}.inboundFileFlow\",\"displayName\":\"Updated flow name\",}}"),
        )
        .await;
    r.error(400);

    assert_eq!(c.delete(&format!("inboundFlows/{api}")).await.status, 204);
    c.get(&format!("inboundFlows/{api}")).await.error(404);
    assert_eq!(field(&c.get("inboundFlows").await, "id"), [file.as_str()]);
}

#[tokio::test]
async fn inbound_flow_bodies_are_checked() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let connector = create(&c, "dataConnectors", lake_body(&ss)).await;
    let year = create(&c, "years", year_body()).await;
    let good = || flow_body("inboundFileFlow", &connector, &year);
    let with = |key: &str, value: Value| {
        let mut b = good();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(key);
        } else {
            b[key] = value;
        }
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("dataDomain", json!("finance")), "dataDomain"),
        (with("dataDomain", Value::Null), "dataDomain"),
        (with("effectiveDateTime", json!("2023-03-12T16:40:46")), "effectiveDateTime"),
        (with("effectiveDateTime", json!("yesterday")), "effectiveDateTime"),
        (with("effectiveDateTime", Value::Null), "effectiveDateTime"),
        (with("expirationDateTime", json!(1678630846)), "expirationDateTime"),
        (with("displayName", Value::Null), "displayName"),
        (with("displayName", json!("f".repeat(101))), "displayName"),
        (with("year@odata.bind", Value::Null), "year"),
        (with("dataConnector@odata.bind", Value::Null), "dataConnector"),
        (with("dataConnector@odata.bind", json!(format!("{GRAPH}/years/{year}"))), "dataConnector"),
        (with("dataConnector@odata.bind", json!("https://graph.microsoft.com/beta/me")), "dataConnector"),
        (with("year@odata.bind", json!(format!("sourceSystems/{ss}"))), "year"),
        (with("@odata.type", json!(format!("#{NS}.inboundFlow"))), "@odata.type"),
        (with("@odata.type", Value::Null), "@odata.type"),
        (with("sourceSystem@odata.bind", json!(format!("sourceSystems/{ss}"))), "sourceSystem"),
        (with("dataConnector", json!({"id": connector})), "dataConnector"),
    ];
    for (body, target) in cases {
        let r = c.post("inboundFlows", body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    assert_eq!(values(&c.get("inboundFlows").await).len(), 0, "nothing was created");
    // readinessStatus is computed: a client's value is ignored (this flow's window ended in 2023).
    let r = c.post("inboundFlows", with("readinessStatus", json!("notReady"))).await;
    assert_eq!(r.expect(201).body["readinessStatus"], "expired");
}

#[tokio::test]
async fn binds_take_every_spelling_and_name_what_is_missing() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let connector = create(&c, "dataConnectors", lake_body(&ss)).await;
    let year = create(&c, "years", year_body()).await;
    let spellings = [
        (format!("{GRAPH}/dataConnectors/{connector}"), format!("{GRAPH}/years/{year}")),
        (format!("{GRAPH}/dataConnectors('{connector}')"), format!("{GRAPH}/years('{year}')")),
        (format!("dataConnectors/{connector}"), format!("years/{year}")),
        (format!("/dataConnectors('{connector}')"), format!("/years('{year}')")),
        (
            format!("external/industryData/dataConnectors/{}", connector.to_uppercase()),
            format!("/beta/external/industryData/Years/{year}"),
        ),
    ];
    for (conn_bind, year_bind) in spellings {
        let mut body = flow_body("inboundApiFlow", &connector, &year);
        body["dataConnector@odata.bind"] = json!(conn_bind);
        body["year@odata.bind"] = json!(year_bind);
        let r = c.post("inboundFlows", body).await;
        assert_eq!(r.status, 201, "{conn_bind} / {year_bind}: {}", r.text);
        let flow = r.id();
        let y = c.get(&format!("inboundFlows/{flow}/year")).await;
        assert_eq!(y.expect(200).body["id"], year.as_str(), "{year_bind}");
        let d = c.get(&format!("inboundFlows/{flow}/dataConnector")).await;
        assert_eq!(
            d.expect(200).body["id"].as_str().map(str::to_ascii_lowercase),
            Some(connector.clone()),
            "{conn_bind}"
        );
    }

    // Absent in this tenant: 400 naming the id.
    let r = c.post("inboundFlows", flow_body("inboundFileFlow", MISSING, &year)).await;
    assert!(message(r.error(400)).contains(MISSING), "{}", r.text);
    let r = c.post("inboundFlows", flow_body("inboundFileFlow", &connector, MISSING)).await;
    assert!(message(r.error(400)).contains(MISSING), "{}", r.text);
    let r = c.post("dataConnectors", lake_body(MISSING)).await;
    assert!(message(r.error(400)).contains(MISSING), "{}", r.text);
    // A year id is not a connector id.
    let r = c.post("inboundFlows", flow_body("inboundFileFlow", &year, &year)).await;
    assert!(message(r.error(400)).contains(&year), "{}", r.text);
    let flows = c.get("inboundFlows").await;
    assert_eq!(values(&flows).len(), 5, "failed creates leave nothing behind");
    // ...and a PATCH rebinding to something absent changes nothing.
    let flow = values(&flows)[0]["id"].as_str().unwrap().to_string();
    let r = c.patch(&format!("inboundFlows/{flow}"), json!({"year@odata.bind": format!("years/{MISSING}")})).await;
    assert!(message(r.error(400)).contains(MISSING));
    assert_eq!(c.get(&format!("inboundFlows/{flow}/year")).await.body["id"], year.as_str());
}

#[tokio::test]
async fn a_missing_bind_target_is_reported_at_the_property_path() {
    // decisions.md #3: "bind to a missing entity ... 400 BadRequest with target = the property path". The same
    // property is named the same way whatever is wrong with it: `dataConnector`, as for a malformed or absent
    // bind (and as `.../roleGroup` for a role group that doesn't exist).
    let server = TestServer::start().await;
    let c = server.admin();
    let Chain { connector, year, .. } = chain(&c).await;
    let mut malformed = flow_body("inboundFileFlow", &connector, &year);
    malformed["dataConnector@odata.bind"] = json!(format!("{GRAPH}/years/{year}"));
    let malformed_target = c.post("inboundFlows", malformed).await.error(400)["target"].clone();
    assert_eq!(malformed_target, "dataConnector");

    let r = c.post("inboundFlows", flow_body("inboundFileFlow", MISSING, &year)).await;
    assert_eq!(r.error(400)["target"], "dataConnector", "{}", r.text);
    let r = c.post("inboundFlows", flow_body("inboundFileFlow", &connector, MISSING)).await;
    assert_eq!(r.error(400)["target"], "year", "{}", r.text);
    let r = c.post("dataConnectors", lake_body(MISSING)).await;
    assert_eq!(r.error(400)["target"], "sourceSystem", "{}", r.text);
}

#[tokio::test]
async fn navigation_paths_reach_the_bound_entities() {
    let server = TestServer::start().await;
    let c = server.admin();
    let Chain { source_system, connector, year: _, flow } = chain(&c).await;

    let d = c.get(&format!("inboundFlows/{flow}/dataConnector")).await;
    d.expect(200);
    assert_eq!(d.body["id"], connector.as_str());
    assert_eq!(d.body["@odata.type"], format!("#{NS}.azureDataLakeConnector"));
    assert!(d.body["@odata.context"].as_str().unwrap().ends_with("external/industryData/dataConnectors/$entity"));
    assert_eq!(strip(&d.body), strip(&c.get(&format!("dataConnectors/{connector}")).await.body));

    let y = c.get(&format!("inboundFlows('{flow}')/YEAR")).await;
    y.expect(200);
    assert!(y.body["@odata.context"].as_str().unwrap().ends_with("external/industryData/years/$entity"));
    assert_eq!(strip(&y.body), year_body());
    let s = c.get(&format!("DataConnectors/{connector}/SourceSystem")).await;
    assert_eq!(s.expect(200).body["id"], source_system.as_str());

    // PATCH through the flow changes the connector itself.
    let r = c
        .patch(
            &format!("inboundFlows/{flow}/dataConnector"),
            json!({"@odata.type": format!("{NS}.azureDataLakeConnector"), "displayName": "Renamed through the flow"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(c.get(&format!("dataConnectors/{connector}")).await.body["displayName"], "Renamed through the flow");
    let r = c.patch(&format!("inboundFlows/{flow}/dataConnector"), json!({"displayName": 5})).await;
    assert_eq!(r.error(400)["target"], "displayName");

    // validate is routed through the flow as well (409: the connector has no upload session; tests/api/validate.rs).
    for op in ["validate", "microsoft.graph.industryData.validate"] {
        c.send(Method::POST, &format!("inboundFlows/{flow}/dataConnector/{op}"), None).await.error(409);
    }
    c.send(Method::GET, &format!("inboundFlows/{flow}/dataConnector/validate"), None).await.error(405);
    c.delete(&format!("inboundFlows/{flow}/dataConnector")).await.error(405);
    c.delete(&format!("inboundFlows/{flow}/year")).await.error(405);
    c.get(&format!("inboundFlows/{flow}/sourceSystem")).await.error(404);
    c.get(&format!("inboundFlows/{flow}/dataConnector/sourceSystemX")).await.error(404);
    c.get(&format!("inboundFlows/{MISSING}/dataConnector")).await.error(404);
    c.get(&format!("inboundFlows/{MISSING}/year")).await.error(404);
    c.send(Method::POST, &format!("inboundFlows/{MISSING}/dataConnector/validate"), None).await.error(404);
    c.get(&format!("dataConnectors/{MISSING}/sourceSystem")).await.error(404);

    // Rebinding the flow moves the navigation.
    let other = create(&c, "dataConnectors", one_roster_body(&source_system)).await;
    let r = c
        .patch(
            &format!("inboundFlows/{flow}"),
            json!({"dataConnector@odata.bind": format!("dataConnectors('{other}')")}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let d = c.get(&format!("inboundFlows/{flow}/dataConnector")).await;
    assert_eq!(d.body["id"], other.as_str());
    assert!(!d.text.contains(SECRET), "{}", d.text);
    assert_eq!(d.body["credential"]["clientId"], "530be723-6af3-4952-8658-668fb2598ad7");
}

#[tokio::test]
async fn deleting_a_bound_entity_is_a_conflict_until_the_referrer_goes() {
    let server = TestServer::start().await;
    let c = server.admin();
    let Chain { source_system, connector, year, flow } = chain(&c).await;

    let e = c.delete(&format!("sourceSystems/{source_system}")).await;
    assert!(message(e.error(409)).contains(&connector), "{}", e.text);
    let e = c.delete(&format!("dataConnectors/{connector}")).await;
    assert!(message(e.error(409)).contains(&flow), "{}", e.text);
    let e = c.delete(&format!("years/{year}")).await;
    assert!(message(e.error(409)).contains(&flow), "{}", e.text);
    for path in
        [format!("sourceSystems/{source_system}"), format!("dataConnectors/{connector}"), format!("years/{year}")]
    {
        c.get(&path).await.expect(200);
    }

    // Rebinding the flow frees the old connector, and binds the new one.
    let second = create(&c, "dataConnectors", lake_body(&source_system)).await;
    let r = c
        .patch(&format!("inboundFlows/{flow}"), json!({"dataConnector@odata.bind": format!("dataConnectors/{second}")}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(c.delete(&format!("dataConnectors/{connector}")).await.status, 204);
    let e = c.delete(&format!("dataConnectors/{second}")).await;
    assert!(message(e.error(409)).contains(&flow), "{}", e.text);
    let e = c.delete(&format!("sourceSystems/{source_system}")).await;
    assert!(message(e.error(409)).contains(&second), "{}", e.text);

    // A connector's PATCH that doesn't touch its bind keeps it.
    assert_eq!(c.patch(&format!("dataConnectors/{second}"), json!({"displayName": "still bound"})).await.status, 204);
    c.delete(&format!("sourceSystems/{source_system}")).await.error(409);

    assert_eq!(c.delete(&format!("inboundFlows/{flow}")).await.status, 204);
    assert_eq!(c.delete(&format!("years/{year}")).await.status, 204);
    assert_eq!(c.delete(&format!("dataConnectors/{second}")).await.status, 204);
    assert_eq!(c.delete(&format!("sourceSystems/{source_system}")).await.status, 204);
    for path in ["sourceSystems", "dataConnectors", "years", "inboundFlows"] {
        assert_eq!(values(&c.get(path).await).len(), 0, "{path}");
    }
}

#[tokio::test]
async fn another_tenants_entities_are_neither_visible_nor_bindable() {
    let server = TestServer::start().await;
    let ours = server.admin();
    let Chain { source_system, connector, year, flow } = chain(&ours).await;
    let custom = create(&ours, "referenceDefinitions", reference_definition_body()).await;
    assert_eq!(ours.delete("referenceDefinitions/RefSectionRole-aide").await.status, 204);
    let theirs = Client {
        token: Some(server.token_for(&format!("other-{}", server.tenant), &all_permissions())),
        ..server.anonymous()
    };

    for set in ["sourceSystems", "dataConnectors", "years", "inboundFlows", "operations", "runs"] {
        let r = theirs.get(set).await;
        assert_eq!(r.expect(200).body["value"], json!([]), "{set}");
    }
    for (set, id) in
        [("sourceSystems", &source_system), ("dataConnectors", &connector), ("years", &year), ("inboundFlows", &flow)]
    {
        theirs.get(&format!("{set}/{id}")).await.error(404);
        theirs.patch(&format!("{set}/{id}"), json!({"displayName": "hijacked"})).await.error(404);
        theirs.delete(&format!("{set}/{id}")).await.error(404);
    }
    theirs.get(&format!("inboundFlows/{flow}/year")).await.error(404);
    theirs.get(&format!("inboundFlows/{flow}/dataConnector")).await.error(404);
    theirs.patch(&format!("inboundFlows/{flow}/dataConnector"), json!({"displayName": "hijacked"})).await.error(404);
    theirs.get(&format!("dataConnectors/{connector}/sourceSystem")).await.error(404);
    theirs.send(Method::POST, &format!("dataConnectors/{connector}/validate"), None).await.error(404);

    // Binding our ids from their tenant: 400 naming the id.
    let r = theirs.post("dataConnectors", lake_body(&source_system)).await;
    assert!(message(r.error(400)).contains(&source_system), "{}", r.text);
    let their_ss = create(&theirs, "sourceSystems", source_system_body()).await;
    let their_conn = create(&theirs, "dataConnectors", lake_body(&their_ss)).await;
    let r = theirs.post("inboundFlows", flow_body("inboundFileFlow", &their_conn, &year)).await;
    assert!(message(r.error(400)).contains(&year), "{}", r.text);
    let r = theirs.post("inboundFlows", flow_body("inboundFileFlow", &connector, &year)).await;
    assert!(message(r.error(400)).contains(&connector), "{}", r.text);

    // Reference data: our custom definition and our disabled built-in are ours alone.
    theirs.get(&format!("referenceDefinitions/{custom}")).await.error(404);
    assert_eq!(theirs.get("referenceDefinitions/RefSectionRole-aide").await.expect(200).body["isDisabled"], false);
    let r = theirs.post("referenceDefinitions", reference_definition_body()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let set = create_set(&theirs).await;
    create_flow(&theirs, &set, class_group_flow_body()).await;

    // Nothing of ours changed.
    assert_eq!(ours.get(&format!("inboundFlows/{flow}/year")).await.expect(200).body["id"], year.as_str());
    assert_eq!(ours.get(&format!("sourceSystems/{source_system}")).await.body["displayName"], "Rostering source");
    assert_eq!(values(&ours.get("dataConnectors").await).len(), 1);
}

// ---- referenceDefinitions ----------------------------------------------------------------------------------------

#[tokio::test]
async fn reference_definitions_list_the_built_ins() {
    let server = TestServer::start().await;
    let c = server.as_(BASIC);
    let home = c.get("referenceDefinitions/RefEmailAddressType-home").await;
    home.expect(200);
    assert_eq!(
        strip(&home.body),
        json!({"@odata.type": format!("#{NS}.referenceDefinition"), "code": "home",
            "createdDateTime": "0001-01-01T00:00:00Z", "displayName": home.body["displayName"],
            "isDisabled": false, "lastModifiedDateTime": "0001-01-01T00:00:00Z", "referenceType": "RefEmailAddressType",
            "sortIndex": 10, "source": "CEDS"})
    );
    assert_eq!(home.body["id"], "RefEmailAddressType-home");
    assert!(home.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("external/industryData/referenceDefinitions/$entity"));
    // The docs' get example.
    let subject = c.get("referenceDefinitions/RefAcademicSubject-01").await;
    let b = &subject.expect(200).body;
    assert_eq!(
        (b["code"].as_str(), b["sortIndex"].as_i64(), b["source"].as_str()),
        (Some("01"), Some(10), Some("microsoft.com"))
    );
    for (id, sort, source) in [
        ("RefGradeLevel-01", 60, "CEDS"),
        ("RefGradeLevel-02", 70, "CEDS"),
        ("RefGradeLevel-undergraduate", 270, "Contoso"),
        ("RefIdentifierType-username", 40, "IMS Global"),
        ("RefOrgType-academicTrust", 140, "Contoso"),
    ] {
        let r = c.get(&format!("referenceDefinitions/{id}")).await;
        r.expect(200);
        assert_eq!((r.body["sortIndex"].as_i64(), r.body["source"].as_str()), (Some(sort), Some(source)), "{id}");
    }
    // Keys match case-insensitively, in either syntax; an alias is not a row.
    for path in ["referenceDefinitions/refemailaddresstype-HOME", "referenceDefinitions('RefEmailAddressType-home')"] {
        assert_eq!(c.get(path).await.expect(200).body["id"], "RefEmailAddressType-home", "{path}");
    }
    c.get("referenceDefinitions/RefSectionRole-aid").await.error(404);
    c.get("referenceDefinitions/RefSectionRole-janitor").await.error(404);

    let r = c.get("referenceDefinitions?$filter=referenceType%20eq%20'RefSectionRole'&$count=true").await;
    r.expect(200);
    assert_eq!(r.body["@odata.count"], 27);
    assert_eq!(values(&r).len(), 27);
    assert!(values(&r)
        .iter()
        .all(|v| v["id"].as_str().unwrap() == format!("RefSectionRole-{}", v["code"].as_str().unwrap())));
    assert!(r.body.get("@odata.nextLink").is_none());
    let n = c.get("referenceDefinitions/$count?$filter=referenceType%20eq%20'RefRole'").await;
    assert_eq!(n.expect(200).text, "31");
    let all = c.get("referenceDefinitions/$count").await;
    assert_eq!(all.text, "264");

    // $orderby + $top pages through nextLink.
    let r = c
        .get("referenceDefinitions?$filter=referenceType%20eq%20'RefSectionRole'&$orderby=sortIndex%20desc&$top=3&$count=true")
        .await;
    assert_eq!(field(&r, "code"), ["aide", "student", "alumni"]);
    assert_eq!(r.body["@odata.count"], 27);
    let next = r.body["@odata.nextLink"].as_str().expect("a next link while more remain").to_string();
    let page2 = follow(&c, &next).await;
    assert_eq!(field(page2.expect(200), "code"), ["coach", "substitute", "instructor"]);
    let r = c.get("referenceDefinitions?$filter=referenceType%20eq%20'RefUserMatchTarget'&$orderby=code&$select=code,sortIndex").await;
    let picked: Vec<Value> = values(&r)
        .iter()
        .map(|v| {
            v.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .map(Value::Object)
        .collect();
    assert_eq!(
        picked,
        [
            json!({"code": "employeeId", "sortIndex": 30}),
            json!({"code": "mail", "sortIndex": 20}),
            json!({"code": "userPrincipalName", "sortIndex": 10})
        ]
    );
    let r = c
        .get("referenceDefinitions?$filter=referenceType%20eq%20'RefAcademicYear'%20and%20sortIndex%20ge%202098")
        .await;
    assert_eq!(field(&r, "id"), ["RefAcademicYear-2098", "RefAcademicYear-2099"]);
    // Unfiltered, the default page is not everything.
    let r = c.get("referenceDefinitions").await;
    assert_eq!(values(&r).len(), 100);
    assert!(r.body["@odata.nextLink"].is_string());
    c.get("referenceDefinitions?$filter=shoeSize%20eq%201").await.error(400);
}

#[tokio::test]
async fn reference_definitions_are_created_only_for_the_extensible_types() {
    let server = TestServer::start().await;
    let c = server.as_(REF_RW);
    let created = c.post("referenceDefinitions", reference_definition_body()).await;
    created.expect(201);
    let b = &created.body;
    assert_eq!(b["id"], "RefGradeLevel-TestGrade");
    assert_eq!(
        (b["referenceType"].as_str(), b["code"].as_str(), b["displayName"].as_str()),
        (Some("RefGradeLevel"), Some("TestGrade"), Some("New Test Grade Level"))
    );
    assert_eq!((b["sortIndex"].as_i64(), b["isDisabled"].as_bool()), (Some(300), Some(false)));
    assert_eq!(b["source"], "Tenant Defined");
    let stamp = b["createdDateTime"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && !stamp.starts_with("0001"), "{stamp}");
    assert_eq!(b["createdDateTime"], b["lastModifiedDateTime"]);
    let got = c.get("referenceDefinitions/RefGradeLevel-TestGrade").await;
    assert_eq!(b["@odata.type"], format!("#{NS}.referenceDefinition"), "as the docs' create response");
    assert_eq!(strip(&got.expect(200).body), strip(b));
    let r = c.get("referenceDefinitions?$filter=referenceType%20eq%20'RefGradeLevel'&$count=true").await;
    assert_eq!(r.body["@odata.count"], 29);

    for (ty, code, sort) in [
        ("RefAcademicSubject", "99", 990),
        ("RefRace", "other", 990),
        ("RefEthnicity", "notHispanicOrLatino", 990),
        ("RefOrgType", "cluster", 990),
        ("RefPersonFlagType", "fosterCare", 990),
    ] {
        let r = c.post("referenceDefinitions", definition(ty, code, sort)).await;
        assert_eq!(r.status, 201, "{ty}: {}", r.text);
        assert_eq!(r.body["id"], format!("{ty}-{code}"));
        assert_eq!(r.body["source"], "Tenant Defined");
    }
    for ty in [
        "RefRole",
        "RefSectionRole",
        "RefAcademicYear",
        "RefEmailAddressType",
        "RefIdentifierType",
        "RefUserMatchTarget",
        "RefFileFormat",
        "RefSessionType",
        "RefShoeSize",
    ] {
        let r = c.post("referenceDefinitions", definition(ty, "brandNew", 990)).await;
        let e = r.error(400);
        assert_eq!(e["target"], "referenceType", "{ty}: {}", r.text);
        assert!(message(e).contains(ty), "{}", r.text);
    }
    let without = |key: &str| {
        let mut b = definition("RefGradeLevel", "Other2", 995);
        b.as_object_mut().unwrap().remove(key);
        b
    };
    for key in ["referenceType", "code", "isDisabled", "sortIndex"] {
        let r = c.post("referenceDefinitions", without(key)).await;
        assert_eq!(r.error(400)["target"], key, "{}", r.text);
    }
    let r = c.post("referenceDefinitions", definition("RefGradeLevel", "a/b", 996)).await;
    assert_eq!(r.error(400)["target"], "code");
    let r = c
        .post(
            "referenceDefinitions",
            json!({"referenceType": "RefGradeLevel", "code": "x", "isDisabled": false, "sortIndex": "1"}),
        )
        .await;
    assert_eq!(r.error(400)["target"], "sortIndex");
    // Tenant rows can be created disabled.
    let mut disabled = definition("RefGradeLevel", "Legacy", 997);
    disabled["isDisabled"] = json!(true);
    assert_eq!(c.post("referenceDefinitions", disabled).await.expect(201).body["isDisabled"], true);
}

#[tokio::test]
async fn a_created_reference_type_is_returned_canonically() {
    // decisions.md #1: names matched case-insensitively are "stored and returned canonically"; the id already
    // uses the canonical type (`RefGradeLevel-...`), and so must the referenceType property.
    let server = TestServer::start().await;
    let c = server.as_(REF_RW);
    let r = c.post("referenceDefinitions", definition("refGRADElevel", "Mixed", 996)).await;
    r.expect(201);
    assert_eq!(r.body["id"], "RefGradeLevel-Mixed");
    assert_eq!(r.body["referenceType"], "RefGradeLevel", "{}", r.text);
    assert_eq!(c.get("referenceDefinitions/RefGradeLevel-Mixed").await.body["referenceType"], "RefGradeLevel");
}

#[tokio::test]
async fn reference_codes_and_sort_indexes_are_unique_within_a_type() {
    let server = TestServer::start().await;
    let c = server.as_(REF_RW);
    create(&c, "referenceDefinitions", reference_definition_body()).await;
    for (body, what) in [
        (definition("RefGradeLevel", "01", 995), "RefGradeLevel-01"),
        (definition("RefGradeLevel", "kg", 995), "built-in code in another case"),
        (definition("RefGradeLevel", "TestGrade", 995), "RefGradeLevel-TestGrade"),
        (definition("RefGradeLevel", "TESTGRADE", 995), "tenant code in another case"),
        (definition("RefGradeLevel", "Fresh", 60), "built-in sortIndex (RefGradeLevel-01)"),
        (definition("RefGradeLevel", "Fresh", 300), "tenant sortIndex (TestGrade)"),
        (definition("RefOrgType", "school", 995), "RefOrgType-school"),
    ] {
        let r = c.post("referenceDefinitions", body.clone()).await;
        assert_eq!(r.status.as_u16(), 409, "{what}: {}", r.text);
        r.error(409);
    }
    // The same code or sortIndex in another type is fine; a free index in the same type too.
    assert_eq!(c.post("referenceDefinitions", definition("RefOrgType", "TestGrade", 300)).await.status, 201);
    assert_eq!(c.post("referenceDefinitions", definition("RefGradeLevel", "Fresh", 240)).await.status, 201);
    let r = c.get("referenceDefinitions?$filter=referenceType%20eq%20'RefGradeLevel'%20and%20source%20eq%20'Tenant%20Defined'&$orderby=sortIndex").await;
    assert_eq!(field(&r, "code"), ["Fresh", "TestGrade"]);
}

#[tokio::test]
async fn patching_a_sort_index_onto_a_taken_one_is_a_conflict() {
    // "sortIndex ... Must be unique within the referenceType" holds for PATCH as for POST, against built-ins too.
    let server = TestServer::start().await;
    let c = server.as_(REF_RW);
    create(&c, "referenceDefinitions", reference_definition_body()).await;
    create(&c, "referenceDefinitions", definition("RefGradeLevel", "Fresh", 240)).await;
    let mut got = Vec::new();
    for (id, sort) in [("RefGradeLevel-Fresh", 300), ("RefGradeLevel-TestGrade", 60), ("RefGradeLevel-02", 80)] {
        let r = c.patch(&format!("referenceDefinitions/{id}"), json!({"sortIndex": sort})).await;
        got.push((id, sort, r.status.as_u16()));
        if r.status.as_u16() == 409 {
            r.error(409);
        }
    }
    assert!(got.iter().all(|(_, _, status)| *status == 409), "each PATCH must be 409: {got:?}");
    assert_eq!(c.get("referenceDefinitions/RefGradeLevel-TestGrade").await.body["sortIndex"], 300);
    assert_eq!(c.get("referenceDefinitions/RefGradeLevel-02").await.body["sortIndex"], 70);
    assert_eq!(c.get("referenceDefinitions/RefGradeLevel-03").await.body["sortIndex"], 80);
    // Its own index, or a free one, is fine.
    assert_eq!(c.patch("referenceDefinitions/RefGradeLevel-TestGrade", json!({"sortIndex": 300})).await.status, 204);
    assert_eq!(c.patch("referenceDefinitions/RefGradeLevel-TestGrade", json!({"sortIndex": 250})).await.status, 204);
    assert_eq!(c.patch("referenceDefinitions/RefGradeLevel-Fresh", json!({"sortIndex": 300})).await.status, 204);
}

#[tokio::test]
async fn reference_definitions_patch_and_soft_delete() {
    let server = TestServer::start().await;
    let c = server.as_(REF_RW);
    let created = c.post("referenceDefinitions", reference_definition_body()).await;
    created.expect(201);
    let path = "referenceDefinitions/RefGradeLevel-TestGrade";
    assert_eq!(c.patch(path, json!({"displayName": "Updated Test Grade Name"})).await.status, 204);
    let got = c.get(path).await.body;
    assert_eq!(got["displayName"], "Updated Test Grade Name");
    assert_eq!(got["createdDateTime"], created.body["createdDateTime"]);
    let (old, new) =
        (created.body["lastModifiedDateTime"].as_str().unwrap(), got["lastModifiedDateTime"].as_str().unwrap());
    assert!(chrono::DateTime::parse_from_rfc3339(new).unwrap() > chrono::DateTime::parse_from_rfc3339(old).unwrap());
    for (body, target) in [
        (json!({"code": "Renamed"}), "code"),
        (json!({"referenceType": "RefOrgType"}), "referenceType"),
        (json!({"isDisabled": "yes"}), "isDisabled"),
        (json!({"sortIndex": null}), "sortIndex"),
        (json!({"id": "RefGradeLevel-Other"}), "id"),
    ] {
        let r = c.patch(path, body.clone()).await;
        assert_eq!(r.error(400)["target"], target, "{body}: {}", r.text);
    }
    // source and timestamps are computed: ignored in a body.
    assert_eq!(c.patch(path, json!({"source": "CEDS", "createdDateTime": "2000-01-01T00:00:00Z"})).await.status, 204);
    assert_eq!(c.get(path).await.body["source"], "Tenant Defined");

    // DELETE is a soft delete, for tenant rows and built-ins alike.
    assert_eq!(c.delete(path).await.status, 204);
    let got = c.get(path).await;
    assert_eq!(got.expect(200).body["isDisabled"], true);
    assert_eq!(got.body["displayName"], "Updated Test Grade Name");
    assert_eq!(c.delete("referenceDefinitions/RefEmailAddressType-home").await.status, 204);
    let home = c.get("referenceDefinitions/refEmailAddressType-home").await.body;
    assert_eq!(home["isDisabled"], true);
    assert_eq!(
        (home["source"].as_str(), home["sortIndex"].as_i64(), home["code"].as_str()),
        (Some("CEDS"), Some(10), Some("home"))
    );
    assert_eq!(home["createdDateTime"], "0001-01-01T00:00:00Z");
    assert_ne!(home["lastModifiedDateTime"], "0001-01-01T00:00:00Z");
    assert_eq!(
        c.delete("referenceDefinitions/RefEmailAddressType-home").await.status,
        204,
        "deleting twice is harmless"
    );
    c.delete("referenceDefinitions/RefEmailAddressType-nope").await.error(404);
    c.patch("referenceDefinitions/RefEmailAddressType-nope", json!({"displayName": "x"})).await.error(404);

    // Disabled rows stay listed, once each.
    let r = c.get("referenceDefinitions?$filter=isDisabled%20eq%20true&$orderby=id").await;
    assert_eq!(field(&r, "id"), ["RefEmailAddressType-home", "RefGradeLevel-TestGrade"]);
    assert_eq!(c.get("referenceDefinitions/$count").await.text, "265");
    let r = c.get("referenceDefinitions?$filter=referenceType%20eq%20'RefEmailAddressType'&$count=true").await;
    assert_eq!(r.body["@odata.count"], 4);

    // Re-enabling is a PATCH.
    assert_eq!(
        c.patch("referenceDefinitions/RefEmailAddressType-home", json!({"isDisabled": false})).await.status,
        204
    );
    assert_eq!(c.get("referenceDefinitions/RefEmailAddressType-home").await.body["isDisabled"], false);
}

#[tokio::test]
async fn a_disabled_section_role_is_refused_in_class_group_flows() {
    let server = TestServer::start().await;
    let c = server.admin();
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await; // members: student, aide
    let flow_path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    assert_eq!(c.delete("referenceDefinitions/RefSectionRole-aide").await.status, 204);
    assert_eq!(c.get("referenceDefinitions/RefSectionRole-aide").await.body["isDisabled"], true);

    let other = create_set(&c).await;
    let r = c.post(&format!("outboundProvisioningFlowSets/{other}/provisioningFlows"), class_group_flow_body()).await;
    let e = r.error(400);
    assert_eq!(e["target"], "configuration/enrollmentMappings/memberEnrollmentMappings/1/code", "{}", r.text);
    assert!(message(e).contains("aide"), "{}", r.text);
    let mut body = class_group_flow_body();
    body["configuration"]["enrollmentMappings"]["ownerEnrollmentMappings"] =
        json!([{"code": "teacher"}, {"code": "AIDE"}]);
    body["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] = json!([{"code": "student"}]);
    let r = c.patch(&flow_path, body).await;
    assert_eq!(r.error(400)["target"], "configuration/enrollmentMappings/ownerEnrollmentMappings/1/code");
    let r = c
        .patch(&flow_path, json!({"configuration": {"additionalOptions": {"createTeam": false, "writeDisplayNameOnCreateOnly": false},
            "enrollmentMappings": {"memberEnrollmentMappings": [{"value@odata.bind": "referenceDefinitions/RefSectionRole-aide"}]}}}))
        .await;
    r.error(400);
    // The flow that already had it is still readable, unchanged.
    let got = c.get(&flow_path).await;
    assert_eq!(
        got.expect(200).body["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"],
        json!([{"code": "student"}, {"code": "aide"}])
    );
    // Other codes are unaffected.
    let mut body = class_group_flow_body();
    body["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] = json!([{"code": "student"}]);
    assert_eq!(c.post(&format!("outboundProvisioningFlowSets/{other}/provisioningFlows"), body).await.status, 201);

    // Enabled again, it is accepted again.
    assert_eq!(c.patch("referenceDefinitions/RefSectionRole-aide", json!({"isDisabled": false})).await.status, 204);
    assert_eq!(c.patch(&flow_path, class_group_flow_body()).await.status, 204);
}

#[tokio::test]
async fn a_disabled_code_is_refused_under_its_aliases_too() {
    // `aid` is an input alias of `aide` (docs/reference-data.md §4): it names the same definition, so disabling
    // `RefSectionRole-aide` disables `aid` as well.
    let server = TestServer::start().await;
    let c = server.admin();
    let set = create_set(&c).await;
    let mut body = class_group_flow_body();
    body["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"] = json!([{"code": "aid"}]);
    let r = c.post(&format!("outboundProvisioningFlowSets/{set}/provisioningFlows"), body.clone()).await;
    assert_eq!(
        r.expect(201).body["configuration"]["enrollmentMappings"]["memberEnrollmentMappings"],
        json!([{"code": "aide"}])
    );
    let flow = r.id();
    assert_eq!(c.delete("referenceDefinitions/RefSectionRole-aide").await.status, 204);
    let r = c.patch(&format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}"), body).await;
    assert_eq!(
        r.error(400)["target"],
        "configuration/enrollmentMappings/memberEnrollmentMappings/0/code",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_disabled_year_code_is_refused() {
    let server = TestServer::start().await;
    let c = server.admin();
    let existing = create(&c, "years", year_body()).await;
    assert_eq!(c.delete("referenceDefinitions/RefAcademicYear-2022").await.status, 204);
    let r = c.post("years", year_body()).await;
    let e = r.error(400);
    assert_eq!(e["target"], "year/code", "{}", r.text);
    assert!(message(e).contains("2022"), "{}", r.text);
    let mut bound = year_body();
    bound["year"] = json!({"value@odata.bind": format!("{GRAPH}/referenceDefinitions/RefAcademicYear-2022")});
    c.post("years", bound).await.error(400);
    let r = c.patch(&format!("years/{existing}"), json!({"year": {"code": "2022"}})).await;
    assert_eq!(r.error(400)["target"], "year/code");
    // The year that has it stays, and other changes to it go through.
    assert_eq!(c.patch(&format!("years/{existing}"), json!({"displayName": "Still 2022"})).await.status, 204);
    assert_eq!(c.get(&format!("years/{existing}")).await.body["year"], json!({"code": "2022"}));
    let mut next = year_body();
    next["year"] = json!({"code": "2023"});
    assert_eq!(c.post("years", next).await.status, 201);
}

// ---- roleGroups, operations, runs ---------------------------------------------------------------------------------

#[tokio::test]
async fn role_groups_are_built_in_and_read_only() {
    let server = TestServer::start().await;
    let c = server.admin();
    let list = c.get("roleGroups").await;
    list.expect(200);
    assert!(list.body["@odata.context"].as_str().unwrap().ends_with("$metadata#external/industryData/roleGroups"));
    assert_eq!(field(&list, "id"), ["staff", "students"]);
    assert_eq!(field(&list, "displayName"), ["Staff", "Students"]);
    assert!(values(&list).iter().all(|g| g.get("@odata.type").is_none()));

    let students = c.get("roleGroups/students").await;
    assert_eq!(strip(&students.expect(200).body), json!({"displayName": "Students", "roles": [{"code": "student"}]}));
    let staff = c.get("roleGroups('STAFF')").await;
    staff.expect(200);
    assert_eq!(staff.body["id"], "staff");
    let roles: Vec<&str> =
        staff.body["roles"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(roles.len(), 29);
    for code in ["teacher", "faculty", "aide", "principal", "paraprofessional"] {
        assert!(roles.contains(&code), "{code}");
    }
    assert!(!roles.contains(&"student") && !roles.contains(&"other"));

    c.post("roleGroups", json!({"displayName": "Parents"})).await.error(405);
    c.patch("roleGroups/staff", json!({"displayName": "Everyone"})).await.error(405);
    c.delete("roleGroups/staff").await.error(405);
    c.send(Method::PUT, "roleGroups/staff", Some(&json!({}))).await.error(405);
    c.get("roleGroups/parents").await.error(404);
    assert_eq!(c.get("roleGroups/staff").await.body["displayName"], "Staff");
    let r = c.get("roleGroups?$filter=displayName%20eq%20'students'&$count=true").await;
    assert_eq!(r.body["@odata.count"], 1);
    assert_eq!(c.get("roleGroups/$count").await.text, "2");
}

#[tokio::test]
async fn operations_and_runs_are_read_only_and_start_is_routed_as_documented() {
    let server = TestServer::start().await;
    let c = server.admin();
    for set in ["operations", "runs"] {
        let r = c.get(set).await;
        r.expect(200);
        assert_eq!(r.body["value"], json!([]), "{set}");
        assert!(r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with(&format!("$metadata#external/industryData/{set}")));
        assert_eq!(c.get(&format!("{set}/$count")).await.text, "0");
        c.get(&format!("{set}/{MISSING}")).await.error(404);
        c.post(set, json!({"displayName": "x"})).await.error(405);
        c.delete(&format!("{set}/{MISSING}")).await.error(405);
        c.patch(&format!("{set}/{MISSING}"), json!({})).await.error(405);
    }
    c.get(&format!("runs/{MISSING}/activities")).await.error(404);
    c.get(&format!("runs/{MISSING}/getStatistics")).await.error(404);
    c.post(&format!("runs/{MISSING}/activities"), json!({})).await.error(405);

    c.get("runs/getStatistics()").await.error(404); // no run yet
                                                    // Every spelling starts a run (tests/api/runs.rs covers runs); one at a time, so a start may find the
                                                    // previous one still going (409).
    for op in ["start", "microsoft.graph.industryData.start", "Microsoft.Graph.IndustryData.Start"] {
        let r = c.send(Method::POST, &format!("runs/{op}"), None).await;
        assert!(r.status == 202 || r.error(409)["code"] == "Conflict", "{op}: {}", r.text);
    }
    c.get("runs/microsoft.graph.industryData.start").await.error(405);
    let r = server.as_(RUN_START).send(Method::POST, "runs/microsoft.graph.industryData.start", None).await;
    assert!(r.status == 202 || r.status == 409, "{}", r.text);
    let r = server.as_(RUN_R).send(Method::POST, "runs/microsoft.graph.industryData.start", None).await;
    assert!(message(r.error(403)).contains(RUN_START), "{}", r.text);
    server.as_(RUN_R).get("runs").await.expect(200);
    server.as_(RUN_START).get("runs").await.expect(200);
    server.as_(BASIC).get("runs").await.error(403);
}

#[tokio::test]
async fn connector_operations_are_routed_and_authorized() {
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let lake = create(&c, "dataConnectors", lake_body(&ss)).await;
    // Without an upload session there is nothing to validate: 409 (tests/api/validate.rs covers the rest).
    for op in ["validate", "microsoft.graph.industryData.validate"] {
        c.send(Method::POST, &format!("dataConnectors/{lake}/{op}"), None).await.error(409);
    }
    let upload = format!("dataConnectors/{lake}/{NS}.azureDataLakeConnector/getUploadSession");
    let first = c.get(&upload).await.expect(200).body["containerId"].clone();
    let reset = c.get(&format!("{upload}?resetSession=true")).await.expect(200).body["containerId"].clone();
    assert_ne!(first, reset, "resetSession=true starts a new container");
    let same = c.get(&format!("dataConnectors/{lake}/{NS}.azureDataLakeConnector/GetUploadSession()")).await;
    assert_eq!(same.expect(200).body["containerId"], reset);
    c.send(Method::POST, &upload, None).await.error(405);
    c.send(Method::POST, &format!("dataConnectors/{MISSING}/validate"), None).await.error(404);

    server.as_(CONN_UPLOAD).send(Method::POST, &format!("dataConnectors/{lake}/validate"), None).await.expect(202);
    server.as_(CONN_UPLOAD).get(&upload).await.expect(200);
    let r = server.as_(CONN_R).send(Method::POST, &format!("dataConnectors/{lake}/validate"), None).await;
    assert!(message(r.error(403)).contains(CONN_UPLOAD), "{}", r.text);
    server.as_(CONN_R).get(&upload).await.error(403);
}

#[tokio::test]
async fn get_upload_session_is_only_bound_to_data_lake_connectors() {
    // getUploadSession is bound to azureDataLakeConnector (CSDL); a cast to that type on a OneRoster connector
    // addresses nothing. route.rs says "the handler checks the item's type": it must answer 4xx, not 501.
    let server = TestServer::start().await;
    let c = server.admin();
    let ss = create(&c, "sourceSystems", source_system_body()).await;
    let api = create(&c, "dataConnectors", one_roster_body(&ss)).await;
    let r = c.get(&format!("dataConnectors/{api}/{NS}.azureDataLakeConnector/getUploadSession")).await;
    assert!(matches!(r.status.as_u16(), 400 | 404), "{} {}", r.status, r.text);
    r.error(r.status.as_u16());
}

// ---- least privilege ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_resource_family_needs_its_own_permission() {
    let server = TestServer::start().await;
    let admin = server.admin();
    let Chain { source_system, connector, year, flow } = chain(&admin).await;
    let ss_item = format!("sourceSystems/{source_system}");
    let conn_item = format!("dataConnectors/{connector}");
    let year_item = format!("years/{year}");
    let flow_item = format!("inboundFlows/{flow}");
    let flow_year = format!("inboundFlows/{flow}/year");
    let flow_conn = format!("inboundFlows/{flow}/dataConnector");
    let validate = format!("{conn_item}/validate");
    let name = json!({"displayName": "renamed"});

    let cases: Vec<(&str, Method, String, Option<Value>, u16)> = vec![
        (SS_R, Method::GET, "sourceSystems".into(), None, 200),
        (SS_R, Method::GET, ss_item.clone(), None, 200),
        (SS_R, Method::POST, "sourceSystems".into(), Some(source_system_body()), 403),
        (SS_R, Method::PATCH, ss_item.clone(), Some(name.clone()), 403),
        (SS_R, Method::DELETE, ss_item.clone(), None, 403),
        (SS_R, Method::GET, "years".into(), None, 403),
        (SS_R, Method::GET, "dataConnectors".into(), None, 403),
        (SS_R, Method::GET, format!("{conn_item}/sourceSystem"), None, 200),
        (SS_RW, Method::POST, "sourceSystems".into(), Some(source_system_body()), 201),
        (SS_RW, Method::PATCH, ss_item.clone(), Some(json!({"vendor": "v"})), 204),
        (SS_RW, Method::GET, "inboundFlows".into(), None, 403),
        (YEAR_R, Method::GET, "years".into(), None, 200),
        (YEAR_R, Method::GET, year_item.clone(), None, 200),
        (YEAR_R, Method::GET, flow_year.clone(), None, 200),
        (YEAR_R, Method::POST, "years".into(), Some(year_body()), 403),
        (YEAR_R, Method::PATCH, year_item.clone(), Some(name.clone()), 403),
        (YEAR_R, Method::GET, "sourceSystems".into(), None, 403),
        (YEAR_RW, Method::POST, "years".into(), Some(year_body()), 201),
        (YEAR_RW, Method::PATCH, year_item.clone(), Some(name.clone()), 204),
        (CONN_R, Method::GET, "dataConnectors".into(), None, 200),
        (CONN_R, Method::GET, conn_item.clone(), None, 200),
        (CONN_R, Method::GET, flow_conn.clone(), None, 200),
        (CONN_R, Method::PATCH, flow_conn.clone(), Some(name.clone()), 403),
        (CONN_R, Method::PATCH, conn_item.clone(), Some(name.clone()), 403),
        (CONN_R, Method::POST, validate.clone(), None, 403),
        (CONN_R, Method::GET, flow_year.clone(), None, 403),
        (CONN_RW, Method::PATCH, flow_conn.clone(), Some(name.clone()), 204),
        (CONN_RW, Method::POST, "dataConnectors".into(), Some(lake_body(&source_system)), 201),
        (CONN_RW, Method::POST, validate.clone(), None, 409),
        (CONN_RW, Method::GET, "sourceSystems".into(), None, 403),
        (CONN_UPLOAD, Method::POST, validate.clone(), None, 409),
        (CONN_UPLOAD, Method::POST, format!("{flow_conn}/validate"), None, 409),
        (CONN_UPLOAD, Method::GET, "dataConnectors".into(), None, 403),
        (CONN_UPLOAD, Method::PATCH, conn_item.clone(), Some(name.clone()), 403),
        (FLOW_R, Method::GET, "inboundFlows".into(), None, 200),
        (FLOW_R, Method::GET, flow_item.clone(), None, 200),
        (FLOW_R, Method::PATCH, flow_item.clone(), Some(name.clone()), 403),
        (FLOW_R, Method::GET, flow_year.clone(), None, 403),
        (FLOW_R, Method::GET, flow_conn.clone(), None, 403),
        (FLOW_RW, Method::PATCH, flow_item.clone(), Some(name.clone()), 204),
        (FLOW_RW, Method::POST, "inboundFlows".into(), Some(flow_body("inboundApiFlow", &connector, &year)), 201),
        (FLOW_RW, Method::GET, "years".into(), None, 403),
        (BASIC, Method::GET, "referenceDefinitions".into(), None, 200),
        (BASIC, Method::GET, "referenceDefinitions/RefGradeLevel-01".into(), None, 200),
        (BASIC, Method::GET, "roleGroups".into(), None, 200),
        (BASIC, Method::GET, "roleGroups/staff".into(), None, 200),
        (BASIC, Method::GET, "operations".into(), None, 200),
        (BASIC, Method::POST, "referenceDefinitions".into(), Some(reference_definition_body()), 403),
        (BASIC, Method::DELETE, "referenceDefinitions/RefGradeLevel-01".into(), None, 403),
        (BASIC, Method::GET, "sourceSystems".into(), None, 403),
        (BASIC, Method::GET, "runs".into(), None, 403),
        (REF_R, Method::GET, "referenceDefinitions/RefGradeLevel-01".into(), None, 200),
        (REF_R, Method::GET, "roleGroups/students".into(), None, 200),
        (REF_R, Method::PATCH, "referenceDefinitions/RefGradeLevel-01".into(), Some(json!({"displayName": "x"})), 403),
        (REF_R, Method::GET, "operations".into(), None, 403),
        (REF_RW, Method::POST, "referenceDefinitions".into(), Some(reference_definition_body()), 201),
        (REF_RW, Method::DELETE, "referenceDefinitions/RefGradeLevel-TestGrade".into(), None, 204),
        (REF_RW, Method::POST, "roleGroups".into(), Some(json!({})), 405),
        (RUN_R, Method::GET, "runs".into(), None, 200),
        (RUN_R, Method::GET, "operations".into(), None, 403),
        (OUTBOUND_RW, Method::GET, "sourceSystems".into(), None, 403),
        (OUTBOUND_RW, Method::GET, "referenceDefinitions".into(), None, 403),
        (OUTBOUND_RW, Method::GET, "roleGroups".into(), None, 403),
    ];
    for (scope, method, path, body, status) in cases {
        let r = server.as_(scope).send(method.clone(), &path, body.as_ref()).await;
        assert_eq!(r.status.as_u16(), status, "{scope} {method} {path}: {}", r.text);
        if status >= 400 {
            r.error(status);
        }
    }
    // A 403 names what would grant it.
    let r = server.as_(SS_R).get("years").await;
    let m = message(r.error(403));
    assert!(m.contains(YEAR_R) && m.contains(YEAR_RW), "{m}");
    let r = server.as_(SS_R).post("sourceSystems", source_system_body()).await;
    assert!(message(r.error(403)).contains(SS_RW));
    // Application permissions count the same as delegated ones.
    let app = server.app_token(&[SS_R.to_string()]);
    let app = Client { token: Some(app), ..server.anonymous() };
    app.get(&ss_item).await.expect(200);
    app.post("sourceSystems", source_system_body()).await.error(403);
    server.anonymous().get("sourceSystems").await.error(401);
    server.anonymous().get("referenceDefinitions").await.error(401);
}

// ---- OData options ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn configuration_collections_take_odata_query_options() {
    let server = TestServer::start().await;
    let c = server.admin();
    for (name, vendor) in [("Charlie", Some("Vendor One")), ("alpha", None), ("Bravo", Some("Vendor Two"))] {
        let mut body = json!({"displayName": name});
        if let Some(v) = vendor {
            body["vendor"] = json!(v);
        }
        c.post("sourceSystems", body).await.expect(201);
    }
    let r = c.get("sourceSystems?$orderby=displayName").await;
    assert_eq!(field(&r, "displayName"), ["alpha", "Bravo", "Charlie"]);
    let r = c.get("sourceSystems?$orderby=displayName%20desc&$top=2&$count=true").await;
    assert_eq!(field(&r, "displayName"), ["Charlie", "Bravo"]);
    assert_eq!(r.body["@odata.count"], 3);
    let tail = follow(&c, r.body["@odata.nextLink"].as_str().expect("a next link")).await;
    assert_eq!(field(&tail, "displayName"), ["alpha"]);
    assert!(tail.body.get("@odata.nextLink").is_none());
    let r = c.get("sourceSystems?$filter=vendor%20eq%20'VENDOR%20ONE'").await;
    assert_eq!(field(&r, "displayName"), ["Charlie"]);
    let r = c.get("sourceSystems?$filter=vendor%20eq%20null").await;
    assert_eq!(field(&r, "displayName"), ["alpha"]);
    let r = c.get("sourceSystems?$filter=startswith(vendor,'vendor')&$orderby=displayName&$select=displayName").await;
    assert_eq!(r.body["value"], json!([{"displayName": "Bravo"}, {"displayName": "Charlie"}]));
    assert_eq!(c.get("sourceSystems/$count?$filter=vendor%20ne%20null").await.text, "2");

    for (code, start) in [("2021", "2020-09-01"), ("2023", "2022-09-01"), ("2022", "2021-09-01")] {
        let body = json!({"displayName": format!("Year {code}"), "startDate": start, "endDate": start, "year": {"code": code}});
        c.post("years", body).await.expect(201);
    }
    let r = c.get("years?$orderby=startDate%20desc").await;
    assert_eq!(field(&r, "displayName"), ["Year 2023", "Year 2022", "Year 2021"]);
    let r = c.get("years?$filter=year/code%20eq%20'2022'").await;
    assert_eq!(field(&r, "displayName"), ["Year 2022"]);

    let ss = values(&c.get("sourceSystems").await)[0]["id"].as_str().unwrap().to_string();
    create(&c, "dataConnectors", lake_body(&ss)).await;
    create(&c, "dataConnectors", one_roster_body(&ss)).await;
    let r = c.get(&format!("dataConnectors?$filter=isof('{NS}.oneRosterApiDataConnector')")).await;
    assert_eq!(field(&r, "displayName"), ["Generic OAuth2 Connector"]);
    let r = c.get(&format!("dataConnectors/{NS}.azureDataLakeConnector/$count")).await;
    assert_eq!(r.text, "1");
    let r = c.get("dataConnectors?$filter=apiVersion%20eq%20'1.1'").await;
    assert_eq!(field(&r, "displayName"), ["Generic OAuth2 Connector"]);

    for bad in [
        "sourceSystems?$orderby=shoeSize",
        "sourceSystems?$top=-1",
        "years?$expand=year",
        "dataConnectors?$select=clientSecret",
        "sourceSystems?$search=alpha",
    ] {
        c.get(bad).await.error(400);
    }
    c.get(&format!("sourceSystems/{ss}?$top=1")).await.error(400);
}
