//! Concurrent writers: no lost update, no duplicate unique key, no dangling reference. On PostgreSQL every test
//! runs two replicas (two servers, each with its own store and its own memory of items) on one database, the
//! way `serve` scales out; on SQLite one server takes both halves of the load.

use std::sync::Arc;

use futures_util::future::join_all;
use rosterflow_store::{Constraints, Edit, Resource, TenantId};
use serde_json::{json, Value};

use crate::common::*;
use crate::configuration_api::{definition, flow_body, lake_body, source_system_body, year_body};

const GRAPH: &str = "https://graph.microsoft.com/beta/external/industryData";

/// Two replicas of one tenant's service when the backend is PostgreSQL; otherwise the one server twice.
async fn replicas() -> (TestServer, Option<TestServer>) {
    let a = TestServer::start().await;
    let postgres = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let b = match postgres {
        true => Some(TestServer::start_in(a.data_dir.clone(), &a.tenant).await),
        false => None,
    };
    (a, b)
}

fn pick<'a>(a: &'a TestServer, b: &'a Option<TestServer>, i: usize) -> &'a TestServer {
    match b {
        Some(b) if i % 2 == 1 => b,
        _ => a,
    }
}

/// An edit that adds one to the counter kept in the item's `displayName`: a lost update shows as a count short.
fn increment() -> Edit {
    Box::new(|r: &mut Resource| {
        let n: u64 = r.doc["displayName"].as_str().and_then(|s| s.parse().ok()).expect("a counter");
        let mut doc = (*r.doc).clone();
        doc.insert("displayName".into(), Value::String((n + 1).to_string()));
        r.doc = Arc::new(doc);
        Ok(Constraints::default())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_of_one_item_and_of_many_lose_nothing() {
    let (a, b) = replicas().await;
    let c = a.as_(OUTBOUND_RW);
    let set_name = "outboundProvisioningFlowSets";
    let mut items = Vec::new();
    for _ in 0..8 {
        let id = create_set(&c).await;
        c.patch(&format!("outboundProvisioningFlowSets/{id}"), json!({"displayName": "0"})).await.expect(204);
        items.push(id);
    }
    // Each replica has read the items (its memory's base for writes), then both write them at once: 60 edits of
    // the first item, 10 of each of the others, alternately through the two replicas, all in flight together.
    for (i, id) in items.iter().enumerate() {
        pick(&a, &b, i).as_(OUTBOUND_RW).get(&format!("outboundProvisioningFlowSets/{id}")).await.expect(200);
    }
    let tenant = TenantId(a.tenant.clone());
    let mut edits = Vec::new();
    for (n, id) in items.iter().enumerate() {
        for i in 0..(if n == 0 { 60 } else { 10 }) {
            let store = pick(&a, &b, i + n).state.stores.resources.clone();
            let (tenant, id) = (tenant.clone(), id.clone());
            edits.push(tokio::spawn(async move { store.edit(&tenant, set_name, &id, increment()).await }));
        }
    }
    for e in join_all(edits).await {
        e.unwrap().expect("every edit applies: none refused, none lost");
    }
    for (n, id) in items.iter().enumerate() {
        let want = if n == 0 { 60 } else { 10 };
        for server in [Some(&a), b.as_ref()].into_iter().flatten() {
            let stored = server.state.stores.resources.get(&tenant, set_name, id).await.unwrap().unwrap();
            assert_eq!(stored.doc["displayName"], want.to_string(), "item {n}: every increment counted");
            let read = server.as_(OUTBOUND_RW).get(&format!("outboundProvisioningFlowSets/{id}")).await;
            assert_eq!(read.expect(200).body["displayName"], want.to_string());
        }
    }

    // The same over HTTP: concurrent PATCHes of one flow (the docs' example, which the benchmark sends)
    // through both replicas all succeed, each a write of its own.
    let set = &items[1];
    let flow = create_flow(&c, set, class_group_flow_body()).await;
    let path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    let seed: Value = serde_json::from_str(include_str!("../../../../bench/seed-patch.json")).unwrap();
    let before = c.get(&path).await.expect(200).body["lastModifiedDateTime"].clone();
    let patches = (0..24).map(|i| {
        let (client, path, seed) = (pick(&a, &b, i).as_(OUTBOUND_RW), path.clone(), seed.clone());
        async move { client.patch(&path, seed).await }
    });
    for r in join_all(patches).await {
        r.expect(204);
    }
    let after = c.get(&path).await;
    assert!(after.expect(200).text.contains(r#""code":"substitute""#), "{}", after.text);
    assert_ne!(after.body["lastModifiedDateTime"], before);
    let versions = a.state.stores.resources.get(&tenant, "provisioningFlows", &flow).await.unwrap().unwrap().version;
    assert_eq!(versions, 25, "the creation and 24 writes, none lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_never_duplicate_a_unique_key() {
    let (a, b) = replicas().await;
    let c = a.as_(OUTBOUND_RW);
    // One flow per type in a set: twelve creations of the same type at once, through both replicas.
    let set = create_set(&c).await;
    let path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows");
    let posts = (0..12).map(|i| {
        let (client, path) = (pick(&a, &b, i).as_(OUTBOUND_RW), path.clone());
        async move { client.post(&path, class_group_flow_body()).await.status.as_u16() }
    });
    let statuses = join_all(posts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert_eq!(c.get(&path).await.expect(200).body["value"].as_array().unwrap().len(), 1);

    // A sortIndex is unique within a reference type: six definitions PATCHed to the same one at once.
    let r = a.as_("IndustryData-ReferenceDefinition.ReadWrite.All");
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = definition("RefGradeLevel", &format!("Concurrent{i}"), 700 + i);
        ids.push(r.post("referenceDefinitions", body).await.expect(201).id());
    }
    let patches = ids.iter().enumerate().map(|(i, id)| {
        let client = pick(&a, &b, i).as_("IndustryData-ReferenceDefinition.ReadWrite.All");
        let path = format!("referenceDefinitions/{id}");
        async move { client.patch(&path, json!({"sortIndex": 799})).await.status.as_u16() }
    });
    let statuses = join_all(patches).await;
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    let mut holders = 0;
    for id in &ids {
        let d = r.get(&format!("referenceDefinitions/{id}")).await;
        holders += usize::from(d.expect(200).body["sortIndex"] == 799);
    }
    assert_eq!(holders, 1, "one definition holds the sortIndex");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_binds_and_deletes_leave_no_dangling_reference() {
    let (a, b) = replicas().await;
    let scopes = "IndustryData-SourceSystem.ReadWrite.All IndustryData-DataConnector.ReadWrite.All \
                  IndustryData-TimePeriod.ReadWrite.All IndustryData-InboundFlow.ReadWrite.All";
    let c = a.as_(scopes);
    let source = c.post("sourceSystems", source_system_body()).await.expect(201).id();
    let year = c.post("years", year_body()).await.expect(201).id();
    let home = c.post("dataConnectors", lake_body(&source)).await.expect(201).id();
    let mut flows = Vec::new();
    for _ in 0..4 {
        flows.push(c.post("inboundFlows", flow_body("inboundFileFlow", &home, &year)).await.expect(201).id());
    }
    for round in 0..4 {
        // A new connector, deleted through one replica while the other creates flows bound to it and rebinds
        // existing flows to it.
        let doomed = c.post("dataConnectors", lake_body(&source)).await.expect(201).id();
        let bind = json!({"dataConnector@odata.bind": format!("{GRAPH}/dataConnectors/{doomed}")});
        let mut writes = Vec::new();
        for i in 0..8 {
            let client = pick(&a, &b, i + 1).as_(scopes);
            let (body, path) = match i % 2 {
                0 => (flow_body("inboundFileFlow", &doomed, &year), None),
                _ => (bind.clone(), Some(format!("inboundFlows/{}", flows[i / 2]))),
            };
            writes.push(tokio::spawn(async move {
                match path {
                    None => client.post("inboundFlows", body).await.status.as_u16(),
                    Some(p) => client.patch(&p, body).await.status.as_u16(),
                }
            }));
            if i == 3 {
                let client = pick(&a, &b, 0).as_(scopes);
                let path = format!("dataConnectors/{doomed}");
                writes.push(tokio::spawn(async move { client.delete(&path).await.status.as_u16() }));
            }
        }
        let statuses: Vec<u16> = join_all(writes).await.into_iter().map(Result::unwrap).collect();
        assert!(statuses.iter().all(|s| [201, 204, 400, 409].contains(s)), "round {round}: {statuses:?}");
        // Whatever won each race, every flow's connector exists.
        let listed = c.get("inboundFlows?$top=999").await;
        for flow in listed.expect(200).body["value"].as_array().unwrap() {
            let id = flow["id"].as_str().unwrap();
            c.get(&format!("inboundFlows/{id}/dataConnector")).await.expect(200);
        }
    }
}

/// Reads coalesced into shared statements (`rosterflow-store/src/postgres/reads.rs`) and pages that take
/// bodies from the replica's memory are never stale: many GETs of items and of pages in flight together with
/// PATCHes of the same items through both replicas, and every read that starts after a PATCH was acknowledged
/// sees that PATCH (or a later one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_in_flight_with_writes_see_every_acknowledged_write() {
    use std::sync::atomic::{AtomicU64, Ordering};

    let (a, b) = replicas().await;
    let c = a.as_(OUTBOUND_RW);
    let mut ids = Vec::new();
    for _ in 0..6 {
        let id = create_set(&c).await;
        c.patch(&format!("outboundProvisioningFlowSets/{id}"), json!({"displayName": "0"})).await.expect(204);
        ids.push(id);
    }
    let ids = Arc::new(ids);
    // The highest counter acknowledged per item: a read sent after it must show at least that.
    let acked: Arc<Vec<AtomicU64>> = Arc::new(ids.iter().map(|_| AtomicU64::new(0)).collect());
    let counter = |v: &Value| -> u64 { v["displayName"].as_str().and_then(|s| s.parse().ok()).expect("a counter") };
    let mut tasks = Vec::new();
    // One writer per item (so its counter only grows), alternating replicas.
    for (n, id) in ids.iter().enumerate() {
        let clients = [a.as_(OUTBOUND_RW), pick(&a, &b, 1).as_(OUTBOUND_RW)];
        let (acked, path) = (acked.clone(), format!("outboundProvisioningFlowSets/{id}"));
        tasks.push(tokio::spawn(async move {
            for i in 1..=15u64 {
                clients[i as usize % 2].patch(&path, json!({"displayName": i.to_string()})).await.expect(204);
                acked[n].store(i, Ordering::SeqCst);
            }
        }));
    }
    // Readers: GETs of single items and pages of the collection, many in flight at once on each replica.
    for r in 0..16usize {
        let client = pick(&a, &b, r).as_(OUTBOUND_RW);
        let (acked, ids) = (acked.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..40usize {
                if (r + i) % 4 == 0 {
                    let floor: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
                    let page = client.get("outboundProvisioningFlowSets?$top=50").await;
                    for item in page.expect(200).body["value"].as_array().unwrap() {
                        let n = ids.iter().position(|id| item["id"] == id.as_str()).expect("one of the items");
                        assert!(counter(item) >= floor[n], "page: item {n} shows {} after {}", counter(item), floor[n]);
                    }
                } else {
                    let n = (r * 7 + i) % ids.len();
                    let floor = acked[n].load(Ordering::SeqCst);
                    let got = client.get(&format!("outboundProvisioningFlowSets/{}", ids[n])).await;
                    let shown = counter(&got.expect(200).body);
                    assert!(shown >= floor, "GET: item {n} shows {shown} after {floor} was acknowledged");
                }
            }
        }));
    }
    for t in join_all(tasks).await {
        t.unwrap();
    }
    // At rest, both replicas show every item's last write, alone and in a page.
    for server in [Some(&a), b.as_ref()].into_iter().flatten() {
        let client = server.as_(OUTBOUND_RW);
        for id in ids.iter() {
            let got = client.get(&format!("outboundProvisioningFlowSets/{id}")).await;
            assert_eq!(counter(&got.expect(200).body), 15);
        }
        let page = client.get("outboundProvisioningFlowSets?$top=50").await;
        assert!(page.expect(200).body["value"].as_array().unwrap().iter().all(|v| counter(v) == 15));
    }
}

/// An item deleted and created again under the same id is a new item to every replica, not the one a replica
/// remembers: the new row must not come back with the deleted one's `seq` and version, which a replica's memory
/// of items (`postgres/edits.rs`) would take for the row it holds, serving, and patching, the old body.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_created_again_under_its_old_id_is_read_anew_by_every_replica() {
    let (a, b) = replicas().await;
    let b = b.as_ref().unwrap_or(&a);
    let tenant = TenantId(a.tenant.clone());
    let set = "outboundProvisioningFlowSets";
    let write = |name: &str| {
        let mut doc = serde_json::Map::new();
        doc.insert("id".into(), json!("same-id"));
        doc.insert("displayName".into(), json!(name));
        let resource = Resource {
            set: set.into(),
            id: "same-id".into(),
            parent: None,
            odata_type: "microsoft.graph.industryData.outboundProvisioningFlowSet".into(),
            doc: Arc::new(doc),
            version: 1,
        };
        rosterflow_store::Write { resource, expect: rosterflow_store::Expect::Absent, unique: vec![], refs: vec![] }
    };
    let (on_a, on_b) = (&a.state.stores.resources, &b.state.stores.resources);
    on_a.put(&tenant, write("old")).await.unwrap();
    // The other replica reads it (and remembers it), then the item is deleted and created again, newest both times.
    assert_eq!(on_b.get(&tenant, set, "same-id").await.unwrap().unwrap().doc["displayName"], "old");
    on_a.delete(&tenant, set, "same-id").await.unwrap();
    on_a.put(&tenant, write("new")).await.unwrap();
    assert_eq!(on_b.get(&tenant, set, "same-id").await.unwrap().unwrap().doc["displayName"], "new");
    // And a write through that replica starts from the new body.
    let rename: Edit = Box::new(|r: &mut Resource| {
        let mut doc = (*r.doc).clone();
        let name = format!("{}, edited", doc["displayName"].as_str().unwrap());
        doc.insert("displayName".into(), Value::String(name));
        r.doc = Arc::new(doc);
        Ok(Constraints::default())
    });
    on_b.edit(&tenant, set, "same-id", rename).await.unwrap();
    assert_eq!(on_a.get(&tenant, set, "same-id").await.unwrap().unwrap().doc["displayName"], "new, edited");
}
