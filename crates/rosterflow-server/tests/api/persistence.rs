//! A 2xx means committed: writes survive a graceful restart and a `kill -9` of the binary. What is written holds
//! no credential in the clear.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn writes_survive_a_restart() {
    let dir = temp_dir();
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let server = TestServer::start_in(dir.clone(), &tenant).await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    assert_eq!(c.patch(&path, serde_json::from_str(SEED_PATCH).unwrap()).await.status, 204);
    // The context URL names the server's port, which changes with the restart; everything else must not.
    let without_context = |mut body: serde_json::Value| {
        body.as_object_mut().unwrap().remove("@odata.context");
        body
    };
    let before = without_context(c.get(&path).await.body);
    server.stop().await;

    let server = TestServer::start_in(dir, &tenant).await;
    let after = server.as_(OUTBOUND_R).get(&path).await;
    after.expect(200);
    assert_eq!(without_context(after.body), before, "the item reads back exactly as before the restart");
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = temp_dir();
    let port = free_port();
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let mut process = spawn_binary(&dir, port).await;
    let c = client_for(&process.url, token(&dir, &tenant, OUTBOUND_RW));
    let set = create_set(&c).await;
    // A burst of acknowledged writes, then SIGKILL straight after the last 2xx.
    let mut names = Vec::new();
    for i in 0..50 {
        let name = format!("name {i}");
        assert_eq!(
            c.patch(&format!("outboundProvisioningFlowSets/{set}"), json!({"displayName": name})).await.status,
            204
        );
        names.push(name);
    }
    let flow = create_flow(&c, &set, user_flow_body()).await;
    process.kill9();

    let mut process = spawn_binary(&dir, port).await;
    let got = c.get(&format!("outboundProvisioningFlowSets/{set}")).await;
    assert_eq!(got.body["displayName"], names.last().unwrap().as_str());
    c.get(&format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}")).await.expect(200);
    process.kill9();
}

#[tokio::test]
async fn credentials_are_stored_sealed_to_their_tenant() {
    let dir = temp_dir();
    let args = serve_args(&dir).await;
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let server = TestServer::start_with(args.clone(), &tenant).await;
    let c = server.as_(OUTBOUND_RW);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, user_flow_body()).await;
    let path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    let mut patch = user_flow_body();
    patch["creationOptions"]["configurations"][1]["defaultPasswordSettings"]["password"] = json!("Rotated-789");
    assert_eq!(c.patch(&path, patch).await.status, 204);
    // A write-only client secret, in a OneRoster connector (with the source system it binds to).
    let admin = server.admin();
    let graph = "https://graph.microsoft.com/beta/external/industryData";
    let source = json!({"displayName": "SIS", "userMatchingSettings": [{"matchTarget": {"code": "userPrincipalName"},
        "priorityOrder": 0, "roleGroup@odata.bind": format!("{graph}/roleGroups/staff"),
        "sourceIdentifier": {"code": "username"}}]});
    let source = admin.post("sourceSystems", source).await.expect(201).id();
    let connector = json!({"@odata.type": "#microsoft.graph.industryData.oneRosterApiDataConnector",
        "displayName": "OneRoster", "sourceSystem@odata.bind": format!("{graph}/sourceSystems('{source}')"),
        "apiFormat": "oneRoster", "baseUrl": "https://sis.example/ims/oneroster/v1p1", "apiVersion": "1.1",
        "isDemographicsEnabled": false, "isFlagsEnabled": false, "isContactsEnabled": false,
        "credential": {"@odata.type": "#microsoft.graph.industryData.oAuth2ClientCredential", "displayName": "c",
            "clientId": "id", "clientSecret": "Client-Secret-1", "tokenUrl": "https://sis.example/token"}});
    let connector = admin.post("dataConnectors", connector).await.expect(201).id();
    server.stop().await;

    let store = rosterflow_store::open_with(&args.database_url(), args.files()).await.unwrap();
    let t = rosterflow_model::TenantId(tenant.clone());
    let stored = store.resources.get(&t, "provisioningFlows", &flow).await.unwrap().expect("the flow is stored");
    let text = serde_json::to_string(&*stored.doc).unwrap();
    for clear in ["Secret-123", "Secret-456", "Rotated-789"] {
        assert!(!text.contains(clear), "{clear} is stored in the clear: {text}");
    }
    let sealer = rosterflow_server::secrets::Sealer::from_key_file(&args.secrets_key_file()).unwrap();
    let password = |i: usize| {
        stored.doc["creationOptions"]["configurations"][i]["defaultPasswordSettings"]["password"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(sealer.open(&t, &password(0)).unwrap(), "Secret-123");
    assert_eq!(sealer.open(&t, &password(1)).unwrap(), "Rotated-789");
    let connector =
        store.resources.get(&t, "dataConnectors", &connector).await.unwrap().expect("the connector is stored");
    let secret = connector.doc["credential"]["clientSecret"].as_str().unwrap();
    assert!(!secret.contains("Client-Secret-1"));
    assert_eq!(sealer.open(&t, secret).unwrap(), "Client-Secret-1");
    let other = rosterflow_model::TenantId("another-tenant".into());
    assert!(sealer.open(&other, &password(0)).is_err(), "a sealed value opens only for its tenant");
}
