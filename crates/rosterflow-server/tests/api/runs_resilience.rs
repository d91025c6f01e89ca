//! Runs under way and runs interrupted, with the real engine over a generated district: a client polling a run
//! sees its activities advance; a server killed (`kill -9`) at random points mid-run and restarted completes
//! the work at the next run, with nothing lost or doubled (compared with an uninterrupted run of the same
//! data in another tenant).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::runs::{inbound_chain, load_snapshot, wait};

/// A generated district of `students` in a folder of its own.
fn district(students: u64) -> std::path::PathBuf {
    let dir = temp_dir().join("district");
    let d = rosterflow_engine::generate::District { students, ..Default::default() };
    rosterflow_engine::generate::generate(&d, &dir).unwrap();
    dir
}

fn app(server: &TestServer, tenant: &str) -> Client {
    let roles: Vec<String> = rosterflow_model::permissions::all().iter().map(|p| p.to_string()).collect();
    client_for(&server.url, server.token_with(&rosterflow_server::auth::TokenSpec::application(tenant, &roles)))
}

/// Every flow type in one unfiltered set, and an inbound flow open now holding `dir`.
async fn configure(server: &TestServer, c: &Client, dir: &Path) {
    let set = c.post("outboundProvisioningFlowSets", json!({"displayName": "District"})).await.expect(201).id();
    for body in [user_flow_body(), class_group_flow_body(), security_group_flow_body(), admin_unit_flow_body()] {
        create_flow(c, &set, body).await;
    }
    let day = chrono::Duration::days(1);
    let (from, to) = (chrono::Utc::now() - day, chrono::Utc::now() + day);
    let (flow, _) = inbound_chain(c, &rosterflow_model::time::format(from), &rosterflow_model::time::format(to)).await;
    load_snapshot(server, &flow, dir).await;
}

