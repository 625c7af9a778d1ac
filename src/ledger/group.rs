//! Group commit: writers that arrive while another batch holds the write lock share one
//! transaction and one commit, instead of each waiting for the lock and paying a sync to disk
//! of its own.
//!
//! The first writer of a batch leads it: once no other batch of this process holds the write
//! lock, it begins the transaction and runs its own work. Writers that arrive meanwhile join
//! the batch and, one at a time on their own threads, run their work on the batch's
//! connection, each inside a savepoint (a refused decision or a failed statement undoes only
//! its own writes). When nobody is waiting for a turn, the leader commits and every member
//! learns the outcome; none answers its caller before the commit. Events are appended in turn
//! order, so seq order is still commit order, and the view update commits with them.
//!
//! Each member's events get their seqs and hashes from the batch's tail in memory and are
//! folded into the view in the member's savepoint (so the next member decides on them); the
//! leader inserts all of the batch's events into the ledger in multi-row statements just
//! before the commit.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Condvar, Mutex, MutexGuard};

use diesel::Connection;

use super::append::{self, Decision, Tail};
use super::event::LedgerEvent;
use crate::db::{self, DbConn, DbPool, PooledConn, StoreError};

/// Members a batch takes at most; later writers form the next one.
const MAX_MEMBERS: usize = 64;

/// What one writer's work may fail with: its own refusal, or the store's error.
pub enum WorkError<E> {
    Decide(E),
    Store(StoreError),
}

impl<E> From<diesel::result::Error> for WorkError<E> {
    fn from(err: diesel::result::Error) -> Self {
        WorkError::Store(StoreError::from(err))
    }
}

impl<E> From<StoreError> for WorkError<E> {
    fn from(err: StoreError) -> Self {
        WorkError::Store(err)
    }
}

#[derive(Default)]
pub struct GroupCommit {
    slot: Mutex<Slot>,
    changed: Condvar,
}

#[derive(Default)]
struct Slot {
    next_id: u64,
    /// The batch that new writers join, until its leader closes it to commit.
    forming: Option<u64>,
    /// The batch whose transaction holds the write lock.
    active: Option<u64>,
    batches: HashMap<u64, Batch>,
}

#[derive(Default)]
struct Batch {
    /// The transaction's connection, while no member is using it.
    conn: Option<PooledConn>,
    /// Where the batch's staged events end (read once, by the first member that appends).
    tail: Option<Tail>,
    /// Members that joined and still wait for their turn.
    queued: usize,
    /// Members that joined, the leader included.
    members: usize,
    /// Members that have taken their answer; the batch is dropped when all have.
    answered: usize,
    /// Every member's staged events, in seq order: folded into the view, inserted into the
    /// ledger together just before the commit.
    stored: Vec<LedgerEvent>,
    /// A member panicked mid-work: the transaction is rolled back, not committed.
    poisoned: bool,
    /// The commit's outcome, or why the transaction could not begin.
    outcome: Option<Result<(), String>>,
}

impl GroupCommit {
    /// Runs `work` in a write transaction shared with concurrent writers. `work` returns the
    /// events to append and its answer; `on_commit` is called once per committed batch with
    /// all of its events, before any member answers.
    pub fn run<T, E>(
        &self,
        pool: &DbPool,
        work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>>,
        on_commit: &dyn Fn(&[LedgerEvent]),
    ) -> Result<T, WorkError<E>> {
        let mut slot = self.lock();
        let joinable = slot.forming.filter(|id| {
            slot.batches
                .get(id)
                .is_some_and(|b| b.members < MAX_MEMBERS)
        });
        match joinable {
            Some(id) => {
                let batch = batch_mut(&mut slot, id);
                batch.members += 1;
                batch.queued += 1;
                self.follow(slot, id, work)
            }
            None => {
                let id = slot.next_id;
                slot.next_id += 1;
                slot.batches.insert(
                    id,
                    Batch {
                        members: 1,
                        ..Batch::default()
                    },
                );
                slot.forming = Some(id);
                self.lead(slot, id, pool, work, on_commit)
            }
        }
    }

