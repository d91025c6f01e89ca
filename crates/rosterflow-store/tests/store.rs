//! The store's contract, on SQLite always and on PostgreSQL when `ROSTERFLOW_TEST_DATABASE_URL` names a server
//! (a database of its own is created per run).

use std::sync::Arc;

mod common;

use rosterflow_store::{open, Expect, Ref, Resource, Store, StoreError, TenantId, Write};
use serde_json::json;

async fn stores() -> Vec<Arc<dyn Store>> {
    common::all_backends().await.into_iter().map(|s| s.resources).collect()
}

fn tenant() -> TenantId {
    TenantId(format!("t-{}", uuid::Uuid::new_v4()))
}

fn resource(set: &str, id: &str, parent: Option<&str>) -> Resource {
    let doc = json!({"id": id, "displayName": id}).as_object().unwrap().clone();
    Resource {
        set: set.into(),
        id: id.into(),
        parent: parent.map(Into::into),
        odata_type: "t".into(),
        doc: Arc::new(doc),
        version: 0,
    }
}

fn create(set: &str, id: &str, parent: Option<&str>) -> Write {
    Write { resource: resource(set, id, parent), expect: Expect::Absent, unique: vec![], refs: vec![] }
}

#[tokio::test]
async fn writes_are_tenant_scoped_versioned_and_case_insensitive_by_id() {
    for store in stores().await {
        let (a, b) = (tenant(), tenant());
        store.put(&a, create("sets", "S1", None)).await.unwrap();
        assert!(store.get(&b, "sets", "S1").await.unwrap().is_none());
        assert!(store.list(&b, "sets", None).await.unwrap().is_empty());
        let got = store.get(&a, "sets", "s1").await.unwrap().unwrap();
        assert_eq!((got.id.as_str(), got.version), ("S1", 1));
        assert_eq!(store.put(&a, create("sets", "s1", None)).await, Err(StoreError::Exists));

        let mut update = Write { expect: Expect::Version(1), ..create("sets", "S1", None) };
        Arc::make_mut(&mut update.resource.doc).insert("displayName".into(), json!("new"));
        store.put(&a, update.clone()).await.unwrap();
        assert_eq!(store.put(&a, update).await, Err(StoreError::VersionConflict), "a stale version loses");
        assert_eq!(store.get(&a, "sets", "S1").await.unwrap().unwrap().doc["displayName"], "new");
        assert_eq!(store.delete(&b, "sets", "S1").await, Err(StoreError::NotFound));
    }
}

#[tokio::test]
async fn concurrent_writes_of_one_unique_key_admit_exactly_one() {
    for store in stores().await {
        let t = tenant();
        store.put(&t, create("sets", "parent", None)).await.unwrap();
        let attempts = (0..40).map(|i| {
            let (store, t) = (store.clone(), t.clone());
            tokio::spawn(async move {
                let mut w = create("flows", &format!("f{i}"), Some("parent"));
                // Half compete for one key; the others have keys of their own and must all land.
                w.unique = vec![if i % 2 == 0 { "type:user".into() } else { format!("type:{i}") }];
                store.put(&t, w).await
            })
        });
        let results: Vec<_> = join_all(attempts).await;
        let winners = results.iter().enumerate().filter(|(i, r)| i % 2 == 0 && r.is_ok()).count();
        assert_eq!(winners, 1, "{results:?}");
        assert!(results.iter().enumerate().filter(|(i, _)| i % 2 == 1).all(|(_, r)| r.is_ok()), "{results:?}");
        assert!(results.iter().any(|r| *r == Err(StoreError::Duplicate("type:user".into()))));
        assert_eq!(store.list(&t, "flows", Some("parent")).await.unwrap().len(), 21);
        // Writes that failed in a batch left nothing behind, in the store or in what reads see.
        let mut found = 0;
        for i in (0..40).step_by(2) {
            found += usize::from(store.get(&t, "flows", &format!("f{i}")).await.unwrap().is_some());
        }
        assert_eq!(found, 1);
    }
}

#[tokio::test]
async fn references_must_exist_and_block_deletes_while_containment_cascades() {
    for store in stores().await {
        let t = tenant();
        let bound = |id: &str| Ref { set: "years".into(), id: id.into(), path: "year@odata.bind".into() };
        let mut flow = create("inboundFlows", "flow", None);
        flow.refs = vec![bound("Y1")];
        match store.put(&t, flow.clone()).await {
            Err(StoreError::MissingRef { id, .. }) => assert_eq!(id, "Y1"),
            other => panic!("{other:?}"),
        }
        store.put(&t, create("years", "y1", None)).await.unwrap();
        store.put(&t, flow).await.unwrap();
        match store.delete(&t, "years", "Y1").await {
            Err(StoreError::InUse { by_set, by_id, .. }) => {
                assert_eq!((by_set.as_str(), by_id.as_str()), ("inboundFlows", "flow"))
            }
            other => panic!("{other:?}"),
        }
        store.delete(&t, "inboundFlows", "flow").await.unwrap();
        store.delete(&t, "years", "y1").await.unwrap();

        // Deleting a parent deletes its children and frees their unique keys.
        store.put(&t, create("sets", "p", None)).await.unwrap();
        let mut child = create("flows", "c", Some("p"));
        child.unique = vec!["type:x".into()];
        store.put(&t, child.clone()).await.unwrap();
        store.delete(&t, "sets", "p").await.unwrap();
        assert!(store.get(&t, "flows", "c").await.unwrap().is_none());
        assert!(store.get(&t, "sets", "p").await.unwrap().is_none());
        store.put(&t, create("sets", "p", None)).await.unwrap();
        store.put(&t, child).await.unwrap();
    }
}

async fn join_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

