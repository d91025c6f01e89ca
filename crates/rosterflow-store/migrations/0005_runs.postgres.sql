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
