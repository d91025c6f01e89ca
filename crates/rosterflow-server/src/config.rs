//! Command-line configuration. Every `serve` flag is also a `ROSTERFLOW_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::{KeySource, GRAPH_AUDIENCES};

#[derive(Debug, Parser)]
#[command(
    name = "rosterflow",
    version,
    about = "A self-hosted implementation of Microsoft Graph's Education data ETL API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(Box<ServeArgs>),
    /// Print a dev-mode bearer token that `serve --data-dir DIR` (without --jwks-*) accepts.
    Token(TokenArgs),
    /// Validate roster files offline (a folder or a zip), as the `validate` action would; exits 1 on errors.
    Validate(crate::roster_cli::ValidateArgs),
    /// Write a realistic, deterministic SDS v2.1 district (for tests, benchmarks and demos).
    Generate(crate::roster_cli::GenerateArgs),
    /// Show what the tenant's next provisioning run would create, update and remove, per flow (writes nothing).
    Plan(crate::run_cli::RunArgs),
    /// Run the tenant's provisioning flows once (exits 1 when the run failed).
    Run(crate::run_cli::RunArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ROSTERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the dev signing key.
    #[arg(long, env = "ROSTERFLOW_DATA_DIR", default_value = "./rosterflow-data")]
    pub data_dir: PathBuf,
    /// `postgres://...` to store in PostgreSQL instead of SQLite.
    #[arg(long, env = "ROSTERFLOW_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A JWKS file with the keys that sign accepted tokens (production mode).
    #[arg(long, env = "ROSTERFLOW_JWKS_FILE", conflicts_with = "jwks_url")]
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL, e.g. https://login.microsoftonline.com/common/discovery/v2.0/keys (production mode).
    #[arg(long, env = "ROSTERFLOW_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// An accepted token issuer (repeatable; the environment variable takes a comma-separated list).
    #[arg(long = "issuer", env = "ROSTERFLOW_ISSUER", value_delimiter = ',')]
    pub issuers: Vec<String>,
    /// The accepted audience (default: Microsoft Graph's URI and app id).
    #[arg(long, env = "ROSTERFLOW_AUDIENCE")]
    pub audience: Option<String>,
    /// Least seconds between two re-reads of the JWKS prompted by tokens with an unknown key id.
    #[arg(long, env = "ROSTERFLOW_JWKS_MIN_REFRESH_SECONDS", default_value_t = 60)]
    pub jwks_min_refresh_seconds: u64,
    /// The key that seals stored credentials (client secrets, default passwords); created when missing.
    /// Replicas sharing one PostgreSQL must share this file. Default: `secrets.key` in the data directory.
    #[arg(long, env = "ROSTERFLOW_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ROSTERFLOW_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Log lines as `text` (coloured only on a terminal) or `json` (one object a line).
    #[arg(long, env = "ROSTERFLOW_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::logging::LogFormat,
    /// Timeouts, size limits, the connection cap and the throttle.
    #[command(flatten)]
    pub limits: crate::limits::Limits,
    #[command(flatten)]
    pub uploads: UploadArgs,
    /// Runs: the on-demand limit, the scheduler, leases.
    #[command(flatten)]
    pub runs: crate::runs::RunArgs,
}

