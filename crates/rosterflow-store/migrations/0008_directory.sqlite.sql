-- A group's mailNickname is unique in the tenant (group.md: "The mail alias for the group, unique in the
-- organization"), case-insensitively (nick_fold is folded); classes and teams are groups. Users' aliases are
-- not covered: the user page documents no such rule. A write that breaks it is refused whole
-- (docs/decisions.md, "Directory: status codes of writes").
CREATE UNIQUE INDEX dir_object_group_nick ON dir_object (tenant, nick_fold) WHERE kind = 'group' AND nick_fold IS NOT NULL;

-- What the query planner assumes of the directory until ANALYZE measures it: a large tenant (figures per index
-- column prefix, as sqlite_stat1 keeps them). Without statistics SQLite walks a whole tenant in id order to
-- avoid sorting a page, probing each object, where the externalId / UPN index or the relation's key finds the
-- few rows at once (130-370 ms instead of under a millisecond with 100k users; docs/benchmarks.md). A database
-- that was analyzed keeps its own figures.
ANALYZE sqlite_schema;
INSERT INTO sqlite_stat1 (tbl, idx, stat)
SELECT v.tbl, v.idx, v.stat FROM (
    SELECT 'dir_object' AS tbl, 'sqlite_autoindex_dir_object_1' AS idx, '1000000 100000 1' AS stat
    UNION ALL SELECT 'dir_object', 'dir_object_upn', '1000000 100000 1'
    UNION ALL SELECT 'dir_object', 'dir_object_group_nick', '100000 10000 1'
    UNION ALL SELECT 'dir_object', 'dir_object_display', '1000000 100000 30000 3 1'
    UNION ALL SELECT 'dir_object', 'dir_object_mail', '1000000 100000 1'
    UNION ALL SELECT 'dir_object', 'dir_object_nick', '1000000 100000 1'
    UNION ALL SELECT 'dir_object', 'dir_object_ext', '1000000 100000 2'
    UNION ALL SELECT 'dir_object', 'dir_object_created', '1000000 100000 30000 1000 1'
    UNION ALL SELECT 'dir_relation', 'dir_relation', '5000000 500000 250000 30 1'
    UNION ALL SELECT 'dir_relation', 'dir_relation_reverse', '5000000 500000 250000 10 1'
) v
WHERE NOT EXISTS (SELECT 1 FROM sqlite_stat1 s WHERE s.tbl IN ('dir_object', 'dir_relation'));
