//! Item reads on PostgreSQL, coalesced: the reads of items that arrive while this replica's statements are in
//! flight wait for the next one, which answers all of them at once (`UNNEST(...) JOIN resource`, one index
//! probe per distinct item). Under load a statement then costs sqlx and PostgreSQL their per-statement work
//! (parse/bind/execute, a round trip, a snapshot) once per batch instead of once per GET, which is most of
//! what a GET costs the database (docs/benchmarks.md, "Coalesced reads").
//!
//! No read is stale (the queue is `coalesce.rs`'s). One statement is one snapshot, so the tenant's inbound stamp
//! each row carries is read with the row, as the single-item statement did.
//!
//! As before, a row's document comes back only when it is not the one this replica holds (same row, same
//! version: `edits.rs`'s memory), so an unchanged item is neither shipped nor parsed again.
//!
//! The statements go through `coalesce::IN_FLIGHT` connections of their own, opened with `plan_cache_mode =
//! force_generic_plan` (`PgStore::connect`): otherwise PostgreSQL plans the batch statement anew on every
//! execution, which cost it more than answering the batch (docs/benchmarks.md, "GET one item").

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use sqlx::postgres::PgPool;
use sqlx::postgres::PgRow;
use sqlx::Row as _;
use tokio::sync::oneshot;

use super::coalesce::{self, Coalesced, Queue};
use super::edits::{Edits, EndQueueOnPanic, Known};
use super::{to_resource, PageRead};
use crate::{backend, InboundStamp, Page, Resource, Result, StoreError};

/// What a read found: the item (or none) and the tenant's inbound stamp read with it (0 with no item).
type Found = (Option<Resource>, InboundStamp);

/// A read waiting for its statement.
pub(super) struct Pending {
    tenant: String,
    set: String,
    /// `item_key` of the item: this replica's memory's key, and what a batch groups reads of one item by.
    key: String,
    id_key: String,
    reply: oneshot::Sender<Result<Found>>,
}

pub(super) struct Reads {
    pool: PgPool,
    edits: Arc<Edits>,
    queue: Queue<Pending>,
}

impl Reads {
    pub(super) fn new(pool: PgPool, edits: Arc<Edits>) -> Arc<Reads> {
        Arc::new(Reads { pool, edits, queue: Queue::default() })
    }

