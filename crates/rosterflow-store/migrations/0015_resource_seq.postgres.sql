-- An item's `seq` from a sequence, never handed out twice. `MAX(seq) + 1` gave a deleted newest item's number to
-- the next one created, so an item deleted and created again under the same id came back with the same
-- (seq, version) as before: a replica that remembered the deleted one (postgres/edits.rs) took it for current
-- and served, or patched, the old body. A sequence also keeps two concurrent inserts from sharing a number.
CREATE SEQUENCE resource_seq;
SELECT setval('resource_seq', COALESCE((SELECT MAX(seq) FROM resource), 0) + 1, false);