/// Upload sessions: where files go, how big they may be, how long sessions live (README, "Upload sessions").
#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    /// This server's public base URL as clients reach it (e.g. behind a proxy: https://rosterflow.example.org);
    /// upload sessions' URLs start with it. Default: http:// and the Host of the getUploadSession request.
    #[arg(long, env = "ROSTERFLOW_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where uploaded files' bytes are kept: a directory or file:///DIR (default: `files` in the data directory),
    /// or an object store that replicas share: az://CONTAINER[/PREFIX] (settings from AZURE_STORAGE_* variables,
    /// AZURE_STORAGE_USE_EMULATOR=true and AZURITE_BLOB_STORAGE_URL for Azurite), or s3://BUCKET[/PREFIX]
    /// (AWS_* variables).
    #[arg(long, env = "ROSTERFLOW_FILES_URL")]
    pub files_url: Option<String>,
    /// Largest uploaded file (or zip entry), in bytes.
    #[arg(long, env = "ROSTERFLOW_UPLOAD_MAX_FILE_BYTES", default_value_t = 2 * 1024 * 1024 * 1024)]
    pub upload_max_file_bytes: u64,
    /// Most files in one upload container.
    #[arg(long, env = "ROSTERFLOW_UPLOAD_MAX_FILES", default_value_t = 100)]
    pub upload_max_files: u32,
    /// Most open upload containers per tenant.
    #[arg(long, env = "ROSTERFLOW_UPLOAD_MAX_CONTAINERS", default_value_t = 50)]
    pub upload_max_containers: u32,
    /// How long an upload session's signature is valid, in seconds.
    #[arg(long, env = "ROSTERFLOW_UPLOAD_SESSION_SECONDS", default_value_t = 12 * 3600)]
    pub upload_session_seconds: u64,
    /// How long an upload container lives, in seconds (Graph's example: 34 hours past its session).
    #[arg(long, env = "ROSTERFLOW_UPLOAD_CONTAINER_SECONDS", default_value_t = 46 * 3600)]
    pub upload_container_seconds: u64,
    /// How often expired and discarded upload containers are removed, in seconds.
    #[arg(long, env = "ROSTERFLOW_UPLOAD_SWEEP_SECONDS", default_value_t = 300)]
    pub upload_sweep_seconds: u64,
}

impl Default for UploadArgs {
    fn default() -> UploadArgs {
        UploadArgs {
            public_url: None,
            files_url: None,
            upload_max_file_bytes: 2 * 1024 * 1024 * 1024,
            upload_max_files: 100,
            upload_max_containers: 50,
            upload_session_seconds: 12 * 3600,
            upload_container_seconds: 46 * 3600,
            upload_sweep_seconds: 300,
        }
    }
}

impl ServeArgs {
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| self.data_dir.join("rosterflow.sqlite3").display().to_string())
    }

    pub fn secrets_key_file(&self) -> PathBuf {
        self.secrets_key_file.clone().unwrap_or_else(|| self.data_dir.join(crate::secrets::KEY_FILE))
    }

    /// How uploaded files are kept.
    pub fn files(&self) -> rosterflow_store::files::FilesConfig {
        use rosterflow_store::files::{FilesConfig, Limits, Location};
        let u = &self.uploads;
        let location = match &u.files_url {
            Some(url) => Location::parse(url),
            None => Location::Local(self.data_dir.join("files")),
        };
        FilesConfig {
            location,
            limits: Limits {
                max_file_bytes: u.upload_max_file_bytes,
                max_files: u.upload_max_files,
                max_containers: u.upload_max_containers,
            },
            session_lifetime: std::time::Duration::from_secs(u.upload_session_seconds),
            container_lifetime: std::time::Duration::from_secs(u.upload_container_seconds),
        }
    }

    pub fn key_source(&self) -> KeySource {
        match (&self.jwks_file, &self.jwks_url) {
            (Some(f), _) => KeySource::File(f.clone()),
            (None, Some(u)) => KeySource::Url(u.clone()),
            (None, None) => KeySource::Dev(self.data_dir.clone()),
        }
    }

    pub fn audiences(&self) -> Vec<String> {
        match &self.audience {
            Some(a) => vec![a.clone()],
            None => GRAPH_AUDIENCES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The data directory of the server that should accept the token.
    #[arg(long, env = "ROSTERFLOW_DATA_DIR", default_value = "./rosterflow-data")]
    pub data_dir: PathBuf,
    /// The tenant (`tid`) the token is for.
    #[arg(long)]
    pub tenant: String,
    /// Delegated permissions (`scp`), space- or comma-separated.
    #[arg(long, default_value = "")]
    pub scopes: String,
    /// Application permissions (`roles`), space- or comma-separated.
    #[arg(long, default_value = "")]
    pub roles: String,
    /// The calling application's id (`appid`); throttling counts per tenant and application.
    #[arg(long)]
    pub app_id: Option<String>,
    /// The signed-in user's object id (`oid`) of a delegated token.
    #[arg(long = "user")]
    pub user_id: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub lifetime_seconds: u64,
}

/// Split a space- or comma-separated permission list.
pub fn permission_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()).map(str::to_string).collect()
}
