//! Group commit through one writer thread: every write of this process is a job handed to it,
//! and the jobs that wait when it begins a transaction, or arrive while it runs them, share
//! that transaction and its one commit (one sync to disk for all of them).
//!
//! The writer runs the jobs one after another on the batch's connection. Most only read
//! before they decide (`Changes::OnlyItsEvents`): their events are their only writes, so a
//! refusal leaves nothing to undo and they need no savepoint. A job that changes other rows
//! before deciding (a password change) runs in a savepoint of its own, unless nothing is
//! written before it in the transaction: then a refusal rolls the transaction back and begins
//! it again. A statement that fails part-way through a job without a savepoint around it (a
//! fold's write: a database error, not a refusal) fails the whole batch. When no job is left
//! waiting, the writer inserts the batch's events into the ledger in multi-row statements,
//! commits, shows the events to the in-memory state, and only then answers every job's caller.
//! Events are appended in job order, so seq order is still commit order. The writer keeps its
//! connection from one batch to the next (`WriterConnection`).
//!
//! Why a thread of its own: the transaction's statements run one at a time anyway (one
//! connection, the database's write lock). When each caller ran its own work on its own
//! thread, the connection went from thread to thread while the lock was held, a wake-up and a
//! context switch per writer, and on two busy cores a woken thread can wait a while for a
//! core. The writer keeps running while it has work; a caller hands its job over and blocks
//! once, on its answer. Refresh with 8 concurrent chains on SQLite: 2,000-2,150 req/s with
//! callers taking turns, 2,710 with the writer thread, 2,320-2,450 with flat combining (the
//! caller that finds no batch running runs one, then hands on to the next waiting caller);
//! sequential logouts did not differ (`benches/writes_vs_fsync.sh`, interleaved rounds). So
//! a job is `Send + 'static`: it owns what it uses.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::mpsc;

use diesel::Connection;

use super::append::{self, Decision, Tail};
use super::event::LedgerEvent;
use super::pending;
use super::writer_connection::WriterConnection;
use crate::db::{self, DbConn, DbPool, StoreError};

/// Jobs a batch takes at most; later ones form the next batch.
const MAX_MEMBERS: usize = 64;

thread_local! {
    /// Set on writer threads: their jobs must not write through the ledger again.
    static ON_A_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

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

/// What a job may write besides the events it decides, which says what a refusal of it
/// leaves in the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes {
    /// It only reads until it has decided; its events are the only writes. A refusal leaves
    /// nothing behind, so it runs without a savepoint: a PostgreSQL round trip each way saved
    /// for every job but a batch's first. Should appending its events fail part-way (a
    /// statement error, not a refusal), the batch is rolled back and every job of it answered
    /// with that error.
    OnlyItsEvents,
    /// It changes other rows (a user's) before it decides: it runs inside a savepoint of its
    /// own, so its refusal undoes them and no other job's work.
    BeforeDeciding,
}

/// Called once per committed batch with all of its events, before any job is answered.
pub type OnCommit = Box<dyn Fn(&[LedgerEvent]) + Send>;

/// The handle to the writer thread; the thread ends once every handle is gone.
pub struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Member>>,
}

