//! Replaying the whole ledger through the fold: `view rebuild` and `view check`.
//!
//! The fold is per token: a token's row depends only on its own events, in seq order. So the
//! stored ledger is replayed token by token, reading it in (jti, seq) order through the
//! `token_ledger_jti` index a page at a time: memory holds one page and one token's row, at
//! any ledger size. Nothing compares jtis in Rust, so the database's collation (whatever order
//! it sorts text in) cannot make a replayed row miss its stored one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use diesel::prelude::*;

use super::event::LedgerEvent;
use super::fold::fold;
use super::view::{self, TokenRow};
use crate::db::schema::token_ledger;
use crate::db::{DbConn, StoreError, bulk_load, write_transaction};

/// Events read per query, and rows written or compared per batch.
const PAGE: i64 = 10_000;

/// The view as the ledger defines it: every event, in seq order, through the fold.
pub fn replay<I: IntoIterator<Item = LedgerEvent>>(events: I) -> BTreeMap<String, TokenRow> {
    let mut rows = BTreeMap::new();
    for event in events {
        let before = rows.remove(&event.jti);
        if let Some(after) = fold(before, &event) {
            rows.insert(event.jti.clone(), after);
        }
    }
    rows
}

/// One token's events, folded as they arrive.
struct Token {
    jti: String,
    last_seq: i64,
    row: Option<TokenRow>,
}

/// Replays the stored ledger token by token: `emit` gets each batch of replayed rows (tokens
/// whose events all ended in the view; those a final `expired` removed are not rows), and
/// `progress` the events read so far.
pub fn replay_stored(
    conn: &mut DbConn,
    mut emit: impl FnMut(&mut DbConn, Vec<TokenRow>) -> Result<(), StoreError>,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let mut current: Option<Token> = None;
    let mut done = 0u64;
    let mut batch = Vec::new();
    loop {
        // The rest of the current token first (a token may have more events than a page),
        // then the tokens after it.
        let mut page = match &current {
            Some(token) => token_ledger::table
                .filter(token_ledger::jti.eq(&token.jti))
                .filter(token_ledger::seq.gt(token.last_seq))
                .order(token_ledger::seq)
                .limit(PAGE)
                .select(LedgerEvent::as_select())
                .load(conn)?,
            None => Vec::new(),
        };
        let continued = !page.is_empty();
        if !continued {
            let next = token_ledger::table.order((token_ledger::jti, token_ledger::seq));
            page = match &current {
                Some(token) => next
                    .filter(token_ledger::jti.gt(&token.jti))
                    .limit(PAGE)
                    .select(LedgerEvent::as_select())
                    .load(conn)?,
                None => next
                    .limit(PAGE)
                    .select(LedgerEvent::as_select())
                    .load(conn)?,
            };
        }
        if page.is_empty() {
            break;
        }
        done += page.len() as u64;
        for event in page {
            let same = current.as_ref().is_some_and(|token| token.jti == event.jti);
            if !same {
                if let Some(row) = current.take().and_then(|token| token.row) {
                    batch.push(row);
                }
                current = Some(Token {
                    jti: event.jti.clone(),
                    last_seq: 0,
                    row: None,
                });
            }
            if let Some(token) = current.as_mut() {
                token.last_seq = event.seq;
                token.row = fold(token.row.take(), &event);
            }
        }
        if batch.len() as i64 >= PAGE {
            emit(conn, std::mem::take(&mut batch))?;
        }
        progress(done);
    }
    if let Some(row) = current.and_then(|token| token.row) {
        batch.push(row);
    }
    if !batch.is_empty() {
        emit(conn, batch)?;
    }
    Ok(done)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: u64,
    pub rows: usize,
}

/// Throws the view away and replays the ledger into a fresh one, in one transaction.
pub fn rebuild(conn: &mut DbConn, progress: impl FnMut(u64)) -> Result<RebuildReport, StoreError> {
    bulk_load::with_temp_files(conn, |conn| {
        write_transaction(conn, |conn| {
            view::clear(conn)?;
            bulk_load::without_indexes(conn, "token_view", |conn| {
                let mut rows = 0;
                let events = replay_stored(
                    conn,
                    |conn, batch| {
                        rows += batch.len();
                        view::insert_many(conn, &batch)
                    },
                    progress,
                )?;
                Ok(RebuildReport { events, rows })
            })
        })
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

/// Compares the stored view with a replay of the ledger, both read in one snapshot. Each
/// batch of replayed rows is compared with the stored rows of the same jtis; if fewer stored
/// rows matched than the view holds, a second pass finds the view's rows no replay yields.
pub fn check(
    conn: &mut DbConn,
    progress: impl FnMut(u64),
) -> Result<Vec<ViewDifference>, StoreError> {
    crate::db::read_snapshot(conn, |conn| {
        let mut differences = Vec::new();
        let mut found = 0u64;
        replay_stored(
            conn,
            |conn, replayed| {
                let jtis: Vec<&str> = replayed.iter().map(|row| row.jti.as_str()).collect();
                let mut stored: HashMap<String, TokenRow> = view::find_many(conn, &jtis)?
                    .into_iter()
                    .map(|row| (row.jti.clone(), row))
                    .collect();
                for replayed_row in replayed {
                    match stored.remove(&replayed_row.jti) {
                        None => differences.push(ViewDifference::MissingFromView(replayed_row)),
                        Some(stored_row) => {
                            found += 1;
                            if stored_row != replayed_row {
                                differences.push(ViewDifference::Differs {
                                    replayed: replayed_row,
                                    stored: stored_row,
                                });
                            }
                        }
                    }
                }
                Ok(())
            },
            progress,
        )?;
        if view::count(conn)? > found {
            differences.extend(not_in_replay(conn)?);
        }
        Ok::<_, StoreError>(differences)
    })
}

/// The view's rows whose own events fold to nothing (or that have no events at all).
fn not_in_replay(conn: &mut DbConn) -> Result<Vec<ViewDifference>, StoreError> {
    let mut extra = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = view::page_by_jti(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.jti.clone());
        let jtis: Vec<&str> = page.iter().map(|row| row.jti.as_str()).collect();
        let replayed = replay(events_of(conn, &jtis)?);
        extra.extend(
            page.into_iter()
                .filter(|row| !replayed.contains_key(&row.jti))
                .map(ViewDifference::NotInReplay),
        );
    }
    Ok(extra)
}

/// Every event of these tokens, in seq order.
fn events_of(conn: &mut DbConn, jtis: &[&str]) -> Result<Vec<LedgerEvent>, StoreError> {
    let mut events = Vec::new();
    for chunk in jtis.chunks(500) {
        events.extend(
            token_ledger::table
                .filter(token_ledger::jti.eq_any(chunk))
                .select(LedgerEvent::as_select())
                .load(conn)?,
        );
    }
    events.sort_by_key(|event| event.seq);
    Ok(events)
}
