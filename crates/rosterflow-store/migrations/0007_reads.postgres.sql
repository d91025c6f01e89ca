-- Each tenant's inbound stamp (docs/architecture.md, "Readiness without an extra read"): a number bumped, in
-- the same transaction, by every insert, update or delete of the tenant's inbound flows and of their roster
-- snapshots. A replica keeps what it derived from those (the readiness of flows) under the stamp it read
-- them at, and the statement that reads a flow returns the stamp too: equal stamps, nothing changed since,
-- whichever replica wrote. Writes of other sets skip the triggers by their WHEN clause.
CREATE TABLE inbound_stamp (
    tenant TEXT   PRIMARY KEY,
    stamp  BIGINT NOT NULL
);

CREATE FUNCTION bump_inbound_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant ELSE NEW.tenant END, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = inbound_stamp.stamp + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER inbound_flow_inserted AFTER INSERT ON resource
    FOR EACH ROW WHEN (NEW.set_name = 'inboundFlows') EXECUTE FUNCTION bump_inbound_stamp();
CREATE TRIGGER inbound_flow_updated AFTER UPDATE ON resource
    FOR EACH ROW WHEN (NEW.set_name = 'inboundFlows' OR OLD.set_name = 'inboundFlows')
    EXECUTE FUNCTION bump_inbound_stamp();
CREATE TRIGGER inbound_flow_deleted AFTER DELETE ON resource
    FOR EACH ROW WHEN (OLD.set_name = 'inboundFlows') EXECUTE FUNCTION bump_inbound_stamp();
CREATE TRIGGER roster_snapshot_changed AFTER INSERT OR UPDATE OR DELETE ON roster_snapshot
    FOR EACH ROW EXECUTE FUNCTION bump_inbound_stamp();

-- A page of a set in creation order reads this index in page order and stops at the page's end (keyset
-- paging: `(tenant, set_name, seq, id_key) > (...)`), instead of scanning the table and sorting it.
CREATE INDEX resource_by_set_seq ON resource (tenant, set_name, seq, id_key);
