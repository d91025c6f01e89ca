-- Not on SQLite (see 0014_directory_kind_order.postgres.sql for PostgreSQL's index on (tenant, kind, id)): here
-- a page of users skips the groups between them in the primary key's order at the cost of a row lookup each,
-- a small part of a page's CPU next to writing it, while one more index keyed by a random id is one more page
-- dirtied by every create (a $batch load of 100k users is bound by the writer's page writes). Measured in
-- docs/benchmarks.md, "The directory".
DROP INDEX IF EXISTS dir_object_kind_id;
