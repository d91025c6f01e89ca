-- Configuration resources are JSON documents with a few indexed columns (docs/architecture.md).
-- Ids are matched case-insensitively through id_key (lower-cased id); the document keeps the original.
CREATE TABLE resource (
    tenant      TEXT   NOT NULL,
    set_name    TEXT   NOT NULL,
    id_key      TEXT   NOT NULL,
    parent_key  TEXT   NOT NULL,
    odata_type  TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    version     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    -- The unique keys and references last written, so an update that keeps them skips their upkeep.
    constraints TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, set_name, id_key)
);
CREATE INDEX resource_by_parent ON resource (tenant, set_name, parent_key, seq);
CREATE INDEX resource_by_seq ON resource (seq);

-- Values that must be unique among a parent's items of one set (one flow per type, one sortIndex per type).
CREATE TABLE resource_unique (
    tenant      TEXT NOT NULL,
    set_name    TEXT NOT NULL,
    parent_key  TEXT NOT NULL,
    unique_key  TEXT NOT NULL,
    id_key      TEXT NOT NULL,
    PRIMARY KEY (tenant, set_name, parent_key, unique_key)
);
CREATE INDEX resource_unique_by_owner ON resource_unique (tenant, set_name, id_key);

-- Bindings between resources (an inbound flow's connector, ...): a bound resource can't be deleted.
CREATE TABLE resource_ref (
    tenant    TEXT NOT NULL,
    from_set  TEXT NOT NULL,
    from_key  TEXT NOT NULL,
    to_set    TEXT NOT NULL,
    to_key    TEXT NOT NULL,
    PRIMARY KEY (tenant, from_set, from_key, to_set, to_key)
);
CREATE INDEX resource_ref_by_target ON resource_ref (tenant, to_set, to_key);
