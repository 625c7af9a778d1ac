//! Writing rows back to the view: what the writer does with a batch's pending rows
//! (`pending`), and what `view rebuild` does with a replay. Only [`super::fold`] decides what a
//! row becomes.

use diesel::prelude::*;

use super::event::Reason;
use super::token_row::TokenRow;
use crate::db::schema::token_view;
use crate::db::{DbConn, StoreError};

/// Writes over the stored row what the fold changed in it (it never changes what a token is:
/// its type, user, session, parent or lifetime), but only if nobody changed the row since it
/// was read as `before`: a lost update would let two writers both spend one refresh token.
///
/// Writing only these columns keeps an UPDATE out of the indexes it does not change: a
/// logout's touches the one over `state`, where writing the whole row rewrote all of them
/// (WAL bytes per logout 91 KB -> 61 KB), and a rotation without blacklisting touches none.
/// Two fixed SET lists, not one per combination, so both statements stay prepared.
pub(super) fn replace(
    conn: &mut DbConn,
    before: &TokenRow,
    after: &TokenRow,
) -> Result<(), StoreError> {
    use token_view::dsl::{blacklisted_at, last_seq, reason, rotated_at, state};
    let stored = token_view::table
        .find(&before.jti)
        .filter(last_seq.eq(before.last_seq));
    let revocation_changed = (before.state, &before.blacklisted_at, &before.reason)
        != (after.state, &after.blacklisted_at, &after.reason);
    let changed = if revocation_changed {
        diesel::update(stored)
            .set((
                state.eq(after.state),
                blacklisted_at.eq(after.blacklisted_at),
                reason.eq(after.reason),
                rotated_at.eq(after.rotated_at),
                last_seq.eq(after.last_seq),
            ))
            .execute(conn)?
    } else {
        diesel::update(stored)
            .set((rotated_at.eq(after.rotated_at), last_seq.eq(after.last_seq)))
            .execute(conn)?
    };
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// [`replace`] for many rows: on PostgreSQL one statement for them all (each statement under
/// the write lock is a round trip there), elsewhere one cached UPDATE each. `changed` pairs
/// each row as it was read with the row it becomes.
pub(super) fn replace_many(
    conn: &mut DbConn,
    changed: &[(TokenRow, TokenRow)],
) -> Result<(), StoreError> {
    match conn {
        DbConn::Postgres(pg) if changed.len() > 1 => replace_many_on_postgres(pg, changed),
        _ => changed
            .iter()
            .try_for_each(|(before, after)| replace(conn, before, after)),
    }
}

/// One UPDATE joined to the rows' new values, passed as arrays (so its text is the same for
/// any number of rows); each row guarded by its `last_seq` as `replace` guards one.
fn replace_many_on_postgres(
    pg: &mut diesel::PgConnection,
    changed: &[(TokenRow, TokenRow)],
) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    const SQL: &str = "UPDATE token_view AS v SET state = n.state, \
        blacklisted_at = n.blacklisted_at, reason = n.reason, rotated_at = n.rotated_at, \
        last_seq = n.last_seq \
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamp[], $5::text[], \
        $6::timestamp[], $7::bigint[]) \
        AS n(jti, read_seq, state, blacklisted_at, reason, rotated_at, last_seq) \
        WHERE v.jti = n.jti AND v.last_seq = n.read_seq";
    let (before, after): (Vec<&TokenRow>, Vec<&TokenRow>) = changed
        .iter()
        .map(|(before, after)| (before, after))
        .unzip();
    let updated = diesel::sql_query(SQL)
        .bind::<Array<Text>, _>(
            before
                .iter()
                .map(|row| row.jti.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(before.iter().map(|row| row.last_seq).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            after
                .iter()
                .map(|row| row.state.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Timestamp>>, _>(
            after
                .iter()
                .map(|row| row.blacklisted_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            after
                .iter()
                .map(|row| row.reason.map(Reason::as_str))
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Timestamp>>, _>(
            after.iter().map(|row| row.rotated_at).collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(after.iter().map(|row| row.last_seq).collect::<Vec<_>>())
        .execute(pg)?;
    if updated == changed.len() {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Deletes these rows (jti, and the `last_seq` each was read at) in statements of many rows.
/// The guard of [`replace`], in bulk: every row must still be there, and none may have folded
/// an event newer than the newest read (a concurrent change would carry a higher seq).
pub(super) fn remove_many(conn: &mut DbConn, rows: &[(&str, i64)]) -> Result<(), StoreError> {
    for chunk in rows.chunks(500) {
        let newest_read = chunk.iter().map(|(_, seq)| *seq).max().unwrap_or(0);
        let jtis: Vec<&str> = chunk.iter().map(|(jti, _)| *jti).collect();
        let deleted = diesel::delete(
            token_view::table
                .filter(token_view::jti.eq_any(jtis))
                .filter(token_view::last_seq.le(newest_read)),
        )
        .execute(conn)?;
        if deleted != chunk.len() {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

pub(super) fn clear(conn: &mut DbConn) -> Result<usize, StoreError> {
    Ok(diesel::delete(token_view::table).execute(conn)?)
}

pub(super) fn insert_many(conn: &mut DbConn, rows: &[TokenRow]) -> Result<(), StoreError> {
    // In statements of fixed sizes, each prepared once (and under every bound-parameter limit).
    crate::db::insert_rows!(conn, token_view::table, rows)
}
