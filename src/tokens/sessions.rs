//! Sessions (one login and every token rotated from it) and revocations beyond logout:
//! list and revoke sessions, log out everywhere, RFC 7009 revocation, RFC 7662 introspection.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::claims::Verified;
use super::error::AuthError;
use super::service::{TokenService, known_or_adopted};
use crate::db::StoreError;
use crate::ledger::{Decision, NewEvent, Reason, TokenRow, TokenType, view};
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
    /// An admin blacklists one token (reason `admin`). Idempotent: an already blacklisted
    /// token gets no second event. `None` if the view does not hold the token.
    pub fn admin_blacklist(&self, jti: &str, actor: &str) -> Result<Option<TokenRow>, StoreError> {
        let found = self.ledger().write(|conn| {
            let Some(row) = view::find(conn, jti)? else {
                return Ok(Decision::nothing(false));
            };
            if row.is_blacklisted() {
                return Ok(Decision::nothing(true));
            }
            let event = NewEvent::blacklisted(row.token_ref(), Reason::Admin, time::now())
                .by(Some(actor.into()));
            Ok::<_, StoreError>(Decision::new(vec![event], true))
        })?;
        if !found {
            return Ok(None);
        }
        view::find(&mut *self.ledger().pool().get()?, jti)
    }

    pub fn sessions(&self, user_id: i64) -> Result<Vec<SessionSummary>, StoreError> {
        let mut conn = self.ledger().pool().get()?;
        Ok(summarise(&view::of_user(&mut conn, user_id)?, time::now()))
    }

    /// Revokes one of the user's live sessions; `None` if it is not one.
    pub fn revoke_session(
        &self,
        user_id: i64,
        sid: &str,
        actor: &str,
    ) -> Result<Option<usize>, StoreError> {
        self.ledger().write(|conn| {
            let tokens = view::outstanding_of_session(conn, sid)?;
            if tokens.is_empty() || tokens.iter().any(|token| token.user_id != user_id) {
                return Ok(Decision::nothing(None));
            }
            let at = time::now();
            let events: Vec<NewEvent> = tokens
                .iter()
                .map(|token| {
                    NewEvent::blacklisted(token.token_ref(), Reason::Logout, at)
                        .by(Some(actor.into()))
                })
                .collect();
            let revoked = events.len();
            Ok(Decision::new(events, Some(revoked)))
        })
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
        let now = time::now();
        self.ledger().write(|conn| {
            let (row, mut events) = known_or_adopted(conn, &presented, user_id, now)?;
            let by = actor.map(str::to_owned);
            if !row.is_blacklisted() {
                events.push(
                    NewEvent::blacklisted(row.token_ref(), Reason::Revoked, now).by(by.clone()),
                );
            }
            if row.token_type == TokenType::Refresh {
                let bearers = view::outstanding_of_session(conn, &row.sid)?;
                events.extend(
                    bearers
                        .iter()
                        .filter(|token| token.token_type.is_bearer())
                        .map(|token| {
                            NewEvent::blacklisted(token.token_ref(), Reason::Revoked, now)
                                .by(by.clone())
                        }),
                );
            }
            Ok::<_, AuthError>(Decision::new(events, ()))
        })
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
    use crate::ledger::TokenState;

    fn at(secs: i64) -> NaiveDateTime {
        time::from_unix(1_800_000_000 + secs).unwrap()
    }

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
