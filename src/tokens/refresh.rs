//! Refresh and sliding renewal: load the presented token's facts (its row and its user in one
//! statement), let the rule decide, sign after the commit.

use super::claims::Verified;
use super::decide::known::{self, Known};
use super::decide::refresh::{self, RefreshCase, RefreshFacts};
use super::decide::{Context, Fresh};
use super::error::{AuthError, TokenError};
use super::service::{Refreshed, TokenService};
use crate::db::{DbConn, StoreError};
use crate::ledger::{TokenType, view};
use crate::users::{self, User};

impl TokenService {
    pub fn refresh(&self, token: &str) -> Result<Refreshed, AuthError> {
        let presented = self.decode(token, Some(TokenType::Refresh))?;
        let user_id = presented
            .user_id()
            .ok_or(AuthError::NoActiveAccountForToken)?;
        let wants_user = !self.policy().user_claims.is_empty();
        let fresh = Fresh::random();
        let claims = self.write(move |ctx, conn| {
            let (user, row) = users::find_with_token(conn, user_id, &presented.jti)?;
            let known = known::known(ctx, row, &presented, user_id, fresh.sid.clone());
            let row = &known.row;
            let facts = match refresh::case(ctx, row) {
                RefreshCase::Replay => RefreshFacts::Replay {
                    children: view::children(conn, row)?,
                    user: user_if(conn, wants_user, row.user_id)?,
                },
                RefreshCase::Reused => RefreshFacts::Reused {
                    session: view::outstanding_of_session(conn, &row.sid)?,
                },
                RefreshCase::Refused => RefreshFacts::Refused,
                RefreshCase::Refresh => RefreshFacts::Refresh { user },
            };
            Ok::<_, AuthError>(refresh::refresh(ctx, known, facts, fresh))
        })??;
        Ok(Refreshed {
            access: self.sign(&claims.access)?,
            refresh: claims
                .refresh
                .map(|refresh| self.sign(&refresh))
                .transpose()?,
        })
    }

    /// A new sliding token with the same jti and `refresh_exp`, and a fresh `exp`/`iat`.
    pub fn refresh_sliding(&self, token: &str) -> Result<String, AuthError> {
        let presented = self.decode(token, Some(TokenType::Sliding))?;
        let user_id = presented.user_id().ok_or(TokenError::Invalid)?;
        let wants_user = !self.policy().user_claims.is_empty();
        let fresh = Fresh::random();
        let claims = self.write(move |ctx, conn| {
            let (user, row) = users::find_with_token(conn, user_id, &presented.jti)?;
            let known = known::known(ctx, row, &presented, user_id, fresh.sid.clone());
            let user = user.filter(|_| wants_user && !known.row.is_blacklisted());
            Ok::<_, AuthError>(refresh::renew_sliding(
                ctx,
                known,
                &presented,
                user_id,
                user.as_ref(),
            ))
        })??;
        self.sign(&claims)
    }
}

/// The view's row of the presented token, or its adoption.
pub(super) fn load_known(
    conn: &mut DbConn,
    ctx: Context<'_>,
    presented: &Verified,
    user_id: i64,
    fresh: &Fresh,
) -> Result<Known, StoreError> {
    let row = view::find(conn, &presented.jti)?;
    Ok(known::known(
        ctx,
        row,
        presented,
        user_id,
        fresh.sid.clone(),
    ))
}

/// The user as the database has it now, if the rule needs it.
fn user_if(conn: &mut DbConn, needed: bool, user_id: i64) -> Result<Option<User>, StoreError> {
    if needed {
        users::find(conn, user_id)
    } else {
        Ok(None)
    }
}
