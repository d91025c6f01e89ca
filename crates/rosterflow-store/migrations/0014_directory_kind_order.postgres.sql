-- A page of one kind of object in id order (every user with $top=999, following @odata.nextLink): the
-- primary key (tenant, id) holds users and groups interleaved, so a page of 999 users visited ~1,240 entries
-- and fetched every one's heap tuple to test its kind. With the kind in the key before the id, a page visits
-- its own 999 entries and rows (docs/benchmarks.md, "The directory"). Lists of classes and groups in id order
-- take it too. The kind is a literal in the page's SQL (directory::plan), which this matches.
CREATE INDEX dir_object_kind_id ON dir_object (tenant, kind, id);
ANALYZE dir_object;
