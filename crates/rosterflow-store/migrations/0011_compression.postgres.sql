-- A stored document over ~2 KB (a provisioning flow is ~2.6 KB) is compressed on every write; lz4 does that in
-- about a fifth of the CPU time of PostgreSQL's default pglz, for a similar size: measured, the autocommitted
-- UPDATE of a PATCH costs the database ~78 µs instead of ~94 µs (docs/benchmarks.md, "PostgreSQL"). Only the
-- method of new values changes (existing ones are read as they are). A server built without lz4 keeps pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE resource ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
