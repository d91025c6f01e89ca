-- Roster snapshots of inbound flows (docs/architecture.md, "Roster snapshots").
-- One row per load of a flow's files; seq counts a flow's loads from 1.
CREATE TABLE roster_snapshot (
    tenant     TEXT    NOT NULL,
    flow       TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    loaded_at  TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    files      TEXT    NOT NULL, -- file names, newline-separated
    records    INTEGER NOT NULL, -- active records after the load
    inserted   INTEGER NOT NULL,
    changed    INTEGER NOT NULL,
    removed    INTEGER NOT NULL,
    digests    TEXT    NOT NULL, -- per kind: count and a sum of record mixes (a load skips kinds that match)
    PRIMARY KEY (tenant, flow, seq)
);

-- Every record a flow's snapshots ever held, by natural key. Active while removed_in IS NULL; last seen in
-- the flow's latest snapshot while active, in removed_in - 1 once removed (nothing to bump per load).
CREATE TABLE roster_record (
    tenant      TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    natural_key TEXT    NOT NULL,
    hash        INTEGER NOT NULL, -- of the normalized fields
    fields      TEXT    NOT NULL, -- the normalized fields, U+001F-separated
    first_seen  INTEGER NOT NULL,
    changed_in  INTEGER NOT NULL, -- the snapshot that inserted, changed, removed or restored it
    removed_in  INTEGER,
    PRIMARY KEY (tenant, flow, kind, natural_key)
) WITHOUT ROWID;
CREATE INDEX roster_record_changed ON roster_record (tenant, flow, changed_in);
