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
        let flushed = ledger.write(move |conn| {
            let ended = view::ended_before(conn, now, batch)?;
            let events: Vec<NewEvent> = ended
                .iter()
                .map(|row| NewEvent::expired(row.token_ref(), now))
                .collect();
            let count = events.len();
            Ok::<_, StoreError>(Decision::new(events, count).decided_on(ended))
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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::db;
    use crate::ledger::event::{Reason, TokenRef, TokenType};
    use crate::ledger::{chain, replay};

    fn token(n: usize, expires_at: NaiveDateTime) -> TokenRef {
        TokenRef {
            jti: format!("{n:032x}"),
            token_type: TokenType::Access,
            user_id: 1,
            sid: format!("s{}", n % 3),
            expires_at,
        }
    }

    #[test]
    fn a_flush_in_several_batches_leaves_the_view_and_the_chain_consistent() {
        let (_dir, pool) = db::scratch_pool();
        let ledger = Ledger::open(pool).unwrap();
        let now = time::now();
        let ended: Vec<TokenRef> = (0..10)
            .map(|n| token(n, now - Duration::minutes(10 + n as i64)))
            .collect();
        let live = token(99, now + Duration::minutes(5));
        let mut issued: Vec<NewEvent> = ended
            .iter()
            .map(|t| NewEvent::issued(t.clone(), None, now - Duration::hours(1)))
            .collect();
        issued.push(NewEvent::issued(live.clone(), None, now));
        ledger
            .write(|_| Ok::<_, StoreError>(Decision::new(issued, ())))
            .unwrap();
        let blacklisted: Vec<NewEvent> = ended[..3]
            .iter()
            .map(|t| NewEvent::blacklisted(t.clone(), Reason::Logout, now - Duration::minutes(30)))
            .collect();
        ledger
            .write(|_| Ok::<_, StoreError>(Decision::new(blacklisted, ())))
            .unwrap();
        assert!(ledger.revocations().is_revoked(&ended[0].jti));

        let mut seen = Vec::new();
        let flushed = flush_expired(&ledger, now, 3, |done| seen.push(done)).unwrap();

        assert_eq!(flushed, 10);
        assert_eq!(seen, vec![3, 6, 9, 10]);
        assert!(!ledger.revocations().is_revoked(&ended[0].jti));
        let mut conn = ledger.pool().get().unwrap();
        let left: Vec<String> = view::all(&mut conn)
            .unwrap()
            .into_iter()
            .map(|row| row.jti)
            .collect();
        assert_eq!(left, vec![live.jti.clone()]);
        assert_eq!(replay::check(&mut conn, |_| {}).unwrap(), vec![]);
        let verified = chain::verify(&mut conn, |_| {}).unwrap();
        assert_eq!(verified.first_bad, None);
        assert_eq!(verified.events, 11 + 3 + 10);
        drop(conn);
        assert_eq!(flush_expired(&ledger, now, 3, |_| {}).unwrap(), 0);
    }
}
