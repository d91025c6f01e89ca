//! PATCHes on PostgreSQL: one statement per write in the common case, a locked transaction when that can't be.
//!
//! Each replica remembers the items it last read or wrote (`Known`: the document, its version and the
//! constraints stored with it). An edit is computed from that state and written by one autocommitted
//! `UPDATE ... WHERE version = $known AND seq = $known`: one round trip, and the commit is PostgreSQL's own
//! (durable with `synchronous_commit` on). The version in the `WHERE` clause is the check: a concurrent writer,
//! in this replica or another, makes it match nothing (READ COMMITTED re-reads the row after waiting for the
//! other writer's lock). The same statement then returns the row as it is (a CTE), and the edit is folded
//! again on that and written the same way: what another replica wrote costs one more round trip. Only when
//! that misses too is the edit redone from the row under `SELECT ... FOR UPDATE`. So the memory is a hint
//! that saves reads, never something a write trusts. A write whose unique keys or references change goes
//! through the locked transaction too, which checks and rewrites them (`write_constraints`).
//!
//! Writes of one item through one replica are queued and applied by one task at a time, all that queued
//! meanwhile together: N concurrent PATCHes of one flow become one `UPDATE` (each edit applied in turn, none
//! lost), and none of them races the others of its replica for the row. A write is answered after its
//! statement committed.

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::FxHashMap;
use sqlx::postgres::PgPool;
use sqlx::Row;
use tokio::sync::oneshot;

use super::{to_resource, write_constraints};
use crate::{backend, id_key, item_key, Constraints, Edit, Expect, Resource, Result, StoreError, TenantId, Write};

/// Items remembered per replica at most; past it the memory starts over (it is only a hint).
const KNOWN_MAX: usize = 65_536;

/// One-statement writes tried before the locked transaction: the first from memory, the second from the row
/// the first one's miss brought back. A second miss means writers race for the row right now, and its lock
/// orders them better than more attempts would.
const ATTEMPTS: usize = 2;

/// An item as this replica last read or wrote it, with the constraints stored with that version. `seq` tells
/// a row apart from an earlier one of the same id that was deleted (its versions start over).
#[derive(Clone)]
pub(super) struct Known {
    pub(super) resource: Resource,
    pub(super) constraints: String,
    pub(super) seq: i64,
}

struct Queued {
    edit: Edit,
    reply: oneshot::Sender<Result<()>>,
}

/// The replica's memory of items and its queues of edits per item.
pub(super) struct Edits {
    pool: PgPool,
    known: RwLock<FxHashMap<String, Known>>,
    queues: Mutex<FxHashMap<String, Vec<Queued>>>,
}

/// The item an edit applies to.
struct Item {
    key: String,
    tenant: TenantId,
    set: String,
    id: String,
}

impl Edits {
    pub(super) fn new(pool: PgPool) -> Arc<Edits> {
        Arc::new(Edits { pool, known: RwLock::default(), queues: Mutex::default() })
    }

    /// What this replica last saw of an item.
    pub(super) fn known(&self, key: &str) -> Option<Known> {
        self.known.read().expect("known lock").get(key).cloned()
    }

    /// Remember `k` unless a later version of the same row is already remembered.
    pub(super) fn remember(&self, key: &str, k: Known) {
        let newer = |had: &Known| had.seq == k.seq && had.resource.version >= k.resource.version;
        if self.known.read().expect("known lock").get(key).is_some_and(newer) {
            return;
        }
        let mut known = self.known.write().expect("known lock");
        if known.len() >= KNOWN_MAX {
            known.clear();
        }
        known.insert(key.to_string(), k);
    }

    pub(super) fn forget(&self, key: &str) {
        self.known.write().expect("known lock").remove(key);
    }

    /// Queue `edit` of an item and wait until it is applied (committed) or refused.
    pub(super) async fn edit(self: &Arc<Self>, tenant: &TenantId, set: &str, id: &str, edit: Edit) -> Result<()> {
        let key = item_key(tenant.as_str(), set, id);
        let (reply, answer) = oneshot::channel();
        // An item has a queue while a task applies its edits; the first edit of an idle item starts the task.
        let lead = {
            let mut queues = self.queues.lock().expect("queue lock");
            match queues.get_mut(&key) {
                Some(queue) => {
                    queue.push(Queued { edit, reply });
                    false
                }
                None => {
                    queues.insert(key.clone(), vec![Queued { edit, reply }]);
                    true
                }
            }
        };
        if lead {
            // A task of its own: a client that hangs up must not strand the edits queued behind its own.
            let item = Item { key, tenant: tenant.clone(), set: set.to_string(), id: id.to_string() };
            tokio::spawn(self.clone().drain(item));
        }
        answer.await.map_err(|_| StoreError::Backend("the write was abandoned".into()))?
    }

