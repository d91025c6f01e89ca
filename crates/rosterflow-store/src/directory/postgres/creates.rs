//! Single-object creates on PostgreSQL, committed together (group commit), as the SQLite writer does.
//!
//! A district loads its accounts through `$batch`: 20 `POST /users` a batch, several batches in flight, so
//! a hundred or more creates wait for the database at once. One transaction each costs a commit (a WAL flush)
//! and three round trips per object. Here the creates of one tenant queue; at most [`WRITERS`] tasks take
//! whatever has queued and insert it with one multi-row, autocommitted `INSERT` (one round trip, one commit
//! for the group). A create is answered after the statement that holds it committed.
//!
//! Each create keeps its own answer, as Graph's `$batch` requires: an `INSERT` of many rows fails whole when
//! one breaks a unique key (the id, a user's `userPrincipalName`, a group's `mailNickname`), and nothing of it
//! is committed; the group is then inserted again one object at a time, so that only the create that broke
//! the rule answers 409 and the others are written. Any other failure (the database unreachable) answers every
//! create of the group with it (a 503 the SDKs retry): whether such a statement committed is unknown, and
//! redoing it could answer 409 for an object that was created.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use sqlx::postgres::PgPool;
use tokio::sync::oneshot;

use super::super::{Object, Source};
use super::write_objects;
use crate::{backend, Result, StoreError, TenantId};

/// Groups of one tenant written at once: one can be committing (waiting for the WAL flush) while the next is
/// inserted.
const WRITERS: usize = 2;

/// Objects in one statement at most.
const GROUP_MAX: usize = 500;

struct Pending {
    object: Object,
    reply: oneshot::Sender<Result<()>>,
}

/// Creates waiting for a writer, and how many writers work on them.
#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    writers: usize,
}

/// Creates are grouped per tenant and source (one statement writes one of each).
type Key = (TenantId, Source);

pub(crate) struct Creates {
    pool: PgPool,
    queues: Mutex<FxHashMap<Key, Queue>>,
}

impl Creates {
    pub(crate) fn new(pool: PgPool) -> Arc<Creates> {
        Arc::new(Creates { pool, queues: Mutex::default() })
    }

    /// Create `object` (without relations); `Exists` or `Duplicate` as [`super::super::DirectoryStore::create`].
    pub(crate) async fn create(self: &Arc<Self>, tenant: &TenantId, object: Object) -> Result<()> {
        let key = (tenant.clone(), object.source);
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queues = self.queues.lock().expect("queue lock");
            let queue = queues.entry(key.clone()).or_default();
            queue.waiting.push(Pending { object, reply });
            let start = queue.writers < WRITERS;
            queue.writers += usize::from(start);
            start
        };
        if start {
            // A task of its own: a client that hangs up must not strand the creates queued behind its own.
            tokio::spawn(self.clone().drain(key));
        }
        answer.await.map_err(|_| StoreError::Backend("the write was abandoned".into()))?
    }

    /// Write what has queued, a group at a time, until nothing is left.
    async fn drain(self: Arc<Self>, key: Key) {
        let mut writer = Writer { creates: &self, key: &key, done: false };
        loop {
            let group = {
                let mut queues = self.queues.lock().expect("queue lock");
                let queue = queues.get_mut(&key).expect("a writer's queue stays while it works");
                if queue.waiting.is_empty() {
                    writer.leave(&mut queues);
                    return;
                }
                let n = queue.waiting.len().min(GROUP_MAX);
                queue.waiting.drain(..n).collect::<Vec<_>>()
            };
            let (objects, replies): (Vec<Object>, Vec<_>) = group.into_iter().map(|p| (p.object, p.reply)).unzip();
            for (reply, result) in replies.into_iter().zip(self.write(&key, &objects).await) {
                let _ = reply.send(result);
            }
        }
    }

    /// Insert a group: in one statement, or one object at a time when a unique key refused it.
    async fn write(&self, (tenant, source): &Key, objects: &[Object]) -> Vec<Result<()>> {
        if objects.len() > 1 {
            match self.insert(tenant, *source, &objects.iter().collect::<Vec<_>>()).await {
                Err(StoreError::Duplicate(_) | StoreError::Exists) => {}
                other => return vec![other; objects.len()],
            }
        }
        let mut results = Vec::with_capacity(objects.len());
        for object in objects {
            results.push(self.insert(tenant, *source, &[object]).await);
        }
        results
    }

    /// One autocommitted multi-row `INSERT`.
    async fn insert(&self, tenant: &TenantId, source: Source, objects: &[&Object]) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        write_objects(&mut conn, tenant, objects, source, false).await
    }
}

/// A writer's place in its queue's count: given back under the queue's lock when the queue is empty, or when
/// the writer's task ends otherwise (a panic), so that later creates find a writer.
struct Writer<'a> {
    creates: &'a Creates,
    key: &'a Key,
    done: bool,
}

impl Writer<'_> {
    fn leave(&mut self, queues: &mut FxHashMap<Key, Queue>) {
        self.done = true;
        if let Some(queue) = queues.get_mut(self.key) {
            queue.writers -= 1;
            if queue.writers == 0 && queue.waiting.is_empty() {
                queues.remove(self.key);
            }
        }
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.done {
            let creates = self.creates;
            let mut queues = creates.queues.lock().unwrap_or_else(|e| e.into_inner());
            self.leave(&mut queues);
        }
    }
}
