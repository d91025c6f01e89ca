//! The directory benchmark's tools (bench/directory.sh runs them; figures in docs/benchmarks.md, "The directory"):
//!
//!     directory_bench load DATABASE_URL TENANT OUT_DIR   100k users, 21k classes, 600k memberships through the
//!                                                        store's bulk API; writes request paths for wrk to OUT_DIR
//!     directory_bench page BASE_URL TOKEN                every user with $top=999, following @odata.nextLink
//!     directory_bench batch BASE_URL TOKEN USERS IN_FLIGHT
//!                                                        USERS new users through POST /beta/$batch, 20 POST /users
//!                                                        to a batch (the wire shape the SDKs send), IN_FLIGHT
//!                                                        batches at once
//!
//! The Python SDK's batch helpers cost more on the client than the server spends (docs/benchmarks.md, "$batch"),
//! so the load generator is this program: the batch bodies are prepared before the clock starts, and each
//! response is checked for twenty 201s.

use std::time::Instant;

use rosterflow_model::directory::{new_id, ObjectKind, Relation};
use rosterflow_store::directory::{Bulk, Link, Object, Source};
use rosterflow_store::TenantId;
use serde_json::{json, Value};

const USERS: usize = 100_000;
const CLASSES: usize = 21_000;
const MEMBERSHIPS: usize = 600_000;
const TEACHERS: usize = 5_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| usage());
    match arg(0) {
        "load" => load(arg(1), arg(2), arg(3)).await,
        "page" => page(arg(1), arg(2)).await,
        "batch" => batch(arg(1), arg(2), arg(3).parse().unwrap_or_else(|_| usage()), arg(4).parse().unwrap()).await,
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: directory_bench load URL TENANT OUT | page BASE TOKEN | batch BASE TOKEN USERS IN_FLIGHT");
    std::process::exit(2)
}

/// The i-th user as a district's roster makes it: a student (or, for the first TEACHERS, a teacher).
fn user(i: usize) -> Object {
    let role = if i < TEACHERS { "teacher" } else { "student" };
    let facet = if i < TEACHERS {
        json!({"teacher": {"externalId": format!("T{i}"), "teacherNumber": format!("{i}")}})
    } else {
        json!({"student": {"externalId": format!("S{i}"), "grade": "09", "studentNumber": format!("{i}")}})
    };
    let mut doc = json!({
        "displayName": format!("Student{i} Example"), "givenName": format!("Student{i}"), "surname": "Example",
        "userPrincipalName": format!("s{i}@bench.example"), "mailNickname": format!("s{i}"),
        "mail": format!("s{i}@bench.example"), "accountEnabled": true, "primaryRole": role,
        "usageLocation": "US", "department": "Lincoln High", "createdDateTime": "2026-09-01T00:00:00Z",
        "assignedLicenses": [{"skuId": "0b3f3a1e-1111-2222-3333-444455556666", "disabledPlans": []}],
    });
    doc.as_object_mut().unwrap().extend(facet.as_object().unwrap().clone());
    Object::new(new_id(), ObjectKind::User, doc.as_object().unwrap().clone())
}