/// Store item `s` of set `sets` with `n: 0`, then add 1 to `n` with `count` concurrent edits (addressing it as
/// `id`, which may differ in case).
async fn increment_concurrently(store: &Arc<dyn Store>, t: &TenantId, id: &'static str, count: usize) {
    let mut w = create("sets", "s", None);
    Arc::make_mut(&mut w.resource.doc).insert("n".into(), json!(0));
    store.put(t, w).await.unwrap();
    let edits = (0..count).map(|_| {
        let (store, t) = (store.clone(), t.clone());
        tokio::spawn(async move {
            let edit: rosterflow_store::Edit = Box::new(|r: &mut Resource| {
                let doc = Arc::make_mut(&mut r.doc);
                let n = doc["n"].as_i64().unwrap();
                doc.insert("n".into(), json!(n + 1));
                Ok(Default::default())
            });
            store.edit(&t, "sets", id, edit).await
        })
    });
    for r in join_all(edits).await {
        r.unwrap();
    }
}

#[tokio::test]
async fn edits_apply_in_turn_against_the_current_item() {
    for store in stores().await {
        let t = tenant();
        increment_concurrently(&store, &t, "S", 50).await;
        let got = store.get(&t, "sets", "s").await.unwrap().unwrap();
        assert_eq!((got.doc["n"].as_i64(), got.version), (Some(50), 51), "no edit lost");
        let missing: rosterflow_store::Edit = Box::new(|_| Ok(Default::default()));
        assert_eq!(store.edit(&t, "sets", "nope", missing).await, Err(StoreError::NotFound));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_one_item_all_reach_the_sqlite_file() {
    // The writer writes an item edited several times in one batch once, with its last state: what the file
    // holds after a restart (an empty cache) must still count every edit.
    let dir = std::env::temp_dir().join(format!("rosterflow-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite3");
    let t = tenant();
    increment_concurrently(&open(path.to_str().unwrap()).await.unwrap().resources, &t, "s", 200).await;
    let reopened = open(path.to_str().unwrap()).await.unwrap().resources;
    let got = reopened.get(&t, "sets", "s").await.unwrap().unwrap();
    assert_eq!((got.doc["n"].as_i64(), got.version), (Some(200), 201));
}

#[tokio::test]
async fn one_process_at_a_time_owns_a_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("rosterflow-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite3");
    let first = open(path.to_str().unwrap()).await.unwrap();
    let second = open(path.to_str().unwrap()).await;
    assert!(matches!(&second, Err(StoreError::Backend(m)) if m.contains("in use")), "{:?}", second.err());
    drop(first);
    open(path.to_str().unwrap()).await.expect("free again once the first store is gone");
}

#[tokio::test]
async fn the_inbound_stamp_moves_with_every_change_of_inbound_flows_or_snapshots_and_nothing_else() {
    for stores in common::all_backends().await {
        let (store, roster) = (&stores.resources, &stores.roster);
        let (t, other) = (tenant(), tenant());
        store.put(&t, create("sets", "S1", None)).await.unwrap();
        let stamp = |t: TenantId| {
            let store = store.clone();
            async move { store.get_stamped(&t, "sets", "S1").await.unwrap().1 }
        };
        let flow_set_stamp = |t: TenantId| {
            let store = store.clone();
            async move {
                let q = rosterflow_store::PageQuery { limit: 10, ..Default::default() };
                store.page(&t, "sets", &q).await.unwrap().stamp
            }
        };
        let s0 = stamp(t.clone()).await;
        assert_eq!(s0, 0, "no inbound flow yet");
        assert_eq!(flow_set_stamp(t.clone()).await, Some(0));

        let mut seen = vec![s0];
        fn moved(seen: &mut Vec<i64>, s: i64, what: &str) {
            assert!(!seen.contains(&s), "{what}: the stamp {s} was seen before ({seen:?})");
            seen.push(s);
        }
        store.put(&t, create("inboundFlows", "F1", None)).await.unwrap();
        moved(&mut seen, stamp(t.clone()).await, "an inbound flow created");
        let edit: rosterflow_store::Edit = Box::new(|r: &mut Resource| {
            Arc::make_mut(&mut r.doc).insert("displayName".into(), json!("renamed"));
            Ok(Default::default())
        });
        store.edit(&t, "inboundFlows", "F1", edit).await.unwrap();
        moved(&mut seen, stamp(t.clone()).await, "an inbound flow edited");
        let meta = rosterflow_store::roster::SnapshotMeta::default();
        roster.load_snapshot(&t, "F1", meta, vec![]).await.unwrap();
        moved(&mut seen, stamp(t.clone()).await, "a snapshot loaded");
        assert_eq!(flow_set_stamp(t.clone()).await, Some(*seen.last().unwrap()), "a page reads the same stamp");

        let before = stamp(t.clone()).await;
        let edit: rosterflow_store::Edit = Box::new(|r: &mut Resource| {
            Arc::make_mut(&mut r.doc).insert("displayName".into(), json!("renamed"));
            Ok(Default::default())
        });
        store.edit(&t, "sets", "S1", edit).await.unwrap();
        store.put(&t, create("provisioningFlows", "P1", None)).await.unwrap();
        store.put(&other, create("inboundFlows", "F1", None)).await.unwrap();
        assert_eq!(stamp(t.clone()).await, before, "other sets and other tenants leave it alone");

        roster.delete_flow(&t, "F1").await.unwrap();
        moved(&mut seen, stamp(t.clone()).await, "a flow's snapshots deleted");
        store.delete(&t, "inboundFlows", "F1").await.unwrap();
        moved(&mut seen, stamp(t.clone()).await, "an inbound flow deleted");
        assert_eq!(store.get_stamped(&t, "sets", "missing").await.unwrap().0, None);
    }
}
