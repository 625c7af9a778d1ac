//! Appending events, inside a write transaction: each gets the next `seq` and its link of the
//! hash chain, computed in Rust from the ledger's tail; the fold runs over them in memory and
//! leaves each touched view row pending (`pending`) until the batch writes them all, and its
//! events, in multi-row statements.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::chain;
use super::event::{LedgerEvent, NewEvent};
use super::fold::fold;
use super::pending;
use super::view::{self, TokenRow};
use crate::db::schema::token_ledger;
use crate::db::{DbConn, StoreError};

/// Where the ledger ends: the last seq and hash, which the next event follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    seq: i64,
    hash: String,
}

/// The ledger's tail as the database has it. Must run inside a write transaction: the seqs
/// that follow it are only safe while this transaction holds the database's write lock.
pub fn tail(conn: &mut DbConn) -> Result<Tail, StoreError> {
    let (seq, hash) = chain::head(conn)?;
    Ok(Tail { seq, hash })
}

/// What a command decided inside a write transaction: events to append, and its answer.
pub struct Decision<T> {
    pub events: Vec<NewEvent>,
    pub outcome: T,
    /// With [`Decision::decided_on`]: the view rows of every token the events name, read in
    /// this transaction (still current: it holds the write lock), so the fold reads nothing.
    /// `None`: the fold looks the tokens up itself.
    pub(super) read: Option<Vec<TokenRow>>,
}

impl<T> Decision<T> {
    pub fn new(events: Vec<NewEvent>, outcome: T) -> Self {
        Self {
            events,
            outcome,
            read: None,
        }
    }

    pub fn nothing(outcome: T) -> Self {
        Self::new(Vec::new(), outcome)
    }

    /// The same decision, telling the fold the view rows it was made on: every row the view
    /// holds of the tokens its events name. Any other token they name must not be in the
    /// view (a jti minted by this decision, or one the command looked up and did not find);
    /// debug builds check that against the database. A second read of the same rows was an
    /// eighth of a million-token flush, and one query of every logout and refresh.
    pub fn decided_on(mut self, rows: Vec<TokenRow>) -> Self {
        self.read = Some(rows);
        self
    }

    /// The same events, with the answer turned into another.
    pub fn map<U>(self, answer: impl FnOnce(T) -> U) -> Decision<U> {
        Decision {
            events: self.events,
            outcome: answer(self.outcome),
            read: self.read,
        }
    }
}

/// Gives the events the seqs and hashes that follow `tail` (which moves past them), and folds
/// them into the view's rows, which stay pending. Neither is written yet: a batch's view rows
/// and events go in together, in multi-row statements, just before its commit (`insert`).
pub fn stage(
    conn: &mut DbConn,
    tail: &mut Tail,
    events: Vec<NewEvent>,
    read: Option<Vec<TokenRow>>,
) -> Result<Vec<LedgerEvent>, StoreError> {
    let stored: Vec<LedgerEvent> = events
        .into_iter()
        .map(|event| {
            tail.seq += 1;
            let mut event = event.with_seq(tail.seq);
            event.hash = chain::link(&tail.hash, &event);
            tail.hash.clone_from(&event.hash);
            event
        })
        .collect();
    fold_into_view(conn, &stored, read)?;
    Ok(stored)
}

/// Writes the batch's pending view rows (`pending::settle`), then its staged events into
/// `token_ledger`, in seq order and multi-row statements of fixed sizes (`db::insert_rows`),
/// and tells the other instances (PostgreSQL's NOTIFY, delivered at commit).
pub fn insert(conn: &mut DbConn, stored: &[LedgerEvent]) -> Result<(), StoreError> {
    pending::settle(conn)?;
    crate::db::insert_rows!(conn, token_ledger::table, stored)?;
    if let Some(last) = stored.last() {
        crate::db::announce_append(conn, last.seq)?;
    }
    Ok(())
}

