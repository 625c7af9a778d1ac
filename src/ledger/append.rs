//! Appending events, inside a write transaction: each gets the next `seq` and its link of the
//! hash chain, computed in Rust from the ledger's tail; the fold runs over them in memory and
//! writes each touched view row once; the events are inserted in multi-row statements.

use std::collections::HashMap;

use super::chain;
use super::event::{LedgerEvent, NewEvent};
use super::fold::fold;
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
    /// View rows the command read in this transaction and decided on (still current: the
    /// transaction holds the write lock). The fold starts from them instead of reading them
    /// again; a flush of a million tokens spent an eighth of its time on that second read.
    pub(super) read: Vec<TokenRow>,
}

impl<T> Decision<T> {
    pub fn new(events: Vec<NewEvent>, outcome: T) -> Self {
        Self {
            events,
            outcome,
            read: Vec::new(),
        }
    }

    pub fn nothing(outcome: T) -> Self {
        Self::new(Vec::new(), outcome)
    }

    /// The same decision, telling the fold the view rows it was made on.
    pub fn decided_on(mut self, rows: Vec<TokenRow>) -> Self {
        self.read = rows;
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
/// them into the view. The events themselves are not written yet: a batch's events go into
/// `token_ledger` together, in multi-row statements, just before its commit (`insert`).
pub fn stage(
    conn: &mut DbConn,
    tail: &mut Tail,
    events: Vec<NewEvent>,
    read: Vec<TokenRow>,
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

/// Writes staged events into `token_ledger`, in seq order and multi-row statements, and
/// tells the other instances (PostgreSQL's NOTIFY, delivered at commit).
pub fn insert(conn: &mut DbConn, stored: &[LedgerEvent]) -> Result<(), StoreError> {
    for chunk in stored.chunks(500) {
        crate::db::execute_natively(conn, diesel::insert_into(token_ledger::table).values(chunk))?;
    }
    if let Some(last) = stored.last() {
        crate::db::announce_append(conn, last.seq)?;
    }
    Ok(())
}

struct Touched {
    before: Option<TokenRow>,
    after: Option<TokenRow>,
}

/// Reads every touched token's row in batches (but those the writer already read), folds the
/// events into them, then writes back: new rows in multi-row inserts (an import appends
/// thousands at once), removed rows in multi-row deletes (a flush), changed rows one by one,
/// each guarded by the `last_seq` it was read at.
fn fold_into_view(
    conn: &mut DbConn,
    events: &[LedgerEvent],
    read: Vec<TokenRow>,
) -> Result<(), StoreError> {
    let mut order: Vec<&str> = Vec::new();
    let mut touched: HashMap<&str, Touched> = HashMap::new();
    for event in events {
        let jti = event.jti.as_str();
        if !touched.contains_key(jti) {
            order.push(jti);
            touched.insert(
                jti,
                Touched {
                    before: None,
                    after: None,
                },
            );
        }
    }
    let known = |row: TokenRow, touched: &mut HashMap<&str, Touched>| {
        if let Some(entry) = touched.get_mut(row.jti.as_str()) {
            entry.after = Some(row.clone());
            entry.before = Some(row);
        }
    };
    for row in read {
        known(row, &mut touched);
    }
    let unread: Vec<&str> = order
        .iter()
        .copied()
        .filter(|jti| touched.get(jti).is_some_and(|entry| entry.before.is_none()))
        .collect();
    for row in view::find_many(conn, &unread)? {
        known(row, &mut touched);
    }
    for event in events {
        if let Some(entry) = touched.get_mut(event.jti.as_str()) {
            entry.after = fold(entry.after.take(), event);
        }
    }
    let mut inserted = Vec::new();
    let mut removed = Vec::new();
    for jti in order {
        let Some(Touched { before, after }) = touched.remove(jti) else {
            continue;
        };
        match (before, after) {
            (None, Some(row)) => inserted.push(row),
            (Some(before), Some(row)) => view::replace(conn, &before, &row)?,
            // A flush removes thousands at once: in multi-row deletes.
            (Some(before), None) => removed.push((jti, before.last_seq)),
            (None, None) => {}
        }
    }
    view::remove_many(conn, &removed)?;
    view::insert_many(conn, &inserted)
}
