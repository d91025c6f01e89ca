//! Runs over real HTTP: `runs/start` (202 + Location, the on-demand limit's 429, 409 while the tenant's lease is
//! held), runs and their activities read back, `getStatistics`, runs left by a dead process, tenants kept apart,
//! replicas sharing one database never overlapping a tenant's runs, flows' `readinessStatus`, the scheduler
//! and the preview endpoint. End-to-end provisioning (the SDS sample run into the directory) is in
//! `runs_e2e.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use rosterflow_store::leases::Lease;
use rosterflow_store::{Expect, Resource, TenantId, Write};
use serde_json::{json, Value};

use crate::common::*;

pub const RUN_START: &str = "IndustryData-Run.Start";
pub const RUN_R: &str = "IndustryData-Run.Read.All";

/// Start a run; its id (from the `Location`).
pub async fn start(c: &Client) -> String {
    let r = c.send(Method::POST, "runs/start", None).await;
    r.expect(202);
    assert!(r.text.is_empty(), "{}", r.text);
    let location = r.header("location").expect("a Location").to_string();
    let (base, id) = location.rsplit_once('/').unwrap();
    assert!(base.ends_with("/beta/external/industryData/runs"), "{location}");
    id.to_string()
}

/// Poll the run until it has ended; the run as last read.
pub async fn wait(c: &Client, run: &str) -> Value {
    for _ in 0..600 {
        let r = c.get(&format!("runs/{run}")).await;
        r.expect(200);
        if r.body["status"] != "running" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run} did not end");
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}"))).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn start_answers_202_with_the_runs_location_and_the_run_reads_back_as_graph_shows_it() {
    let server = TestServer::start().await;
    let c = server.as_(RUN_START);
    let before = Utc::now();
    let id = start(&c).await;
    let run = wait(&c, &id).await;
    assert_eq!(run["@odata.type"], "#microsoft.graph.industryData.industryDataRun");
    assert!(run["@odata.context"].as_str().unwrap().ends_with("$metadata#external/industryData/runs/$entity"));
    assert_eq!(run["id"], id.as_str());
    let started = time(&run["startDateTime"]);
    assert!(started >= before - chrono::Duration::seconds(1) && started <= Utc::now());
    assert!(time(&run["endDateTime"]) >= started);
    assert!(run["displayName"].as_str().unwrap().starts_with("Run "), "{run}");
    assert!(["completed", "completedWithErrors", "completedWithWarnings", "failed"]
        .contains(&run["status"].as_str().unwrap()));
    for key in run.as_object().unwrap().keys() {
        assert!(!key.starts_with("@rosterflow"), "internal members never show: {run}");
    }
    if run["status"] == "failed" {
        assert!(run["blockingError"]["code"].is_string() && run["blockingError"]["message"].is_string(), "{run}");
    }

    let list = c.get("runs").await;
    list.expect(200);
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["value"][0]["id"], id.as_str());
    assert_eq!(c.get("runs/$count").await.text, "1");
    let filtered = c.get(&format!("runs?$filter=status eq '{}'&$select=status", run["status"].as_str().unwrap())).await;
    assert_eq!(
        filtered.body["value"][0],
        json!({"@odata.type": "#microsoft.graph.industryData.industryDataRun", "status": run["status"]})
    );
    let activities = c.get(&format!("runs/{id}/activities")).await;
    activities.expect(200);
    assert!(activities.body["@odata.context"].as_str().unwrap().ends_with(&format!("runs('{id}')/activities")));

    // The qualified name, any case; and a token that may only read runs may not start one.
    let again = c.send(Method::POST, "runs/Microsoft.Graph.IndustryData.start", None).await;
    again.expect(202);
    let r = server.as_(RUN_R).send(Method::POST, "runs/start", None).await;
    assert!(r.error(403)["message"].as_str().unwrap().contains(RUN_START));
    server.as_(OUTBOUND_RW).get("runs").await.error(403);
}