impl GroupCommit {
    /// Starts the writer thread over `pool`.
    pub fn spawn(pool: DbPool, on_commit: OnCommit) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Member>>();
        std::thread::Builder::new()
            .name("tokenledger-writer".into())
            .spawn(move || {
                ON_A_WRITER.set(true);
                let mut writer = WriterConnection::new(pool);
                while let Ok(first) = queue.recv() {
                    // A panic outside the jobs (theirs are caught) must not end the thread:
                    // every later write would fail. The batch's callers learn of it from
                    // their dropped answers.
                    let batch = catch_unwind(AssertUnwindSafe(|| {
                        run_batch(&mut writer, first, || queue.try_recv().ok(), &on_commit)
                    }));
                    if batch.is_err() {
                        tracing::error!("a ledger write batch panicked outside its jobs");
                    }
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `work` in a write transaction shared with concurrent writers, and waits for the
    /// batch's commit. `work` returns the events to append and its answer. A panic in `work`
    /// goes on here, in the caller, once the batch is rolled back.
    pub fn run<T, E, F>(&self, changes: Changes, work: F) -> Result<T, WorkError<E>>
    where
        F: FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        if ON_A_WRITER.get() {
            // A write from inside a job would wait for the writer that runs it: for ever.
            return Err(WorkError::Store(StoreError::Unavailable(
                "a ledger write cannot be made from inside another".into(),
            )));
        }
        let (job, answer) = Job::new(changes, work);
        if self.jobs.send(Box::new(job)).is_err() {
            return Err(WorkError::Store(lost()));
        }
        match answer.recv() {
            Ok(Reply::Answered(result)) => result,
            Ok(Reply::Panicked(panic)) => resume_unwind(panic),
            Err(_) => Err(WorkError::Store(lost())),
        }
    }
}

fn lost() -> StoreError {
    StoreError::Unavailable("the ledger's writer lost the write".into())
}

/// One caller's job, as the writer thread sees it (its types erased).
trait Member: Send {
    /// Runs the work on the batch's connection and stages its events after `tail`; `bare`
    /// when nothing before it is in the transaction (no savepoint needed whatever it writes).
    fn run(&mut self, conn: &mut DbConn, tail: &mut Option<Tail>, bare: bool) -> Ran;

    /// Tells the caller its answer, now that the batch has ended as `batch` says.
    fn answer(self: Box<Self>, batch: Result<(), &str>);
}

enum Ran {
    /// Its events are staged; they commit with the batch.
    Staged(Vec<LedgerEvent>),
    /// Refused, and nothing of it is in the transaction: it wrote nothing before deciding, or
    /// its savepoint is rolled back.
    Declined,
    /// Refused or failed with writes of its own in the transaction and no savepoint around
    /// them: only rolling the transaction back undoes them.
    LeftWrites,
    /// Panicked: the batch is rolled back.
    Panicked,
}

enum Reply<T, E> {
    Answered(Result<T, WorkError<E>>),
    Panicked(Box<dyn Any + Send>),
}

enum Outcome<T, E> {
    Done(Result<T, WorkError<E>>),
    Panicked(Box<dyn Any + Send>),
}

struct Job<F, T, E> {
    work: Option<F>,
    changes: Changes,
    outcome: Option<Outcome<T, E>>,
    reply: mpsc::SyncSender<Reply<T, E>>,
}

impl<F, T, E> Job<F, T, E> {
    /// A job for the writer's queue, and where its answer will arrive.
    fn new(changes: Changes, work: F) -> (Self, mpsc::Receiver<Reply<T, E>>) {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            work: Some(work),
            changes,
            outcome: None,
            reply,
        };
        (job, answer)
    }
}

impl<F, T, E> Member for Job<F, T, E>
where
    F: FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<E>> + Send,
    T: Send,
    E: Send,
{
    fn run(&mut self, conn: &mut DbConn, tail: &mut Option<Tail>, bare: bool) -> Ran {
        let Some(work) = self.work.take() else {
            return Ran::Declined;
        };
        let changes = self.changes;
        let ran = catch_unwind(AssertUnwindSafe(|| {
            if changes == Changes::BeforeDeciding && !bare {
                // The batch's pending view rows go in before the savepoint, which must not
                // undo them; its own go in inside it: its changes, its view rows and its
                // events go, or are undone, together.
                pending::settle(conn)
                    .map_err(|failed| (WorkError::Store(failed), Ran::LeftWrites))?;
                conn.transaction(|conn| {
                    let decision = work(conn)?;
                    stage(conn, tail, decision, true).map_err(WorkError::Store)
                })
                .map_err(|refused| {
                    // Whatever it left pending is undone with its savepoint too.
                    pending::discard();
                    (refused, Ran::Declined)
                })
            } else {
                let decision = work(conn).map_err(|refused| match changes {
                    Changes::OnlyItsEvents => (refused, Ran::Declined),
                    Changes::BeforeDeciding => (refused, Ran::LeftWrites),
                })?;
                stage(conn, tail, decision, false)
                    .map_err(|failed| (WorkError::Store(failed), Ran::LeftWrites))
            }
        }));
        let (ran, outcome) = match ran {
            Ok(Ok((events, answer))) => (Ran::Staged(events), Outcome::Done(Ok(answer))),
            Ok(Err((refused, ran))) => (ran, Outcome::Done(Err(refused))),
            Err(panic) => (Ran::Panicked, Outcome::Panicked(panic)),
        };
        self.outcome = Some(outcome);
        ran
    }

    fn answer(self: Box<Self>, batch: Result<(), &str>) {
        let reply = match (self.outcome, batch) {
            (Some(Outcome::Panicked(panic)), _) => Reply::Panicked(panic),
            (Some(Outcome::Done(result)), Ok(())) => Reply::Answered(result),
            // A refusal too may have been decided on writes of this batch that never
            // committed: the store's error is the only safe answer. (A job is answered
            // unrun only when its batch could not begin.)
            (_, reason) => Reply::Answered(Err(WorkError::Store(StoreError::Unavailable(
                reason.err().unwrap_or("the write was not run").to_owned(),
            )))),
        };
        // The caller waits for this; it cannot have gone.
        let _ = self.reply.send(reply);
    }
}

/// A decision's events staged after `tail` (seqs, hash links, the fold into the view's pending
/// rows, written out at once if `settled`). `tail` moves only if that succeeds.
fn stage<T>(
    conn: &mut DbConn,
    tail: &mut Option<Tail>,
    decision: Decision<T>,
    settled: bool,
) -> Result<(Vec<LedgerEvent>, T), StoreError> {
    let Decision {
        events,
        outcome: answer,
        read,
    } = decision;
    if events.is_empty() {
        return Ok((Vec::new(), answer));
    }
    let mut moved = match tail {
        Some(tail) => tail.clone(),
        None => append::tail(conn)?,
    };
    let staged = append::stage(conn, &mut moved, events, read)?;
    if settled {
        pending::settle(conn)?;
    }
    *tail = Some(moved);
    Ok((staged, answer))
}

/// Rolls the batch's transaction back, and with it the view rows it had not written yet.
fn roll_back(conn: &mut DbConn) {
    pending::discard();
    db::rollback_write(conn);
}

/// One batch: `first` and whatever waits or arrives while it runs, one commit, then answers.
fn run_batch(
    writer: &mut WriterConnection,
    first: Box<dyn Member>,
    mut queued: impl FnMut() -> Option<Box<dyn Member>>,
    on_commit: &OnCommit,
) {
    let mut conn = match writer.begin() {
        Ok(conn) => conn,
        Err(err) => {
            // The jobs waiting now would only wait for the same outage, one pool timeout
            // each, in turn: they share this answer. Later ones try again.
            let reason = err.to_string();
            for member in std::iter::once(first).chain(std::iter::from_fn(queued)) {
                member.answer(Err(&reason));
            }
            return;
        }
    };
    // Nothing of an earlier batch may linger (a panic outside its jobs ends it unsettled).
    pending::discard();
    let mut ran: Vec<Box<dyn Member>> = Vec::new();
    let mut stored: Vec<LedgerEvent> = Vec::new();
    let mut tail = None;
    // Whether a job's writes are in the transaction: the next one needs a savepoint.
    let mut written = false;
    let mut failed: Option<String> = None;
    let mut next = Some(first);
    while let Some(mut member) = next.take() {
        match member.run(&mut conn, &mut tail, !written) {
            Ran::Staged(events) => {
                stored.extend(events);
                written = true;
            }
            Ran::Declined => {}
            Ran::LeftWrites if !written => {
                // Nothing before it to lose: its partial writes go with the transaction,
                // which begins again (and the tail is read again: another instance may write
                // in between).
                roll_back(&mut conn);
                tail = None;
                if let Err(err) = db::begin_write(&mut conn) {
                    failed = Some(err.to_string());
                }
            }
            // Undoing its writes undoes the jobs' before it too: the whole batch fails (a
            // statement failed part-way through a fold; refusals are declined).
            Ran::LeftWrites => failed = Some("a write failed mid-transaction".into()),
            Ran::Panicked => failed = Some("a writer failed mid-transaction".into()),
        }
        ran.push(member);
        if failed.is_some() || ran.len() >= MAX_MEMBERS {
            break;
        }
        next = queued();
    }

    let committed = match failed {
        Some(reason) => {
            roll_back(&mut conn);
            Err(reason)
        }
        None => append::insert(&mut conn, &stored)
            .and_then(|()| db::commit_write(&mut conn).map_err(StoreError::from))
            .map_err(|err| {
                roll_back(&mut conn);
                err.to_string()
            }),
    };
    if committed.is_ok() {
        writer.keep(conn);
    }
    if committed.is_ok() && catch_unwind(AssertUnwindSafe(|| on_commit(&stored))).is_err() {
        tracing::error!("showing committed events to the in-memory state panicked");
    }
    for member in ran {
        member.answer(committed.as_ref().map(|_| ()).map_err(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ledger::event::{NewEvent, TokenRef, TokenType};
    use crate::time::at;

    fn group(pool: &DbPool) -> GroupCommit {
        GroupCommit::spawn(pool.clone(), Box::new(|_| {})).expect("the writer starts")
    }

    fn issued(n: u32) -> NewEvent {
        let token = TokenRef {
            jti: format!("{n:032x}"),
            token_type: TokenType::Access,
            user_id: 1,
            sid: "s".repeat(32),
            expires_at: at(600),
        };
        NewEvent::issued(token, None, at(0))
    }

    fn seqs(pool: &DbPool) -> Vec<i64> {
        let mut conn = pool.get().expect("a connection");
        crate::ledger::log::events_after(&mut conn, 0, 100)
            .expect("read")
            .into_iter()
            .map(|event| event.seq)
            .collect()
    }

    #[test]
    fn a_panic_in_a_job_reaches_its_caller_and_later_writes_work() {
        let (_dir, pool) = db::scratch_pool();
        let group = group(&pool);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            group.run::<(), std::convert::Infallible, _>(Changes::OnlyItsEvents, |_conn| {
                panic!("the job panics")
            })
        }));
        assert!(panicked.is_err(), "the panic goes on to the caller");
        let later = group.run::<(), std::convert::Infallible, _>(Changes::OnlyItsEvents, |_| {
            Ok(Decision::new(vec![issued(1)], ()))
        });
        assert!(later.is_ok(), "a later write commits");
        assert_eq!(seqs(&pool), vec![1]);
    }

    #[test]
    fn a_write_from_inside_a_job_is_refused_instead_of_waiting_for_ever() {
        let (_dir, pool) = db::scratch_pool();
        let group = std::sync::Arc::new(group(&pool));
        let inner = group.clone();
        let outer =
            group.run::<bool, std::convert::Infallible, _>(Changes::OnlyItsEvents, move |_| {
                let nested = inner
                    .run::<(), std::convert::Infallible, _>(Changes::OnlyItsEvents, |_| {
                        Ok(Decision::new(vec![issued(9)], ()))
                    });
                Ok(Decision::new(
                    vec![issued(1)],
                    matches!(nested, Err(WorkError::Store(_))),
                ))
            });
        assert!(matches!(outer, Ok(true)), "the nested write is refused");
        assert_eq!(seqs(&pool), vec![1], "the outer one commits");
    }

    #[test]
    fn a_refused_job_leaves_nothing_and_the_next_one_commits() {
        let (_dir, pool) = db::scratch_pool();
        let group = group(&pool);
        // Alone, so bare: it writes, then refuses; its write goes with the rollback.
        let refused = group.run::<(), &str, _>(Changes::BeforeDeciding, |conn| {
            stage(conn, &mut None, Decision::new(vec![issued(1)], ()), false)?;
            Err(WorkError::Decide("no"))
        });
        assert!(matches!(refused, Err(WorkError::Decide("no"))));
        let kept = group.run::<(), &str, _>(Changes::OnlyItsEvents, |_| {
            Ok(Decision::new(vec![issued(2)], ()))
        });
        assert!(kept.is_ok());
        assert_eq!(seqs(&pool), vec![1], "one event, with the first seq");
    }

    #[test]
    fn concurrent_jobs_share_commits_and_each_gets_its_own_answer() {
        let (_dir, pool) = db::scratch_pool();
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = commits.clone();
        let group = std::sync::Arc::new(
            GroupCommit::spawn(
                pool.clone(),
                Box::new(move |_| {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }),
            )
            .expect("the writer starts"),
        );
        let threads: Vec<_> = (0..32u32)
            .map(|n| {
                let group = group.clone();
                std::thread::spawn(move || {
                    group.run::<u32, u32, _>(Changes::OnlyItsEvents, move |_| {
                        std::thread::sleep(Duration::from_millis(1));
                        if n % 4 == 3 {
                            Err(WorkError::Decide(n))
                        } else {
                            Ok(Decision::new(vec![issued(n)], n))
                        }
                    })
                })
            })
            .collect();
        for (n, thread) in threads.into_iter().enumerate() {
            match thread.join().expect("no panic") {
                Ok(answer) => assert_eq!(answer as usize, n),
                Err(WorkError::Decide(refused)) => {
                    assert_eq!(refused as usize, n);
                    assert_eq!(n % 4, 3);
                }
                Err(WorkError::Store(err)) => panic!("store error: {err}"),
            }
        }
        assert_eq!(seqs(&pool), (1..=24).collect::<Vec<i64>>());
        let commits = commits.load(std::sync::atomic::Ordering::Relaxed);
        assert!(commits < 24, "{commits} commits for 24 writes: none shared");
    }

    type Answer<T> = mpsc::Receiver<Reply<T, &'static str>>;

    /// A job as the writer's queue holds it, and where its answer arrives.
    fn job<T: Send + 'static>(
        changes: Changes,
        work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, WorkError<&'static str>> + Send + 'static,
    ) -> (Box<dyn Member>, Answer<T>) {
        let (job, answer) = Job::new(changes, work);
        (Box::new(job), answer)
    }

