-- The directory's key columns compared byte by byte (COLLATE "C"), as its folded columns already are (0002).
-- Under the database's default collation every comparison of a B-tree descent goes through strcoll (a
-- locale such as C.UTF-8 or en_US is not PostgreSQL's "C"): a class's members are 30 descents of the
-- object key and one of the relation key, and the text comparisons were a fifth of PostgreSQL's CPU for
-- that request (docs/benchmarks.md, "The directory"). Ids are lower-case GUIDs, tenants and kinds ASCII
-- names: their order and equality are the same under both collations, so answers and $skiptokens are
-- unchanged. The indexes on these columns are rebuilt; the rows are not rewritten.
ALTER TABLE dir_object
    ALTER COLUMN tenant TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN kind TYPE TEXT COLLATE "C";
ALTER TABLE dir_relation
    ALTER COLUMN tenant TYPE TEXT COLLATE "C",
    ALTER COLUMN rel TYPE TEXT COLLATE "C",
    ALTER COLUMN from_id TYPE TEXT COLLATE "C",
    ALTER COLUMN to_id TYPE TEXT COLLATE "C";
-- ALTER ... TYPE drops the altered columns' statistics; without them the planner walks whole tenants (a class's
-- members took a second). Gather them again now rather than wait for autovacuum.
ANALYZE dir_object, dir_relation;
