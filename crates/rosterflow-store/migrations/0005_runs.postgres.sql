-- What provisioning runs wrote (docs/runs.md, "State"): per provisioning flow, the directory objects it
-- manages and the relations it added. A run diffs what it wants against these rows, not against the live
-- directory, so an administrator's manual edit is never reverted; they are written in the same transaction
-- as the directory changes, so they always describe the directory the run left.
CREATE TABLE run_object (
    tenant  TEXT NOT NULL,
    flow    TEXT NOT NULL,
    key     TEXT NOT NULL, -- what the object stands for: `user:{sourcedId}`, `class:{inbound}:{sourcedId}`, ...
    id      TEXT NOT NULL, -- the directory object
    managed TEXT NOT NULL, -- JSON: the properties the run manages, as it last wrote them
    PRIMARY KEY (tenant, flow, key)
);

CREATE TABLE run_link (
    tenant  TEXT NOT NULL,
    flow    TEXT NOT NULL,
    rel     TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    PRIMARY KEY (tenant, flow, rel, from_id, to_id)
);

-- Per tenant, a digest of everything the last committed run planned from (configuration versions, snapshot
-- sequence numbers, the directory's match keys) and that run's activity reports: a run over the same inputs
-- would plan nothing, so it answers with those reports without reading the rosters.
CREATE TABLE run_tenant (
    tenant      TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    report      TEXT NOT NULL
);
