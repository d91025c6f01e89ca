//! rosterflow's API tests: one test binary (one link of the server, not one per file), one module per area.
//! Every test talks real HTTP to a real server on loopback with a real store; see [`common`].

mod batch;
mod common;
mod concurrency;
mod configuration_api;
mod coverage;
mod directory;
mod directory_rules;
mod doc_examples;
mod hardening;
mod outbound_api;
mod persistence;
mod production_auth;
mod roster_cli;
mod runs;
mod runs_e2e;
mod runs_resilience;
mod uploads;
mod validate;
