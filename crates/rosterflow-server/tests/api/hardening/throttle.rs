//! The throttle under load: many concurrent requests from one application in one tenant get 429 with
//! `Retry-After` past the limit and never a 5xx, while other applications and tenants go on unaffected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rosterflow_server::auth::TokenSpec;

use crate::common::{all_permissions, client_for, serve_args, temp_dir, Client, TestServer};

const LIMIT: u32 = 40;
const WINDOW_SECONDS: u64 = 60;

fn caller(server: &TestServer, tenant: &str, app: &str) -> Client {
    let scopes: Vec<String> = all_permissions().split(' ').map(str::to_string).collect();
    let token = server.token_with(&TokenSpec { app_id: Some(app.into()), ..TokenSpec::delegated(tenant, &scopes) });
    client_for(&server.url, token)
}

#[tokio::test]
async fn a_burst_from_one_app_gets_429_with_retry_after_no_5xx_and_others_are_unaffected() {
    let mut args = serve_args(&temp_dir()).await;
    args.limits.throttle_limit = LIMIT;
    args.limits.throttle_window_seconds = WINDOW_SECONDS;
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let server = TestServer::start_with(args, &tenant).await;
    let busy = Arc::new(caller(&server, &tenant, "busy-app"));

    // 400 requests, 32 at a time: reads and writes.
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (busy, gate) = (busy.clone(), gate.clone());
            tokio::spawn(async move {
                let _slot = gate.acquire().await.unwrap();
                let reply = if i % 4 == 0 {
                    busy.post("outboundProvisioningFlowSets", crate::common::flow_set_body()).await
                } else {
                    busy.get("outboundProvisioningFlowSets?$top=1").await
                };
                if reply.status == 429 {
                    assert_eq!(reply.error(429)["code"], "TooManyRequests");
                    let after: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
                    assert!((1..=WINDOW_SECONDS).contains(&after), "Retry-After {after}");
                }
                reply.status.as_u16()
            })
        })
        .collect();
    let mut statuses = BTreeMap::<u16, u32>::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_default() += 1;
    }
    let admitted: u32 = statuses.iter().filter(|(s, _)| **s < 300).map(|(_, n)| n).sum();
    assert!(statuses.keys().all(|s| *s < 500), "no 5xx under load: {statuses:?}");
    assert!(statuses.keys().all(|s| matches!(s, 200 | 201 | 429)), "{statuses:?}");
    // The burst, plus what refilled while the load ran (one request per 1.5 s).
    assert!((LIMIT..LIMIT + 10).contains(&admitted), "{statuses:?}");
    assert_eq!(statuses[&429], 400 - admitted, "{statuses:?}");

    // While that application is throttled, another one of the same tenant, and the same one in another tenant,
    // are served.
    let other_app = caller(&server, &tenant, "other-app");
    other_app.get("outboundProvisioningFlowSets?$top=1").await.expect(200);
    let other_tenant = caller(&server, &format!("tenant-{}", uuid::Uuid::new_v4()), "busy-app");
    other_tenant.get("outboundProvisioningFlowSets?$top=1").await.expect(200);

    // Waiting as long as Retry-After says is enough.
    let refused = busy.get("outboundProvisioningFlowSets?$top=1").await;
    let after: u64 = refused.header("retry-after").expect("still throttled").parse().unwrap();
    tokio::time::sleep(Duration::from_secs(after)).await;
    busy.get("outboundProvisioningFlowSets?$top=1").await.expect(200);
    server.stop().await;
}
