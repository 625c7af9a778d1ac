//! Reads about sessions (one login and every token rotated from it) and tokens: a user's live
//! sessions, and RFC 7662 introspection. Revoking them is in `revoke`.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::claims::Verified;
use super::service::TokenService;
use crate::db::StoreError;
use crate::ledger::{TokenRow, view};
use crate::time;
use crate::users::{self, User};

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub sid: String,
    pub created_at: NaiveDateTime,
    /// The last time a token of the session was issued (login or refresh).
    pub last_used_at: NaiveDateTime,
    /// When its last usable token ends.
    pub expires_at: NaiveDateTime,
}

/// Groups a user's view rows by session; a session is live while one of its tokens is
/// outstanding and not yet ended.
pub fn summarise(rows: &[TokenRow], now: NaiveDateTime) -> Vec<SessionSummary> {
    let mut sessions: BTreeMap<&str, (SessionSummary, bool)> = BTreeMap::new();
    for row in rows {
        let usable = !row.is_blacklisted() && row.expires_at > now;
        let entry = sessions.entry(&row.sid).or_insert_with(|| {
            let summary = SessionSummary {
                sid: row.sid.clone(),
                created_at: row.issued_at,
                last_used_at: row.issued_at,
                expires_at: row.expires_at,
            };
            (summary, false)
        });
        let (summary, live) = entry;
        summary.created_at = summary.created_at.min(row.issued_at);
        summary.last_used_at = summary.last_used_at.max(row.issued_at);
        if usable {
            summary.expires_at = if *live {
                summary.expires_at.max(row.expires_at)
            } else {
                row.expires_at
            };
            *live = true;
        }
    }
    let mut live: Vec<SessionSummary> = sessions
        .into_values()
        .filter(|(_, live)| *live)
        .map(|(summary, _)| summary)
        .collect();
    live.sort_by(|a, b| (a.created_at, &a.sid).cmp(&(b.created_at, &b.sid)));
    live
}

/// What introspection found about an active token.
#[derive(Debug)]
pub struct Introspection {
    pub token: Verified,
    pub user: User,
}

impl TokenService {
    pub fn sessions(&self, user_id: i64) -> Result<Vec<SessionSummary>, StoreError> {
        let mut conn = self.ledger().pool().get()?;
        Ok(summarise(&view::of_user(&mut conn, user_id)?, time::now()))
    }

    /// RFC 7662: the token if it verifies, is not revoked, and its user is active.
    pub fn introspect(&self, token: &str) -> Result<Option<Introspection>, StoreError> {
        let Ok(token) = self.decode(token, None) else {
            return Ok(None);
        };
        let Some(user_id) = token.user_id() else {
            return Ok(None);
        };
        let mut conn = self.ledger().pool().get()?;
        if view::find(&mut conn, &token.jti)?.is_some_and(|row| row.is_blacklisted()) {
            return Ok(None);
        }
        Ok(users::find(&mut conn, user_id)?
            .filter(|user| user.is_active)
            .map(|user| Introspection { token, user }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{TokenState, TokenType};
    use crate::time::at;

    fn row(sid: &str, jti: &str, issued: i64, expires: i64, state: TokenState) -> TokenRow {
        TokenRow {
            jti: jti.into(),
            token_type: TokenType::Refresh,
            user_id: 1,
            sid: sid.into(),
            parent_jti: None,
            issued_at: at(issued),
            expires_at: at(expires),
            state,
            rotated_at: None,
            blacklisted_at: None,
            reason: None,
            last_seq: issued,
        }
    }

    #[test]
    fn a_session_spans_its_tokens_and_ends_with_its_last_usable_one() {
        let rows = [
            row("s1", "a", 0, 100, TokenState::Blacklisted),
            row("s1", "b", 10, 200, TokenState::Outstanding),
            row("s2", "c", 5, 50, TokenState::Blacklisted),
            row("s3", "d", 7, 20, TokenState::Outstanding),
        ];
        let sessions = summarise(&rows, at(30));
        assert_eq!(sessions.len(), 1, "s2 is revoked and s3 has ended");
        assert_eq!(sessions[0].sid, "s1");
        assert_eq!(sessions[0].created_at, at(0));
        assert_eq!(sessions[0].last_used_at, at(10));
        assert_eq!(sessions[0].expires_at, at(200));
    }
}
