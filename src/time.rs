//! Time as the service records it: UTC, microsecond precision (what every backend keeps),
//! shown as RFC 3339.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// How far this process's clock is ahead of the system's, in microseconds: zero but in tests
/// that step time (the model-based revocation test), which run in a process of their own.
static AHEAD_MICROS: AtomicI64 = AtomicI64::new(0);

pub fn now() -> NaiveDateTime {
    let system = Utc::now().naive_utc().trunc_subsecs(6);
    match AHEAD_MICROS.load(Ordering::Relaxed) {
        0 => system,
        ahead => system + chrono::Duration::microseconds(ahead),
    }
}

/// Moves this process's clock forward by `by`: every later [`now`] (token times, the ledger,
/// flushes, the throttle) is that much later. For tests that step time in-process; it never
/// goes back, so the ledger's times stay in order.
#[doc(hidden)]
pub fn advance_for_tests(by: std::time::Duration) {
    let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
    AHEAD_MICROS.fetch_add(micros, Ordering::Relaxed);
}

/// A JWT NumericDate (whole seconds since the epoch) as a timestamp; `None` if out of range.
/// A fixed instant `secs` seconds after 2027-01-15T08:00:00Z: the tests' clock.
#[cfg(test)]
pub fn at(secs: i64) -> NaiveDateTime {
    from_unix(1_800_000_000 + secs).expect("a time in range")
}

pub fn from_unix(seconds: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(seconds, 0).map(|at| at.naive_utc())
}

pub fn to_unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

pub mod rfc3339 {
    use chrono::{NaiveDateTime, SecondsFormat};
    use serde::Serializer;

    pub fn format(at: &NaiveDateTime) -> String {
        at.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    pub fn serialize<S: Serializer>(at: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    pub fn serialize_opt<S: Serializer>(
        at: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}
