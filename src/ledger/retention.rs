//! Retention: the ledger grows forever unless old events leave it. They leave only by
//! `ledger compact`, which first exports them to a JSON Lines file, then removes them and
//! records the compaction (up to which seq, that event's hash, how many, the export's
//! SHA-256) in `ledger_compactions`, so `ledger verify` checks the rest of the chain from there
//! and auditors can prove the export is what was removed.
//!
//! Only events that no token still in the view needs are removed: everything up to just
//! before the oldest `issued` event of a token the view holds, so `view rebuild` still
//! reproduces the view from what remains.

use std::fs::File;
use std::io::{BufWriter, Write};

use chrono::NaiveDateTime;
use diesel::dsl::{max, min};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::chain;
use super::event::EventKind;
use super::log::events_after;
use crate::db::schema::{ledger_compactions, token_ledger, token_view};
use crate::db::{DbConn, StoreError, write_transaction};

const PAGE: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write the export: {0}")]
    Export(#[from] std::io::Error),
    #[error("could not encode an event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the ledger fails verification at seq {0}; compacting would hide it")]
    Broken(i64),
}

impl From<diesel::result::Error> for RetentionError {
    fn from(err: diesel::result::Error) -> Self {
        RetentionError::Store(err.into())
    }
}

/// What a compaction did (or, with nothing to remove, `removed == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub removed: u64,
    pub first_seq: i64,
    pub up_to_seq: i64,
    pub up_to_hash: String,
    pub export_sha256: String,
}

/// The newest seq that may go: before `before`, and before any event of a token still held.
pub fn removable_up_to(conn: &mut DbConn, before: NaiveDateTime) -> Result<i64, StoreError> {
    let old = token_ledger::table
        .filter(token_ledger::at.lt(before))
        .select(max(token_ledger::seq))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let oldest_held = token_ledger::table
        .filter(token_ledger::event.eq(EventKind::Issued))
        .filter(token_ledger::jti.eq_any(token_view::table.select(token_view::jti)))
        .select(min(token_ledger::seq))
        .first::<Option<i64>>(conn)?;
    Ok(match oldest_held {
        Some(seq) => old.min(seq - 1),
        None => old,
    })
}

/// Exports the removable events older than `before` to `export` (which is written and synced
/// before anything is removed), then removes them and records the compaction, in one write
/// transaction. Refuses to compact a ledger that does not verify.
pub fn compact(
    conn: &mut DbConn,
    before: NaiveDateTime,
    export: &mut BufWriter<File>,
) -> Result<Compaction, RetentionError> {
    if let Some(bad) = chain::verify(conn, |_| {})?.first_bad {
        return Err(RetentionError::Broken(bad.seq));
    }
    write_transaction(conn, |conn| {
        let (anchor_seq, anchor_hash) = chain::anchor(conn)?;
        let up_to = removable_up_to(conn, before)?;
        let mut digest = Sha256::new();
        let mut removed = 0u64;
        let mut last_hash = anchor_hash;
        let mut after = anchor_seq;
        while after < up_to {
            let page = events_after(conn, after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for event in page.iter().take_while(|event| event.seq <= up_to) {
                let mut line = serde_json::to_vec(event)?;
                line.push(b'\n');
                digest.update(&line);
                export.write_all(&line)?;
                removed += 1;
                last_hash.clone_from(&event.hash);
            }
        }
        export.flush()?;
        export.get_ref().sync_all()?;
        let export_sha256 = hex::encode(digest.finalize());
        if removed == 0 {
            return Ok(Compaction {
                removed,
                first_seq: anchor_seq + 1,
                up_to_seq: anchor_seq,
                up_to_hash: last_hash,
                export_sha256,
            });
        }
        diesel::delete(token_ledger::table.filter(token_ledger::seq.le(up_to))).execute(conn)?;
        diesel::insert_into(ledger_compactions::table)
            .values((
                ledger_compactions::at.eq(crate::time::now()),
                ledger_compactions::up_to_seq.eq(up_to),
                ledger_compactions::up_to_hash.eq(&last_hash),
                ledger_compactions::removed.eq(removed as i64),
                ledger_compactions::export_sha256.eq(&export_sha256),
            ))
            .execute(conn)?;
        Ok(Compaction {
            removed,
            first_seq: anchor_seq + 1,
            up_to_seq: up_to,
            up_to_hash: last_hash,
            export_sha256,
        })
    })
}