    /// Apply the item's queued edits, all that queued meanwhile at a time, until its queue is empty.
    async fn drain(self: Arc<Self>, item: Item) {
        let _guard = EndQueueOnPanic { queues: &self.queues, key: &item.key };
        loop {
            let batch = {
                let mut queues = self.queues.lock().expect("queue lock");
                let Some(queue) = queues.get_mut(&item.key) else { return };
                let batch = std::mem::take(queue);
                if batch.is_empty() {
                    queues.remove(&item.key);
                    return;
                }
                batch
            };
            let (mut edits, replies): (Vec<Edit>, Vec<_>) = batch.into_iter().map(|q| (q.edit, q.reply)).unzip();
            let results = match self.apply(&item, &mut edits).await {
                Ok(results) => results,
                Err(e) => {
                    self.forget(&item.key);
                    vec![Err(e); replies.len()]
                }
            };
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
    }

    /// Apply a batch of edits of one item: from the remembered state in one statement when it is current and
    /// the constraints stay, otherwise under the row's lock. A statement that misses (another replica wrote the
    /// item since this one saw it) brings the row back, and the edits are folded again on it: a stale memory
    /// costs one more statement, not the locked transaction's four.
    async fn apply(&self, item: &Item, edits: &mut [Edit]) -> Result<Vec<Result<()>>> {
        let mut base = self.known(&item.key);
        for _ in 0..ATTEMPTS {
            let Some(known) = base.take() else { break };
            let folded = fold(&known, edits);
            // Refused on the remembered state, or changing constraints: decided on the row under its lock.
            let (Some(last), false) = (folded.last, folded.constraints_change) else { break };
            match self.write_if_current(item, &known, &last).await? {
                Outcome::Written => {
                    self.remember(&item.key, last);
                    return Ok(folded.results);
                }
                // The row as it is now: fold the edits again on it. The same version as `known` means the
                // writer that was first committed after this statement's snapshot: only the lock can tell.
                Outcome::Missed(current)
                    if current.seq != known.seq || current.resource.version != known.resource.version =>
                {
                    self.remember(&item.key, current.clone());
                    base = Some(current);
                }
                // Gone (the locked path answers `NotFound`), or the same version again.
                Outcome::Missed(_) | Outcome::Gone => break,
            }
        }
        self.apply_locked(item, edits).await
    }

    /// Write `next` if the row is still `base` (same row, same version), in one autocommitted statement; a
    /// miss is answered by the same round trip with the row as the statement's snapshot saw it.
    async fn write_if_current(&self, item: &Item, base: &Known, next: &Known) -> Result<Outcome> {
        let body = serde_json::to_string(&next.resource.doc).map_err(backend)?;
        let row = sqlx::query(
            "WITH written AS (
                 UPDATE resource SET body = $6, odata_type = $7, version = $8
                 WHERE tenant = $1 AND set_name = $2 AND id_key = $3 AND version = $4 AND seq = $5
                 RETURNING 1
             )
             SELECT true AS written, NULL::text AS odata_type, NULL::text AS body, NULL::text AS parent_key,
                    NULL::bigint AS version, NULL::text AS constraints, NULL::bigint AS seq
             FROM written
             UNION ALL
             SELECT false, odata_type, body, parent_key, version, constraints, seq FROM resource
             WHERE tenant = $1 AND set_name = $2 AND id_key = $3 AND NOT EXISTS (SELECT 1 FROM written)",
        )
        .bind(item.tenant.as_str())
        .bind(&item.set)
        .bind(id_key(&item.id))
        .bind(base.resource.version)
        .bind(base.seq)
        .bind(body)
        .bind(&next.resource.odata_type)
        .bind(next.resource.version)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(Outcome::Gone) };
        if row.get::<bool, _>("written") {
            return Ok(Outcome::Written);
        }
        let (constraints, seq) = (row.get("constraints"), row.get("seq"));
        Ok(Outcome::Missed(Known { resource: to_resource(&item.set, row)?, constraints, seq }))
    }

    /// Apply a batch of edits in one transaction under `SELECT ... FOR UPDATE`: edits that keep the unique keys
    /// and references fold into one `UPDATE`; one that changes them is checked and written under a savepoint,
    /// so that its refusal leaves the other edits alone.
    async fn apply_locked(&self, item: &Item, edits: &mut [Edit]) -> Result<Vec<Result<()>>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row = sqlx::query(
            "SELECT odata_type, body, parent_key, version, constraints, seq FROM resource
             WHERE tenant = $1 AND set_name = $2 AND id_key = $3 FOR UPDATE",
        )
        .bind(item.tenant.as_str())
        .bind(&item.set)
        .bind(id_key(&item.id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            self.forget(&item.key);
            return Ok(vec![Err(StoreError::NotFound); edits.len()]);
        };
        let (constraints, seq) = (row.get("constraints"), row.get("seq"));
        let mut current = Known { resource: to_resource(&item.set, row)?, constraints, seq };
        let (t, key) = (item.tenant.as_str(), id_key(&item.id));
        let parent = current.resource.parent.clone().unwrap_or_default();
        let mut results = Vec::with_capacity(edits.len());
        let mut changed = false;
        for edit in edits.iter_mut() {
            let Some((next, write)) = step(&current, edit, &mut results) else { continue };
            if next.constraints != current.constraints {
                sqlx::query("SAVEPOINT edit").execute(&mut *tx).await.map_err(backend)?;
                match write_constraints(&mut tx, t, &key, &parent, &write).await {
                    Ok(()) => {}
                    Err(e @ (StoreError::Duplicate(_) | StoreError::MissingRef { .. })) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT edit").execute(&mut *tx).await.map_err(backend)?;
                        *results.last_mut().expect("step pushed a result") = Err(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            current = next;
            changed = true;
        }
        if changed {
            let r = &current.resource;
            sqlx::query(
                "UPDATE resource SET body = $4, odata_type = $5, constraints = $6, version = $7
                 WHERE tenant = $1 AND set_name = $2 AND id_key = $3",
            )
            .bind(t)
            .bind(&item.set)
            .bind(&key)
            .bind(serde_json::to_string(&r.doc).map_err(backend)?)
            .bind(&r.odata_type)
            .bind(&current.constraints)
            .bind(r.version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        self.remember(&item.key, current);
        Ok(results)
    }
}

/// What a one-statement write did.
enum Outcome {
    Written,
    /// The row was not the remembered one; this is the row.
    Missed(Known),
    /// There is no such row.
    Gone,
}

/// Ends a queue (an item's edits here, a page's readers in `reads.rs`) when the task that serves it panics, so
/// that the requests waiting there fail (their reply senders drop) instead of waiting forever.
pub(super) struct EndQueueOnPanic<'a, T> {
    pub(super) queues: &'a Mutex<FxHashMap<String, Vec<T>>>,
    pub(super) key: &'a str,
}

impl<T> Drop for EndQueueOnPanic<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.queues.lock().unwrap_or_else(|e| e.into_inner()).remove(self.key);
        }
    }
}

