//! Runs on a real store, SQLite and (with `ROSTERFLOW_TEST_DATABASE_URL`) PostgreSQL: rosters loaded as
//! snapshots, flows configured as stored documents, runs applied, and the directory read back through the
//! `DirectoryStore`.

mod changes;
mod common;
mod district;
mod incremental;
mod sample;
