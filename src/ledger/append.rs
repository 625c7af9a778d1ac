//! Appending events: each gets the next `seq`, is inserted into `token_ledger`, and is folded
//! into the view, all inside the caller's write transaction.

use std::collections::HashMap;

use super::chain;
use super::event::{LedgerEvent, NewEvent};
use super::fold::fold;
use super::view::{self, TokenRow};
use crate::db::schema::token_ledger;
use crate::db::{DbConn, StoreError};

/// Must run inside a write transaction: the seqs are `head + 1 ..`, which is only safe while
/// this transaction holds the database's write lock.
pub fn append(conn: &mut DbConn, events: Vec<NewEvent>) -> Result<Vec<LedgerEvent>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let (head, mut previous) = chain::head(conn)?;
    let stored: Vec<LedgerEvent> = events
        .into_iter()
        .zip(head + 1..)
        .map(|(event, seq)| {
            let mut event = event.with_seq(seq);
            event.hash = chain::link(&previous, &event);
            previous.clone_from(&event.hash);
            event
        })
        .collect();
    for chunk in stored.chunks(500) {
        crate::db::execute_natively(conn, diesel::insert_into(token_ledger::table).values(chunk))?;
    }
    fold_into_view(conn, &stored)?;
    if let Some(last) = stored.last() {
        crate::db::announce_append(conn, last.seq)?;
    }
    Ok(stored)
}

struct Touched {
    before: Option<TokenRow>,
    after: Option<TokenRow>,
}

/// Reads every touched token's row in batches, folds the events into them, then writes back:
/// new rows in multi-row inserts (an import appends thousands at once), removed rows in
/// multi-row deletes (a flush), changed rows one by one, each guarded by the `last_seq` it
/// was read at.
fn fold_into_view(conn: &mut DbConn, events: &[LedgerEvent]) -> Result<(), StoreError> {
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
    for row in view::find_many(conn, &order)? {
        if let Some(entry) = touched.get_mut(row.jti.as_str()) {
            entry.after = Some(row.clone());
            entry.before = Some(row);
        }
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
