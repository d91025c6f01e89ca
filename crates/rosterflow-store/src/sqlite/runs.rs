//! What runs wrote, on SQLite: a commit is one exclusive job of the writer thread (directory and state in one
//! transaction), every statement prepared once and stepped in process.

use std::borrow::Cow;

use async_trait::async_trait;
use rosterflow_model::directory::Relation;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::directory::Link;
use crate::runs::{merged_links, packed, Commit, FlowChanges, FlowState, LinkSink, Managed, RunStore};
use crate::{backend, Result, TenantId};

fn save(conn: &Connection, tenant: &str, c: &FlowChanges) -> Result<()> {
    use crate::directory::sqlite::insert_rows;
    // In key order, the table's B-tree takes a first run's rows as appends rather than one descent each.
    let mut put: Vec<&Managed> = c.put.iter().collect();
    put.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    insert_rows(
        conn,
        [
            "INSERT INTO run_object (tenant, flow, key, id, managed)",
            "?1, ?2, @, @, @",
            "ON CONFLICT (tenant, flow, key) DO UPDATE SET id = excluded.id, managed = excluded.managed",
        ],
        &[&tenant, &c.flow],
        &put,
        |m| [Cow::Borrowed(m.key.as_str()), Cow::Borrowed(m.id.as_str()), Cow::Borrowed(m.managed.as_str())],
    )?;
    let mut forget =
        conn.prepare_cached("DELETE FROM run_object WHERE tenant = ?1 AND flow = ?2 AND key = ?3").map_err(backend)?;
    for key in &c.drop {
        forget.execute(params![tenant, c.flow, key]).map_err(backend)?;
    }
    // The flow's relations, per group: read, merged, written back (or deleted when none are left).
    let mut read = conn
        .prepare_cached("SELECT to_ids FROM run_link_set WHERE tenant = ?1 AND flow = ?2 AND rel = ?3 AND from_id = ?4")
        .map_err(backend)?;
    let mut write = conn
        .prepare_cached(
            "INSERT INTO run_link_set (tenant, flow, rel, from_id, to_ids) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, flow, rel, from_id) DO UPDATE SET to_ids = excluded.to_ids",
        )
        .map_err(backend)?;
    let mut gone = conn
        .prepare_cached("DELETE FROM run_link_set WHERE tenant = ?1 AND flow = ?2 AND rel = ?3 AND from_id = ?4")
        .map_err(backend)?;
    for ((rel, from), change) in packed::changes(c) {
        let key = params![tenant, c.flow, rel.as_str(), from];
        let stored: Option<String> = read.query_row(key, |r| r.get(0)).optional().map_err(backend)?;
        match packed::merged(stored.as_deref(), &change) {
            Some(ids) => write.execute(params![tenant, c.flow, rel.as_str(), from, ids]).map(drop),
            None => gone.execute(key).map(drop),
        }
        .map_err(backend)?;
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

/// The flow's relations (stored per group: [`packed`]), lent to `sink` one by one.
fn state_links(c: &Connection, t: &str, flow: &str, sink: &mut dyn FnMut(Relation, &str, &str)) -> Result<()> {
    let mut stmt = c
        .prepare_cached("SELECT rel, from_id, to_ids FROM run_link_set WHERE tenant = ?1 AND flow = ?2")
        .map_err(backend)?;
    let mut rows = stmt.query(params![t, flow]).map_err(backend)?;
    while let Some(r) = rows.next().map_err(backend)? {
        let text = |i: usize| r.get_ref(i).and_then(|v| v.as_str().map_err(Into::into)).map_err(backend);
        packed::each(text(0)?, text(1)?, text(2)?, &mut *sink)?;
    }
    Ok(())
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

    async fn state_links_of(
        &self,
        tenant: &TenantId,
        flow: &str,
        mut from: Vec<String>,
        mut sink: LinkSink,
    ) -> Result<()> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        from.sort_unstable();
        from.dedup();
        self.read_blocking(move |c| {
            // One primary-key lookup per relation and group, in key order (as `state_links` returns them).
            let mut stmt = c
                .prepare_cached(
                    "SELECT to_ids FROM run_link_set WHERE tenant = ?1 AND flow = ?2 AND rel = ?3 AND from_id = ?4",
                )
                .map_err(backend)?;
            let mut relations = [Relation::Members, Relation::Owners];
            relations.sort_by_key(|r| r.as_str());
            for rel in relations {
                for id in &from {
                    let mut rows = stmt.query(params![t, flow, rel.as_str(), id]).map_err(backend)?;
                    while let Some(r) = rows.next().map_err(backend)? {
                        let to_ids = r.get_ref(0).and_then(|v| v.as_str().map_err(Into::into)).map_err(backend)?;
                        packed::each(rel.as_str(), id, to_ids, &mut *sink)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn commit(&self, tenant: &TenantId, commit: Commit) -> Result<()> {
        let t = tenant.clone();
        self.write_exclusive(tenant, move |conn| {
            use crate::directory::sqlite as dir;
            let Commit { bulk, flows, fingerprint } = commit;
            dir::apply(conn, &t, &bulk)?;
            let source = bulk.source.unwrap_or(crate::directory::Source::Run);
            // The objects' documents are written: their memory goes to what follows (the page cache grows).
            drop(bulk);
            for c in &flows {
                dir::unlink(conn, &t, &c.unlink)?;
            }
            // Every flow's links at once, in key order (each flow's are sorted: the stable sort merges them), so
            // the relation table's B-tree takes one ascending pass instead of one per flow.
            let links = merged_links(&flows);
            dir::link(conn, &t, &links, source)?;
            drop(links);
            for c in flows {
                save(conn, t.as_str(), &c)?;
            }
            if let Some((fingerprint, report)) = &fingerprint {
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
                "DELETE FROM run_link_set WHERE tenant = ?1 AND flow = ?2",
            ] {
                c.execute(sql, params![t, flow]).map_err(backend)?;
            }
            c.execute("DELETE FROM run_tenant WHERE tenant = ?1", params![t]).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn last(&self, tenant: &TenantId) -> Result<Option<(String, String)>> {
        self.read(|c| {
            c.prepare_cached("SELECT fingerprint, report FROM run_tenant WHERE tenant = ?1")?
                .query_row(params![tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }
}
