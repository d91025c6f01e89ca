//! Navigation lists on PostgreSQL (a class's members, a user's classes), coalesced as item reads are
//! (`postgres/reads.rs`): the lists asked for while this replica's statements are in flight wait for the next
//! one, which reads all of them at once, each with its parent (`VALUES (...) CROSS JOIN LATERAL (the parent's
//! row UNION ALL the page)`). A class's members are ~29 index probes and ~21 KB of bodies; the statement
//! around them (parse/bind/execute, a snapshot, a round trip, sqlx's and the backend's per-statement work in
//! both processes) is paid once per batch under load (docs/benchmarks.md, "PostgreSQL members (helper mem12").
//!
//! Only the plain shape is coalesced: no `$filter`, `$search` or `$orderby`, no delegated caller's scope, the
//! parent being the relation's end (what `GET /education/classes/{id}/members` asks, with or without a
//! `$skiptoken`). Anything else, and a list alone, is read by the one-list statement (`read_one`) as before.
//!
//! No read is stale (the queue is `postgres/coalesce.rs`'s). Requests for the same list (same tenant, parent,
//! relation, cursor and size) in one batch share its rows.

use std::sync::Arc;

use rosterflow_model::directory::{ObjectKind, Relation, View};
use rustc_hash::FxHashMap;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;
use tokio::sync::oneshot;

use super::super::{stored_from, ListQuery, Object, QueryError, Related, Stored, StoredPage};
use super::COLUMNS;
use crate::postgres::coalesce::{self, Coalesced, Queue};
use crate::query::{Cursor, Param};
use crate::{backend, Result, StoreError, TenantId};

/// A list's parent (if any) and its page.
pub(crate) type Answer = std::result::Result<(Option<Object>, StoredPage), QueryError>;

/// What a batch statement's text fixes: lists of one shape are read by one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    kind: Option<ObjectKind>,
    education: bool,
    /// `Related::Having` (the objects that have the parent as a member) rather than `Related::Of`.
    having: bool,
}

/// What the statement's arrays carry for one list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct List {
    tenant: String,
    /// The parent's id as stored (lower case): the object read, and the relation's end.
    parent: String,
    relation: Relation,
    /// The last id of the previous page (a `$skiptoken`'s), if any.
    after: Option<String>,
    limit: usize,
}

/// A list waiting for its statement.
pub(crate) struct Pending {
    view: &'static View,
    shape: Shape,
    list: List,
    reply: oneshot::Sender<Answer>,
}

pub(crate) struct Navs {
    pool: PgPool,
    queue: Queue<Pending>,
}

/// The list `q` asks for, when it has the shape a batch reads: the parent `id` is the relation's end, and no
/// option but a cursor in id order and the page size.
fn coalescable(tenant: &TenantId, id: &str, q: &ListQuery<'_>) -> Option<(Shape, List)> {
    if q.filter.is_some() || q.search.is_some() || !q.order.is_empty() || q.visible_to.is_some() {
        return None;
    }
    let (relation, of, having) = match q.related.as_ref()? {
        Related::Of { relation, of } => (*relation, of, false),
        Related::Having { relation, of } => (*relation, of, true),
    };
    if !of.eq_ignore_ascii_case(id) {
        return None;
    }
    let after = match &q.after {
        None => None,
        // A cursor with sort keys is another query's: the one-list statement refuses it.
        Some(c) if !c.keys.is_empty() => return None,
        Some(c) => Some(c.id.clone()),
    };
    let shape = Shape { kind: q.kind, education: q.education, having };
    let list =
        List { tenant: tenant.as_str().to_string(), parent: id.to_ascii_lowercase(), relation, after, limit: q.limit };
    Some((shape, list))
}

impl Navs {
    pub(crate) fn new(pool: PgPool) -> Arc<Navs> {
        Arc::new(Navs { pool, queue: Queue::default() })
    }

