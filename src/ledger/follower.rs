//! Follows the ledger by seq, so revocations committed by other writers (the CLI, other
//! instances) reach this process's in-memory state.
//!
//! Why nothing committed is ever missed: every writer assigns its seqs (head + 1 ..) while it
//! holds the database's one write lock, and keeps the lock until it has committed, so seq order
//! is commit order and no transaction can later commit a seq below one already visible. The
//! follower reads `seq > applied` in order; whatever it has not seen yet has a higher seq.
//!
//! How fast: on PostgreSQL each writer notifies inside its transaction; the follower keeps one
//! connection LISTENing, looks at what its socket received every [`NOTIFY_CHECK`] (no round
//! trip; backing off to [`IDLE_CHECK`] while nothing arrives), and catches up at once. It also polls every `interval` regardless, which is the bound
//! when a notification is lost (the listening connection dropped). On SQLite it keeps one
//! connection and reads the file's change counter every [`NOTIFY_CHECK`] (shared memory, no
//! disk), catching up when another connection committed.
//!
//! Each check that proves nothing committed is missing is recorded
//! (`Revocations::confirm_current`, with the instant the check began): verify answers "not
//! blacklisted" from memory only once a check that began after the request arrived has been
//! recorded, and asks the database otherwise. Proofs: a catch-up (its query began after the
//! check), and on SQLite an unchanged change counter (read after any commit that finished
//! before it). On PostgreSQL an empty socket proves nothing (a notification may still be on
//! its way), so there only catch-ups count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Ledger;
use super::log::events_after;
use crate::db::{self, DbConn, PooledConn, StoreError};

const BATCH: i64 = 10_000;

/// How often a listening follower looks for notifications (or SQLite's change counter) while
/// the ledger moves.
pub const NOTIFY_CHECK: Duration = Duration::from_millis(2);

/// The longest such pause: each turn that finds nothing new doubles it up to this, so an idle
/// server wakes 20 times a second instead of 500 (4% of a core on SQLite before). A commit
/// from elsewhere still reaches memory within it, and verify never waits for it: it asks for
/// a check, which wakes the follower at once.
pub const IDLE_CHECK: Duration = Duration::from_millis(50);

/// Applies every event committed after the applied seq; returns how many it applied.
pub fn catch_up(ledger: &Ledger) -> Result<usize, StoreError> {
    catch_up_on(ledger, &mut *ledger.pool().get()?)
}

fn catch_up_on(ledger: &Ledger, conn: &mut DbConn) -> Result<usize, StoreError> {
    let mut applied = 0;
    loop {
        let events = events_after(conn, ledger.revocations().applied_seq(), BATCH)?;
        ledger.revocations().catch_up(&events);
        applied += events.len();
        if (events.len() as i64) < BATCH {
            return Ok(applied);
        }
    }
}

enum Wakeups {
    /// Not subscribed yet, or the subscription was lost.
    Unsubscribed,
    /// PostgreSQL: a connection kept LISTENing.
    Listening(PooledConn),
    /// SQLite: a connection of its own, whose change counter moves when another commits.
    Watching { conn: PooledConn, version: i64 },
    /// Polling only (MariaDB/MySQL; SQLite in memory, whose one connection cannot be kept).
    Unavailable,
}

struct Follower {
    ledger: Ledger,
    interval: Duration,
    wakeups: Wakeups,
    last_catch_up: Option<Instant>,
    /// The pause after this turn, while listening or watching: `NOTIFY_CHECK` after news.
    pause: Duration,
}

