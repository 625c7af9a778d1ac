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
//!
//! An attempt is *taken* before its password is hashed, not recorded after: [`LoginThrottle::take`]
//! counts the failures and the attempts still in flight and, under both limits, inserts an
//! `in_flight` row, all in one short write transaction (the database's write lock, which every
//! instance shares). So however many guesses arrive at once, on however many instances, at
//! most the limit of them get a password checked. The row then becomes the failure, or is
//! deleted when the password was right. A process that dies mid-check leaves its row counted
//! as a failure until it leaves the window: the throttle errs on the side of refusing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::login_rate::LoginRate;
use crate::db::schema::login_failures;
use crate::db::{DbConn, StoreError};

/// Why a login failed, as recorded.
const BAD_CREDENTIALS: &str = "bad_credentials";
/// An attempt whose password is being checked.
const IN_FLIGHT: &str = "in_flight";
/// The marker of a lockout that revoked a user's tokens (its `client` is empty, an address
/// no caller has, so no count of failures includes it).
const LOCKOUT_REVOKED: &str = "lockout_revoked";
/// The most of a username a failure keeps (Django's `username` is at most 150 characters);
/// attempts are counted by this prefix, so a longer name cannot dodge its count either.
pub const MAX_USERNAME_CHARS: usize = 150;

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

/// An attempt taken by [`LoginThrottle::take`]: its row, counted until it is resolved.
#[derive(Debug)]
#[must_use = "an attempt is resolved as a success, a failure or released"]
pub struct Attempt {
    id: i64,
    username: String,
    client: String,
    at: NaiveDateTime,
}

/// The key an attempt is counted under: the username cut to [`MAX_USERNAME_CHARS`].
pub fn username_key(username: &str) -> &str {
    match username.char_indices().nth(MAX_USERNAME_CHARS) {
        Some((end, _)) => &username[..end],
        None => username,
    }
}

impl LoginThrottle {
    /// Takes an attempt for `username` from `client`, or says how many seconds until one may
    /// be taken. Counts failures and attempts in flight alike, under the write lock.
    pub fn take(
        &self,
        conn: &mut DbConn,
        username: &str,
        client: &str,
        now: NaiveDateTime,
    ) -> Result<Result<Attempt, u64>, StoreError> {
        let username = username_key(username);
        crate::db::write_transaction(conn, |conn| {
            if let Some(retry_after) = self.retry_after(conn, username, client, now)? {
                return Ok(Err(retry_after));
            }
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::at.eq(now),
                    login_failures::username.eq(username),
                    login_failures::client.eq(client),
                    login_failures::user_id.eq(None::<i64>),
                    login_failures::outcome.eq(IN_FLIGHT),
                ))
                .execute(conn)?;
            // Our own row: the newest of this pair at this instant (the lock is held).
            let id = login_failures::table
                .filter(login_failures::username.eq(username))
                .filter(login_failures::client.eq(client))
                .filter(login_failures::at.eq(now))
                .filter(login_failures::outcome.eq(IN_FLIGHT))
                .select(login_failures::id)
                .order(login_failures::id.desc())
                .first::<i64>(conn)?;
            Ok(Ok(Attempt {
                id,
                username: username.to_owned(),
                client: client.to_owned(),
                at: now,
            }))
        })
    }

    /// Seconds until `username` may try again from `client`; `None` when it may now.
    pub fn retry_after(
        &self,
        conn: &mut DbConn,
        username: &str,
        client: &str,
        now: NaiveDateTime,
    ) -> Result<Option<u64>, StoreError> {
        let username = username_key(username);
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

    /// The password was right: the attempt no longer counts.
    pub fn succeeded(&self, conn: &mut DbConn, attempt: Attempt) -> Result<(), StoreError> {
        diesel::delete(login_failures::table.find(attempt.id)).execute(conn)?;
        Ok(())
    }

    /// No password was checked after all (no hasher was free): the attempt is given back.
    pub fn release(&self, conn: &mut DbConn, attempt: Attempt) -> Result<(), StoreError> {
        self.succeeded(conn, attempt)
    }

    /// The attempt failed: its row becomes the failure. Returns whether the username has now
    /// reached the per-username limit from this client (a lockout).
    pub fn failed(
        &self,
        conn: &mut DbConn,
        attempt: Attempt,
        user_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        diesel::update(login_failures::table.find(attempt.id))
            .set((
                login_failures::user_id.eq(user_id),
                login_failures::outcome.eq(BAD_CREDENTIALS),
            ))
            .execute(conn)?;
        let Some(since) = window_start(self.per_username, attempt.at) else {
            return Ok(false);
        };
        let in_window: i64 = login_failures::table
            .filter(login_failures::username.eq(&attempt.username))
            .filter(login_failures::client.eq(&attempt.client))
            .filter(login_failures::at.gt(since))
            .filter(login_failures::outcome.eq(BAD_CREDENTIALS))
            .count()
            .get_result(conn)?;
        Ok(in_window >= i64::from(self.per_username.failures))
    }

    /// Whether a lockout may revoke `user_id`'s tokens now: at most once per user per
    /// per-username window, whichever clients caused the lockouts (else anyone could log a
    /// user out again and again from a new address each time). Records the revocation when it
    /// may; call it inside the write transaction that revokes, so two lockouts at once cannot
    /// both revoke.
    pub fn claim_lockout_revocation(
        &self,
        conn: &mut DbConn,
        user_id: i64,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let Some(since) = window_start(self.per_username, now) else {
            return Ok(false);
        };
        let already: i64 = login_failures::table
            .filter(login_failures::user_id.eq(user_id))
            .filter(login_failures::outcome.eq(LOCKOUT_REVOKED))
            .filter(login_failures::at.gt(since))
            .count()
            .get_result(conn)?;
        if already > 0 {
            return Ok(false);
        }
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::at.eq(now),
                login_failures::username.eq(""),
                login_failures::client.eq(""),
                login_failures::user_id.eq(Some(user_id)),
                login_failures::outcome.eq(LOCKOUT_REVOKED),
            ))
            .execute(conn)?;
        Ok(true)
    }

    /// The longest window either limit counts over.
    pub fn longest_window(&self) -> std::time::Duration {
        [self.per_username, self.per_client]
            .iter()
            .filter(|rate| !rate.is_off())
            .map(|rate| rate.window)
            .max()
            .unwrap_or_default()
    }

    /// Deletes the rows no window counts any more (older than the longest window); returns
    /// how many. Run with the scheduled flush, so the table holds one window's attempts.
    pub fn purge(&self, conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, StoreError> {
        let window =
            chrono::Duration::from_std(self.longest_window()).unwrap_or(chrono::Duration::zero());
        let Some(before) = now.checked_sub_signed(window) else {
            return Ok(0);
        };
        Ok(
            diesel::delete(login_failures::table.filter(login_failures::at.le(before)))
                .execute(conn)?,
        )
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
    fn usernames_are_keyed_by_their_first_150_characters() {
        assert_eq!(username_key("alice"), "alice");
        let long = "é".repeat(60_000);
        assert_eq!(username_key(&long).chars().count(), MAX_USERNAME_CHARS);
        assert_eq!(username_key(&long), username_key(&format!("{long}x")));
        let exact = "x".repeat(MAX_USERNAME_CHARS);
        assert_eq!(username_key(&exact), exact);
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
