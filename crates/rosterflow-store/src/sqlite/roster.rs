//! Roster snapshots on SQLite: a load is one exclusive write on the writer thread (prepared statements, no
//! round trips: the database is in-process); scans stream from a read connection on the blocking pool.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{exec, SqliteStore};
use crate::roster::{
    counts_of_digests, diff, digests, format_digests, join_files, kinds_to_diff, prefix_end, split_files, ActiveCounts,
    FieldSink, Known, KnownRecords, RecordRow, RecordStream, RosterStore, Scan, SnapshotInfo, SnapshotMeta,
    StoredRecord, SCAN_CHUNK,
};
use crate::{backend, Result, TenantId};

fn load(conn: &Connection, t: &str, flow: &str, meta: &SnapshotMeta, records: &[RecordRow]) -> Result<SnapshotInfo> {
    let seq: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM roster_snapshot WHERE tenant = ?1 AND flow = ?2",
            params![t, flow],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let previous: Option<String> = conn
        .query_row(
            "SELECT digests FROM roster_snapshot WHERE tenant = ?1 AND flow = ?2 ORDER BY seq DESC LIMIT 1",
            params![t, flow],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    let new_digests = digests(records);
    let kinds = kinds_to_diff(&new_digests, previous.as_deref());
    let mut known = KnownRecords::default();
    {
        let mut stmt = conn
            .prepare_cached(
                "SELECT natural_key, hash, removed_in IS NOT NULL FROM roster_record
                 WHERE tenant = ?1 AND flow = ?2 AND kind = ?3",
            )
            .map_err(backend)?;
        for &kind in &kinds {
            let mut rows = stmt.query(params![t, flow, kind]).map_err(backend)?;
            let of_kind = known.entry(kind).or_default();
            while let Some(r) = rows.next().map_err(backend)? {
                let known = Known { hash: r.get(1).map_err(backend)?, removed: r.get(2).map_err(backend)? };
                of_kind.insert(r.get(0).map_err(backend)?, known);
            }
        }
    }
    let d = diff(known, records, &kinds)?;
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO roster_record (tenant, flow, kind, natural_key, hash, fields, first_seen, changed_in, removed_in)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, NULL)",
            )
            .map_err(backend)?;
        for &i in &d.insert {
            let r = &records[i];
            insert.execute(params![t, flow, r.kind, r.key, r.hash, r.fields, seq]).map_err(backend)?;
        }
        let mut update = conn
            .prepare_cached(
                "UPDATE roster_record SET hash = ?5, fields = ?6, changed_in = ?7, removed_in = NULL
                 WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND natural_key = ?4",
            )
            .map_err(backend)?;
        for &i in &d.update {
            let r = &records[i];
            update.execute(params![t, flow, r.kind, r.key, r.hash, r.fields, seq]).map_err(backend)?;
        }
        let mut remove = conn
            .prepare_cached(
                "UPDATE roster_record SET changed_in = ?5, removed_in = ?5
                 WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND natural_key = ?4",
            )
            .map_err(backend)?;
        for (kind, key) in &d.remove {
            remove.execute(params![t, flow, kind, key, seq]).map_err(backend)?;
        }
    }
    let info = d.info(seq, meta.clone());
    exec(
        conn,
        "INSERT INTO roster_snapshot (tenant, flow, seq, loaded_at, format, files, records, inserted, changed, removed, digests)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            t,
            flow,
            seq,
            info.loaded_at,
            info.format,
            join_files(&info.files),
            info.records,
            info.inserted,
            info.changed,
            info.removed,
            format_digests(&new_digests)
        ],
    )?;
    Ok(info)
}

fn snapshot_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotInfo> {
    Ok(SnapshotInfo {
        seq: r.get(0)?,
        loaded_at: r.get(1)?,
        format: r.get(2)?,
        files: split_files(&r.get::<_, String>(3)?),
        records: r.get(4)?,
        inserted: r.get(5)?,
        changed: r.get(6)?,
        removed: r.get(7)?,
    })
}

