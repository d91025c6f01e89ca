//! The run commands of the `rosterflow` binary: `plan` (what the next run would create, update and remove,
//! per provisioning flow, without writing anything) and `run` (run a tenant's provisioning once, as the
//! scheduler would). The work is the engine's (`rosterflow_engine::run`); this opens the store and the secrets
//! key as `serve` does, and prints.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use clap::Args;
use rosterflow_engine::run::{self, ActivityFlow, ActivityReport, RunContext, RunObserver, RunStatus};
use rosterflow_store::files::FilesConfig;
use rosterflow_store::leases::Lease;
use rosterflow_store::secrets::Sealer;
use rosterflow_store::TenantId;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The server's data directory (its SQLite database and secrets key).
    #[arg(long, env = "ROSTERFLOW_DATA_DIR", default_value = "./rosterflow-data")]
    pub data_dir: PathBuf,
    /// `postgres://...` when the server stores in PostgreSQL.
    #[arg(long, env = "ROSTERFLOW_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The key that seals stored credentials (default: `secrets.key` in the data directory).
    #[arg(long, env = "ROSTERFLOW_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// The tenant id.
    #[arg(long)]
    pub tenant: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

struct Opened {
    stores: rosterflow_store::Stores,
    sealer: Sealer,
    tenant: TenantId,
}

async fn open(args: &RunArgs) -> anyhow::Result<Opened> {
    let url =
        args.database_url.clone().unwrap_or_else(|| args.data_dir.join("rosterflow.sqlite3").display().to_string());
    // One pass over the roster and the state: nothing to gain from mapping the file, and its pages would count
    // in this process's memory.
    rosterflow_store::map_sqlite_reads(false);
    let stores = rosterflow_store::open_with(&url, FilesConfig::local(args.data_dir.join("files"))).await?;
    let key = args.secrets_key_file.clone().unwrap_or_else(|| args.data_dir.join(crate::secrets::KEY_FILE));
    Ok(Opened { stores, sealer: Sealer::from_key_file(&key)?, tenant: TenantId(args.tenant.clone()) })
}

fn counts(c: &[(String, u64)]) -> String {
    if c.is_empty() {
        return "-".into();
    }
    c.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}

fn flow_id(f: &ActivityFlow) -> &str {
    match f {
        ActivityFlow::Inbound { flow } | ActivityFlow::Outbound { flow, .. } => flow,
    }
}

/// `rosterflow plan`: what the next run would do; writes nothing.
pub async fn plan(args: &RunArgs) -> anyhow::Result<()> {
    let o = open(args).await?;
    let ctx = RunContext { stores: &o.stores, sealer: &o.sealer, tenant: &o.tenant, now: Utc::now() };
    let started = Instant::now();
    let preview = run::preview(&ctx).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
        return Ok(());
    }
    println!("{:<38} {:<52} {:<34} {:<34} remove", "flow", "type (flow set)", "create", "update");
    for f in &preview.flows {
        println!(
            "{:<38} {:<52} {:<34} {:<34} {}",
            flow_id(&f.flow),
            f.display_name,
            counts(&f.creates),
            counts(&f.updates),
            counts(&f.removals)
        );
        for w in f.warnings.iter().take(5) {
            println!("    warning {}: {}", w.code, w.message);
        }
        if f.warnings.len() > 5 {
            println!("    ... {} more warnings (--json lists them)", f.warnings.len() - 5);
        }
    }
    eprintln!("planned in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Prints each activity as it ends.
struct Printer {
    json: bool,
}

impl RunObserver for Printer {
    fn activity(&self, r: &ActivityReport) {
        if !self.json && r.status != run::ActivityStatus::InProgress {
            eprintln!("{:<38} {:<52} {:?}", flow_id(&r.flow), r.display_name, r.status);
            for w in r.errors.iter().chain(&r.warnings).take(5) {
                eprintln!("    {}: {}", w.code, w.message);
            }
        }
    }
}

/// How long the command's lease lives without renewal; it is renewed every third of that while the run goes,
/// so a command that dies stops holding the tenant within this time.
const LEASE_MS: i64 = 60_000;

/// `rosterflow run`: run the tenant's provisioning once; exit code 1 when the run failed. It takes the tenant's
/// run lease as the server's `runs/start` and scheduler do, so it never runs a tenant that a server is running
/// (exit code 2 then).
pub async fn run_once(args: &RunArgs) -> anyhow::Result<i32> {
    let o = open(args).await?;
    let leases = o.stores.leases.clone();
    let lease = Lease {
        holder: format!("cli-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        run_id: uuid::Uuid::new_v4().to_string(),
        expires_at: Utc::now().timestamp_millis() + LEASE_MS,
    };
    if let Some(held) = leases.acquire(&o.tenant, lease.clone(), Utc::now().timestamp_millis()).await? {
        eprintln!(
            "a run of tenant {} is going (run {}, held by {}); try again when it has ended",
            o.tenant.0, held.run_id, held.holder
        );
        return Ok(2);
    }
    let keeper = {
        let (leases, tenant, lease) = (leases.clone(), o.tenant.clone(), lease.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis((LEASE_MS / 3) as u64));
            tick.tick().await;
            loop {
                tick.tick().await;
                let expires_at = Utc::now().timestamp_millis() + LEASE_MS;
                if let Err(e) = leases.renew(&tenant, &lease.holder, &lease.run_id, expires_at).await {
                    tracing::warn!(error = %e, "the run's lease could not be renewed");
                }
            }
        })
    };
    let ctx = RunContext { stores: &o.stores, sealer: &o.sealer, tenant: &o.tenant, now: Utc::now() };
    let started = Instant::now();
    let report = run::run(&ctx, &Printer { json: args.json }).await;
    keeper.abort();
    leases.release(&o.tenant, &lease.holder, &lease.run_id).await?;
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("run {:?} in {:.2} s", report.status, started.elapsed().as_secs_f64());
        if let Some(e) = &report.blocking_error {
            println!("    {}: {}", e.code, e.message);
        }
    }
    Ok(i32::from(report.status == RunStatus::Failed))
}
