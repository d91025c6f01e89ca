-- Roster snapshots of inbound flows (docs/architecture.md, "Roster snapshots"); see the SQLite file.
CREATE TABLE roster_snapshot (
    tenant     TEXT   NOT NULL,
    flow       TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    loaded_at  TEXT   NOT NULL,
    format     TEXT   NOT NULL,
    files      TEXT   NOT NULL,
    records    BIGINT NOT NULL,
    inserted   BIGINT NOT NULL,
    changed    BIGINT NOT NULL,
    removed    BIGINT NOT NULL,
    digests    TEXT   NOT NULL,
    PRIMARY KEY (tenant, flow, seq)
);

CREATE TABLE roster_record (
    tenant      TEXT     NOT NULL,
    flow        TEXT     NOT NULL,
    kind        SMALLINT NOT NULL,
    natural_key TEXT     NOT NULL,
    hash        BIGINT   NOT NULL,
    fields      TEXT     NOT NULL,
    first_seen  BIGINT   NOT NULL,
    changed_in  BIGINT   NOT NULL,
    removed_in  BIGINT,
    PRIMARY KEY (tenant, flow, kind, natural_key)
);
CREATE INDEX roster_record_changed ON roster_record (tenant, flow, changed_in);
