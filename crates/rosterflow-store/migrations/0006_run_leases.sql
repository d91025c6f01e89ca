-- Run leases (docs/runs.md): at most one run per tenant at a time, across replicas. A replica holds its
-- tenant's row while it runs, renews `expires_at` (milliseconds since the Unix epoch) as it goes, and deletes
-- the row when the run ends; a row past `expires_at` belongs to a replica that died and may be taken over.
CREATE TABLE run_lease (
    tenant     TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    run_id     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
