//! Roster snapshots on PostgreSQL: a load is one transaction, serialized per flow by an advisory lock; new
//! rows go in with `COPY`, changes through `UNNEST` array parameters, [`BATCH`] rows a statement (no per-row
//! round trips); scans stream rows from the pool in chunks.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{copy, PgStore};
use crate::roster::{
    counts_of_digests, diff, digests, format_digests, join_files, kinds_to_diff, prefix_end, split_files, ActiveCounts,
    FieldSink, Known, KnownRecords, RecordRow, RecordStream, RosterStore, Scan, SnapshotInfo, SnapshotMeta,
    StoredRecord, SCAN_CHUNK,
};
use crate::{backend, Result, TenantId};

/// Rows per multi-row statement.
const BATCH: usize = 20_000;

const SNAPSHOT_COLUMNS: &str = "seq, loaded_at, format, files, records, inserted, changed, removed";

fn snapshot_of(r: &sqlx::postgres::PgRow) -> Result<SnapshotInfo> {
    let get = |e: sqlx::Error| backend(e);
    Ok(SnapshotInfo {
        seq: r.try_get(0).map_err(get)?,
        loaded_at: r.try_get(1).map_err(get)?,
        format: r.try_get(2).map_err(get)?,
        files: split_files(&r.try_get::<String, _>(3).map_err(get)?),
        records: r.try_get(4).map_err(get)?,
        inserted: r.try_get(5).map_err(get)?,
        changed: r.try_get(6).map_err(get)?,
        removed: r.try_get(7).map_err(get)?,
    })
}

/// The columns of some of a load's records, as arrays.
fn columns<'a>(records: &'a [RecordRow], which: &[usize]) -> (Vec<i16>, Vec<&'a str>, Vec<i64>, Vec<&'a str>) {
    let mut c = (
        Vec::with_capacity(which.len()),
        Vec::with_capacity(which.len()),
        Vec::with_capacity(which.len()),
        Vec::with_capacity(which.len()),
    );
    for &i in which {
        let r = &records[i];
        c.0.push(r.kind);
        c.1.push(r.key.as_str());
        c.2.push(r.hash);
        c.3.push(r.fields.as_str());
    }
    c
}