fn class(i: usize) -> Object {
    let doc = json!({
        "displayName": format!("Algebra {i}"), "mailNickname": format!("Section_{i}"), "externalId": format!("C{i}"),
        "externalName": format!("Algebra {i}"), "classCode": format!("ALG-{i}"), "mailEnabled": true,
        "securityEnabled": false, "groupTypes": ["Unified"], "creationOptions": ["classAssignments"],
        "visibility": "HiddenMembership", "description": format!("Algebra, section {i}"),
        "mail": format!("Section_{i}@bench.example"), "createdDateTime": "2026-09-01T00:00:00Z",
    });
    let mut o = Object::new(new_id(), ObjectKind::Group, doc.as_object().unwrap().clone());
    o.education = true;
    o
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Loads the directory and writes, to OUT: `members.paths` (the members of 2,000 classes), `upn.paths` and
/// `ext.paths` (`$filter` by 2,000 users' UPNs and classes' externalIds).
async fn load(url: &str, tenant: &str, out: &str) {
    let stores = rosterflow_store::open(url).await.expect("open the store");
    let t = TenantId(tenant.to_string());
    let users: Vec<Object> = (0..USERS).map(user).collect();
    let classes: Vec<Object> = (0..CLASSES).map(class).collect();
    // Every class has one teacher (owner and member) and about 28 students.
    let mut link: Vec<Link> = Vec::with_capacity(MEMBERSHIPS + CLASSES);
    for (c, class) in classes.iter().enumerate() {
        let teacher = &users[c % TEACHERS].id;
        link.push(Link { relation: Relation::Owners, from: class.id.clone(), to: teacher.clone() });
        link.push(Link { relation: Relation::Members, from: class.id.clone(), to: teacher.clone() });
    }
    let students = USERS - TEACHERS;
    for i in 0..MEMBERSHIPS - CLASSES {
        let student = TEACHERS + (i * 7919) % students;
        link.push(Link {
            relation: Relation::Members,
            from: classes[i % CLASSES].id.clone(),
            to: users[student].id.clone(),
        });
    }
    let write =
        |name: &str, lines: Vec<String>| std::fs::write(format!("{out}/{name}"), lines.join("\n") + "\n").unwrap();
    let picks = |n: usize| (0..2000).map(move |k| (k * 7907) % n);
    write(
        "members.paths",
        picks(CLASSES).map(|c| format!("/beta/education/classes/{}/members", classes[c].id)).collect(),
    );
    write(
        "upn.paths",
        picks(USERS)
            .map(|u| format!("/beta/users?$filter={}", encode(&format!("userPrincipalName eq 's{u}@bench.example'"))))
            .collect(),
    );
    write(
        "ext.paths",
        picks(CLASSES)
            .map(|c| format!("/beta/education/classes?$filter={}", encode(&format!("externalId eq 'C{c}'"))))
            .collect(),
    );
    let start = Instant::now();
    let objects = [users, classes].concat();
    stores
        .directory
        .apply(&t, Bulk { upserts: objects, source: Some(Source::Run), ..Default::default() })
        .await
        .unwrap();
    let objects_took = start.elapsed();
    stores.directory.apply(&t, Bulk { link, source: Some(Source::Run), ..Default::default() }).await.unwrap();
    if url.starts_with("postgres") {
        // Statistics and the visibility map, as autovacuum gathers and sets them a little after a load this
        // size: without statistics the planner walks whole tenants; without the visibility map each of a
        // class's relation rows is read from the table as well as from its index (docs/benchmarks.md, "The
        // directory").
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("VACUUM (ANALYZE) dir_object, dir_relation").execute(&mut c).await.unwrap();
    }
    println!(
        "loaded {USERS} users and {CLASSES} classes in {:.2} s, {} relations in {:.2} s",
        objects_took.as_secs_f64(),
        MEMBERSHIPS + CLASSES,
        (start.elapsed() - objects_took).as_secs_f64()
    );
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap()
}

/// What the paging client reads of a page: the items counted (each one parsed as JSON, not built into a
/// `Value`: building ~1,000 users' `Value`s a page cost this client ~0.7 s of CPU for the 100 pages, about as
/// much as the server spends serving them, and measured the client more than the server) and the next link.
#[derive(serde::Deserialize)]
struct PageBody {
    value: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

/// Pages through every user with `$top=999`; prints the pages, users and seconds.
async fn page(base: &str, token: &str) {
    let c = client();
    let mut url = format!("{base}/beta/users?$top=999");
    let (mut pages, mut users) = (0, 0);
    let start = Instant::now();
    loop {
        let r = c.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let body: PageBody = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        pages += 1;
        users += body.value.len();
        match body.next {
            Some(next) => url = next,
            None => break,
        }
    }
    println!("paged {users} users in {pages} pages in {:.3} s", start.elapsed().as_secs_f64());
}

/// Creates `users` users through `$batch`, `in_flight` batches at a time; prints users, seconds and users/s.
async fn batch(base: &str, token: &str, users: usize, in_flight: usize) {
    let run = new_id();
    let bodies: Vec<bytes::Bytes> = (0..users.div_ceil(20))
        .map(|b| {
            let requests: Vec<Value> = (b * 20..((b + 1) * 20).min(users))
                .map(|i| {
                    json!({
                        "id": format!("{}", i % 20 + 1), "method": "POST", "url": "/users",
                        "headers": {"Content-Type": "application/json"},
                        "body": {
                            "accountEnabled": true, "displayName": format!("Loaded {i}"), "mailNickname": format!("l{i}"),
                            "userPrincipalName": format!("l{i}-{}@bench.example", &run[..8]),
                            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
                        },
                    })
                })
                .collect();
            serde_json::to_vec(&json!({ "requests": requests })).unwrap().into()
        })
        .collect();
    let c = client();
    let url = format!("{base}/beta/$batch");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    let workers = (0..in_flight).map(|_| async {
        let mut created = 0;
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(body) = bodies.get(i) else { return created };
            let r = c
                .post(&url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let answer: Value = r.json().await.unwrap();
            for resp in answer["responses"].as_array().unwrap() {
                assert_eq!(resp["status"], 201, "{resp}");
                created += 1;
            }
        }
    });
    let created: usize = futures_util::future::join_all(workers).await.into_iter().sum();
    let secs = start.elapsed().as_secs_f64();
    println!("created {created} users through $batch in {secs:.2} s ({:.0} users/s)", created as f64 / secs);
}
