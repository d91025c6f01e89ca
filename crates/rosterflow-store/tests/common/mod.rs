//! The stores under test: SQLite always, PostgreSQL when `ROSTERFLOW_TEST_DATABASE_URL` names a server (a
//! database of its own is created per call).

use rosterflow_store::{open, Stores, TenantId};

pub async fn all_backends() -> Vec<Stores> {
    let dir = std::env::temp_dir().join(format!("rosterflow-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = vec![open(dir.join("db.sqlite3").to_str().unwrap()).await.unwrap()];
    if let Some(admin) = std::env::var("ROSTERFLOW_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        // The prefix lets scripts/test.sh drop this run's databases (see the server tests' `common` module).
        let prefix = std::env::var("ROSTERFLOW_TEST_DB_PREFIX").unwrap_or_else(|_| "rosterflow_".into());
        let name = format!("{prefix}store_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
        let (prefix, _) = admin.rsplit_once('/').unwrap();
        out.push(open(&format!("{prefix}/{name}")).await.unwrap());
    }
    out
}

#[allow(dead_code)] // not every test file uses it
pub fn tenant() -> TenantId {
    TenantId(format!("t-{}", uuid::Uuid::new_v4()))
}
