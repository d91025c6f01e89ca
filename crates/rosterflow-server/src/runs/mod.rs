//! Runs (`/beta/external/industryData/runs`): starting them (on demand through `runs/start`, or by the
//! scheduler), carrying them out under the tenant's lease with the engine (`rosterflow_engine::run`), and
//! recording them as Graph shows them: the `industryDataRun`, its activities as they advance, and the
//! statistics. What a run does belongs to the engine; when and how often, and what a client sees, is here.
//! The lifecycle, limits and decisions: `docs/runs.md`.

mod execute;
pub mod preview;
pub mod readiness;
mod record;
pub mod schedule;
mod statistics;

use clap::Args;

pub(crate) use execute::{reset, start, Started};
pub(crate) use record::settle;
pub(crate) use statistics::statistics;

/// Runs' limits and timing (`serve` flags).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// On-demand runs (`runs/start`) a tenant may start per window; Graph allows five every 12 hours.
    #[arg(long, env = "ROSTERFLOW_RUN_ON_DEMAND_LIMIT", default_value_t = 5)]
    pub run_on_demand_limit: u32,
    /// The window the on-demand limit counts over, in seconds.
    #[arg(long, env = "ROSTERFLOW_RUN_ON_DEMAND_WINDOW_SECONDS", default_value_t = 12 * 3600)]
    pub run_on_demand_window_seconds: u64,
    /// Seconds between the scheduled runs of each tenant (Graph: every 12 hours); 0 turns the scheduler off.
    #[arg(long, env = "ROSTERFLOW_RUN_SCHEDULE_SECONDS", default_value_t = 12 * 3600)]
    pub run_schedule_seconds: u64,
    /// How long a run's lease lasts unless renewed, in seconds: a replica that dies mid-run frees its tenant
    /// (and its run reads as failed) this long after its last renewal. Renewed every third of it.
    #[arg(long, env = "ROSTERFLOW_RUN_LEASE_SECONDS", default_value_t = 60)]
    pub run_lease_seconds: u64,
}

impl Default for RunArgs {
    fn default() -> RunArgs {
        RunArgs {
            run_on_demand_limit: 5,
            run_on_demand_window_seconds: 12 * 3600,
            run_schedule_seconds: 12 * 3600,
            run_lease_seconds: 60,
        }
    }
}

/// What every run of this process shares.
pub struct Runs {
    pub args: RunArgs,
    /// This process, as a lease holder.
    pub holder: String,
}

impl Runs {
    pub fn new(args: RunArgs) -> Runs {
        Runs { args, holder: uuid::Uuid::new_v4().to_string() }
    }

    fn lease_ms(&self) -> i64 {
        (self.args.run_lease_seconds.max(1) * 1000) as i64
    }
}

/// What started a run (kept in the run's document; only on-demand runs count against the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    OnDemand,
    Scheduled,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::OnDemand => "onDemand",
            Trigger::Scheduled => "scheduled",
        }
    }
}
