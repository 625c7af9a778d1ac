//! Each webhook URL's delivery position and lease (`webhook_cursors`): where delivery resumes
//! after a restart or a crash, and which instance delivers to the URL, so that with several
//! instances on one database exactly one does at a time.

use diesel::prelude::*;

use super::schema::webhook_cursors;
use super::{DbConn, StoreError, write_transaction};

/// The URL's row, created at `start` (the ledger head when the URL was first configured:
/// a new URL receives what happens from then on, not the whole history) if it has none.
/// Returns the position.
pub fn ensure(conn: &mut DbConn, endpoint: &str, start: i64) -> Result<i64, StoreError> {
    write_transaction(conn, |conn| {
        let existing = webhook_cursors::table
            .find(endpoint)
            .select(webhook_cursors::position)
            .first::<i64>(conn)
            .optional()?;
        if let Some(position) = existing {
            return Ok(position);
        }
        diesel::insert_into(webhook_cursors::table)
            .values((
                webhook_cursors::endpoint.eq(endpoint),
                webhook_cursors::position.eq(start),
                webhook_cursors::lease_until_ms.eq(0i64),
            ))
            .execute(conn)?;
        Ok(start)
    })
}

/// Takes or renews the lease until `until_ms` if it is free, expired, or already `holder`'s.
/// Returns whether `holder` now holds it, and the stored position either way (for the lag
/// every instance shows). One UPDATE decides, so of two instances racing for a free lease
/// exactly one wins.
pub fn acquire(
    conn: &mut DbConn,
    endpoint: &str,
    holder: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<(bool, i64), StoreError> {
    let taken = diesel::update(
        webhook_cursors::table
            .filter(webhook_cursors::endpoint.eq(endpoint))
            .filter(
                webhook_cursors::holder
                    .eq(holder)
                    .or(webhook_cursors::holder.is_null())
                    .or(webhook_cursors::lease_until_ms.lt(now_ms)),
            ),
    )
    .set((
        webhook_cursors::holder.eq(holder),
        webhook_cursors::lease_until_ms.eq(until_ms),
    ))
    .execute(conn)?;
    let position = webhook_cursors::table
        .find(endpoint)
        .select(webhook_cursors::position)
        .first::<i64>(conn)?;
    Ok((taken == 1, position))
}

/// Records that everything up to `position` was delivered, if `holder` still holds the lease;
/// `false` means another instance took it over (stop delivering).
pub fn advance(
    conn: &mut DbConn,
    endpoint: &str,
    holder: &str,
    position: i64,
) -> Result<bool, StoreError> {
    let moved = diesel::update(
        webhook_cursors::table
            .filter(webhook_cursors::endpoint.eq(endpoint))
            .filter(webhook_cursors::holder.eq(holder)),
    )
    .set(webhook_cursors::position.eq(position))
    .execute(conn)?;
    Ok(moved == 1)
}

/// Gives the lease up (a graceful stop), so another instance need not wait for it to run out.
pub fn release(conn: &mut DbConn, endpoint: &str, holder: &str) -> Result<(), StoreError> {
    diesel::update(
        webhook_cursors::table
            .filter(webhook_cursors::endpoint.eq(endpoint))
            .filter(webhook_cursors::holder.eq(holder)),
    )
    .set((
        webhook_cursors::holder.eq(None::<String>),
        webhook_cursors::lease_until_ms.eq(0i64),
    ))
    .execute(conn)?;
    Ok(())
}