    fn lead<T, E>(
        &self,
        mut slot: MutexGuard<'_, Slot>,
        id: u64,
        pool: &DbPool,
        work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>>,
        on_commit: &dyn Fn(&[LedgerEvent]),
    ) -> Result<T, WorkError<E>> {
        // One batch of this process at a time holds the lock: the next one gathers members
        // meanwhile, rather than polling the database's lock.
        while slot.active.is_some() {
            slot = self.wait(slot);
        }
        slot.active = Some(id);
        drop(slot);

        let begun = pool.get().map_err(StoreError::from).and_then(|mut conn| {
            db::begin_write(&mut conn)?;
            Ok(conn)
        });
        let mut conn = match begun {
            Ok(conn) => conn,
            Err(err) => {
                self.finish(id, Err(err.to_string()));
                return Err(WorkError::Store(err));
            }
        };
        // As a member's, the leader's own work may panic: the batch must still be finished
        // (rolled back, the lock and the slot freed), or every later writer would wait for
        // it for ever. The panic goes on once the members have their answer.
        let mut tail = None;
        let mine = catch_unwind(AssertUnwindSafe(|| {
            run_in_savepoint(&mut conn, &mut tail, work)
        }));

        let mut slot = self.lock();
        let batch = batch_mut(&mut slot, id);
        batch.tail = tail;
        let (mine, panicked) = match mine {
            Ok(mine) => (
                mine.map(|(events, answer)| {
                    batch.stored.extend(events);
                    answer
                }),
                None,
            ),
            Err(panic) => {
                batch.poisoned = true;
                let refused = StoreError::Unavailable("a writer failed mid-transaction".into());
                (Err(WorkError::Store(refused)), Some(panic))
            }
        };
        batch.conn = Some(conn);
        self.changed.notify_all();
        while batch_ref(&slot, id).is_some_and(|b| b.queued > 0 || b.conn.is_none()) {
            slot = self.wait(slot);
        }
        if slot.forming == Some(id) {
            slot.forming = None;
        }
        let batch = batch_mut(&mut slot, id);
        let (mut conn, stored, poisoned) = (
            batch.conn.take(),
            std::mem::take(&mut batch.stored),
            batch.poisoned,
        );
        drop(slot);

        let committed = match conn.as_deref_mut() {
            Some(conn) if !poisoned => match append::insert(conn, &stored) {
                Ok(()) => db::commit_write(conn).map_err(StoreError::from),
                Err(err) => {
                    db::rollback_write(conn);
                    Err(err)
                }
            },
            Some(conn) => {
                db::rollback_write(conn);
                Err(StoreError::Unavailable(
                    "a writer failed mid-transaction".into(),
                ))
            }
            None => Err(StoreError::Unavailable("the connection was lost".into())),
        };
        drop(conn);
        if committed.is_ok() {
            on_commit(&stored);
        }
        self.finish(
            id,
            committed.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        );
        if let Some(panic) = panicked {
            resume_unwind(panic);
        }
        match committed {
            Ok(()) => mine,
            Err(err) => Err(WorkError::Store(err)),
        }
    }

    fn follow<T, E>(
        &self,
        mut slot: MutexGuard<'_, Slot>,
        id: u64,
        work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>>,
    ) -> Result<T, WorkError<E>> {
        // Wait for the connection, or for the news that the transaction never began.
        let (mut conn, mut tail) = loop {
            let batch = batch_mut(&mut slot, id);
            if let Some(Err(reason)) = &batch.outcome {
                let reason = reason.clone();
                batch.queued -= 1;
                self.answered(&mut slot, id);
                return Err(WorkError::Store(StoreError::Unavailable(reason)));
            }
            if let Some(conn) = batch.conn.take() {
                batch.queued -= 1;
                break (conn, batch.tail.take());
            }
            slot = self.wait(slot);
        };
        drop(slot);

        let mine = catch_unwind(AssertUnwindSafe(|| {
            run_in_savepoint(&mut conn, &mut tail, work)
        }));

        let mut slot = self.lock();
        let batch = batch_mut(&mut slot, id);
        batch.tail = tail;
        let mine = match mine {
            Ok(mine) => mine.map(|(events, answer)| {
                batch.stored.extend(events);
                answer
            }),
            Err(panic) => {
                batch.poisoned = true;
                batch.conn = Some(conn);
                self.answered(&mut slot, id);
                self.changed.notify_all();
                drop(slot);
                resume_unwind(panic);
            }
        };
        batch.conn = Some(conn);
        self.changed.notify_all();
        if mine.is_err() {
            // Its savepoint was rolled back: nothing of it waits for the commit.
            self.answered(&mut slot, id);
            return mine;
        }
        let outcome = loop {
            if let Some(outcome) = batch_ref(&slot, id).and_then(|b| b.outcome.clone()) {
                break outcome;
            }
            slot = self.wait(slot);
        };
        self.answered(&mut slot, id);
        match outcome {
            Ok(()) => mine,
            Err(reason) => Err(WorkError::Store(StoreError::Unavailable(reason))),
        }
    }

