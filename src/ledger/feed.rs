//! The revocation feed: every `blacklisted` event, in seq order, for services that verify
//! tokens locally and must learn of revocations (contract section 8).
//!
//! Two reads. [`page`] asks the database (the paged endpoint, and a stream catching up from
//! far behind). [`FeedHub`] serves open streams from memory: one pump thread wakes when this
//! instance applies events (its own commits at once, other writers' through the follower),
//! reads the new revocations up to the applied seq in ONE query, whatever the number of
//! streams, and keeps the recent ones in a bounded ring. So an idle stream holds no database
//! connection, only a `watch` receiver, and a revocation any instance commits reaches every
//! stream as fast as the follower applies it.
//!
//! Why no revocation is skipped: the ring always holds every revocation with a seq in
//! `(start, end]`, and `end` is a seq this instance has applied, so everything up to it is
//! committed and readable (seq order is commit order, see `follower`). A stream at cursor `c`
//! reads from the ring when `c >= start`, else from the database for `(c, start]`, and only
//! moves its cursor over what it has read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::Ledger;
use super::event::{EventKind, LedgerEvent, Reason, TokenType};
use crate::db::schema::token_ledger;
use crate::db::{DbConn, StoreError};
use crate::time::rfc3339;

/// Revocations the ring keeps; a stream further behind reads the database.
pub const RING: usize = 10_000;
/// The most the pump reads per query.
const PUMP_BATCH: i64 = 5_000;
/// The pump looks at the applied seq at least this often, even without a wake-up.
const PUMP_POLL: Duration = Duration::from_millis(250);

/// One revocation as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Revocation {
    #[schema(example = 42)]
    pub seq: i64,
    #[serde(serialize_with = "rfc3339::serialize")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub at: NaiveDateTime,
    #[schema(example = "b9efa14077404f5782f96d712321b071")]
    pub jti: String,
    #[schema(example = "d7fe0e77e33841cf8d8978ba9ff8cd02")]
    pub sid: String,
    #[schema(example = 2)]
    pub user_id: i64,
    pub token_type: TokenType,
    pub reason: Option<Reason>,
    /// When the token would have expired anyway: a deny list may forget it then.
    #[serde(serialize_with = "rfc3339::serialize")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub expires_at: NaiveDateTime,
}

impl From<LedgerEvent> for Revocation {
    fn from(event: LedgerEvent) -> Self {
        Self {
            seq: event.seq,
            at: event.at,
            jti: event.jti,
            sid: event.sid,
            user_id: event.user_id,
            token_type: event.token_type,
            reason: event.reason,
            expires_at: event.expires_at,
        }
    }
}

/// Revocations with `after < seq <= up_to`, oldest first, at most `limit`; with `now`, only
/// those whose token has not expired at `now`.
pub fn page(
    conn: &mut DbConn,
    after: i64,
    up_to: Option<i64>,
    now: Option<NaiveDateTime>,
    limit: i64,
) -> Result<Vec<Revocation>, StoreError> {
    let mut query = token_ledger::table
        .filter(token_ledger::event.eq(EventKind::Blacklisted))
        .filter(token_ledger::seq.gt(after))
        .select(LedgerEvent::as_select())
        .order(token_ledger::seq)
        .limit(limit)
        .into_boxed();
    if let Some(up_to) = up_to {
        query = query.filter(token_ledger::seq.le(up_to));
    }
    if let Some(now) = now {
        query = query.filter(token_ledger::expires_at.gt(crate::db::bindable_instant(conn, now)));
    }
    Ok(query
        .load(conn)?
        .into_iter()
        .map(Revocation::from)
        .collect())
}

/// What a stream gets from the hub for its cursor.
pub enum Next {
    /// Revocations after the cursor (possibly none, when the cursor moved over seqs that
    /// held none), and the cursor to continue from.
    Ready(Vec<Arc<Revocation>>, i64),
    /// The ring no longer reaches back to the cursor: read `(cursor, up_to]` from the database.
    Behind { up_to: i64 },
    /// Nothing new: wait for `changed`.
    Idle,
}

#[derive(Debug, Default)]
struct Ring {
    /// Every revocation with a seq in `(start, end]`, oldest first.
    items: VecDeque<Arc<Revocation>>,
    start: i64,
    end: i64,
}

/// The in-memory side of the feed, shared by every open stream of this instance.
pub struct FeedHub {
    ring: Mutex<Ring>,
    /// The ring's `end`, for streams to wait on.
    end: tokio::sync::watch::Sender<i64>,
    wake: (Mutex<bool>, Condvar),
    open: AtomicUsize,
    /// Set at shutdown: streams end instead of waiting.
    closed: AtomicBool,
}

impl std::fmt::Debug for FeedHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedHub")
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish()
    }
}

