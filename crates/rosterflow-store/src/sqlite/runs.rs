//! What runs wrote, on SQLite: a commit is one exclusive job of the writer thread (directory and state in one
//! transaction), every statement prepared once and stepped in process.

use async_trait::async_trait;
use rosterflow_model::directory::Relation;
use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::directory::Link;
use crate::runs::{Commit, FlowChanges, FlowState, LinkSink, Managed, RunStore};
use crate::{backend, Result, StoreError, TenantId};

fn save(conn: &Connection, tenant: &str, c: &FlowChanges) -> Result<()> {
    let mut put = conn
        .prepare_cached(
            "INSERT INTO run_object (tenant, flow, key, id, managed) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, flow, key) DO UPDATE SET id = excluded.id, managed = excluded.managed",
        )
        .map_err(backend)?;
    for m in &c.put {
        put.execute(params![tenant, c.flow, m.key, m.id, m.managed]).map_err(backend)?;
    }
    let mut drop =
        conn.prepare_cached("DELETE FROM run_object WHERE tenant = ?1 AND flow = ?2 AND key = ?3").map_err(backend)?;
    for key in &c.drop {
        drop.execute(params![tenant, c.flow, key]).map_err(backend)?;
    }
    let mut unlink = conn
        .prepare_cached(
            "DELETE FROM run_link WHERE tenant = ?1 AND flow = ?2 AND rel = ?3 AND from_id = ?4 AND to_id = ?5",
        )
        .map_err(backend)?;
    for l in &c.unlink {
        unlink.execute(params![tenant, c.flow, l.relation.as_str(), l.from, l.to]).map_err(backend)?;
    }
    let mut link = conn
        .prepare_cached(
            "INSERT INTO run_link (tenant, flow, rel, from_id, to_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )
        .map_err(backend)?;
    for l in &c.link {
        link.execute(params![tenant, c.flow, l.relation.as_str(), l.from, l.to]).map_err(backend)?;
    }
    Ok(())
}

fn state_objects(c: &Connection, t: &str, flow: &str) -> Result<Vec<Managed>> {
    let mut objects = Vec::new();
    let mut stmt =
        c.prepare_cached("SELECT key, id, managed FROM run_object WHERE tenant = ?1 AND flow = ?2").map_err(backend)?;
    let mut rows = stmt.query(params![t, flow]).map_err(backend)?;
    while let Some(r) = rows.next().map_err(backend)? {
        objects.push(Managed {
            key: r.get(0).map_err(backend)?,
            id: r.get(1).map_err(backend)?,
            managed: r.get(2).map_err(backend)?,
        });
    }
    Ok(objects)
}

/// The flow's relation rows, lent to `sink` one by one.
fn state_links(c: &Connection, t: &str, flow: &str, sink: &mut dyn FnMut(Relation, &str, &str)) -> Result<()> {
    let mut stmt = c
        .prepare_cached("SELECT rel, from_id, to_id FROM run_link WHERE tenant = ?1 AND flow = ?2")
        .map_err(backend)?;
    let mut rows = stmt.query(params![t, flow]).map_err(backend)?;
    while let Some(r) = rows.next().map_err(backend)? {
        let text = |i: usize| r.get_ref(i).and_then(|v| v.as_str().map_err(Into::into)).map_err(backend);
        sink(relation(text(0)?)?, text(1)?, text(2)?);
    }
    Ok(())
}

fn relation(s: &str) -> Result<Relation> {
    Relation::parse(s).ok_or_else(|| StoreError::Backend(format!("unknown relation '{s}'")))
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn state(&self, tenant: &TenantId, flow: &str) -> Result<FlowState> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.read_blocking(move |c| {
            let objects = state_objects(c, &t, &flow)?;
            let mut links = Vec::new();
            state_links(c, &t, &flow, &mut |relation, from, to| {
                links.push(Link { relation, from: from.to_string(), to: to.to_string() })
            })?;
            Ok(FlowState { objects, links })
        })
        .await
    }

    async fn state_with(&self, tenant: &TenantId, flow: &str, mut sink: LinkSink) -> Result<Vec<Managed>> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.read_blocking(move |c| {
            state_links(c, &t, &flow, &mut sink)?;
            state_objects(c, &t, &flow)
        })
        .await
    }

    async fn commit(&self, tenant: &TenantId, commit: Commit) -> Result<()> {
        let t = tenant.clone();
        self.write_exclusive(tenant, move |conn| {
            use crate::directory::sqlite as dir;
            dir::apply(conn, &t, &commit.bulk)?;
            let source = commit.bulk.source.unwrap_or(crate::directory::Source::Run);
            for c in &commit.flows {
                dir::unlink(conn, &t, &c.unlink)?;
            }
            for c in &commit.flows {
                dir::link(conn, &t, &c.link, source)?;
                save(conn, t.as_str(), c)?;
            }
            if let Some((fingerprint, report)) = &commit.fingerprint {
                conn.prepare_cached(
                    "INSERT INTO run_tenant (tenant, fingerprint, report) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant) DO UPDATE SET fingerprint = excluded.fingerprint, report = excluded.report",
                )
                .and_then(|mut s| s.execute(params![t.as_str(), fingerprint, report]))
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn reset(&self, tenant: &TenantId, flow: &str) -> Result<()> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.write(tenant, move |c| {
            for sql in [
                "DELETE FROM run_object WHERE tenant = ?1 AND flow = ?2",
                "DELETE FROM run_link WHERE tenant = ?1 AND flow = ?2",
            ] {
                c.execute(sql, params![t, flow]).map_err(backend)?;
            }
            c.execute("DELETE FROM run_tenant WHERE tenant = ?1", params![t]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn last(&self, tenant: &TenantId) -> Result<Option<(String, String)>> {
        use rusqlite::OptionalExtension;
        self.read(|c| {
            c.prepare_cached("SELECT fingerprint, report FROM run_tenant WHERE tenant = ?1")?
                .query_row(params![tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }
}
