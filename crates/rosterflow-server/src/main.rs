//! The `rosterflow` binary: `serve`, `token`, `validate`, `generate`, `plan` and `run`.

use std::time::Duration;

use clap::Parser;
use rosterflow_server::config::{permission_list, Cli, Command};
use rosterflow_server::{auth, serve, start};

// Requests allocate on tokio's workers and free on the SQLite writer thread (and back). glibc's allocator
// spends a fifth of a PATCH consolidating those cross-thread frees, mimalloc (v3) about a seventh; jemalloc
// returns them to the freeing thread's cache and serves 8 % more PATCHes a second (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A committed write is answered from the SQLite writer thread, which lands the waiting request in the
        // runtime's global queue. Workers look there every 31 tasks by default; every 2nd keeps those answers
        // from queueing behind new requests (+2.5 % PATCH throughput, 5 of 5 paired runs; docs/benchmarks.md).
        .global_queue_interval(2)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Token(args) => {
            let scopes = permission_list(&args.scopes);
            let roles = permission_list(&args.roles);
            if scopes.is_empty() && roles.is_empty() {
                anyhow::bail!(
                    "give --scopes and/or --roles, e.g. --scopes \"IndustryData-OutboundFlow.ReadWrite.All\""
                );
            }
            let spec = auth::TokenSpec {
                tenant: args.tenant.clone(),
                scopes,
                roles,
                app_id: args.app_id.clone(),
                user_id: args.user_id.clone(),
                lifetime: Duration::from_secs(args.lifetime_seconds),
            };
            println!("{}", auth::dev_token(&args.data_dir, &spec)?);
        }
        Command::Validate(args) => std::process::exit(rosterflow_server::roster_cli::validate(&args)?),
        Command::Generate(args) => rosterflow_server::roster_cli::generate(&args)?,
        Command::Plan(args) => rosterflow_server::run_cli::plan(&args).await?,
        Command::Run(args) => std::process::exit(rosterflow_server::run_cli::run_once(&args).await?),
        Command::Serve(args) => {
            rosterflow_server::logging::init(args.log_format);
            std::fs::create_dir_all(&args.data_dir)?;
            let (listener, state, addr) = start(&args).await?;
            tracing::info!(%addr, "listening");
            println!("listening on http://{addr}");
            serve(listener, state, shutdown_signal()).await?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