/// One open stream's place in the hub's count; gives it back when dropped.
#[derive(Debug)]
pub struct StreamSlot(Arc<FeedHub>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl FeedHub {
    /// A hub starting at `applied` (nothing before it is in the ring).
    pub fn new(applied: i64) -> Arc<Self> {
        let (end, _) = tokio::sync::watch::channel(applied);
        Arc::new(Self {
            ring: Mutex::new(Ring {
                items: VecDeque::new(),
                start: applied,
                end: applied,
            }),
            end,
            wake: (Mutex::new(false), Condvar::new()),
            open: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// A slot for one more stream, unless `max` are open (checked and taken atomically, so a
    /// burst of opens cannot overshoot).
    pub fn open_stream(self: &Arc<Self>, max: usize) -> Option<StreamSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()
            .map(|_| StreamSlot(self.clone()))
    }

    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.end.subscribe()
    }

    /// The newest seq the ring covers.
    pub fn end(&self) -> i64 {
        *self.end.borrow()
    }

    /// What follows `cursor`: at most `limit` revocations from the ring.
    pub fn next(&self, cursor: i64, limit: usize) -> Next {
        let ring = self.lock();
        if cursor >= ring.end {
            return Next::Idle;
        }
        if cursor < ring.start {
            return Next::Behind { up_to: ring.start };
        }
        // The ring is in seq order: skip what the cursor has seen.
        let from = ring.items.partition_point(|item| item.seq <= cursor);
        let items: Vec<_> = ring.items.iter().skip(from).take(limit).cloned().collect();
        let cursor = if items.len() == limit {
            items.last().map_or(ring.end, |item| item.seq)
        } else {
            ring.end
        };
        Next::Ready(items, cursor)
    }

    /// Wakes the pump: this instance applied events.
    pub fn poke(&self) {
        let (flag, condvar) = &self.wake;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        condvar.notify_one();
    }

    /// Ends every stream's wait (shutdown): woken, they see `is_closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.end.send_modify(|_| {});
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A poisoned lock only means a panic elsewhere mid-push: the ring is still ordered.
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_for_poke(&self, timeout: Duration) {
        let (flag, condvar) = &self.wake;
        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = condvar
            .wait_timeout_while(guard, timeout, |poked| !*poked)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }

    /// One turn of the pump: brings the ring up to what `ledger` has applied.
    fn pump(&self, ledger: &Ledger) -> Result<(), StoreError> {
        let applied = ledger.revocations().applied_seq();
        let end = self.lock().end;
        if applied <= end {
            return Ok(());
        }
        if self.end.receiver_count() == 0 {
            // Nobody streams: nothing to keep. A stream opened later starts from the
            // database up to here (`Behind`), then follows the ring.
            let mut ring = self.lock();
            ring.items.clear();
            ring.start = applied;
            ring.end = applied;
        } else {
            let mut from = end;
            let mut conn = ledger.pool().get()?;
            loop {
                let read = page(&mut conn, from, Some(applied), None, PUMP_BATCH)?;
                let full = read.len() as i64 == PUMP_BATCH;
                let mut ring = self.lock();
                from = if full {
                    read.last().map_or(applied, |item| item.seq)
                } else {
                    applied
                };
                ring.items.extend(read.into_iter().map(Arc::new));
                while ring.items.len() > RING {
                    if let Some(dropped) = ring.items.pop_front() {
                        ring.start = dropped.seq;
                    }
                }
                ring.end = from;
                if !full {
                    break;
                }
            }
        }
        self.end.send_replace(applied);
        Ok(())
    }
}

/// The pump thread, until `stop` is set; `ledger`'s applied events wake it.
pub fn spawn(
    ledger: Ledger,
    hub: Arc<FeedHub>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let poked = hub.clone();
    ledger
        .revocations()
        .observe(Box::new(move |_| poked.poke()));
    std::thread::Builder::new()
        .name(format!("{}-feed", crate::db::BACKGROUND_THREAD_PREFIX))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(err) = hub.pump(&ledger) {
                    tracing::warn!(error = %err, "revocation feed could not read the ledger; retrying");
                }
                hub.wait_for_poke(PUMP_POLL);
            }
            hub.close();
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(seq: i64) -> Arc<Revocation> {
        Arc::new(Revocation {
            seq,
            at: NaiveDateTime::default(),
            jti: format!("{seq:032x}"),
            sid: "s".into(),
            user_id: 1,
            token_type: TokenType::Access,
            reason: Some(Reason::Logout),
            expires_at: NaiveDateTime::default(),
        })
    }

    #[test]
    fn a_cursor_is_served_from_the_ring_or_sent_to_the_database_never_past_a_gap() {
        let hub = FeedHub::new(10);
        {
            let mut ring = hub.lock();
            ring.items.extend([12, 15, 19].map(revocation));
            ring.end = 20;
        }
        assert!(matches!(hub.next(20, 10), Next::Idle));
        assert!(matches!(hub.next(4, 10), Next::Behind { up_to: 10 }));
        let Next::Ready(items, cursor) = hub.next(12, 10) else {
            panic!("from the ring")
        };
        assert_eq!(items.iter().map(|i| i.seq).collect::<Vec<_>>(), [15, 19]);
        assert_eq!(cursor, 20);
        // A short page continues from its last item, not from the end.
        let Next::Ready(items, cursor) = hub.next(10, 1) else {
            panic!("from the ring")
        };
        assert_eq!((items[0].seq, cursor), (12, 12));
    }

    #[test]
    fn the_stream_cap_holds_under_a_burst_and_frees_slots_on_drop() {
        let hub = FeedHub::new(0);
        let slots: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..32)
                .map(|_| scope.spawn(|| hub.open_stream(5)))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .collect()
        });
        assert_eq!(slots.len(), 5);
        assert_eq!(hub.open_streams(), 5);
        drop(slots);
        assert_eq!(hub.open_streams(), 0);
    }
}
