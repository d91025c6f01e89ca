//! Coalesced reads on PostgreSQL: requests that arrive while a replica's statements are in flight wait in a
//! queue, and the next statement answers all of them at once. Under load a statement's fixed cost
//! (parse/bind/execute, a round trip, a snapshot, sqlx's and the backend's per-statement work) is then paid once
//! per batch instead of once per request. Item reads (`reads.rs`) use it; what queues says how it answers a
//! batch (navigation lists used it too until they were found slower coalesced: docs/benchmarks.md,
//! "PostgreSQL members (helper mem12").
//!
//! No read is stale: a request is queued before the statement that answers it is sent (a task takes the whole
//! queue, then sends its statement), so that statement's snapshot is taken after the request arrived and sees
//! every write acknowledged before then, whichever replica wrote it.

use std::future::Future;
use std::sync::{Arc, Mutex};

/// Statements in flight per replica at most. While they are, requests queue for the next; more in flight
/// would mean smaller batches (more statements for the same reads), fewer would leave the database idle while
/// a batch's answers travel back. Two keeps one statement executing while the previous one's rows are decoded.
pub(crate) const IN_FLIGHT: usize = 2;

/// What answers batches of queued requests (each request carries its own reply channel).
pub(crate) trait Coalesced: Send + Sync + 'static {
    type Pending: Send + 'static;

    fn queue(&self) -> &Queue<Self::Pending>;

    /// Answer every request of `batch`.
    fn answer(&self, batch: Vec<Self::Pending>) -> impl Future<Output = ()> + Send;
}

/// The requests waiting for a statement, and how many statements are in flight.
pub(crate) struct Queue<P> {
    state: Mutex<State<P>>,
}

struct State<P> {
    in_flight: usize,
    waiting: Vec<P>,
}

impl<P> Default for Queue<P> {
    fn default() -> Self {
        Queue { state: Mutex::new(State { in_flight: 0, waiting: Vec::new() }) }
    }
}

/// Queue `pending`; when fewer than [`IN_FLIGHT`] statements are in flight, start a task that answers the
/// queue, all that queued meanwhile at a time, until it is empty.
pub(crate) fn submit<C: Coalesced>(coalesced: &Arc<C>, pending: C::Pending) {
    let start = {
        let mut state = coalesced.queue().state.lock().expect("coalesced queue lock");
        state.waiting.push(pending);
        let start = state.in_flight < IN_FLIGHT;
        if start {
            state.in_flight += 1;
        }
        start
    };
    if start {
        // A task of its own: a client that hangs up must not strand the requests queued behind its own.
        tokio::spawn(dispatch(coalesced.clone()));
    }
}

async fn dispatch<C: Coalesced>(coalesced: Arc<C>) {
    let mut slot = Slot { queue: coalesced.queue(), held: true };
    loop {
        let batch = {
            let mut state = slot.queue.state.lock().expect("coalesced queue lock");
            if state.waiting.is_empty() {
                // Given back under the lock a request queues under: one queued after this starts a task.
                state.in_flight -= 1;
                slot.held = false;
                return;
            }
            std::mem::take(&mut state.waiting)
        };
        coalesced.answer(batch).await;
    }
}

/// A task's statement slot, given back if the task panics (in decoding): the requests queued then are taken
/// by the next request's task instead of waiting for a slot that is never freed.
struct Slot<'a, P> {
    queue: &'a Queue<P>,
    held: bool,
}

impl<P> Drop for Slot<'_, P> {
    fn drop(&mut self) {
        if self.held {
            self.queue.state.lock().unwrap_or_else(|e| e.into_inner()).in_flight -= 1;
        }
    }
}
