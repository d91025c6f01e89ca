//! Schema migrations. Each runs once, in order, recorded in `schema_migrations`, in the same transaction as its
//! record. A migration is one SQL file for both backends where the SQL is portable, or one per backend where
//! it is not (types, `COPY`-friendly layouts, partial indexes). Files are run whole by each database's own
//! parser (`execute_batch`, `raw_sql`), never split by hand.

pub(crate) struct Migration {
    pub version: i64,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    /// One file for both backends.
    const fn shared(version: i64, sql: &'static str) -> Migration {
        Migration { version, sqlite: sql, postgres: sql }
    }
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::shared(1, include_str!("../migrations/0001_resources.sql")),
    Migration {
        version: 2,
        sqlite: include_str!("../migrations/0002_directory.sqlite.sql"),
        postgres: include_str!("../migrations/0002_directory.postgres.sql"),
    },
    Migration::shared(3, include_str!("../migrations/0003_files.sql")),
    Migration {
        version: 4,
        sqlite: include_str!("../migrations/0004_roster.sqlite.sql"),
        postgres: include_str!("../migrations/0004_roster.postgres.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("../migrations/0005_runs.sqlite.sql"),
        postgres: include_str!("../migrations/0005_runs.postgres.sql"),
    },
    Migration::shared(6, include_str!("../migrations/0006_run_leases.sql")),
    Migration {
        version: 7,
        sqlite: include_str!("../migrations/0007_reads.sqlite.sql"),
        postgres: include_str!("../migrations/0007_reads.postgres.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("../migrations/0008_directory.sqlite.sql"),
        postgres: include_str!("../migrations/0008_directory.postgres.sql"),
    },
    Migration {
        version: 9,
        sqlite: include_str!("../migrations/0009_directory_keys.sqlite.sql"),
        postgres: include_str!("../migrations/0009_directory_keys.postgres.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("../migrations/0010_run_links.sqlite.sql"),
        postgres: include_str!("../migrations/0010_run_links.postgres.sql"),
    },
    Migration {
        version: 11,
        sqlite: include_str!("../migrations/0011_compression.sqlite.sql"),
        postgres: include_str!("../migrations/0011_compression.postgres.sql"),
    },
    Migration {
        version: 12,
        sqlite: include_str!("../migrations/0012_roster_keys.sqlite.sql"),
        postgres: include_str!("../migrations/0012_roster_keys.postgres.sql"),
    },
    Migration {
        version: 14,
        sqlite: include_str!("../migrations/0014_directory_kind_order.sqlite.sql"),
        postgres: include_str!("../migrations/0014_directory_kind_order.postgres.sql"),
    },
    Migration {
        version: 15,
        sqlite: include_str!("../migrations/0015_resource_seq.sqlite.sql"),
        postgres: include_str!("../migrations/0015_resource_seq.postgres.sql"),
    },
];

pub(crate) const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";