    /// The parent `id` and a page of `q`, as [`super::super::DirectoryStore::get_and_list_stored`]; read by a
    /// statement sent after this call.
    pub(crate) async fn read(self: &Arc<Self>, tenant: &TenantId, id: &str, q: &ListQuery<'_>) -> Answer {
        let Some((shape, list)) = coalescable(tenant, id, q) else {
            return super::read_one(&self.pool, tenant, id, q).await;
        };
        let (reply, answer) = oneshot::channel();
        coalesce::submit(self, Pending { view: q.view, shape, list, reply });
        answer.await.map_err(|_| QueryError::Store(StoreError::Backend("the read was abandoned".into())))?
    }

    /// Answer a batch: the lists of each shape by a statement of their own.
    async fn answer_batch(&self, batch: Vec<Pending>) {
        let mut shapes: FxHashMap<Shape, Vec<Pending>> = FxHashMap::default();
        for p in batch {
            shapes.entry(p.shape).or_default().push(p);
        }
        for (shape, batch) in shapes {
            self.answer(shape, batch).await;
        }
    }

    async fn answer(&self, shape: Shape, batch: Vec<Pending>) {
        // Requests for the same list share its rows.
        let mut lists: Vec<(&'static View, List)> = Vec::with_capacity(batch.len());
        let mut replies: Vec<Vec<oneshot::Sender<Answer>>> = Vec::with_capacity(batch.len());
        let mut index: FxHashMap<List, usize> = FxHashMap::default();
        for p in batch {
            match index.get(&p.list) {
                Some(&i) => replies[i].push(p.reply),
                None => {
                    index.insert(p.list.clone(), lists.len());
                    lists.push((p.view, p.list));
                    replies.push(vec![p.reply]);
                }
            }
        }
        let answers: Vec<Answer> = if let [(view, list)] = &lists[..] {
            // One list alone: the one-list statement.
            vec![self.one(shape, view, list).await]
        } else {
            match self.fetch(shape, &lists).await {
                Ok(found) => found.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(QueryError::Store(e)); lists.len()],
            }
        };
        for (answer, replies) in answers.into_iter().zip(replies) {
            for reply in replies {
                let _ = reply.send(answer.clone());
            }
        }
    }

    /// One list by the one-list statement, its query rebuilt from what was queued.
    async fn one(&self, shape: Shape, view: &'static View, list: &List) -> Answer {
        let related = match shape.having {
            false => Related::Of { relation: list.relation, of: list.parent.clone() },
            true => Related::Having { relation: list.relation, of: list.parent.clone() },
        };
        let q = ListQuery {
            view,
            kind: shape.kind,
            education: shape.education,
            related: Some(related),
            visible_to: None,
            filter: None,
            search: None,
            order: &[],
            after: list.after.clone().map(|id| Cursor { keys: vec![], id }),
            limit: list.limit,
        };
        super::read_one(&self.pool, &TenantId(list.tenant.clone()), &list.parent, &q).await
    }

