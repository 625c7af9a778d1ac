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

/// One writer's share of a batch: its events, and the view rows it read in this transaction
/// and decided on, which the fold starts from instead of reading them again.
#[derive(Debug, Default)]
pub struct Staging {
    pub events: Vec<NewEvent>,
    pub read: Vec<TokenRow>,
}

/// Gives the events the seqs and hashes that follow `tail` (which moves past them), and folds
/// them into the view. The events themselves are not written yet: a batch's events go into
/// `token_ledger` together, in multi-row statements, just before its commit (`insert`).
pub fn stage(
    conn: &mut DbConn,
    tail: &mut Tail,
    staging: Staging,
) -> Result<Vec<LedgerEvent>, StoreError> {
    let Staging { events, read } = staging;
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

/// Reads every touched token's row in batches (but those the writer already read), folds the events into them, then writes back:
/// new rows in multi-row inserts (an import appends thousands at once), removed rows in
/// multi-row deletes (a flush), changed rows one by one, each guarded by the `last_seq` it
/// was read at.
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
            (Some(before), Some(row)) => view::replace(conn, &row, before.last_seq)?,
            // A flush removes thousands at once: in multi-row deletes.
            (Some(before), None) => removed.push((jti, before.last_seq)),
            (None, None) => {}
        }
    }
    view::remove_many(conn, &removed)?;
    view::insert_many(conn, &inserted)
}