#[tokio::test]
async fn the_sixth_on_demand_start_in_the_window_is_429_with_retry_after() {
    let server = TestServer::start().await;
    let c = server.as_(RUN_START);
    for _ in 0..5 {
        let id = start(&c).await;
        wait(&c, &id).await;
    }
    let r = c.send(Method::POST, "runs/start", None).await;
    assert_eq!(r.error(429)["code"], "TooManyRequests");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=12 * 3600).contains(&retry), "{retry}");
    assert_eq!(c.get("runs/$count").await.text, "5", "a refused start records no run");
    // Another tenant has a window of its own.
    let other = server.token_for(&format!("other-{}", uuid::Uuid::new_v4()), RUN_START);
    client_for(&server.url, other).send(Method::POST, "runs/start", None).await.expect(202);
}

#[tokio::test]
async fn the_on_demand_limit_and_window_are_configurable_and_the_window_slides() {
    let mut args = serve_args(&temp_dir()).await;
    args.runs.run_on_demand_limit = 1;
    args.runs.run_on_demand_window_seconds = 2;
    let server = TestServer::start_with(args, &format!("tenant-{}", uuid::Uuid::new_v4())).await;
    let c = server.as_(RUN_START);
    let id = start(&c).await;
    wait(&c, &id).await;
    let r = c.send(Method::POST, "runs/start", None).await;
    r.error(429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    start(&c).await;
}

#[tokio::test]
async fn a_start_while_the_tenants_lease_is_held_is_409_and_a_reset_too() {
    let server = TestServer::start().await;
    let c = server.admin();
    let tenant = TenantId(server.tenant.clone());
    let now = Utc::now().timestamp_millis();
    let held = Lease { holder: "another-replica".into(), run_id: "r-1".into(), expires_at: now + 60_000 };
    assert_eq!(server.state.stores.leases.acquire(&tenant, held, now).await.unwrap(), None);
    let r = c.send(Method::POST, "runs/start", None).await;
    assert!(r.error(409)["message"].as_str().unwrap().contains("r-1"), "{}", r.text);
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let r =
        c.send(Method::POST, &format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}/reset"), None).await;
    r.error(409);
    assert_eq!(c.get("runs/$count").await.text, "0");
    // Released, the tenant runs again.
    server.state.stores.leases.release(&tenant, "another-replica", "r-1").await.unwrap();
    start(&c).await;
}

/// A run recorded as `running` whose lease has expired: what a replica killed mid-run leaves behind.
async fn abandoned_run(server: &TestServer, expired: bool) -> String {
    let tenant = TenantId(server.tenant.clone());
    let id = uuid::Uuid::new_v4().to_string();
    let now = Utc::now().timestamp_millis();
    let expires_at = if expired { now - 1 } else { now + 60_000 };
    let lease = Lease { holder: "a-dead-replica".into(), run_id: id.clone(), expires_at };
    assert_eq!(server.state.stores.leases.acquire(&tenant, lease, now).await.unwrap(), None);
    let doc = json!({"id": id, "displayName": "Run", "startDateTime": rosterflow_model::time::now(),
        "endDateTime": null, "status": "running", "blockingError": null, "@rosterflow.trigger": "onDemand"});
    let resource = Resource {
        set: "runs".into(),
        id: id.clone(),
        parent: None,
        odata_type: "microsoft.graph.industryData.industryDataRun".into(),
        doc: std::sync::Arc::new(doc.as_object().unwrap().clone()),
        version: 0,
    };
    let write = Write { resource, expect: Expect::Absent, unique: vec![], refs: vec![] };
    server.state.stores.resources.put(&tenant, write).await.unwrap();
    id
}

#[tokio::test]
async fn a_run_whose_process_died_reads_as_failed_once_its_lease_expires() {
    let server = TestServer::start().await;
    let c = server.as_(RUN_R);
    let live = abandoned_run(&server, false).await;
    assert_eq!(c.get(&format!("runs/{live}")).await.body["status"], "running", "its lease is live: it runs");
    server.state.stores.leases.release(&TenantId(server.tenant.clone()), "a-dead-replica", &live).await.unwrap();
    let dead = abandoned_run(&server, true).await;
    for id in [&live, &dead] {
        let run = c.get(&format!("runs/{id}")).await;
        assert_eq!(run.body["status"], "failed", "{}", run.text);
        assert_eq!(run.body["blockingError"]["code"], "runAbandoned");
        assert!(run.body["endDateTime"].is_string());
    }
    // The expired lease does not stop the next start.
    start(&server.as_(RUN_START)).await;
}

#[tokio::test]
async fn get_statistics_reports_the_run_and_the_latest_one() {
    let server = TestServer::start().await;
    let c = server.as_(RUN_START);
    c.get("runs/getStatistics()").await.error(404);
    let first = start(&c).await;
    wait(&c, &first).await;
    let second = start(&c).await;
    let run = wait(&c, &second).await;
    let reader = server.as_(RUN_R);
    for (path, id) in [
        (format!("runs/{first}/getStatistics"), &first),
        ("runs/microsoft.graph.industryData.getStatistics()".to_string(), &second),
    ] {
        let r = reader.get(&path).await;
        r.expect(200);
        let s = &r.body;
        assert!(s["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#microsoft.graph.industryData.industryDataRunStatistics"));
        assert_eq!(s["@odata.type"], "#microsoft.graph.industryData.industryDataRunStatistics");
        assert_eq!(s["runId"], id.as_str());
        let totals = &s["inboundTotals"];
        for k in ["errors", "warnings", "people", "organizations", "groups", "memberships"] {
            assert!(totals[k].is_u64(), "{k}: {s}");
        }
        assert!(totals["matchedPeopleByRole"].is_array() && totals["unmatchedPeopleByRole"].is_array());
        assert!(s["activityStatistics"].is_array());
    }
    assert_eq!(reader.get(&format!("runs/{second}/getStatistics")).await.body["status"], run["status"]);
    server.as_(OUTBOUND_R).get(&format!("runs/{first}/getStatistics")).await.error(403);
}

#[tokio::test]
async fn tenants_never_see_each_others_runs() {
    let server = TestServer::start().await;
    let a = server.as_(RUN_START);
    let b = client_for(&server.url, server.token_for(&format!("b-{}", uuid::Uuid::new_v4()), RUN_START));
    let run = start(&a).await;
    wait(&a, &run).await;
    assert_eq!(b.get("runs").await.body["value"], json!([]));
    b.get(&format!("runs/{run}")).await.error(404);
    b.get(&format!("runs/{run}/activities")).await.error(404);
    b.get(&format!("runs/{run}/getStatistics")).await.error(404);
    let theirs = start(&b).await;
    wait(&b, &theirs).await;
    assert_eq!(a.get("runs/$count").await.text, "1");
    assert_eq!(b.get("runs/$count").await.text, "1");
}

/// Several replicas sharing one database (on PostgreSQL; one server with SQLite, whose file belongs to one
/// process) fire starts of one tenant at once: every start is a 202 or a 409 (or the limit's 429), and no two
/// of the tenant's runs overlap in time.
#[tokio::test]
async fn concurrent_starts_across_replicas_never_overlap_a_tenants_runs() {
    let first = TestServer::start().await;
    let mut servers = vec![];
    if std::env::var_os("ROSTERFLOW_TEST_DATABASE_URL").is_some() {
        servers.push(TestServer::start_in(temp_dir(), &first.tenant).await);
    }
    let tenant = first.tenant.clone();
    let clients: Vec<Client> = std::iter::once(&first)
        .chain(servers.iter())
        .map(|s| client_for(&s.url, s.token_for(&tenant, RUN_START)))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let c = clients[i % clients.len()].clone();
        tasks.spawn(async move { c.send(Method::POST, "runs/start", None).await.status.as_u16() });
    }
    let mut accepted = 0;
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        assert!([202, 409, 429].contains(&status), "{status}");
        accepted += usize::from(status == 202);
    }
    assert!((1..=5).contains(&accepted), "{accepted}");
    let c = &clients[0];
    let list = c.get("runs").await.body["value"].as_array().unwrap().clone();
    assert_eq!(list.len(), accepted);
    let mut spans = vec![];
    for run in &list {
        let run = wait(c, run["id"].as_str().unwrap()).await;
        spans.push((time(&run["startDateTime"]), time(&run["endDateTime"])));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {pair:?}");
    }
}

