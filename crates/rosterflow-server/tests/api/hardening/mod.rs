//! Hostile input never takes the server down (issue 10): the real binary, attacked over real HTTP
//! ([`hostile`]); the throttle under load ([`throttle`]); the log as a log shipper reads it ([`logs`]).
//! The panic case is a unit test of the crate (`src/tests.rs`): its panicking handler exists only there.

mod hostile;
mod logs;
mod raw;
mod throttle;

use std::path::PathBuf;
use std::process::Stdio;

use crate::common::{self, free_port, spawn_binary_with, temp_dir, Process};

/// The real binary, killed when dropped (a failed assertion must not leave it running).
pub struct Binary {
    pub process: Process,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub data_dir: PathBuf,
}

impl Binary {
    pub async fn start(flags: &[&str], stderr: Stdio) -> Binary {
        Self::start_with_env(flags, &[], stderr).await
    }

    pub async fn start_with_env(flags: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Binary {
        let data_dir = temp_dir();
        let port = free_port();
        let process = spawn_binary_with(&data_dir, port, flags, env, stderr).await;
        Binary { process, addr: format!("127.0.0.1:{port}"), data_dir }
    }

    /// A token of `tenant` with every permission.
    pub fn token(&self, tenant: &str) -> String {
        common::token(&self.data_dir, tenant, &common::all_permissions())
    }

    /// An application token with every permission (some routes, `/education/users`, are application-only).
    pub fn app_token(&self, tenant: &str) -> String {
        let roles: Vec<String> = rosterflow_model::permissions::all().iter().map(|p| p.to_string()).collect();
        let spec = rosterflow_server::auth::TokenSpec::application(tenant, &roles);
        rosterflow_server::auth::dev_token(&self.data_dir, &spec).unwrap()
    }

    /// Panics unless the process is still running and answers `/healthz`.
    pub async fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.process.child.try_wait() {
            panic!("the server died: {status}");
        }
        let head = raw::head("GET", "/healthz", &[]);
        let Some(reply) = raw::request(&self.addr, &head).await else {
            // A process that is going down may take a moment to be reaped: say how it died.
            for _ in 0..20 {
                if let Ok(Some(status)) = self.process.child.try_wait() {
                    panic!("the server died: {status}");
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("/healthz closed the connection without an answer");
        };
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.process.kill9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
