//! Follows the ledger by seq, so revocations committed by other writers (the CLI, other
//! instances) reach this process's in-memory state within one poll interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Ledger;
use super::append::events_after;
use crate::db::StoreError;

const BATCH: i64 = 10_000;

/// Applies every event committed after the applied seq; returns how many it applied.
pub fn catch_up(ledger: &Ledger) -> Result<usize, StoreError> {
    let mut conn = ledger.pool().get()?;
    let mut applied = 0;
    loop {
        let events = events_after(&mut conn, ledger.revocations().applied_seq(), BATCH)?;
        ledger.revocations().catch_up(&events);
        applied += events.len();
        if (events.len() as i64) < BATCH {
            return Ok(applied);
        }
    }
}

/// A background thread that polls every `interval` until `stop` is set.
pub fn spawn(
    ledger: Ledger,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("{}-follower", crate::db::BACKGROUND_THREAD_PREFIX))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                if let Err(err) = catch_up(&ledger) {
                    tracing::warn!(error = %err, "ledger follower could not catch up; retrying");
                }
            }
        })
}
