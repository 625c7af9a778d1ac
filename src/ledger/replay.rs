//! Replaying the whole ledger through the fold: `view rebuild` and `view check`.

use std::collections::BTreeMap;
use std::fmt;

use super::append::events_after;
use super::event::LedgerEvent;
use super::fold::fold;
use super::view::{self, TokenRow};
use crate::db::{DbConn, StoreError, write_transaction};

const PAGE: i64 = 10_000;

/// The view as the ledger defines it: every event, in seq order, through the fold.
pub fn replay<I: IntoIterator<Item = LedgerEvent>>(events: I) -> BTreeMap<String, TokenRow> {
    let mut rows = BTreeMap::new();
    for event in events {
        fold_one(&mut rows, &event);
    }
    rows
}

fn fold_one(rows: &mut BTreeMap<String, TokenRow>, event: &LedgerEvent) {
    let before = rows.remove(&event.jti);
    if let Some(after) = fold(before, event) {
        rows.insert(event.jti.clone(), after);
    }
}

/// Replays the stored ledger page by page, calling `progress` with the events done so far.
pub fn replay_stored(
    conn: &mut DbConn,
    mut progress: impl FnMut(u64),
) -> Result<BTreeMap<String, TokenRow>, StoreError> {
    let mut rows = BTreeMap::new();
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let page = events_after(conn, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        done += page.len() as u64;
        for event in &page {
            fold_one(&mut rows, event);
        }
        progress(done);
    }
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: u64,
    pub rows: usize,
}

/// Throws the view away and replays the ledger into a fresh one, in one transaction.
pub fn rebuild(conn: &mut DbConn, progress: impl FnMut(u64)) -> Result<RebuildReport, StoreError> {
    write_transaction(conn, |conn| {
        let mut events = 0;
        let rows = replay_stored(conn, |done| {
            events = done;
        })?;
        view::clear(conn)?;
        let rows: Vec<TokenRow> = rows.into_values().collect();
        view::insert_many(conn, &rows)?;
        Ok::<_, StoreError>((events, rows.len()))
    })
    .map(|(events, rows)| {
        let mut progress = progress;
        progress(events);
        RebuildReport { events, rows }
    })
}

/// A row where the stored view and the replay disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewDifference {
    MissingFromView(TokenRow),
    NotInReplay(TokenRow),
    Differs {
        replayed: TokenRow,
        stored: TokenRow,
    },
}

impl fmt::Display for ViewDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingFromView(row) => {
                write!(f, "{}: in the replay, missing from the view", row.jti)
            }
            Self::NotInReplay(row) => write!(f, "{}: in the view, not in the replay", row.jti),
            Self::Differs { replayed, stored } => {
                write!(
                    f,
                    "{}: view has {stored:?}, replay has {replayed:?}",
                    stored.jti
                )
            }
        }
    }
}

/// Compares the stored view with a replay of the ledger, both read in one snapshot.
pub fn check(
    conn: &mut DbConn,
    progress: impl FnMut(u64),
) -> Result<Vec<ViewDifference>, StoreError> {
    let (mut replayed, stored) = crate::db::read_snapshot(conn, |conn| {
        let replayed = replay_stored(conn, progress)?;
        let stored = view::all(conn)?;
        Ok::<_, StoreError>((replayed, stored))
    })?;
    let mut differences = Vec::new();
    for stored_row in stored {
        match replayed.remove(&stored_row.jti) {
            None => differences.push(ViewDifference::NotInReplay(stored_row)),
            Some(replayed_row) if replayed_row != stored_row => {
                differences.push(ViewDifference::Differs {
                    replayed: replayed_row,
                    stored: stored_row,
                })
            }
            Some(_) => {}
        }
    }
    differences.extend(replayed.into_values().map(ViewDifference::MissingFromView));
    Ok(differences)
}