    /// The leader's last step: the outcome for the members, the lock free for the next batch.
    fn finish(&self, id: u64, outcome: Result<(), String>) {
        let mut slot = self.lock();
        if slot.forming == Some(id) {
            slot.forming = None;
        }
        slot.active = None;
        batch_mut(&mut slot, id).outcome = Some(outcome);
        self.answered(&mut slot, id);
        self.changed.notify_all();
    }

    fn answered(&self, slot: &mut Slot, id: u64) {
        let batch = batch_mut(slot, id);
        batch.answered += 1;
        if batch.answered == batch.members && batch.outcome.is_some() {
            slot.batches.remove(&id);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        // The slot's invariants hold between statements; a panic elsewhere leaves it usable.
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait<'a>(&self, slot: MutexGuard<'a, Slot>) -> MutexGuard<'a, Slot> {
        self.changed
            .wait(slot)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The batch `id`; its members keep it alive until each has answered.
fn batch_mut(slot: &mut Slot, id: u64) -> &mut Batch {
    slot.batches.entry(id).or_default()
}

fn batch_ref(slot: &Slot, id: u64) -> Option<&Batch> {
    slot.batches.get(&id)
}

/// One member's work and the staging of its events, undone alone if either fails (and then
/// the batch's tail stays where it was).
fn run_in_savepoint<T, E>(
    conn: &mut DbConn,
    tail: &mut Option<Tail>,
    work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>>,
) -> Result<(Vec<LedgerEvent>, T), WorkError<E>> {
    let (staged, moved, answer) = conn.transaction(|conn| {
        let Decision {
            events,
            outcome: answer,
            read,
        } = work(conn)?;
        if events.is_empty() {
            return Ok((Vec::new(), None, answer));
        }
        let mut moved = match tail {
            Some(tail) => tail.clone(),
            None => append::tail(conn)?,
        };
        let staged = append::stage(conn, &mut moved, events, read)?;
        Ok::<_, WorkError<E>>((staged, Some(moved), answer))
    })?;
    if moved.is_some() {
        *tail = moved;
    }
    Ok((staged, answer))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn write(
        group: &GroupCommit,
        pool: &DbPool,
        panics: bool,
    ) -> Result<(), WorkError<std::convert::Infallible>> {
        group.run(
            pool,
            |_conn| {
                if panics {
                    panic!("the leader's own work panics");
                }
                Ok(Decision::nothing(()))
            },
            &|_| {},
        )
    }

    #[test]
    fn a_panic_in_the_leaders_work_leaves_later_writes_working() {
        let (_dir, pool) = db::scratch_pool();
        let group = std::sync::Arc::new(GroupCommit::default());
        // Alone, the writer leads its batch.
        let panicked = catch_unwind(AssertUnwindSafe(|| write(&group, &pool, true)));
        assert!(panicked.is_err(), "the panic goes on to the caller");
        // Before, the batch stayed active and this write waited for ever.
        let (done, finished) = mpsc::channel();
        let (group2, pool2) = (group.clone(), pool.clone());
        std::thread::spawn(move || {
            let _ = done.send(write(&group2, &pool2, false).is_ok());
        });
        assert_eq!(
            finished.recv_timeout(Duration::from_secs(30)),
            Ok(true),
            "a later write completes"
        );
    }
}