async fn start_when_free(c: &Client) -> String {
    for _ in 0..400 {
        let r = c.send(Method::POST, "runs/start", None).await;
        if r.status == 202 {
            return r.header("location").unwrap().rsplit('/').next().unwrap().to_string();
        }
        r.error(409);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the tenant's lease never freed");
}

#[tokio::test]
async fn a_client_polling_a_run_sees_its_activities_advance() {
    let server = TestServer::start().await;
    let c = app(&server, &server.tenant);
    configure(&server, &c, &district(8_000)).await;
    let run = start_when_free(&c).await;
    // (run status, activity statuses) at each poll.
    let mut seen: Vec<(String, Vec<String>)> = vec![];
    loop {
        let activities = c.get(&format!("runs/{run}/activities")).await.body["value"].as_array().unwrap().clone();
        let status = c.get(&format!("runs/{run}")).await.body["status"].as_str().unwrap().to_string();
        let statuses: Vec<String> = activities.iter().map(|a| a["status"].as_str().unwrap().to_string()).collect();
        let done = status != "running";
        if seen.last().is_none_or(|last| *last != (status.clone(), statuses.clone())) {
            seen.push((status, statuses));
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (last_status, last) = seen.last().unwrap();
    assert_eq!(last_status, "completed", "{seen:?}");
    assert_eq!(last.len(), 5, "one inbound and four outbound activities: {seen:?}");
    assert!(last.iter().all(|s| s != "inProgress"), "{seen:?}");
    let running: Vec<&(String, Vec<String>)> = seen.iter().filter(|(s, _)| s == "running").collect();
    assert!(
        running.iter().any(|(_, a)| a.iter().any(|s| s == "inProgress")),
        "a poll while the run went saw an activity in progress: {seen:?}"
    );
    assert!(running.len() >= 2, "the activities advanced between polls: {seen:?}");
}

/// What a tenant's directory holds, keyed by what does not depend on the tenant: users by UPN, groups and
/// administrative units by display name (counted), and each class (by its mail nickname) with its member and
/// owner counts.
async fn directory(c: &Client) -> (BTreeSet<String>, BTreeMap<String, usize>, BTreeMap<String, (usize, usize)>) {
    let users = pages(c, "/beta/users?$select=userPrincipalName&$top=999").await;
    let upns = users.iter().map(|u| u["userPrincipalName"].as_str().unwrap().to_string()).collect();
    let mut names = BTreeMap::new();
    let mut classes = BTreeMap::new();
    for g in pages(c, "/beta/groups?$select=id,displayName,mailNickname&$top=999").await {
        *names.entry(g["displayName"].as_str().unwrap().to_string()).or_insert(0) += 1;
        let nick = g["mailNickname"].as_str().unwrap_or_default();
        if nick.starts_with("Section_") {
            let id = g["id"].as_str().unwrap();
            let members = pages(c, &format!("/beta/groups/{id}/members?$select=id&$top=999")).await.len();
            let owners = pages(c, &format!("/beta/groups/{id}/owners?$select=id&$top=999")).await.len();
            assert!(classes.insert(nick.to_string(), (members, owners)).is_none(), "a class doubled: {nick}");
        }
    }
    for a in pages(c, "/beta/administrativeUnits?$select=displayName&$top=999").await {
        *names.entry(format!("au:{}", a["displayName"].as_str().unwrap())).or_insert(0) += 1;
    }
    (upns, names, classes)
}

/// Every item of a collection, following `@odata.nextLink`.
async fn pages(c: &Client, path: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut next = format!("{}{path}", c.url);
    loop {
        let r = c.get(&next.replacen(&c.url, "", 1)).await;
        r.expect(200);
        out.extend(r.body["value"].as_array().unwrap().iter().cloned());
        match r.body["@odata.nextLink"].as_str() {
            Some(link) => next = link.to_string(),
            None => return out,
        }
    }
}

/// Kill the `rosterflow` binary at random points of a run, restart it, and finally let a run complete: the
/// directory is then exactly what one uninterrupted run makes.
#[tokio::test]
async fn a_server_killed_mid_run_completes_the_work_at_the_next_run_with_nothing_lost_or_doubled() {
    let data = district(3_000);
    // The reference: the same data, run once without interruption, in a tenant of its own.
    let reference_server = TestServer::start().await;
    let reference = app(&reference_server, &reference_server.tenant);
    configure(&reference_server, &reference, &data).await;
    let began = Instant::now();
    let id = start_when_free(&reference).await;
    assert_eq!(wait(&reference, &id).await["status"], "completed");
    let duration = began.elapsed();
    let expected = directory(&reference).await;
    assert!(!expected.2.is_empty(), "the district has classes");
    reference_server.stop().await;

    // The tenant under test, configured in-process, then served by the binary (SQLite: one process per file).
    let dir = temp_dir();
    let tenant = format!("killed-{}", uuid::Uuid::new_v4());
    let setup = TestServer::start_in(dir.clone(), &tenant).await;
    configure(&setup, &app(&setup, &tenant), &data).await;
    let token = setup.token_with(&rosterflow_server::auth::TokenSpec::application(
        &tenant,
        &rosterflow_model::permissions::all().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    ));
    setup.stop().await;
    let port = free_port();
    // Short enough for the test to wait out on PostgreSQL, long enough for renewals on a busy machine.
    let flags = ["--run-lease-seconds", "5"];
    let mut killed = 0;
    for round in 0..3u32 {
        let mut process = spawn_binary_with(&dir, port, &flags, &[], Stdio::null()).await;
        let c = client_for(&process.url, token.clone());
        start_when_free(&c).await;
        // A random point inside the run (the clock's nanoseconds are random enough).
        let nanos =
            u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
        let at = duration.mul_f64((nanos % 1000) as f64 / 1000.0 * (round + 1) as f64 / 3.0);
        tokio::time::sleep(at).await;
        process.kill9();
        killed += 1;
    }
    assert_eq!(killed, 3);
    let mut process = spawn_binary_with(&dir, port, &flags, &[], Stdio::null()).await;
    let c = client_for(&process.url, token);
    let id = start_when_free(&c).await;
    let last = wait(&c, &id).await;
    assert_eq!(last["status"], "completed", "{last}");
    // The killed runs read as ended: completed if they finished before the kill, failed (abandoned) otherwise.
    let mut abandoned = 0;
    for run in c.get("runs").await.body["value"].as_array().unwrap() {
        assert_ne!(run["status"], "running", "{run}");
        if run["status"] == "failed" {
            assert_eq!(run["blockingError"]["code"], "runAbandoned", "{run}");
            abandoned += 1;
        }
    }
    assert!(abandoned >= 1, "the first kill comes within the first third of a run");
    let got = directory(&c).await;
    process.kill9();
    assert_eq!(got.0, expected.0, "users");
    assert_eq!(got.2, expected.2, "classes with their members and owners");
    assert_eq!(got.1, expected.1, "groups and administrative units");
}

/// Two replicas sharing one PostgreSQL (one server on SQLite, whose file belongs to one process) receive a
/// burst of starts for one tenant while its run takes a while: exactly one start is accepted and runs, every
/// other answers 409 naming it.
#[tokio::test]
async fn replicas_racing_to_start_one_tenants_run_start_it_once() {
    let first = TestServer::start().await;
    let second = match std::env::var_os("ROSTERFLOW_TEST_DATABASE_URL") {
        Some(_) => Some(TestServer::start_in(temp_dir(), &first.tenant).await),
        None => None,
    };
    let c = app(&first, &first.tenant);
    configure(&first, &c, &district(3_000)).await;
    let clients: Vec<Client> = std::iter::once(&first).chain(second.iter()).map(|s| app(s, &first.tenant)).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let c = clients[i % clients.len()].clone();
        tasks.spawn(async move {
            let r = c.send(Method::POST, "runs/start", None).await;
            (r.status.as_u16(), r.header("location").map(str::to_string), r.text)
        });
    }
    let mut accepted = vec![];
    while let Some(done) = tasks.join_next().await {
        let (status, location, text) = done.unwrap();
        match status {
            202 => accepted.push(location.unwrap().rsplit('/').next().unwrap().to_string()),
            409 => assert!(text.contains("is in progress"), "{text}"),
            other => panic!("{other}: {text}"),
        }
    }
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(wait(&c, &accepted[0]).await["status"], "completed");
    let runs = c.get("runs").await.body["value"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
}