#[async_trait]
impl RosterStore for SqliteStore {
    async fn load_snapshot(
        &self,
        tenant: &TenantId,
        flow: &str,
        meta: SnapshotMeta,
        records: Vec<RecordRow>,
    ) -> Result<SnapshotInfo> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.write_exclusive(tenant, move |conn| load(conn, &t, &flow, &meta, &records)).await
    }

    async fn snapshots(&self, tenant: &TenantId, flow: &str) -> Result<Vec<SnapshotInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, loaded_at, format, files, records, inserted, changed, removed FROM roster_snapshot
                 WHERE tenant = ?1 AND flow = ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![tenant.as_str(), flow], snapshot_of)?;
            rows.collect()
        })
    }

    async fn latest_snapshot(&self, tenant: &TenantId, flow: &str) -> Result<Option<SnapshotInfo>> {
        self.read(|c| {
            c.query_row(
                "SELECT seq, loaded_at, format, files, records, inserted, changed, removed FROM roster_snapshot
                 WHERE tenant = ?1 AND flow = ?2 ORDER BY seq DESC LIMIT 1",
                params![tenant.as_str(), flow],
                snapshot_of,
            )
            .optional()
        })
    }

    async fn scan(&self, tenant: &TenantId, flow: &str, scan: Scan) -> Result<RecordStream> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let readers = self.readers.clone();
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        let (filter, since) = match scan {
            Scan::Active => ("AND removed_in IS NULL", 0),
            Scan::ActiveBelow(k) => ("AND removed_in IS NULL AND kind < ?3", i64::from(k)),
            Scan::ChangedSince(m) => ("AND changed_in > ?3", m),
            Scan::All => ("AND ?3 = ?3", 0),
        };
        let sql = format!(
            "SELECT kind, natural_key, hash, fields, first_seen, changed_in, removed_in FROM roster_record
             WHERE tenant = ?1 AND flow = ?2 {filter} ORDER BY kind, natural_key"
        );
        tokio::task::spawn_blocking(move || {
            let result = readers.read_with(|c| {
                let mut stmt = c.prepare(&sql).map_err(backend)?;
                let mut rows = if scan == Scan::Active {
                    stmt.query(params![t, flow])
                } else {
                    stmt.query(params![t, flow, since])
                }
                .map_err(backend)?;
                let mut chunk = Vec::with_capacity(SCAN_CHUNK);
                while let Some(r) = rows.next().map_err(backend)? {
                    chunk.push(StoredRecord {
                        kind: r.get(0).map_err(backend)?,
                        key: r.get(1).map_err(backend)?,
                        hash: r.get(2).map_err(backend)?,
                        fields: r.get(3).map_err(backend)?,
                        first_seen: r.get(4).map_err(backend)?,
                        changed_in: r.get(5).map_err(backend)?,
                        removed_in: r.get(6).map_err(backend)?,
                    });
                    if chunk.len() == SCAN_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(SCAN_CHUNK));
                        if tx.blocking_send(Ok(full)).is_err() {
                            return Ok(()); // the reader went away
                        }
                    }
                }
                if !chunk.is_empty() {
                    let _ = tx.blocking_send(Ok(chunk));
                }
                Ok(())
            });
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(rx)
    }

    async fn read_active_fields(&self, tenant: &TenantId, flow: &str, below: i16, mut sink: FieldSink) -> Result<()> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.read_blocking(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT kind, fields FROM roster_record
                     WHERE tenant = ?1 AND flow = ?2 AND removed_in IS NULL AND kind < ?3 ORDER BY kind, natural_key",
                )
                .map_err(backend)?;
            let mut rows = stmt.query(params![t, flow, below]).map_err(backend)?;
            while let Some(r) = rows.next().map_err(backend)? {
                let fields = r.get_ref(1).map_err(backend)?.as_str().map_err(backend)?;
                sink(r.get(0).map_err(backend)?, fields);
            }
            Ok(())
        })
        .await
    }

    async fn read_active_fields_of(
        &self,
        tenant: &TenantId,
        flow: &str,
        kind: i16,
        prefixes: Option<Vec<String>>,
        mut sink: FieldSink,
    ) -> Result<()> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.read_blocking(move |c| {
            // Each prefix is a range of the primary key (tenant, flow, kind, natural_key): a descent, then the
            // range's rows in order, lent to the sink from SQLite's row buffer.
            let mut ranged = c
                .prepare_cached(
                    "SELECT fields FROM roster_record
                     WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND natural_key >= ?4 AND natural_key < ?5
                       AND removed_in IS NULL
                     ORDER BY natural_key",
                )
                .map_err(backend)?;
            let mut from = c
                .prepare_cached(
                    "SELECT fields FROM roster_record
                     WHERE tenant = ?1 AND flow = ?2 AND kind = ?3 AND natural_key >= ?4 AND removed_in IS NULL
                     ORDER BY natural_key",
                )
                .map_err(backend)?;
            for prefix in prefixes.unwrap_or_else(|| vec![String::new()]) {
                let mut rows = match prefix_end(&prefix) {
                    Some(end) => ranged.query(params![t, flow, kind, prefix, end]),
                    None => from.query(params![t, flow, kind, prefix]),
                }
                .map_err(backend)?;
                while let Some(r) = rows.next().map_err(backend)? {
                    sink(kind, r.get_ref(0).map_err(backend)?.as_str().map_err(backend)?);
                }
            }
            Ok(())
        })
        .await
    }

    async fn changed_keys(&self, tenant: &TenantId, flow: &str, since: i64) -> Result<Vec<(i16, String)>> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.read_blocking(move |c| {
            // Covered by `roster_record_changed` (tenant, flow, changed_in), whose entries end with the table's
            // primary key (a WITHOUT ROWID table): a range of one index, no record looked up.
            let mut stmt = c
                .prepare_cached(
                    "SELECT kind, natural_key FROM roster_record WHERE tenant = ?1 AND flow = ?2 AND changed_in > ?3",
                )
                .map_err(backend)?;
            let rows = stmt.query_map(params![t, flow, since], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn active_counts(&self, tenant: &TenantId, flow: &str) -> Result<Option<ActiveCounts>> {
        let digests: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT digests FROM roster_snapshot WHERE tenant = ?1 AND flow = ?2 ORDER BY seq DESC LIMIT 1",
                params![tenant.as_str(), flow],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(digests.as_deref().and_then(counts_of_digests))
    }

    async fn delete_flow(&self, tenant: &TenantId, flow: &str) -> Result<()> {
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        self.write_exclusive(tenant, move |conn| {
            exec(conn, "DELETE FROM roster_record WHERE tenant = ?1 AND flow = ?2", params![t, flow])?;
            exec(conn, "DELETE FROM roster_snapshot WHERE tenant = ?1 AND flow = ?2", params![t, flow])
        })
        .await
    }
}
