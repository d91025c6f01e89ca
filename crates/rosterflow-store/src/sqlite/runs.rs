//! What runs wrote, on SQLite: a commit is one exclusive job of the writer thread (directory and state in one
//! transaction), every statement prepared once and stepped in process.

use std::borrow::Cow;

use async_trait::async_trait;
use rosterflow_model::directory::Relation;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::directory::Link;
use crate::runs::{
    merged_links, packed, Commit, CommitPart, CommitParts, FlowChanges, FlowState, LinkSink, Managed, RunStore,
};
use crate::{backend, Result, TenantId};

fn save(conn: &Connection, tenant: &str, c: &FlowChanges) -> Result<()> {
    save_objects(conn, tenant, c)?;
    save_links(conn, tenant, c)
}

/// The flow's managed objects ([`save`]).
fn save_objects(conn: &Connection, tenant: &str, c: &FlowChanges) -> Result<()> {
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
    Ok(())
}

/// The flow's relations ([`save`]).
fn save_links(conn: &Connection, tenant: &str, c: &FlowChanges) -> Result<()> {
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
            relate(conn, &t, &flows, source)?;
            for c in flows {
                save(conn, t.as_str(), &c)?;
            }
            keep_fingerprint(conn, &t, fingerprint.as_ref())
        })
        .await
    }

    async fn commit_stream(&self, tenant: &TenantId, mut parts: CommitParts) -> Result<()> {
        let t = tenant.clone();
        // One transaction on the writer thread, begun when the first flow is planned: each flow's objects and
        // managed objects' state are written as it arrives, while the planner works on the next flows. The rest
        // follows the last flow in `commit`'s order: patches after every flow's objects; every flow's unlinks
        // before any link; then every flow's links in one pass in key order, which the relation table's B-tree
        // takes as appends (one flow's links after another's would land between them: page splits in the
        // middle of the tree cost more than the overlap gains); then the relations' state.
        self.write_exclusive(tenant, move |conn| {
            use crate::directory::sqlite as dir;
            let mut objects = dir::BulkWriter::new(conn, &t, crate::directory::Source::Run)?;
            let mut patches = Vec::new();
            let mut flows: Vec<FlowChanges> = Vec::new();
            let fingerprint = loop {
                match parts.blocking_recv() {
                    None => return Err(crate::StoreError::Backend("the run stopped before its commit".into())),
                    Some(CommitPart::Done { fingerprint }) => break fingerprint,
                    Some(CommitPart::Flow { rendered, patches: p, mut changes }) => {
                        objects.rendered(&rendered)?;
                        drop(rendered);
                        patches.extend(p);
                        if !changes.is_empty() {
                            save_objects(conn, t.as_str(), &changes)?;
                            changes.put = Vec::new();
                            flows.push(changes);
                        }
                    }
                }
            };
            // The objects' indexes are built while their pages are the WAL's newest (reading a page back from the
            // WAL costs more the more frames follow it).
            objects.finish()?;
            dir::patch(conn, &t, &patches)?;
            drop(patches);
            relate(conn, &t, &flows, crate::directory::Source::Run)?;
            for c in &flows {
                save_links(conn, t.as_str(), c)?;
            }
            drop(flows);
            keep_fingerprint(conn, &t, fingerprint.as_ref())
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

/// Every flow's unlinks, then every flow's links at once, in key order (each flow's are sorted: the stable sort
/// merges them), so that the relation table's B-tree takes one ascending pass instead of one per flow.
fn relate(conn: &Connection, t: &TenantId, flows: &[FlowChanges], source: crate::directory::Source) -> Result<()> {
    use crate::directory::sqlite as dir;
    for c in flows {
        dir::unlink(conn, t, &c.unlink)?;
    }
    let links = merged_links(flows);
    dir::link(conn, t, &links, source)
}

/// The inputs' digest and the run's report, kept for the next run.
fn keep_fingerprint(conn: &Connection, t: &TenantId, fingerprint: Option<&(String, String)>) -> Result<()> {
    if let Some((fingerprint, report)) = fingerprint {
        conn.prepare_cached(
            "INSERT INTO run_tenant (tenant, fingerprint, report) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant) DO UPDATE SET fingerprint = excluded.fingerprint, report = excluded.report",
        )
        .and_then(|mut s| s.execute(params![t.as_str(), fingerprint, report]))
        .map_err(backend)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Object, Rendered};
    use crate::runs::LinkSet;
    use rosterflow_model::directory::ObjectKind;

    fn store() -> SqliteStore {
        let dir = std::env::temp_dir().join(format!("rf-sqlite-runs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        SqliteStore::open(&dir.join(format!("{nanos}.sqlite3"))).unwrap()
    }

    fn object(id: &str, kind: ObjectKind) -> Rendered {
        let mut doc = serde_json::Map::new();
        doc.insert("displayName".into(), id.into());
        Object::new(id.into(), kind, doc).render()
    }

    fn link(from: &str, to: &str) -> Link {
        Link { relation: Relation::Members, from: from.into(), to: to.into() }
    }

    fn flow(name: &str, put: &[&str], link: &[Link], unlink: Vec<Link>) -> FlowChanges {
        FlowChanges {
            flow: name.into(),
            put: put.iter().map(|k| Managed { key: k.to_string(), id: k.to_string(), managed: "{}".into() }).collect(),
            drop: vec![],
            link: LinkSet::from_links(link),
            unlink,
        }
    }

    fn relations(s: &SqliteStore, t: &TenantId) -> Vec<(String, String)> {
        s.read(|c| {
            c.prepare("SELECT from_id, to_id FROM dir_relation WHERE tenant = ?1 ORDER BY 1, 2")?
                .query_map([t.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .unwrap()
    }

    fn count(s: &SqliteStore, t: &TenantId, table: &str) -> i64 {
        s.read(|c| c.query_row(&format!("SELECT count(*) FROM {table} WHERE tenant = ?1"), [t.as_str()], |r| r.get(0)))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_streamed_commit_writes_what_one_commit_does_and_nothing_when_the_stream_stops() {
        let s = std::sync::Arc::new(store());
        let t = TenantId("t".into());
        // An earlier relation that the second flow removes and the first adds: `commit` removes every flow's
        // relations before it adds any, so it stays.
        s.write(&t, |c| {
            c.execute("INSERT INTO dir_relation (tenant, rel, from_id, to_id, source) VALUES ('t', 'members', 'g1', 'u1', 'api')", [])
                .map(drop)
                .map_err(backend)
        })
        .await
        .unwrap();

        let (parts, received) = tokio::sync::mpsc::unbounded_channel();
        let committing = tokio::spawn({
            let (s, t) = (s.clone(), t.clone());
            async move { s.commit_stream(&t, received).await }
        });
        let a = flow("a", &["g1", "u1"], &[link("g1", "u1"), link("g1", "u2")], vec![]);
        let rendered = vec![object("g1", ObjectKind::Group), object("u1", ObjectKind::User)];
        parts.send(CommitPart::Flow { rendered, patches: vec![], changes: a }).unwrap();
        let b = flow("b", &["g2"], &[link("g2", "u1")], vec![link("g1", "u1")]);
        parts
            .send(CommitPart::Flow { rendered: vec![object("g2", ObjectKind::Group)], patches: vec![], changes: b })
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(count(&s, &t, "dir_object"), 0, "nothing is visible before the end");
        parts.send(CommitPart::Done { fingerprint: Some(("f".into(), "[]".into())) }).unwrap();
        committing.await.unwrap().unwrap();
        assert_eq!(count(&s, &t, "dir_object"), 3);
        assert_eq!(count(&s, &t, "run_object"), 3);
        assert_eq!(
            relations(&s, &t),
            [("g1", "u1"), ("g1", "u2"), ("g2", "u1")].map(|(f, t)| (f.to_string(), t.to_string()))
        );
        assert_eq!(s.last(&t).await.unwrap(), Some(("f".into(), "[]".into())));
        let state = s.state(&t, "b").await.unwrap();
        assert_eq!(state.links, vec![link("g2", "u1")]);

        // A stream that ends without `Done` (the run failed while planning) leaves everything as it was.
        let other = TenantId("o".into());
        let (parts, received) = tokio::sync::mpsc::unbounded_channel();
        let committing = tokio::spawn({
            let (s, other) = (s.clone(), other.clone());
            async move { s.commit_stream(&other, received).await }
        });
        let a = flow("a", &["g1"], &[link("g1", "u1")], vec![]);
        parts
            .send(CommitPart::Flow { rendered: vec![object("g1", ObjectKind::Group)], patches: vec![], changes: a })
            .unwrap();
        drop(parts);
        assert!(committing.await.unwrap().is_err());
        for table in ["dir_object", "dir_relation", "run_object", "run_link_set", "run_tenant"] {
            assert_eq!(count(&s, &other, table), 0, "{table}");
        }
    }
}