/// Lease semantics on the store itself, both backends: of many concurrent takers exactly one wins; the
/// holder renews, others cannot; an expired lease is taken over and the old holder's renewal then fails.
#[tokio::test]
async fn the_lease_admits_one_holder_and_expires() {
    let server = TestServer::start().await;
    let leases = server.state.stores.leases.clone();
    let tenant = TenantId(format!("lease-{}", uuid::Uuid::new_v4()));
    let now = Utc::now().timestamp_millis();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (leases, tenant) = (leases.clone(), tenant.clone());
        let lease = Lease { holder: format!("h{i}"), run_id: format!("r{i}"), expires_at: now + 1_000 };
        tasks.spawn(async move { leases.acquire(&tenant, lease, now).await.unwrap().is_none() });
    }
    let mut winners = 0;
    while let Some(won) = tasks.join_next().await {
        winners += usize::from(won.unwrap());
    }
    assert_eq!(winners, 1);
    let held = leases.current(&tenant).await.unwrap().unwrap();
    assert!(leases.renew(&tenant, &held.holder, &held.run_id, now + 2_000).await.unwrap());
    assert!(!leases.renew(&tenant, "not-the-holder", &held.run_id, now + 2_000).await.unwrap());
    let late = Lease { holder: "late".into(), run_id: "late".into(), expires_at: now + 10_000 };
    assert!(leases.acquire(&tenant, late.clone(), now + 1_999).await.unwrap().is_some(), "still held");
    assert_eq!(leases.acquire(&tenant, late, now + 2_000).await.unwrap(), None, "expired: taken over");
    assert!(!leases.renew(&tenant, &held.holder, &held.run_id, now + 3_000).await.unwrap(), "the old holder lost it");
    leases.release(&tenant, &held.holder, &held.run_id).await.unwrap();
    assert_eq!(leases.current(&tenant).await.unwrap().unwrap().holder, "late", "only the holder releases");
}

