//! The roster engine: what turns a district's roster files into a directory.
//!
//! ```text
//!  files (a container, a local folder, a zip) ── formats ──► records ── validate ──► findings + snapshot
//!  snapshot + flow configurations + what the previous run wrote ── plan ──► changes ── apply ──► directory
//! ```
//!
//! No HTTP here: the server and the CLI both call into this crate, and it reaches storage only through the
//! tenant-first stores of `rosterflow-store`.
//!
//! - [`schema`]: the normalized record model (SDS v2.1's ten kinds and their fields).
//! - [`formats`]: SDS v2.1, SDS v1 and OneRoster CSV, each a mapping onto that model.
//! - [`source`]: where files come from (a folder, a zip, memory, an upload container).
//! - [`validate`]: findings ([`finding`]) and a [`roster::Roster`].
//! - [`snapshot`]: a roster as the inbound flow's current snapshot in the store.
//! - [`generate`]: a realistic, deterministic district, for tests and benchmarks.
//! - [`run`]: what a run does (plan every flow over the snapshots, apply to the directory), and its preview.

pub mod finding;
pub mod formats;
pub mod generate;
pub mod inbound;
mod keys;
pub mod render;
pub mod roster;
pub mod run;
pub mod schema;
pub mod snapshot;
pub mod source;
pub mod validate;

pub use finding::{Code, Report, Severity};
pub use formats::Format;
pub use roster::Roster;
pub use validate::{validate, NoProgress, Options, Outcome, Progress};
