//! Login throttling. Every failed login is a row of `login_failures` (the audit trail of
//! brute-force attempts), and the throttle counts those rows, so every instance on one
//! database counts the same failures.
//!
//! Two limits: a username's failures *from one client address* (so an attacker elsewhere
//! cannot lock the real user out: the lock is on the pair, never on the account), and all
//! failures from one client address (so one address cannot spray many usernames). Both are
//! sliding windows: a throttled client may try again once its oldest counted failure has left
//! the window, which `Retry-After` says. Throttled attempts are refused before the password is
//! looked at and are not recorded, so hammering cannot extend a lock or grow the table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::config::LoginRate;
use crate::db::schema::login_failures;
use crate::db::{DbConn, StoreError};

/// Why a login failed, as recorded.
const BAD_CREDENTIALS: &str = "bad_credentials";

#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub per_username: LoginRate,
    pub per_client: LoginRate,
}

/// One recorded failure.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = login_failures)]
pub struct LoginFailure {
    pub at: NaiveDateTime,
    pub username: String,
    pub client: String,
    pub user_id: Option<i64>,
    pub outcome: String,
}

impl LoginThrottle {
    /// Seconds until `username` may try again from `client`; `None` when it may now.
    pub fn retry_after(
        &self,
        conn: &mut DbConn,
        username: &str,
        client: &str,
        now: NaiveDateTime,
    ) -> Result<Option<u64>, StoreError> {
        let by_client = match window_start(self.per_client, now) {
            Some(since) => retry_after(
                &login_failures::table
                    .filter(login_failures::client.eq(client))
                    .filter(login_failures::at.gt(since))
                    .select(login_failures::at)
                    .order(login_failures::at.desc())
                    .limit(self.per_client.failures.into())
                    .load(conn)?,
                self.per_client,
                now,
            ),
            None => None,
        };
        let by_username = match window_start(self.per_username, now) {
            Some(since) => retry_after(
                &login_failures::table
                    .filter(login_failures::username.eq(username))
                    .filter(login_failures::client.eq(client))
                    .filter(login_failures::at.gt(since))
                    .select(login_failures::at)
                    .order(login_failures::at.desc())
                    .limit(self.per_username.failures.into())
                    .load(conn)?,
                self.per_username,
                now,
            ),
            None => None,
        };
        Ok(by_client.max(by_username))
    }

    /// Records a failed login; returns whether this failure is the one that locks the
    /// username out (it reached the per-username limit).
    pub fn record_failure(
        &self,
        conn: &mut DbConn,
        username: &str,
        client: &str,
        user_id: Option<i64>,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::at.eq(now),
                login_failures::username.eq(username),
                login_failures::client.eq(client),
                login_failures::user_id.eq(user_id),
                login_failures::outcome.eq(BAD_CREDENTIALS),
            ))
            .execute(conn)?;
        let Some(since) = window_start(self.per_username, now) else {
            return Ok(false);
        };
        let in_window: i64 = login_failures::table
            .filter(login_failures::username.eq(username))
            .filter(login_failures::client.eq(client))
            .filter(login_failures::at.gt(since))
            .count()
            .get_result(conn)?;
        Ok(in_window == i64::from(self.per_username.failures))
    }
}

/// The recorded failures, newest first (for audit and tests).
pub fn recent_failures(conn: &mut DbConn, limit: i64) -> Result<Vec<LoginFailure>, StoreError> {
    Ok(login_failures::table
        .select(LoginFailure::as_select())
        .order(login_failures::id.desc())
        .limit(limit)
        .load(conn)?)
}

fn window_start(rate: LoginRate, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if rate.is_off() {
        return None;
    }
    chrono::Duration::from_std(rate.window)
        .ok()
        .and_then(|window| now.checked_sub_signed(window))
}

/// Given the failures inside the window, newest first and at most `rate.failures` of them:
/// how long until fewer than `rate.failures` remain in it (whole seconds, at least 1).
fn retry_after(newest_first: &[NaiveDateTime], rate: LoginRate, now: NaiveDateTime) -> Option<u64> {
    if rate.is_off() || newest_first.len() < rate.failures as usize {
        return None;
    }
    let oldest_counted = newest_first.last()?;
    let window = chrono::Duration::from_std(rate.window).ok()?;
    let free_at = *oldest_counted + window;
    let millis = (free_at - now).num_milliseconds().max(0) as u64;
    Some(millis.div_ceil(1000).max(1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_900_000_000 + seconds, 0)
            .expect("a valid instant")
            .naive_utc()
    }

    const FIVE_PER_MINUTE: LoginRate = LoginRate {
        failures: 5,
        window: Duration::from_secs(60),
    };

    #[test]
    fn fewer_failures_than_the_limit_throttle_nothing() {
        let failures = [at(50), at(40), at(30), at(20)];
        assert_eq!(retry_after(&failures, FIVE_PER_MINUTE, at(55)), None);
    }

    #[test]
    fn at_the_limit_the_wait_ends_when_the_oldest_counted_failure_leaves_the_window() {
        let failures = [at(50), at(40), at(30), at(20), at(10)];
        // at(10) leaves the window at at(70): 15 seconds after at(55).
        assert_eq!(retry_after(&failures, FIVE_PER_MINUTE, at(55)), Some(15));
    }

    #[test]
    fn the_wait_is_never_zero_and_off_never_throttles() {
        let failures = [at(0); 5];
        assert_eq!(retry_after(&failures, FIVE_PER_MINUTE, at(60)), Some(1));
        assert_eq!(retry_after(&failures, LoginRate::OFF, at(1)), None);
        assert_eq!(window_start(LoginRate::OFF, at(0)), None);
    }

    #[test]
    fn rates_parse_as_failures_per_duration() {
        assert_eq!(
            LoginRate::parse("5/15m"),
            Ok(LoginRate {
                failures: 5,
                window: Duration::from_secs(900),
            })
        );
        assert_eq!(LoginRate::parse("off"), Ok(LoginRate::OFF));
        assert_eq!(LoginRate::parse("0"), Ok(LoginRate::OFF));
        assert!(LoginRate::parse("five/15m").is_err());
        assert!(LoginRate::parse("5").is_err());
    }
}
