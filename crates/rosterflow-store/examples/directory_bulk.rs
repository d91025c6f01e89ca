//! A first probe of the directory's bulk write (not the benchmark, which is still to be written):
//! 100k users, 21k classes and 600k memberships through `DirectoryStore::apply`, then every user's match keys.
//!
//!     cargo run --release -p rosterflow-store --example directory_bulk -- /tmp/x/db.sqlite3
//!     cargo run --release -p rosterflow-store --example directory_bulk -- postgres://postgres@127.0.0.1:5432/db
//!
//! Figures and caveats: docs/benchmarks.md, "Directory bulk write".

use rosterflow_model::directory::{new_id, ObjectKind, Relation};
use rosterflow_store::directory::{Bulk, Link, Object, Source};
use rosterflow_store::TenantId;
use serde_json::json;
#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).unwrap();
    let stores = rosterflow_store::open(&url).await.unwrap();
    let t = TenantId(new_id());
    let users: Vec<Object> = (0..100_000).map(|i| Object::new(new_id(), ObjectKind::User, json!({"displayName": format!("Student {i}"), "userPrincipalName": format!("s{i}@x.test"), "mailNickname": format!("s{i}"), "accountEnabled": true, "primaryRole": "student", "student": {"externalId": format!("S{i}"), "grade": "9"}, "assignedLicenses": [{"skuId": "0b3f3a1e-1111-2222-3333-444455556666", "disabledPlans": []}]}).as_object().unwrap().clone())).collect();
    let classes: Vec<Object> = (0..21_000).map(|i| { let mut o = Object::new(new_id(), ObjectKind::Group, json!({"displayName": format!("Class {i}"), "mailNickname": format!("c{i}"), "externalId": format!("C{i}"), "mailEnabled": true, "securityEnabled": false, "groupTypes": ["Unified"]}).as_object().unwrap().clone()); o.education = true; o }).collect();
    let links: Vec<Link> = (0..600_000)
        .map(|i| Link {
            relation: Relation::Members,
            from: classes[i % 21_000].id.clone(),
            to: users[(i * 7) % 100_000].id.clone(),
        })
        .collect();
    let start = std::time::Instant::now();
    let objs = [users, classes].concat();
    let ix: usize = objs.iter().map(|o| rosterflow_model::directory::render::folded(o.kind, &o.doc).len()).sum();
    println!("fold only: {:?} {ix}", start.elapsed());
    let start = std::time::Instant::now();
    stores.directory.apply(&t, Bulk { upserts: objs, source: Some(Source::Run), ..Default::default() }).await.unwrap();
    println!("objects: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    stores.directory.apply(&t, Bulk { link: links, source: Some(Source::Run), ..Default::default() }).await.unwrap();
    println!("links: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let keys = stores.directory.user_keys(&t).await.unwrap();
    println!("user_keys {}: {:?}", keys.len(), start.elapsed());
}
