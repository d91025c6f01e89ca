-- Roster records' keys compared byte by byte (COLLATE "C"), as the directory's keys are (0009). An incremental
-- run reads the enrollments of the classes it replans as key ranges (an enrollment's key starts with its
-- class's sourcedId and U+001F): a range is only a prefix under a byte-wise order (a locale's collation may
-- ignore control characters, so `c-1` U+001F ... and `c-10` U+001F ... could interleave). Under "C" the scans'
-- `ORDER BY natural_key COLLATE "C"` is the index's own order, and B-tree descents skip strcoll. Equality
-- is unchanged (the collations are deterministic), so loads diff as before. The indexes are rebuilt; the rows
-- are not rewritten.
ALTER TABLE roster_record
    ALTER COLUMN tenant TYPE TEXT COLLATE "C",
    ALTER COLUMN flow TYPE TEXT COLLATE "C",
    ALTER COLUMN natural_key TYPE TEXT COLLATE "C";
-- ALTER ... TYPE drops the altered columns' statistics: gather them again now rather than wait for autovacuum.
ANALYZE roster_record;
