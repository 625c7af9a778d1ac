//! Reads of the ledger in seq order: what the follower, the chain's verify, retention, the
//! feed and the webhooks walk. Apart from `append` (which writes) and `chain` (which links),
//! so neither needs the other for a read.

use diesel::prelude::*;

use super::event::LedgerEvent;
use crate::db::schema::token_ledger;
use crate::db::{DbConn, StoreError};

/// Events with `seq > after`, oldest first, at most `limit`.
pub fn events_after(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> Result<Vec<LedgerEvent>, StoreError> {
    Ok(token_ledger::table
        .filter(token_ledger::seq.gt(after))
        .order(token_ledger::seq)
        .limit(limit)
        .select(LedgerEvent::as_select())
        .load(conn)?)
}