/// Edits applied in turn to a remembered state.
struct Folded {
    results: Vec<Result<()>>,
    /// The state after the last edit that was applied, if any was.
    last: Option<Known>,
    /// Whether any edit changed the unique keys or references.
    constraints_change: bool,
}

fn fold(base: &Known, edits: &mut [Edit]) -> Folded {
    let mut results = Vec::with_capacity(edits.len());
    let (mut current, mut last, mut constraints_change) = (base.clone(), None, false);
    for edit in edits.iter_mut() {
        if let Some((next, _)) = step(&current, edit, &mut results) {
            constraints_change |= next.constraints != base.constraints;
            current = next.clone();
            last = Some(next);
        }
    }
    Folded { results, last, constraints_change }
}

/// One edit applied to `current`: the next state and the write it amounts to, or `None` when the edit was
/// refused. Pushes the edit's result.
fn step(current: &Known, edit: &mut Edit, results: &mut Vec<Result<()>>) -> Option<(Known, Write)> {
    let mut resource = current.resource.clone(); // the document is shared, not copied
    let version = resource.version;
    match edit(&mut resource) {
        Ok(Constraints { unique, refs }) => {
            resource.version = version + 1;
            let write = Write { resource, expect: Expect::Version(version), unique, refs };
            let next = Known { resource: write.resource.clone(), constraints: write.constraints(), seq: current.seq };
            results.push(Ok(()));
            Some((next, write))
        }
        Err(e) => {
            results.push(Err(e));
            None
        }
    }
}
