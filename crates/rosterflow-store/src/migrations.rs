//! Schema migrations, shared by both backends (the SQL is plain enough to be portable). Each runs once, in
//! order, recorded in `schema_migrations`.

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_resources.sql"))];

pub(crate) const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// The statements of one migration file (comments dropped first: they may contain `;`).
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let code: Vec<&str> = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    code.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}
