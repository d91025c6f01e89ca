//! A 2xx means committed: writes survive a graceful restart and a `kill -9` of the binary.

mod common;

use common::*;
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
