-- A flow's relations (docs/runs.md, "State"), one row per group and relation instead of one per relation: a
-- first run's million relations are ~50k rows (one per class, group or unit), so writing and reading a flow's
-- state costs an index entry per group, not per member. `to_ids` holds the related ids, sorted, separated by
-- single spaces (ids are GUIDs: no spaces).
CREATE TABLE run_link_set (
    tenant  TEXT NOT NULL,
    flow    TEXT NOT NULL,
    rel     TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_ids  TEXT NOT NULL,
    PRIMARY KEY (tenant, flow, rel, from_id)
);

INSERT INTO run_link_set (tenant, flow, rel, from_id, to_ids)
SELECT tenant, flow, rel, from_id, string_agg(to_id, ' ' ORDER BY to_id)
FROM run_link GROUP BY tenant, flow, rel, from_id;

DROP TABLE run_link;
