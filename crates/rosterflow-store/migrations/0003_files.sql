-- Uploaded files: the containers of upload sessions (getUploadSession), their blobs, and the chunks each blob
-- is made of (docs/architecture.md, "Upload sessions"). The bytes live in the object store; these rows say
-- which objects make up which committed file, exactly and in one place for every replica.
-- Times are microseconds since the Unix epoch.

-- One upload container per session; at most one open container per data connector.
CREATE TABLE upload_container (
    id                TEXT   NOT NULL PRIMARY KEY,
    tenant            TEXT   NOT NULL,
    connector_key     TEXT   NOT NULL,
    -- open: takes uploads; finalized: validated, read-only; discarded: reset or expired, awaiting the sweeper.
    state             TEXT   NOT NULL,
    created           BIGINT NOT NULL,
    session_expires   BIGINT NOT NULL,
    container_expires BIGINT NOT NULL
);
CREATE UNIQUE INDEX upload_container_open ON upload_container (tenant, connector_key) WHERE state = 'open';
CREATE INDEX upload_container_by_tenant ON upload_container (tenant, state);
CREATE INDEX upload_container_by_expiry ON upload_container (container_expires);

-- A committed (visible) file. Names are case-sensitive, as Azure's blob names are.
CREATE TABLE upload_blob (
    tenant       TEXT   NOT NULL,
    container    TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    etag         TEXT   NOT NULL,
    created      BIGINT NOT NULL,
    modified     BIGINT NOT NULL,
    content_type TEXT,
    content_md5  TEXT,
    PRIMARY KEY (tenant, container, name)
);

-- The objects a blob is made of. kind 'c': committed, `seq` its place in the file, `start` its offset;
-- 'b': an uncommitted block (Put Block), `block_id` its id; 'a': an unflushed append, `seq` its position.
-- Committing writes rows, never bytes: Put Block List and flush reuse the objects their blocks were written to.
CREATE TABLE upload_chunk (
    tenant    TEXT   NOT NULL,
    container TEXT   NOT NULL,
    name      TEXT   NOT NULL,
    kind      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    block_id  TEXT   NOT NULL,
    start     BIGINT NOT NULL,
    object    TEXT   NOT NULL,
    size      BIGINT NOT NULL,
    PRIMARY KEY (tenant, container, name, kind, seq, block_id)
);

-- Keys the server keeps for itself, sealed (secrets.rs): the upload sessions' signing key.
CREATE TABLE server_key (
    name   TEXT NOT NULL PRIMARY KEY,
    sealed TEXT NOT NULL
);
