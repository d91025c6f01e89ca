//! The roster engine: what turns a district's roster files into a directory.
//!
//! ```text
//!  files (a container, a local folder, a zip) ── formats ──► records ── validate ──► findings + snapshot
//!  snapshot + flow configurations + what the previous run wrote ── plan ──► changes ── apply ──► directory
//! ```
//!
//! No HTTP here: the server and the CLI both call into this crate, and it reaches storage only through the
//! tenant-first stores of `rosterflow-store`.
