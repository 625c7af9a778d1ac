//! `flush-expired`: records an `expired` event for every token whose lifetime has ended and
//! so drops it from the view, in bounded batches so no transaction holds the write lock long.

use chrono::NaiveDateTime;

use super::{Decision, Ledger, NewEvent, view};
use crate::db::StoreError;

pub const DEFAULT_BATCH: i64 = 1_000;

/// Tokens that ended before this instant may go. A token still accepted within the clock-skew
/// leeway must stay: flushed, a blacklisted one would verify again and be adopted as live.
pub fn cutoff(now: NaiveDateTime, leeway: std::time::Duration) -> NaiveDateTime {
    now - chrono::Duration::from_std(leeway).unwrap_or(chrono::Duration::zero())
}

/// Flushes every token that ended at or before `now`; returns how many.
pub fn flush_expired(
    ledger: &Ledger,
    now: NaiveDateTime,
    batch: i64,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let mut total = 0u64;
    loop {
        let flushed = ledger.write(|conn| {
            let ended = view::ended_before(conn, now, batch)?;
            let events: Vec<NewEvent> = ended
                .iter()
                .map(|row| NewEvent::expired(row.token_ref(), now))
                .collect();
            let count = events.len();
            Ok::<_, StoreError>(Decision::new(events, count))
        })?;
        total += flushed as u64;
        progress(total);
        if (flushed as i64) < batch {
            return Ok(total);
        }
    }
}