#[tokio::test]
async fn the_scheduler_runs_a_tenant_an_interval_after_its_first_flow() {
    let mut args = serve_args(&temp_dir()).await;
    args.runs.run_schedule_seconds = 2;
    let server = TestServer::start_with(args, &format!("tenant-{}", uuid::Uuid::new_v4())).await;
    let c = server.admin();
    let set = create_set(&c).await;
    create_flow(&c, &set, class_group_flow_body()).await;
    assert_eq!(c.get("runs/$count").await.text, "0", "not before the interval");
    let mut runs = 0;
    for _ in 0..100 {
        runs = c.get("runs/$count").await.text.parse().unwrap();
        if runs > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs, 1, "one scheduled run");
    // Scheduled runs (one every 2 s from now on) don't count against the on-demand limit: five on-demand
    // starts still succeed, each once no scheduled run holds the tenant.
    let start_when_free = || async {
        loop {
            let r = c.send(Method::POST, "runs/start", None).await;
            if r.status != 409 {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    for _ in 0..5 {
        start_when_free().await.expect(202);
    }
    start_when_free().await.error(429);
}

#[tokio::test]
async fn the_preview_endpoint_needs_a_run_permission_and_lives_outside_graphs_namespace() {
    let server = TestServer::start().await;
    server.as_(OUTBOUND_RW).get("/rosterflow/runs/preview").await.error(403);
    server.anonymous().get("/rosterflow/runs/preview").await.error(401);
    server.as_(RUN_R).get("/beta/external/industryData/runs/preview").await.error(404);
    let r = server.as_(RUN_R).get("/rosterflow/runs/preview").await;
    assert!(r.status == 200 || r.status == 501, "{}", r.text);
    if r.status == 200 {
        assert!(r.body["flows"].is_array(), "{}", r.text);
    }
}

// ---- inbound data: the chain a run reads from, and a validated snapshot -------------------------------------

const NS: &str = "microsoft.graph.industryData";
/// Microsoft's SDS v2.1 sample (a copy of `shared/reference/sds-samples/OfficeDev-O365-EDU-Tools/SDS_v2.1`).
pub const SAMPLE: &str = "../../tests/fixtures/rosters/microsoft-sds-v2.1";

/// A source system matching staff and students by username against userPrincipalName, a lake connector, a
/// year and an inbound file flow whose window is `[effective, expiration]`; the inbound flow's and the
/// connector's ids.
pub async fn inbound_chain(c: &Client, effective: &str, expiration: &str) -> (String, String) {
    let graph = "https://graph.microsoft.com/beta/external/industryData";
    let matching = |group: &str, order: u32| {
        json!({"matchTarget": {"code": "userPrincipalName"}, "priorityOrder": order,
               "roleGroup@odata.bind": format!("{graph}/roleGroups/{group}"), "sourceIdentifier": {"code": "username"}})
    };
    let ss = c
        .post(
            "sourceSystems",
            json!({"displayName": "SIS", "userMatchingSettings": [matching("staff", 0), matching("students", 1)]}),
        )
        .await
        .expect(201)
        .id();
    let connector = c
        .post(
            "dataConnectors",
            json!({"@odata.type": format!("#{NS}.azureDataLakeConnector"), "displayName": "CSV",
            "sourceSystem@odata.bind": format!("{graph}/sourceSystems('{ss}')")}),
        )
        .await
        .expect(201)
        .id();
    let year = c
        .post("years", json!({"displayName": "2026", "startDate": "2025-09-01", "endDate": "2026-06-30", "year": {"code": "2026"}}))
        .await
        .expect(201)
        .id();
    let flow = c
        .post(
            "inboundFlows",
            json!({"@odata.type": format!("#{NS}.inboundFileFlow"),
        "dataConnector@odata.bind": format!("{graph}/dataConnectors/{connector}"), "dataDomain": "educationRostering",
        "displayName": "Inbound rostering flow", "effectiveDateTime": effective, "expirationDateTime": expiration,
        "year@odata.bind": format!("{graph}/years/{year}")}),
        )
        .await
        .expect(201)
        .id();
    (flow, connector)
}

/// Validate the files in `dir` and load them as `flow`'s next snapshot, as the `validate` action does.
pub async fn load_snapshot(server: &TestServer, flow: &str, dir: &std::path::Path) {
    use rosterflow_engine::inbound::validate_and_load;
    use rosterflow_engine::source::LocalSource;
    use rosterflow_engine::validate::{NoProgress, Options};
    let validated = validate_and_load(
        server.state.stores.roster.clone(),
        TenantId(server.tenant.clone()),
        vec![flow.to_string()],
        Box::new(LocalSource::new(dir)),
        Options::default(),
        std::sync::Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(validated.snapshot(flow).is_some(), "the upload was refused: {:?}", validated.outcome.report);
}

fn sample_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE)
}

#[tokio::test]
async fn readiness_follows_the_inbound_flows_window_and_snapshot() {
    let server = TestServer::start().await;
    let c = server.admin();
    let set = create_set(&c).await;
    let flow = create_flow(&c, &set, class_group_flow_body()).await;
    let flow_path = format!("outboundProvisioningFlowSets/{set}/provisioningFlows/{flow}");
    let readiness = |path: String| {
        let c = c.clone();
        async move { c.get(&path).await.body["readinessStatus"].as_str().unwrap().to_string() }
    };
    assert_eq!(readiness(flow_path.clone()).await, "notReady", "no inbound flow");
    let day = chrono::Duration::days(1);
    let (yesterday, tomorrow) =
        (rosterflow_model::time::format(Utc::now() - day), rosterflow_model::time::format(Utc::now() + day));
    let (inbound, _) = inbound_chain(&c, &yesterday, &tomorrow).await;
    assert_eq!(readiness(flow_path.clone()).await, "notReady", "no validated snapshot");
    assert_eq!(readiness(format!("inboundFlows/{inbound}")).await, "ready");
    load_snapshot(&server, &inbound, &sample_dir()).await;
    assert_eq!(readiness(flow_path.clone()).await, "ready");
    let listed = c.get(&format!("outboundProvisioningFlowSets/{set}/provisioningFlows?$select=readinessStatus")).await;
    assert_eq!(listed.body["value"][0]["readinessStatus"], "ready");
    // Not yet effective: not ready.
    c.patch(&format!("inboundFlows/{inbound}"), json!({"effectiveDateTime": tomorrow})).await.expect(204);
    assert_eq!(readiness(flow_path.clone()).await, "notReady");
    // Past its expiration: both expired.
    c.patch(
        &format!("inboundFlows/{inbound}"),
        json!({"effectiveDateTime": "2020-01-01T00:00:00Z", "expirationDateTime": yesterday}),
    )
    .await
    .expect(204);
    assert_eq!(readiness(flow_path.clone()).await, "expired");
    assert_eq!(readiness(format!("inboundFlows/{inbound}")).await, "expired");
}

/// Each replica keeps readiness's reading of the inbound flows under the tenant's inbound stamp, which every GET
/// and page of flows reads: a change made through one replica shows in what the other serves right after. On
/// PostgreSQL two servers share the database; on SQLite the one server plays both.
#[tokio::test]
async fn readiness_shown_by_one_replica_follows_changes_made_through_the_other() {
    let a = TestServer::start().await;
    let postgres = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let b = match postgres {
        true => Some(TestServer::start_in(a.data_dir.clone(), &a.tenant).await),
        false => None,
    };
    let (ca, cb) = (a.admin(), b.as_ref().unwrap_or(&a).admin());
    let set = create_set(&ca).await;
    let flow = create_flow(&ca, &set, class_group_flow_body()).await;
    let flows = format!("outboundProvisioningFlowSets/{set}/provisioningFlows");
    let shown = |c: &Client| {
        let (c, flows, flow) = (c.clone(), flows.clone(), flow.clone());
        async move {
            let one = c.get(&format!("{flows}/{flow}")).await.expect(200).body["readinessStatus"].clone();
            let page = c.get(&format!("{flows}?$top=5")).await.expect(200).body["value"][0]["readinessStatus"].clone();
            assert_eq!(one, page, "a GET and a page of the flow show the same readiness");
            one.as_str().unwrap().to_string()
        }
    };
    assert_eq!(shown(&ca).await, "notReady");
    assert_eq!(shown(&cb).await, "notReady", "the other replica has kept this reading");

    let day = chrono::Duration::days(1);
    let (yesterday, tomorrow) =
        (rosterflow_model::time::format(Utc::now() - day), rosterflow_model::time::format(Utc::now() + day));
    let (inbound, _) = inbound_chain(&ca, &yesterday, &tomorrow).await;
    assert_eq!(shown(&cb).await, "notReady", "an inbound flow without a snapshot");
    load_snapshot(&a, &inbound, &sample_dir()).await;
    assert_eq!(shown(&cb).await, "ready", "a snapshot loaded through the other replica");
    assert_eq!(shown(&ca).await, "ready");

    ca.patch(&format!("inboundFlows/{inbound}"), json!({"effectiveDateTime": tomorrow})).await.expect(204);
    assert_eq!(shown(&cb).await, "notReady", "a window changed through the other replica");
    ca.patch(&format!("inboundFlows/{inbound}"), json!({"effectiveDateTime": yesterday})).await.expect(204);
    assert_eq!(shown(&cb).await, "ready");
    ca.delete(&format!("inboundFlows/{inbound}")).await.expect(204);
    assert_eq!(shown(&cb).await, "notReady", "the inbound flow deleted through the other replica");
}

/// On SQLite one process owns the database, so a lease found when it opens belongs to a process that died:
/// the tenant may run again at once, and the run it was running reads as failed.
#[tokio::test]
async fn a_sqlite_server_that_opens_its_database_drops_the_leases_of_the_dead() {
    if std::env::var_os("ROSTERFLOW_TEST_DATABASE_URL").is_some() {
        return; // replicas share PostgreSQL: there, only expiry frees a lease
    }
    let server = TestServer::start().await;
    let tenant = server.tenant.clone();
    let run = abandoned_run(&server, false).await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, &tenant).await;
    assert_eq!(server.state.stores.leases.current(&TenantId(tenant)).await.unwrap(), None);
    assert_eq!(server.as_(RUN_R).get(&format!("runs/{run}")).await.body["status"], "failed");
    start(&server.as_(RUN_START)).await;
}