impl Follower {
    /// One turn of the loop; returns how long to sleep before the next. `wanted`: a verify
    /// waits for a check (on SQLite the change counter is that check; elsewhere a catch-up).
    fn turn(&mut self, wanted: bool) -> Duration {
        let checked_at = Instant::now();
        let mut news = wanted;
        let mut due = self
            .last_catch_up
            .is_none_or(|last| last.elapsed() >= self.interval)
            || (wanted && !matches!(self.wakeups, Wakeups::Watching { .. }));
        if matches!(self.wakeups, Wakeups::Unsubscribed) {
            // Subscribe first, then catch up: an append committed in between is read by the
            // catch-up; one committed after it notifies.
            self.wakeups = self.subscribe();
            due = true;
        }
        if let Wakeups::Listening(conn) = &mut self.wakeups {
            match db::take_notifications(conn) {
                Ok(None) => {}
                Ok(Some(seq)) => {
                    self.ledger.revocations().observe_head(seq);
                    due = true;
                    news = true;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "ledger follower lost its subscription; resubscribing");
                    self.wakeups = Wakeups::Unsubscribed;
                    return self.interval.min(Duration::from_millis(100));
                }
            }
        }
        if let Wakeups::Watching { conn, version } = &mut self.wakeups {
            match db::change_counter(conn) {
                Ok(Some(now)) if now == *version => {}
                Ok(Some(now)) => {
                    *version = now;
                    due = true;
                    news = true;
                }
                Ok(None) => self.wakeups = Wakeups::Unavailable,
                Err(err) => {
                    tracing::warn!(error = %err, "ledger follower cannot read the change counter; reopening");
                    self.wakeups = Wakeups::Unsubscribed;
                    return self.interval.min(Duration::from_millis(100));
                }
            }
        }
        // A check of the socket or counter that found nothing new proves the state current
        // as of `checked_at`; so does a catch-up begun after it.
        let watching = matches!(
            self.wakeups,
            Wakeups::Listening(_) | Wakeups::Watching { .. }
        );
        if due {
            let caught_up = match &mut self.wakeups {
                Wakeups::Listening(conn) | Wakeups::Watching { conn, .. } => {
                    catch_up_on(&self.ledger, conn)
                }
                _ => catch_up(&self.ledger),
            };
            match caught_up {
                Ok(_) => {
                    self.last_catch_up = Some(Instant::now());
                    self.ledger.revocations().confirm_current(checked_at);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "ledger follower could not catch up; retrying");
                    if watching {
                        self.wakeups = Wakeups::Unsubscribed;
                    }
                }
            }
        } else if matches!(self.wakeups, Wakeups::Watching { .. }) {
            // SQLite's counter was read after every commit that finished before `checked_at`,
            // and had not moved: nothing is missing. (PostgreSQL's empty socket is no such
            // proof: a notification can be in flight after its commit was acknowledged.)
            self.ledger.revocations().confirm_current(checked_at);
        }
        match self.wakeups {
            Wakeups::Listening(_) | Wakeups::Watching { .. } => {
                self.pause = if news {
                    NOTIFY_CHECK
                } else {
                    (self.pause * 2).min(IDLE_CHECK)
                };
                self.pause
            }
            _ => self.interval,
        }
    }

    fn subscribe(&self) -> Wakeups {
        let mut conn = match self.ledger.pool().get() {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "ledger follower cannot reach the database");
                return Wakeups::Unsubscribed;
            }
        };
        match db::listen_for_appends(&mut conn) {
            Ok(true) => Wakeups::Listening(conn),
            // A pool of one connection (SQLite in memory) cannot spare it.
            Ok(false) if self.ledger.pool().max_size() > 1 => match db::change_counter(&mut conn) {
                Ok(Some(version)) => Wakeups::Watching { conn, version },
                Ok(None) => Wakeups::Unavailable,
                Err(err) => {
                    tracing::warn!(error = %err, "ledger follower cannot read the change counter; polling");
                    Wakeups::Unavailable
                }
            },
            Ok(false) => Wakeups::Unavailable,
            Err(err) => {
                tracing::warn!(error = %err, "ledger follower cannot subscribe; polling");
                Wakeups::Unsubscribed
            }
        }
    }
}

/// A background thread that follows the ledger until `stop` is set.
pub fn spawn(
    ledger: Ledger,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let mut follower = Follower {
        ledger,
        interval,
        wakeups: Wakeups::Unsubscribed,
        last_catch_up: None,
        pause: NOTIFY_CHECK,
    };
    std::thread::Builder::new()
        .name(format!("{}-follower", crate::db::BACKGROUND_THREAD_PREFIX))
        .spawn(move || {
            let mut wanted = false;
            while !stop.load(Ordering::Relaxed) {
                let pause = follower.turn(wanted);
                wanted = follower.ledger.revocations().checks().wait(pause);
            }
        })
}
