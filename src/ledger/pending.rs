//! The view rows a write batch has folded but not yet written, kept on the thread that runs
//! the batch (the ledger's writer) until it writes them all at once.
//!
//! Why: on PostgreSQL every statement under the write lock is a round trip, and the lock's
//! hold time is what bounds writes on every instance. A refresh wrote its token's row and its
//! two new ones as it decided (two round trips per job); now a batch's new and changed rows
//! go in a few multi-row statements just before its commit.
//!
//! So that no job decides on a row as the database still has it when an earlier job of the
//! batch changed it, every read of the view sees these rows: a read by jti (`view::find`,
//! `view::find_many`) answers from here for a row the batch touched, and every other read of
//! the view (by session, user, expiry...) writes them out first ([`settle`]). Reads on other
//! threads find nothing here: what a batch has not committed is not theirs to see.
//!
//! The writer writes them out ([`settle`]) before its ledger insert, around any job that runs
//! in a savepoint of its own, and drops them ([`discard`]) whenever it rolls back. A write-out
//! that fails part-way leaves the transaction with half of it: the batch is marked broken,
//! and its next write-out (at the latest, before the commit) fails, so the batch rolls back.

use std::cell::RefCell;
use std::collections::HashMap;

use super::token_row::TokenRow;
use super::view_write;
use crate::db::{DbConn, StoreError};

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

#[derive(Default)]
struct Pending {
    /// The touched tokens, in the order the batch first touched them.
    rows: Vec<Touched>,
    /// Where each touched jti's entry is in `rows`.
    index: HashMap<String, usize>,
    /// Why a write-out failed part-way, if one did: the batch cannot commit.
    broken: Option<String>,
}

/// A touched token: its row as the database holds it (`None`: not in the view), and as the
/// batch's events have left it (`None`: gone from the view).
struct Touched {
    stored: Option<TokenRow>,
    now: Option<TokenRow>,
}

/// What the batch has made of `jti`'s row: `None` if it has not touched it (the database's
/// row stands), `Some(None)` if it removed it.
pub(super) fn get(jti: &str) -> Option<Option<TokenRow>> {
    PENDING.with_borrow(|pending| {
        let at = *pending.index.get(jti)?;
        Some(pending.rows[at].now.clone())
    })
}

/// Records `jti`'s row as `now`. `stored` is the row the database holds, which the write-out
/// guards against (it must still be there, unchanged); it is kept from the first touch.
pub(super) fn record(jti: &str, stored: Option<TokenRow>, now: Option<TokenRow>) {
    PENDING.with_borrow_mut(|pending| match pending.index.get(jti) {
        Some(&at) => pending.rows[at].now = now,
        None => {
            pending.index.insert(jti.to_owned(), pending.rows.len());
            pending.rows.push(Touched { stored, now });
        }
    });
}

/// Writes every pending row to the view (in this thread's transaction) and forgets them.
pub fn settle(conn: &mut DbConn) -> Result<(), StoreError> {
    let rows = PENDING.with_borrow_mut(|pending| match &pending.broken {
        // Stays broken until the batch rolls back.
        Some(reason) => Err(StoreError::Unavailable(reason.clone())),
        None => {
            // Cleared, not dropped: the index keeps its capacity for the next batch.
            pending.index.clear();
            Ok(std::mem::take(&mut pending.rows))
        }
    })?;
    if rows.is_empty() {
        return Ok(());
    }
    let written = write_out(conn, rows);
    if let Err(err) = &written {
        PENDING.with_borrow_mut(|pending| {
            pending.broken = Some(format!("writing the batch's view rows failed: {err}"));
        });
    }
    written
}

/// Forgets the pending rows (their transaction is rolled back), and that a write-out failed.
pub fn discard() {
    PENDING.with_borrow_mut(|pending| {
        pending.index.clear();
        pending.rows.clear();
        pending.broken = None;
    });
}

/// New rows in multi-row inserts, removed rows in multi-row deletes, changed rows in one
/// statement on PostgreSQL (`view_write::replace_many`); each guarded by the `last_seq` it was read
/// at.
fn write_out(conn: &mut DbConn, touched: Vec<Touched>) -> Result<(), StoreError> {
    let mut inserted = Vec::new();
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for Touched { stored, now } in touched {
        match (stored, now) {
            (None, Some(row)) => inserted.push(row),
            (Some(stored), Some(row)) => changed.push((stored, row)),
            (Some(stored), None) => removed.push((stored.jti, stored.last_seq)),
            (None, None) => {}
        }
    }
    let removed: Vec<(&str, i64)> = removed
        .iter()
        .map(|(jti, seq)| (jti.as_str(), *seq))
        .collect();
    view_write::remove_many(conn, &removed)?;
    view_write::replace_many(conn, &changed)?;
    view_write::insert_many(conn, &inserted)
}
