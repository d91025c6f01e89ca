-- Each tenant's inbound stamp: see the PostgreSQL file.
CREATE TABLE inbound_stamp (
    tenant TEXT    PRIMARY KEY,
    stamp  INTEGER NOT NULL
);

CREATE TRIGGER inbound_flow_inserted AFTER INSERT ON resource WHEN NEW.set_name = 'inboundFlows'
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (NEW.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER inbound_flow_updated AFTER UPDATE ON resource
    WHEN NEW.set_name = 'inboundFlows' OR OLD.set_name = 'inboundFlows'
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (NEW.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER inbound_flow_deleted AFTER DELETE ON resource WHEN OLD.set_name = 'inboundFlows'
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (OLD.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER roster_snapshot_inserted AFTER INSERT ON roster_snapshot
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (NEW.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER roster_snapshot_updated AFTER UPDATE ON roster_snapshot
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (NEW.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;
CREATE TRIGGER roster_snapshot_deleted AFTER DELETE ON roster_snapshot
BEGIN
    INSERT INTO inbound_stamp (tenant, stamp) VALUES (OLD.tenant, 1)
    ON CONFLICT (tenant) DO UPDATE SET stamp = stamp + 1;
END;

-- A page of a set in creation order: see the PostgreSQL file.
CREATE INDEX resource_by_set_seq ON resource (tenant, set_name, seq, id_key);