#[async_trait]
impl RosterStore for PgStore {
    async fn load_snapshot(
        &self,
        tenant: &TenantId,
        flow: &str,
        meta: SnapshotMeta,
        records: Vec<RecordRow>,
    ) -> Result<SnapshotInfo> {
        let t = tenant.as_str();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // One load of a flow at a time, across replicas.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 7213401))")
            .bind(t)
            .bind(flow)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM roster_snapshot WHERE tenant = $1 AND flow = $2")
                .bind(t)
                .bind(flow)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let previous: Option<String> = sqlx::query_scalar(
            "SELECT digests FROM roster_snapshot WHERE tenant = $1 AND flow = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(t)
        .bind(flow)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let new_digests = digests(&records);
        let kinds = kinds_to_diff(&new_digests, previous.as_deref());
        let mut known = KnownRecords::default();
        {
            let mut rows = sqlx::query_as::<_, (i16, String, i64, bool)>(
                "SELECT kind, natural_key, hash, removed_in IS NOT NULL FROM roster_record
                 WHERE tenant = $1 AND flow = $2 AND kind = ANY($3)",
            )
            .bind(t)
            .bind(flow)
            .bind(&kinds)
            .fetch(&mut *tx);
            while let Some((kind, key, hash, removed)) = rows.try_next().await.map_err(backend)? {
                known.entry(kind).or_default().insert(key, Known { hash, removed });
            }
        }
        let d = diff(known, &records, &kinds)?;
        if !d.insert.is_empty() {
            let mut copy = (*tx)
                .copy_in_raw(
                    "COPY roster_record (tenant, flow, kind, natural_key, hash, fields, first_seen, changed_in) FROM STDIN",
                )
                .await
                .map_err(backend)?;
            let mut buf = copy::buffer();
            for &i in &d.insert {
                let r = &records[i];
                for v in [t, flow] {
                    copy::text(&mut buf, v);
                    buf.push('\t');
                }
                buf.push_str(&format!("{}\t", r.kind));
                copy::text(&mut buf, &r.key);
                buf.push_str(&format!("\t{}\t", r.hash));
                copy::text(&mut buf, &r.fields);
                buf.push_str(&format!("\t{seq}\t{seq}\n"));
                copy::send_full(&mut copy, &mut buf).await?;
            }
            copy::end(copy, buf).await?;
        }
        for part in d.update.chunks(BATCH) {
            let (k, n, h, f) = columns(&records, part);
            sqlx::query(
                "UPDATE roster_record r SET hash = u.h, fields = u.f, changed_in = $3, removed_in = NULL
                 FROM UNNEST($4::smallint[], $5::text[], $6::bigint[], $7::text[]) AS u(k, n, h, f)
                 WHERE r.tenant = $1 AND r.flow = $2 AND r.kind = u.k AND r.natural_key = u.n",
            )
            .bind(t)
            .bind(flow)
            .bind(seq)
            .bind(k)
            .bind(n)
            .bind(h)
            .bind(f)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        for part in d.remove.chunks(BATCH) {
            let kinds: Vec<i16> = part.iter().map(|(k, _)| *k).collect();
            let keys: Vec<&str> = part.iter().map(|(_, n)| n.as_str()).collect();
            sqlx::query(
                "UPDATE roster_record r SET changed_in = $3, removed_in = $3
                 FROM UNNEST($4::smallint[], $5::text[]) AS u(k, n)
                 WHERE r.tenant = $1 AND r.flow = $2 AND r.kind = u.k AND r.natural_key = u.n",
            )
            .bind(t)
            .bind(flow)
            .bind(seq)
            .bind(kinds)
            .bind(keys)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let info = d.info(seq, meta);
        sqlx::query(
            "INSERT INTO roster_snapshot (tenant, flow, seq, loaded_at, format, files, records, inserted, changed, removed, digests)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(t)
        .bind(flow)
        .bind(seq)
        .bind(&info.loaded_at)
        .bind(&info.format)
        .bind(join_files(&info.files))
        .bind(info.records)
        .bind(info.inserted)
        .bind(info.changed)
        .bind(info.removed)
        .bind(format_digests(&new_digests))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(info)
    }

    async fn snapshots(&self, tenant: &TenantId, flow: &str) -> Result<Vec<SnapshotInfo>> {
        let rows = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM roster_snapshot WHERE tenant = $1 AND flow = $2 ORDER BY seq"
        ))
        .bind(tenant.as_str())
        .bind(flow)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(snapshot_of).collect()
    }

    async fn latest_snapshot(&self, tenant: &TenantId, flow: &str) -> Result<Option<SnapshotInfo>> {
        let row = sqlx::query(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM roster_snapshot WHERE tenant = $1 AND flow = $2 ORDER BY seq DESC LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(flow)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(snapshot_of).transpose()
    }

    async fn scan(&self, tenant: &TenantId, flow: &str, scan: Scan) -> Result<RecordStream> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let pool = self.pool.clone();
        let (t, flow) = (tenant.as_str().to_string(), flow.to_string());
        let (filter, since) = match scan {
            Scan::Active => ("AND removed_in IS NULL AND $3 = $3", 0i64),
            Scan::ActiveBelow(k) => ("AND removed_in IS NULL AND kind < $3", i64::from(k)),
            Scan::ChangedSince(m) => ("AND changed_in > $3", m),
            Scan::All => ("AND $3 = $3", 0),
        };
        let sql = format!(
            "SELECT kind, natural_key, hash, fields, first_seen, changed_in, removed_in FROM roster_record
             WHERE tenant = $1 AND flow = $2 {filter} ORDER BY kind, natural_key COLLATE \"C\""
        );
        tokio::spawn(async move {
            let mut rows = sqlx::query_as::<_, (i16, String, i64, String, i64, i64, Option<i64>)>(&sql)
                .bind(t)
                .bind(flow)
                .bind(since)
                .fetch(&pool);
            let mut chunk = Vec::with_capacity(SCAN_CHUNK);
            loop {
                match rows.try_next().await {
                    Ok(Some((kind, key, hash, fields, first_seen, changed_in, removed_in))) => {
                        chunk.push(StoredRecord { kind, key, hash, fields, first_seen, changed_in, removed_in });
                        if chunk.len() == SCAN_CHUNK {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(SCAN_CHUNK));
                            if tx.send(Ok(full)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(backend(e))).await;
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(Ok(chunk)).await;
            }
        });
        Ok(rx)
    }

    async fn read_active_fields(&self, tenant: &TenantId, flow: &str, below: i16, mut sink: FieldSink) -> Result<()> {
        // Only the kind and fields (the trait's default scans whole records: keys, hashes, history, a String
        // each), in the primary key's own order since its keys are "C"-collated (migration 0012): an index
        // scan, no sort of the ~1M rows.
        let mut rows = sqlx::query(
            "SELECT kind, fields FROM roster_record
             WHERE tenant = $1 AND flow = $2 AND removed_in IS NULL AND kind < $3 ORDER BY kind, natural_key",
        )
        .bind(tenant.as_str())
        .bind(flow)
        .bind(below)
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            let fields: &str = r.try_get(1).map_err(backend)?;
            sink(r.try_get(0).map_err(backend)?, fields);
        }
        Ok(())
    }

    async fn read_active_fields_of(
        &self,
        tenant: &TenantId,
        flow: &str,
        kind: i16,
        prefixes: Option<Vec<String>>,
        mut sink: FieldSink,
    ) -> Result<()> {
        let ranges: Option<(Vec<String>, Vec<String>)> = prefixes
            .and_then(|prefixes| {
                // Every prefix's range, or (an empty prefix) every record of the kind.
                prefixes.into_iter().map(|p| prefix_end(&p).map(|end| (p, end))).collect::<Option<Vec<_>>>()
            })
            .map(|r| r.into_iter().unzip());
        // One statement either way: the ranges as arrays, each a range of the primary key (its keys are
        // "C"-collated, migration 0012, so a prefix is a range). `OFFSET 0` keeps the lateral subquery from
        // being pulled up into a join: pulled up, the planner joined a sequential scan of the flow's records
        // against the ranges (each record compared with every range: minutes for 5k classes) instead of one
        // index range scan per class.
        let mut rows = match &ranges {
            Some((lo, hi)) => sqlx::query(
                "SELECT r.fields FROM UNNEST($4::text[], $5::text[]) WITH ORDINALITY AS b(lo, hi, n)
                 CROSS JOIN LATERAL (
                     SELECT fields, natural_key FROM roster_record
                     WHERE tenant = $1 AND flow = $2 AND kind = $3 AND natural_key >= b.lo AND natural_key < b.hi
                       AND removed_in IS NULL
                     ORDER BY natural_key
                     OFFSET 0
                 ) r
                 ORDER BY b.n",
            )
            .bind(tenant.as_str())
            .bind(flow)
            .bind(kind)
            .bind(lo)
            .bind(hi)
            .fetch(&self.pool),
            None => sqlx::query(
                "SELECT fields FROM roster_record
                 WHERE tenant = $1 AND flow = $2 AND kind = $3 AND removed_in IS NULL ORDER BY natural_key",
            )
            .bind(tenant.as_str())
            .bind(flow)
            .bind(kind)
            .fetch(&self.pool),
        };
        while let Some(r) = rows.try_next().await.map_err(backend)? {
            let fields: &str = r.try_get(0).map_err(backend)?;
            sink(kind, fields);
        }
        Ok(())
    }

    async fn changed_keys(&self, tenant: &TenantId, flow: &str, since: i64) -> Result<Vec<(i16, String)>> {
        sqlx::query_as(
            "SELECT kind, natural_key FROM roster_record WHERE tenant = $1 AND flow = $2 AND changed_in > $3",
        )
        .bind(tenant.as_str())
        .bind(flow)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn active_counts(&self, tenant: &TenantId, flow: &str) -> Result<Option<ActiveCounts>> {
        let digests: Option<String> = sqlx::query_scalar(
            "SELECT digests FROM roster_snapshot WHERE tenant = $1 AND flow = $2 ORDER BY seq DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(flow)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(digests.as_deref().and_then(counts_of_digests))
    }

    async fn delete_flow(&self, tenant: &TenantId, flow: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for table in ["roster_record", "roster_snapshot"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE tenant = $1 AND flow = $2"))
                .bind(tenant.as_str())
                .bind(flow)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