    /// The parents and pages of `lists`, in their order, by one statement per [`BATCH_MAX`] of them.
    async fn fetch(&self, shape: Shape, lists: &[(&'static View, List)]) -> Result<Vec<(Option<Object>, StoredPage)>> {
        let mut out = Vec::with_capacity(lists.len());
        for chunk in lists.chunks(BATCH_MAX) {
            out.extend(self.fetch_chunk(shape, chunk).await?);
        }
        Ok(out)
    }

    async fn fetch_chunk(
        &self,
        shape: Shape,
        lists: &[(&'static View, List)],
    ) -> Result<Vec<(Option<Object>, StoredPage)>> {
        let rows = lists.len().next_power_of_two();
        let sql = batch_sql(shape, rows);
        let mut query = sqlx::query(&sql);
        for (_, l) in lists {
            // A missing cursor is '' (every id is after it); the statement reads one row more than the page, to
            // know whether another follows.
            query = query
                .bind(l.tenant.as_str())
                .bind(l.parent.as_str())
                .bind(l.relation.as_str())
                .bind(l.after.as_deref().unwrap_or(""))
                .bind(l.limit as i64 + 1);
        }
        for _ in lists.len()..rows {
            // Padding: no tenant is '', and `LIMIT 0` reads nothing.
            query = query.bind("").bind("").bind("").bind("").bind(0i64);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        let mut parents: Vec<Option<Object>> = vec![None; lists.len()];
        let mut pages: Vec<Vec<(Stored, Vec<Param>)>> = (0..lists.len()).map(|_| Vec::new()).collect();
        for row in &rows {
            let i = row.try_get::<i32, _>(0).map_err(backend)? as usize;
            let stored = stored_at(row, 1)?;
            if row.try_get::<bool, _>(8).map_err(backend)? {
                parents[i] = Some(stored.parse()?);
            } else {
                pages[i].push((stored, Vec::new()));
            }
        }
        Ok(parents
            .into_iter()
            .zip(pages)
            .zip(lists)
            .map(|((parent, mut rows), (_, list))| {
                // In id order as the statement read them; sorted here too so that the page's order does not rest
                // on the join's plan (ids are unique; already in order, this is one pass).
                rows.sort_by(|a, b| a.0.id.cmp(&b.0.id));
                (parent, super::super::sqlite::page(rows, list.limit))
            })
            .collect())
    }
}

/// Lists in one statement at most; a larger batch takes several.
const BATCH_MAX: usize = 32;

/// The statement reading `rows` lists of `shape` (a power of two, so that a few statements serve every batch
/// size, the unused rows padded).
///
/// The lists are a `VALUES` list of parameters, not `UNNEST` of arrays: the planner takes an array parameter
/// for 10 elements, so the generic plan of an `UNNEST` statement costs more than a custom plan of a batch of 2
/// to 9, and PostgreSQL then plans the statement anew on every execution (measured: 0.5 ms of planning a
/// batch, more than reading it). A `VALUES` list of `rows` rows is `rows` rows in both plans, and the generic
/// plan is kept from the sixth execution (planning ~0.05 ms).
fn batch_sql(shape: Shape, rows: usize) -> String {
    use std::fmt::Write as _;
    let (near, far) = if shape.having { ("from_id", "to_id") } else { ("to_id", "from_id") };
    let kind = shape.kind.map(|k| format!(" AND o.kind = '{}'", k.as_str())).unwrap_or_default();
    let education = if shape.education { " AND o.edu = TRUE" } else { "" };
    let mut values = String::new();
    for i in 0..rows {
        let n = 5 * i;
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(
            values,
            "{sep}({i}, ${}::text, ${}::text, ${}::text, ${}::text, ${}::bigint)",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5
        );
    }
    // Per list: its parent's row (marked), then its page, as the one-list statement reads them (the page in the
    // relation's order, which is the neighbours' id order). The lateral subquery runs once per list (a nested
    // loop over the `VALUES`), so each list's rows come out together.
    format!(
        "SELECT q.i, x.* FROM (VALUES {values}) AS q(i, t, p, rel, after, lim)
         CROSS JOIN LATERAL (
             (SELECT {COLUMNS}, TRUE AS parent FROM dir_object o WHERE o.tenant = q.t AND o.id = q.p)
             UNION ALL
             (SELECT {COLUMNS}, FALSE FROM dir_relation r JOIN dir_object o ON o.tenant = r.tenant AND o.id = r.{near}
              WHERE r.tenant = q.t AND r.rel = q.rel AND r.{far} = q.p AND r.{near} > q.after{kind}{education}
              ORDER BY r.{near} LIMIT q.lim)) x"
    )
}

/// An object's columns ([`COLUMNS`]) from `first` on.
fn stored_at(row: &PgRow, first: usize) -> Result<Stored> {
    stored_from(
        row.try_get(first).map_err(backend)?,
        row.try_get(first + 1).map_err(backend)?,
        row.try_get(first + 2).map_err(backend)?,
        row.try_get(first + 3).map_err(backend)?,
        row.try_get(first + 4).map_err(backend)?,
        row.try_get(first + 5).map_err(backend)?,
        row.try_get(first + 6).map_err(backend)?,
    )
}

impl Coalesced for Navs {
    type Pending = Pending;

    fn queue(&self) -> &Queue<Pending> {
        &self.queue
    }

    fn answer(&self, batch: Vec<Pending>) -> impl std::future::Future<Output = ()> + Send {
        self.answer_batch(batch)
    }
}
