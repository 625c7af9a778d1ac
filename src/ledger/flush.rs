//! `flush-expired`: records an `expired` event for every token whose lifetime has ended and
//! so drops it from the view, in bounded batches so no transaction holds the write lock long.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::{Decision, Ledger, NewEvent, view};
use crate::db::StoreError;
use crate::time;

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

/// `serve`'s scheduled flush: every `interval` (none when zero) until `stop` is set. Each
/// batch is its own short write transaction, so requests interleave with a long flush.
pub fn spawn_scheduled(
    ledger: Ledger,
    interval: Duration,
    leeway: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    spawn_scheduled_with(ledger, interval, leeway, stop, || {})
}

/// [`spawn_scheduled`], running `also` after each flush: the upper layers' own housekeeping
/// on the same schedule (the login throttle's old rows).
pub fn spawn_scheduled_with(
    ledger: Ledger,
    interval: Duration,
    leeway: Duration,
    stop: Arc<AtomicBool>,
    also: impl Fn() + Send + 'static,
) -> std::io::Result<Option<JoinHandle<()>>> {
    if interval.is_zero() {
        return Ok(None);
    }
    // Short naps, so a stopping server is not held up by a long interval.
    let nap = interval.min(Duration::from_millis(250));
    std::thread::Builder::new()
        .name(format!("{}-flush", crate::db::BACKGROUND_THREAD_PREFIX))
        .spawn(move || {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(nap);
                if last.elapsed() < interval {
                    continue;
                }
                last = Instant::now();
                match flush_expired(&ledger, cutoff(time::now(), leeway), DEFAULT_BATCH, |_| {}) {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "scheduled flush-expired"),
                    Err(err) => tracing::warn!(error = %err, "scheduled flush-expired failed; retrying next interval"),
                }
                also();
            }
        })
        .map(Some)
}
