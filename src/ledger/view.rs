//! The materialised view: one row per token not yet flushed, folded from the ledger.
//! Only [`super::fold`] decides what a row becomes; this file reads rows (`token_row` is what a
//! row is, `view_write` writes them back).
//! On the ledger's writer, every read sees the rows its batch has folded and not yet written
//! (`pending`): a read by jti answers from them, any other writes them out first.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::TokenType;
use super::pending;
pub use super::token_row::{TokenRow, TokenState};
pub(super) use super::view_write::{clear, insert_many};
use crate::db::schema::token_view;
use crate::db::{DbConn, StoreError};

/// The row of one token. By its primary key, so without `.first()`: diesel binds `.first()`'s
/// `LIMIT 1` as a parameter, and SQLite (3.4x, its planner reading the bound LIMIT) marks such
/// a statement expired whenever the parameter is bound again, so the cached statement was
/// parsed and planned anew on every run: a third of a logout's statements' time.
///
/// On the writer, a row its batch touched is answered as the batch left it (`pending`).
pub fn find(conn: &mut DbConn, jti: &str) -> Result<Option<TokenRow>, StoreError> {
    if let Some(row) = pending::get(jti) {
        return Ok(row);
    }
    Ok(token_view::table
        .find(jti)
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// `jti`'s row as this thread's write batch has left it, if the batch touched it and has not
/// written it yet (`Some(None)`: it removed it); `None`: the database's row stands.
pub fn as_this_batch_left_it(jti: &str) -> Option<Option<TokenRow>> {
    pending::get(jti)
}

/// The rows of these tokens (those in the view), in no particular order; on the writer, those
/// its batch touched as the batch left them (`pending`).
pub fn find_many(conn: &mut DbConn, jtis: &[&str]) -> Result<Vec<TokenRow>, StoreError> {
    let mut rows = Vec::with_capacity(jtis.len());
    let mut stored = Vec::with_capacity(jtis.len());
    for jti in jtis {
        match pending::get(jti) {
            Some(row) => rows.extend(row),
            None => stored.push(*jti),
        }
    }
    // Bounded batches keep each statement under SQLite's bound-parameter limit.
    for chunk in stored.chunks(500) {
        let chunk: Vec<String> = chunk.iter().map(|jti| (*jti).to_owned()).collect();
        rows.extend(
            token_view::table
                .filter(token_view::jti.eq_any(chunk))
                .select(TokenRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn outstanding_of_session(conn: &mut DbConn, sid: &str) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::sid.eq(sid))
        .filter(token_view::state.eq(TokenState::Outstanding))
        .order(token_view::last_seq)
        .select(TokenRow::as_select())
        .load(conn)?)
}

pub fn outstanding_of_user(conn: &mut DbConn, user_id: i64) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::user_id.eq(user_id))
        .filter(token_view::state.eq(TokenState::Outstanding))
        .order(token_view::last_seq)
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// Every token of a user still in the view, oldest first (for the session list).
pub fn of_user(conn: &mut DbConn, user_id: i64) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::user_id.eq(user_id))
        .order(token_view::last_seq)
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// The tokens `parent` led to: its rotation's successor and the access tokens it minted. They
/// are of its session, so they are found through the session's index (the view keeps no index
/// of parents: it would cost every write for this one rare read).
pub fn children(conn: &mut DbConn, parent: &TokenRow) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::sid.eq(&parent.sid))
        .filter(token_view::parent_jti.eq(&parent.jti))
        .order(token_view::last_seq)
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// Tokens whose lifetime ended at or before `now`, oldest first, at most `limit`. Ordered by
/// the `token_view_expires` index alone, so a batch reads `limit` index entries: adding the jti
/// as a tie-break made every batch sort all ended tokens (quadratic over a large flush).
pub fn ended_before(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::expires_at.le(now))
        .order(token_view::expires_at)
        .limit(limit)
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// How many tokens ended at or before `now` (what a flush will expire).
pub fn count_ended_before(conn: &mut DbConn, now: NaiveDateTime) -> Result<u64, StoreError> {
    pending::settle(conn)?;
    let count: i64 = token_view::table
        .filter(token_view::expires_at.le(now))
        .count()
        .get_result(conn)?;
    Ok(count as u64)
}

/// Blacklisted tokens of every type: what the in-memory revocation set starts from.
pub fn blacklisted_jtis(conn: &mut DbConn) -> Result<Vec<(String, TokenType)>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .filter(token_view::state.eq(TokenState::Blacklisted))
        .select((token_view::jti, token_view::token_type))
        .load(conn)?)
}

/// How many tokens the view holds, by state (for `/metrics`).
pub fn size_by_state(conn: &mut DbConn) -> Result<Vec<(TokenState, i64)>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .group_by(token_view::state)
        .select((token_view::state, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Every row, in jti order.
pub fn all(conn: &mut DbConn) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    Ok(token_view::table
        .order(token_view::jti)
        .select(TokenRow::as_select())
        .load(conn)?)
}

/// At most `limit` rows after jti `after`, in the database's jti order (for `view check`).
pub fn page_by_jti(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    pending::settle(conn)?;
    let rows = token_view::table
        .order(token_view::jti)
        .limit(limit)
        .select(TokenRow::as_select());
    Ok(match after {
        Some(after) => rows.filter(token_view::jti.gt(after)).load(conn)?,
        None => rows.load(conn)?,
    })
}

/// How many rows the view holds.
pub fn count(conn: &mut DbConn) -> Result<u64, StoreError> {
    pending::settle(conn)?;
    let count: i64 = token_view::table.count().get_result(conn)?;
    Ok(count as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;
    use crate::time::at;

    fn row(i: usize) -> TokenRow {
        TokenRow {
            jti: format!("{i:032x}"),
            token_type: TokenType::Access,
            user_id: 7,
            sid: "s".repeat(32),
            parent_jti: i.is_multiple_of(2).then(|| "p".repeat(32)),
            issued_at: at(0),
            expires_at: at(60),
            state: TokenState::Outstanding,
            rotated_at: None,
            blacklisted_at: None,
            reason: None,
            last_seq: i as i64,
        }
    }

    #[test]
    fn rows_go_in_whatever_their_count_in_fixed_size_statements() {
        let (_dir, pool) = db::scratch_pool();
        let conn = &mut *pool.get().expect("a connection");
        let mut next = 0;
        // 0, 1, 2, 3 (2 + 1), 4, 15 (8 + 4 + 2 + 1), 37 (32 + 4 + 1) and 300 (256 + 32 + 8 + 4)
        for count in [0, 1, 2, 3, 4, 15, 37, 300] {
            let rows: Vec<TokenRow> = (next..next + count).map(row).collect();
            insert_many(conn, &rows).expect("inserted");
            next += count;
        }
        let stored = all(conn).expect("read");
        assert_eq!(stored, (0..next).map(row).collect::<Vec<_>>());
    }
}