/// Folds the events into the rows they touch, as the batch has them: a row an earlier event
/// of the batch touched from `pending`, any other from the rows the decision was made on (or,
/// without them, read here). The rows stay pending (`pending`: written out in bulk before the
/// batch's ledger insert) and every later read of the batch sees them.
fn fold_into_view(
    conn: &mut DbConn,
    events: &[LedgerEvent],
    read: Option<Vec<TokenRow>>,
) -> Result<(), StoreError> {
    // Each touched token, in the order first touched: its row as the database holds it and as
    // folded so far, and whether the batch had it already. Hashed: a flush batch touches a
    // thousand (a list searched per event made a million-token flush a fifth slower).
    let mut order: Vec<&str> = Vec::new();
    let mut touched: HashMap<&str, Folding> = HashMap::with_capacity(events.len());
    for event in events {
        let jti = event.jti.as_str();
        if let Entry::Vacant(slot) = touched.entry(jti) {
            order.push(jti);
            slot.insert(match pending::get(jti) {
                Some(now) => Folding::batch(now),
                None => Folding::unread(),
            });
        }
    }
    let unread: Vec<&str> = order
        .iter()
        .copied()
        .filter(|jti| touched.get(jti).is_some_and(|entry| !entry.in_batch))
        .collect();
    let stored = match read {
        Some(read) => {
            if cfg!(debug_assertions) {
                let given: HashSet<&str> = read.iter().map(|row| row.jti.as_str()).collect();
                let left_out: Vec<&str> = unread
                    .iter()
                    .copied()
                    .filter(|jti| !given.contains(jti))
                    .collect();
                let missed = view::find_many(conn, &left_out)?;
                assert!(
                    missed.is_empty(),
                    "a decision said it was made on every view row its events touch, but not on {:?}",
                    missed.iter().map(|row| &row.jti).collect::<Vec<_>>()
                );
            }
            read
        }
        None => view::find_many(conn, &unread)?,
    };
    for row in stored {
        if let Some(entry) = touched.get_mut(row.jti.as_str())
            && !entry.in_batch
        {
            entry.stored = Some(row.clone());
            entry.now = Some(row);
        }
    }
    for event in events {
        if let Some(entry) = touched.get_mut(event.jti.as_str()) {
            entry.now = fold(entry.now.take(), event);
        }
    }
    for jti in order {
        if let Some(entry) = touched.remove(jti) {
            pending::record(jti, entry.stored, entry.now);
        }
    }
    Ok(())
}

/// One touched token's row while its events fold.
struct Folding {
    /// As the database holds it (kept by `pending` from the batch's first touch).
    stored: Option<TokenRow>,
    now: Option<TokenRow>,
    /// An earlier event of the batch touched it: `now` is as the batch left it.
    in_batch: bool,
}

impl Folding {
    fn batch(now: Option<TokenRow>) -> Self {
        Self {
            stored: None,
            now,
            in_batch: true,
        }
    }

    fn unread() -> Self {
        Self {
            stored: None,
            now: None,
            in_batch: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;
    use crate::ledger::event::{Reason, TokenRef};
    use crate::ledger::view::TokenState;
    use crate::time::at;

    fn token() -> TokenRef {
        TokenRef::for_tests()
    }

    /// Appends `events` as one writer would: staged after the tail, then inserted.
    fn append(conn: &mut DbConn, events: Vec<NewEvent>, read: Option<Vec<TokenRow>>) {
        let mut tail = tail(conn).expect("the tail");
        let stored = stage(conn, &mut tail, events, read).expect("staged");
        insert(conn, &stored).expect("inserted");
    }

    /// The test token's `issued` event, appended to an empty view.
    fn issue(conn: &mut DbConn) {
        append(
            conn,
            vec![NewEvent::issued(token(), None, at(0))],
            Some(Vec::new()),
        );
    }

    #[test]
    fn a_blacklisting_writes_the_new_state_and_keeps_what_the_token_is() {
        let (_dir, pool) = db::scratch_pool();
        let conn = &mut *pool.get().expect("a connection");
        let issued = NewEvent::issued(token(), Some("p".repeat(32)), at(0));
        append(conn, vec![issued], Some(Vec::new()));
        let before = view::find(conn, &token().jti)
            .expect("read")
            .expect("a row");
        let blacklisted = NewEvent::blacklisted(token(), Reason::Logout, at(5));
        append(conn, vec![blacklisted], Some(vec![before.clone()]));

        let after = view::find(conn, &token().jti)
            .expect("read")
            .expect("a row");
        assert_eq!(
            after,
            TokenRow {
                state: TokenState::Blacklisted,
                blacklisted_at: Some(at(5)),
                reason: Some(Reason::Logout),
                last_seq: before.last_seq + 1,
                ..before
            }
        );
    }

    #[test]
    fn a_stale_row_is_a_conflict_not_a_lost_update() {
        let (_dir, pool) = db::scratch_pool();
        let conn = &mut *pool.get().expect("a connection");
        issue(conn);
        let stale = view::find(conn, &token().jti)
            .expect("read")
            .expect("a row");
        append(
            conn,
            vec![NewEvent::rotated(token(), at(1))],
            Some(vec![stale.clone()]),
        );
        let mut tail = tail(conn).expect("the tail");
        let late = NewEvent::blacklisted(token(), Reason::Logout, at(2));
        // Found when the batch writes its view rows out, before its events go in.
        let refused = stage(conn, &mut tail, vec![late], Some(vec![stale]))
            .and_then(|stored| insert(conn, &stored));
        assert!(matches!(refused, Err(StoreError::Conflict)));
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "every view row its events touch")]
    fn a_decision_that_leaves_out_a_row_it_touches_is_caught_in_debug_builds() {
        let (_dir, pool) = db::scratch_pool();
        let conn = &mut *pool.get().expect("a connection");
        issue(conn);
        // Without the row, the fold would see no token and silently drop the blacklisting.
        let blacklisted = NewEvent::blacklisted(token(), Reason::Logout, at(5));
        append(conn, vec![blacklisted], Some(Vec::new()));
    }
}
