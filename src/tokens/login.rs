//! Login: the throttle, the bounded password check, and the tokens of a new session; the
//! password change's check of the old password, counted alike.

use super::decide::{Fresh, login, revoke};
use super::error::AuthError;
use super::service::{Pair, TokenService};
use crate::db::StoreError;
use crate::ledger::view;
use crate::time;
use crate::users::throttle::Attempt;
use crate::users::{self, User};

/// The `actor` of the blacklistings a lockout makes.
const LOCKOUT_ACTOR: &str = "login_throttle";

impl TokenService {
    /// Logs in from `client` (the caller's address, which the login throttle counts by).
    pub fn obtain_pair(
        &self,
        login: &str,
        password: &str,
        client: &str,
    ) -> Result<Pair, AuthError> {
        let user = self.authenticate(login, password, client)?;
        let fresh = Fresh::random();
        let claims =
            self.write(move |ctx, _| Ok::<_, AuthError>(login::pair(ctx, &user, fresh)))?;
        Ok(Pair {
            refresh: self.sign(&claims.refresh)?,
            access: self.sign(&claims.access)?,
        })
    }

    pub fn obtain_sliding(
        &self,
        login: &str,
        password: &str,
        client: &str,
    ) -> Result<String, AuthError> {
        let user = self.authenticate(login, password, client)?;
        let fresh = Fresh::random();
        let claims =
            self.write(move |ctx, _| Ok::<_, AuthError>(login::sliding(ctx, &user, fresh)))?;
        self.sign(&claims)
    }

    /// Throttle first: an attempt is taken (counted, in flight) before the password is
    /// looked at, so a burst cannot outrun the count; a throttled client's password is not
    /// even looked at. Then a place in the hashing queue (none free: 429 too), then the
    /// password. A failure stays counted; the one that reaches the per-username limit may
    /// also revoke the user's tokens (`lockout_revokes_sessions`), once per window.
    fn authenticate(&self, login: &str, password: &str, client: &str) -> Result<User, AuthError> {
        let policy = &self.inner.policy;
        let throttle = &policy.login.throttle;
        let pool = self.ledger().pool();
        let attempt = self.take_attempt(login, client)?;
        let Some(place) = self.inner.hash_queue.enter() else {
            let _turn = self.throttle_turn();
            throttle.release(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
            tracing::warn!(client, "login refused: every password hasher is busy");
            return Err(AuthError::Throttled { retry_after: 1 });
        };
        let checked = users::authenticate(
            pool,
            policy.login.username_field,
            login,
            password,
            policy.login.update_last_login,
        );
        drop(place);
        let refused = match checked? {
            Ok(user) => {
                let _turn = self.throttle_turn();
                throttle.succeeded(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
                return Ok(user);
            }
            Err(refused) => refused,
        };
        let locked_out = {
            let _turn = self.throttle_turn();
            throttle.failed(
                &mut *pool.get().map_err(StoreError::from)?,
                attempt,
                refused.user_id,
            )?
        };
        tracing::info!(
            client,
            user_id = refused.user_id,
            locked_out,
            "login failed"
        );
        if let (true, true, Some(user_id)) = (
            locked_out,
            policy.login.lockout_revokes_sessions,
            refused.user_id,
        ) {
            let revoked = self.write(move |ctx, conn| {
                let throttle = &ctx.policy.login.throttle;
                let claimed = throttle.claim_lockout_revocation(conn, user_id, ctx.now)?;
                let outstanding = if claimed {
                    view::outstanding_of_user(conn, user_id)?
                } else {
                    Vec::new()
                };
                Ok::<_, AuthError>(revoke::lockout(ctx, claimed, &outstanding, LOCKOUT_ACTOR))
            })?;
            match revoked {
                Some(revoked) => {
                    tracing::warn!(user_id, revoked, "lockout revoked the user's tokens");
                }
                None => tracing::info!(
                    user_id,
                    "lockout: the user's tokens were already revoked by a lockout this window"
                ),
            }
        }
        Err(AuthError::NoActiveAccount)
    }

    fn throttle_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .throttle_turn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An attempt of the login throttle, or `Throttled`.
    fn take_attempt(&self, login: &str, client: &str) -> Result<Attempt, AuthError> {
        let throttle = &self.inner.policy.login.throttle;
        let _turn = self.throttle_turn();
        let mut conn = self.ledger().pool().get().map_err(StoreError::from)?;
        match throttle.take(&mut conn, login, client, time::now())? {
            Ok(attempt) => Ok(attempt),
            Err(retry_after) => {
                tracing::warn!(client, retry_after, "login throttled");
                Err(AuthError::Throttled { retry_after })
            }
        }
    }

    /// Whether `password` is the current one of `user_id` (the password change's check of
    /// the old password). Counted by the login throttle like a login of that user from
    /// `client`, so a stolen access token cannot guess the password here without limit; the
    /// hash is checked on the hashing pool with no connection held.
    pub fn check_password(
        &self,
        user_id: i64,
        password: &str,
        client: &str,
    ) -> Result<bool, AuthError> {
        let throttle = &self.inner.policy.login.throttle;
        let pool = self.ledger().pool();
        let Some(user) = users::find(&mut *pool.get().map_err(StoreError::from)?, user_id)? else {
            return Ok(false);
        };
        let attempt = self.take_attempt(&user.username, client)?;
        let Some(place) = self.inner.hash_queue.enter() else {
            let _turn = self.throttle_turn();
            throttle.release(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
            return Err(AuthError::Throttled { retry_after: 1 });
        };
        let right = users::password::verify(&user.password_hash, password);
        drop(place);
        let _turn = self.throttle_turn();
        let mut conn = pool.get().map_err(StoreError::from)?;
        if right {
            throttle.succeeded(&mut conn, attempt)?;
        } else {
            let _ = throttle.failed(&mut conn, attempt, Some(user_id))?;
            tracing::info!(client, user_id, "password change: wrong old password");
        }
        Ok(right)
    }

    /// Deletes the login throttle's rows that no window counts any more.
    pub fn purge_login_failures(&self) -> Result<usize, StoreError> {
        let mut conn = self.ledger().pool().get()?;
        self.inner
            .policy
            .login
            .throttle
            .purge(&mut conn, time::now())
    }
}