    /// The item and the tenant's inbound stamp, as a statement sent after this call read them.
    pub(super) async fn read(self: &Arc<Self>, tenant: &str, set: &str, key: String, id_key: String) -> Result<Found> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { tenant: tenant.to_string(), set: set.to_string(), key, id_key, reply };
        coalesce::submit(self, pending);
        answer.await.map_err(|_| StoreError::Backend("the read was abandoned".into()))?
    }

    async fn answer_batch(&self, batch: Vec<Pending>) {
        // Reads of one item share its row.
        let mut items: Vec<Pending> = Vec::with_capacity(batch.len());
        let mut also: FxHashMap<usize, Vec<oneshot::Sender<Result<Found>>>> = FxHashMap::default();
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        for p in batch {
            match index.get(&p.key) {
                Some(&i) => also.entry(i).or_default().push(p.reply),
                None => {
                    index.insert(p.key.clone(), items.len());
                    items.push(p);
                }
            }
        }
        let known: Vec<Option<Known>> = items.iter().map(|p| self.edits.known(&p.key)).collect();
        let mut found = self.fetch(&items, &known).await;
        for (i, (p, known)) in items.into_iter().zip(known).enumerate() {
            let result = match &mut found {
                Ok(rows) => self.found(&p, known, rows.remove(&i)),
                Err(e) => Err(e.clone()),
            };
            for reply in also.remove(&i).unwrap_or_default() {
                let _ = reply.send(result.clone());
            }
            let _ = p.reply.send(result);
        }
    }

    /// The rows of `items` by their index in it; the body is `None` where it is `known`'s.
    async fn fetch(&self, items: &[Pending], known: &[Option<Known>]) -> Result<FxHashMap<usize, PgRow>> {
        let (versions, seqs): (Vec<Option<i64>>, Vec<Option<i64>>) =
            known.iter().map(|k| k.as_ref().map(|k| (k.resource.version, k.seq)).unzip()).unzip();
        let rows = if let [p] = items {
            // One read alone: the plain statement (no arrays to build, ship and unnest).
            sqlx::query(
                "SELECT 0::bigint AS i, odata_type, parent_key, version, constraints, seq,
                        CASE WHEN version = $4 AND seq = $5 THEN NULL ELSE body END AS body,
                        COALESCE((SELECT stamp FROM inbound_stamp WHERE tenant = $1), 0) AS stamp
                 FROM resource WHERE tenant = $1 AND set_name = $2 AND id_key = $3",
            )
            .bind(&p.tenant)
            .bind(&p.set)
            .bind(&p.id_key)
            .bind(versions[0])
            .bind(seqs[0])
            .fetch_all(&self.pool)
            .await
        } else {
            let tenants: Vec<&str> = items.iter().map(|p| p.tenant.as_str()).collect();
            let sets: Vec<&str> = items.iter().map(|p| p.set.as_str()).collect();
            let keys: Vec<&str> = items.iter().map(|p| p.id_key.as_str()).collect();
            // The primary key probed once per distinct item (a nested loop over the arrays' rows).
            sqlx::query(
                "SELECT q.i - 1 AS i, r.odata_type, r.parent_key, r.version, r.constraints, r.seq,
                        CASE WHEN r.version = q.v AND r.seq = q.s THEN NULL ELSE r.body END AS body,
                        COALESCE((SELECT stamp FROM inbound_stamp WHERE tenant = q.t), 0) AS stamp
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                      WITH ORDINALITY AS q(t, sn, k, v, s, i)
                 JOIN resource r ON r.tenant = q.t AND r.set_name = q.sn AND r.id_key = q.k",
            )
            .bind(tenants)
            .bind(sets)
            .bind(keys)
            .bind(versions)
            .bind(seqs)
            .fetch_all(&self.pool)
            .await
        }
        .map_err(backend)?;
        Ok(rows.into_iter().map(|row| (row.get::<i64, _>("i") as usize, row)).collect())
    }

    /// One read's answer from its row (none: no such item).
    fn found(&self, p: &Pending, known: Option<Known>, row: Option<PgRow>) -> Result<Found> {
        let Some(row) = row else { return Ok((None, 0)) };
        let stamp = row.get("stamp");
        if let (None, Some(known)) = (row.get::<Option<&str>, _>("body"), known) {
            return Ok((Some(known.resource), stamp));
        }
        let (constraints, seq) = (row.get("constraints"), row.get("seq"));
        let resource = to_resource(&p.set, row)?;
        // What was read is the base of this replica's next write of the item.
        self.edits.remember(&p.key, Known { resource: resource.clone(), constraints, seq });
        Ok((Some(resource), stamp))
    }
}

impl Coalesced for Reads {
    type Pending = Pending;

    fn queue(&self) -> &Queue<Pending> {
        &self.queue
    }

    fn answer(&self, batch: Vec<Pending>) -> impl std::future::Future<Output = ()> + Send {
        self.answer_batch(batch)
    }
}

/// Page reads, coalesced the same way: requests for the same page (same tenant, collection and query) that
/// arrive while a statement reads it wait for the next one, and that one answers them all. As for items, the
/// task takes the waiting requests before it sends the statement, so every answer comes from a statement sent
/// after its request arrived (never stale). Different pages do not wait for each other.
#[derive(Default)]
pub(super) struct Pages {
    /// Per page being read: the requests waiting for the next statement.
    waiting: Mutex<FxHashMap<String, Vec<oneshot::Sender<Result<Page>>>>>,
}

impl Pages {
    pub(super) async fn read(self: &Arc<Self>, key: String, read: PageRead) -> Result<Page> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut waiting = self.waiting.lock().expect("pages lock");
            match waiting.get_mut(&key) {
                Some(queue) => {
                    queue.push(reply);
                    false
                }
                None => {
                    waiting.insert(key.clone(), vec![reply]);
                    true
                }
            }
        };
        if lead {
            // A task of its own, as for items: a client hanging up strands nobody.
            tokio::spawn(self.clone().drain(key, read));
        }
        answer.await.map_err(|_| StoreError::Backend("the read was abandoned".into()))?
    }

    /// Read the page for all that wait for it, again while more arrive, until none is waiting.
    async fn drain(self: Arc<Self>, key: String, read: PageRead) {
        let _guard = EndQueueOnPanic { queues: &self.waiting, key: &key };
        loop {
            let waiters = {
                let mut waiting = self.waiting.lock().expect("pages lock");
                let Some(queue) = waiting.get_mut(&key) else { return };
                let waiters = std::mem::take(queue);
                if waiters.is_empty() {
                    waiting.remove(&key);
                    return;
                }
                waiters
            };
            let page = read.run().await;
            for waiter in waiters {
                let _ = waiter.send(page.clone());
            }
        }
    }
}