    /// Runs these jobs as one batch, in order.
    fn batch(pool: &DbPool, jobs: Vec<Box<dyn Member>>) {
        let mut jobs = jobs.into_iter();
        let first = jobs.next().expect("a job");
        let on_commit: OnCommit = Box::new(|_| {});
        run_batch(
            &mut WriterConnection::new(pool.clone()),
            first,
            || jobs.next(),
            &on_commit,
        );
    }

    fn answered<T>(answer: &Answer<T>) -> Result<T, WorkError<&'static str>> {
        match answer.try_recv().expect("the job is answered") {
            Reply::Answered(result) => result,
            Reply::Panicked(_) => panic!("the job panicked"),
        }
    }

    fn issues(
        n: u32,
    ) -> impl FnOnce(&mut DbConn) -> Result<Decision<u32>, WorkError<&'static str>> {
        move |_| Ok(Decision::new(vec![issued(n)], n))
    }

    /// Runs a batch of three jobs whose middle one `refuses` after whatever it does: the
    /// jobs either side must commit as if it had not run.
    fn refused_between_two(
        pool: &DbPool,
        changes: Changes,
        refuses: impl FnOnce(&mut DbConn) -> Result<(), WorkError<&'static str>> + Send + 'static,
    ) {
        let (first, first_answer) = job(Changes::OnlyItsEvents, issues(1));
        let (refused, refused_answer) = job::<u32>(changes, |conn| {
            refuses(conn)?;
            Err(WorkError::Decide("no"))
        });
        let (last, last_answer) = job(Changes::OnlyItsEvents, issues(3));
        batch(pool, vec![first, refused, last]);
        assert!(matches!(answered(&first_answer), Ok(1)));
        assert!(matches!(
            answered(&refused_answer),
            Err(WorkError::Decide("no"))
        ));
        assert!(matches!(answered(&last_answer), Ok(3)));
        assert_eq!(seqs(pool), vec![1, 2]);
    }

    #[test]
    fn a_refusal_after_reading_needs_no_savepoint_and_loses_nothing_of_the_others() {
        let (_dir, pool) = db::scratch_pool();
        refused_between_two(&pool, Changes::OnlyItsEvents, |conn| {
            crate::ledger::view::find(conn, &format!("{:032x}", 1))?;
            Ok(())
        });
    }

    #[test]
    fn a_job_that_changes_rows_and_refuses_mid_batch_undoes_only_its_own_writes() {
        let (_dir, pool) = db::scratch_pool();
        // Its write: a view row staged and written by hand, as a user's row would be changed.
        refused_between_two(&pool, Changes::BeforeDeciding, |conn| {
            stage(conn, &mut None, Decision::new(vec![issued(2)], ()), true)?;
            Ok(())
        });
        let mut conn = pool.get().expect("a connection");
        let view = crate::ledger::view::all(&mut conn).expect("the view");
        let jtis: Vec<String> = view.into_iter().map(|row| row.jti).collect();
        assert_eq!(jtis, vec![format!("{:032x}", 1), format!("{:032x}", 3)]);
    }

    /// A job decided on a stale row of token 1 (as if another writer had moved it on): the
    /// guarded delete that writes its fold out finds no row.
    fn stale_expiry() -> Box<dyn Member> {
        job::<u32>(Changes::OnlyItsEvents, |conn| {
            let mut row = crate::ledger::view::find(conn, &format!("{:032x}", 1))?
                .expect("token 1 is in the view");
            row.last_seq = 0;
            let expired = NewEvent::expired(row.token_ref(), at(700));
            Ok(Decision::new(vec![expired], 2).decided_on(vec![row]))
        })
        .0
    }

    /// Token 1, committed in a batch of its own.
    fn committed_token_1(pool: &DbPool) {
        let (first, first_answer) = job(Changes::OnlyItsEvents, issues(1));
        batch(pool, vec![first]);
        assert!(matches!(answered(&first_answer), Ok(1)));
    }

    #[test]
    fn view_rows_that_fail_to_write_fail_the_whole_batch() {
        let (_dir, pool) = db::scratch_pool();
        committed_token_1(&pool);
        let (second, second_answer) = job(Changes::OnlyItsEvents, issues(2));
        let (last, last_answer) = job(Changes::OnlyItsEvents, issues(3));
        batch(&pool, vec![second, stale_expiry(), last]);
        assert!(matches!(answered(&second_answer), Err(WorkError::Store(_))));
        assert!(matches!(answered(&last_answer), Err(WorkError::Store(_))));
        assert_eq!(seqs(&pool), vec![1], "nothing of the batch commits");
    }

    #[test]
    fn a_write_out_that_fails_mid_batch_fails_the_batch_whatever_the_reader_does_with_it() {
        let (_dir, pool) = db::scratch_pool();
        committed_token_1(&pool);
        let (second, second_answer) = job(Changes::OnlyItsEvents, issues(2));
        // A read by session writes the batch's rows out first, and that fails; the reader
        // treats the error as a refusal of its own, but the batch cannot commit half a write.
        let (reader, reader_answer) = job::<u32>(Changes::OnlyItsEvents, |conn| {
            crate::ledger::view::outstanding_of_session(conn, "any")?;
            Ok(Decision::nothing(0))
        });
        batch(&pool, vec![second, stale_expiry(), reader]);
        assert!(matches!(answered(&second_answer), Err(WorkError::Store(_))));
        assert!(matches!(answered(&reader_answer), Err(WorkError::Store(_))));
        assert_eq!(seqs(&pool), vec![1], "nothing of the batch commits");
        // And the writer's next batch starts clean.
        let (again, again_answer) = job(Changes::OnlyItsEvents, issues(2));
        batch(&pool, vec![again]);
        assert!(matches!(answered(&again_answer), Ok(2)));
        assert_eq!(seqs(&pool), vec![1, 2]);
    }

    #[test]
    fn a_later_job_reads_what_an_earlier_one_of_its_batch_left_pending() {
        let (_dir, pool) = db::scratch_pool();
        let (first, first_answer) = job(Changes::OnlyItsEvents, issues(1));
        let (reader, reader_answer) = job::<u32>(Changes::OnlyItsEvents, |conn| {
            let jti = format!("{:032x}", 1);
            let by_jti = crate::ledger::view::find(conn, &jti)?.is_some();
            let by_session =
                crate::ledger::view::outstanding_of_session(conn, "s".repeat(32).as_str())?;
            Ok(Decision::nothing(
                u32::from(by_jti) + by_session.len() as u32 * 10,
            ))
        });
        batch(&pool, vec![first, reader]);
        assert!(matches!(answered(&first_answer), Ok(1)));
        assert!(
            matches!(answered(&reader_answer), Ok(11)),
            "seen by jti and by session"
        );
    }
}
