//! The SQL of the files family, written once for both backends in PostgreSQL's `$n` form; the SQLite backend
//! runs it with SQLite's numbered `?n` ([`sqlite`]). Only listing differs: PostgreSQL must be told to order
//! names bytewise, as SQLite does and Azure lists them.

pub(crate) const CONTAINER_BY_ID: &str =
    "SELECT id, tenant, connector_key, state, created, session_expires, container_expires
     FROM upload_container WHERE id = $1";
pub(crate) const OPEN_CONTAINER: &str =
    "SELECT id, tenant, connector_key, state, created, session_expires, container_expires
     FROM upload_container WHERE tenant = $1 AND connector_key = $2 AND state = 'open'";
pub(crate) const COUNT_OPEN: &str =
    "SELECT COUNT(*) FROM upload_container WHERE tenant = $1 AND state = 'open' AND container_expires > $2";
pub(crate) const SET_STATE: &str =
    "UPDATE upload_container SET state = $4 WHERE tenant = $1 AND id = $2 AND state = $3";
pub(crate) const INSERT_CONTAINER: &str = "INSERT INTO upload_container
     (id, tenant, connector_key, state, created, session_expires, container_expires) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const RENEW_SESSION: &str = "UPDATE upload_container SET session_expires = $3 WHERE tenant = $1 AND id = $2";

pub(crate) const BLOB: &str = "SELECT name, size, etag, created, modified, content_type, content_md5
     FROM upload_blob WHERE tenant = $1 AND container = $2 AND name = $3";
pub(crate) const CHUNKS: &str = "SELECT kind, seq, block_id, start, object, size FROM upload_chunk
     WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = $4 ORDER BY seq, block_id";
pub(crate) const HAS_CHUNKS: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM upload_chunk WHERE tenant = $1 AND container = $2 AND name = $3 LIMIT 1) AS c";
pub(crate) const NAMES: &str = "SELECT COUNT(*) FROM (
       SELECT name FROM upload_blob WHERE tenant = $1 AND container = $2
       UNION SELECT name FROM upload_chunk WHERE tenant = $1 AND container = $2) AS n";
pub(crate) const STAGED: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM upload_chunk
     WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = 'b'";
pub(crate) const SAME_BLOCK: &str = "SELECT kind, seq, block_id, start, object, size FROM upload_chunk
     WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = 'b' AND block_id = $4";
pub(crate) const NEXT_SEQ: &str = "SELECT CAST(COALESCE(MAX(seq) + 1, 0) AS BIGINT) FROM upload_chunk
     WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = 'c'";

pub(crate) const DELETE_KIND: &str =
    "DELETE FROM upload_chunk WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = $4";
pub(crate) const DELETE_CHUNK: &str = "DELETE FROM upload_chunk
     WHERE tenant = $1 AND container = $2 AND name = $3 AND kind = $4 AND seq = $5 AND block_id = $6";
pub(crate) const INSERT_CHUNK: &str = "INSERT INTO upload_chunk
     (tenant, container, name, kind, seq, block_id, start, object, size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const UPSERT_BLOB: &str = "INSERT INTO upload_blob
     (tenant, container, name, size, etag, created, modified, content_type, content_md5)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (tenant, container, name) DO UPDATE SET size = excluded.size, etag = excluded.etag,
       created = excluded.created, modified = excluded.modified, content_type = excluded.content_type,
       content_md5 = excluded.content_md5";
pub(crate) const DELETE_BLOB: &str = "DELETE FROM upload_blob WHERE tenant = $1 AND container = $2 AND name = $3";

pub(crate) const LIST_SQLITE: &str = "SELECT name, size, etag, created, modified, content_type, content_md5
     FROM upload_blob WHERE tenant = $1 AND container = $2 AND substr(name, 1, length($3)) = $3
       AND ($4 IS NULL OR name > $4) ORDER BY name LIMIT $5";
pub(crate) const LIST_POSTGRES: &str = "SELECT name, size, etag, created, modified, content_type, content_md5
     FROM upload_blob WHERE tenant = $1 AND container = $2 AND starts_with(name, $3)
       AND ($4::text IS NULL OR name > $4 COLLATE \"C\") ORDER BY name COLLATE \"C\" LIMIT $5";

pub(crate) const SWEEPABLE: &str =
    "SELECT tenant, id FROM upload_container WHERE state = 'discarded' OR container_expires <= $1";
pub(crate) const REMOVE: [&str; 3] = [
    "DELETE FROM upload_chunk WHERE tenant = $1 AND container = $2",
    "DELETE FROM upload_blob WHERE tenant = $1 AND container = $2",
    "DELETE FROM upload_container WHERE tenant = $1 AND id = $2",
];

pub(crate) const INSERT_KEY: &str =
    "INSERT INTO server_key (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
pub(crate) const KEY: &str = "SELECT sealed FROM server_key WHERE name = $1";
