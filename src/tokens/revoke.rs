//! Revocations through the token service: logout, RFC 7009, an admin's blacklisting, and a
//! user's revocation of one session. Each loads its facts, lets `decide::revoke` choose the
//! events, and appends them in one write transaction.

use super::decide::Fresh;
use super::decide::revoke::{self, AdminBlacklist};
use super::error::{AuthError, TokenError};
use super::refresh::load_known;
use super::service::TokenService;
use crate::db::StoreError;
use crate::ledger::{TokenRow, TokenType, view};

impl TokenService {
    /// Logout: blacklists the refresh token and, by default, the bearer tokens of its session.
    pub fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        let presented = self.decode(token, Some(TokenType::Refresh))?;
        let user_id = presented.user_id().ok_or(TokenError::Invalid)?;
        let revoke_session = self.policy().revoke_access_on_logout;
        let fresh = Fresh::random();
        self.write(move |ctx, conn| {
            let known = load_known(conn, ctx, &presented, user_id, &fresh)?;
            let session = if revoke_session && !known.row.is_blacklisted() {
                view::outstanding_of_session(conn, &known.row.sid)?
            } else {
                Vec::new()
            };
            Ok::<_, AuthError>(revoke::logout(ctx, known, &session))
        })?
    }

    /// RFC 7009: revokes a token we signed (a refresh token with its session's bearer tokens,
    /// as the RFC asks for tokens of the same grant). Anything else is quietly accepted.
    pub fn revoke_presented(&self, token: &str, actor: Option<&str>) -> Result<(), AuthError> {
        let Ok(presented) = self.decode(token, None) else {
            return Ok(());
        };
        let Some(user_id) = presented.user_id() else {
            return Ok(());
        };
        let fresh = Fresh::random();
        let actor = actor.map(str::to_owned);
        self.write(move |ctx, conn| {
            let known = load_known(conn, ctx, &presented, user_id, &fresh)?;
            let session = if known.row.token_type == TokenType::Refresh {
                view::outstanding_of_session(conn, &known.row.sid)?
            } else {
                Vec::new()
            };
            Ok::<_, AuthError>(revoke::revoke_presented(
                ctx,
                known,
                &session,
                actor.as_deref(),
            ))
        })
    }

    /// An admin blacklists one token (reason `admin`). Idempotent: an already blacklisted
    /// token gets no second event. `None` if the view does not hold the token.
    pub fn admin_blacklist(&self, jti: &str, actor: &str) -> Result<Option<TokenRow>, StoreError> {
        let (jti_read, by) = (jti.to_owned(), actor.to_owned());
        let found = self.write(move |ctx, conn| {
            let row = view::find(conn, &jti_read)?;
            Ok::<_, StoreError>(revoke::admin_blacklist(ctx, row.as_ref(), &by))
        })?;
        if found == AdminBlacklist::Unknown {
            return Ok(None);
        }
        view::find(&mut *self.ledger().pool().get()?, jti)
    }

    /// Revokes one of the user's live sessions; `None` if it is not one.
    pub fn revoke_session(
        &self,
        user_id: i64,
        sid: &str,
        actor: &str,
    ) -> Result<Option<usize>, StoreError> {
        let (sid, actor) = (sid.to_owned(), actor.to_owned());
        self.write(move |ctx, conn| {
            let session = view::outstanding_of_session(conn, &sid)?;
            Ok(revoke::revoke_session(ctx, user_id, &session, &actor))
        })
    }
}
