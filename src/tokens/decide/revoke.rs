//! Revocations: logout, RFC 7009, an admin's blacklisting, a session's revocation, and
//! revoke-all (logout everywhere, password change, deactivation, lockout).

use chrono::NaiveDateTime;

use super::known::Known;
use super::{Context, Decision};
use crate::ledger::{NewEvent, Reason, TokenRow, TokenType};
use crate::tokens::error::{AuthError, TokenError};

/// `blacklisted` events for `rows`, all for one reason and by one actor.
pub fn blacklist_all(
    now: NaiveDateTime,
    rows: &[TokenRow],
    reason: Reason,
    actor: Option<&str>,
) -> Vec<NewEvent> {
    rows.iter()
        .map(|row| NewEvent::blacklisted(row.token_ref(), reason, now).by(actor.map(str::to_owned)))
        .collect()
}

/// Logout with a refresh token: it is blacklisted and, with `REVOKE_ACCESS_ON_LOGOUT`, so
/// are the bearer tokens of its session (`session`: the session's outstanding tokens).
pub fn logout(
    ctx: Context<'_>,
    known: Known,
    session: &[TokenRow],
) -> Decision<Result<(), AuthError>> {
    let mut events = known.events();
    let mut read = known.held();
    let row = known.row;
    if row.is_blacklisted() {
        return Decision::new(events, Err(TokenError::Blacklisted.into())).decided_on(read);
    }
    events.push(NewEvent::blacklisted(
        row.token_ref(),
        Reason::Logout,
        ctx.now,
    ));
    if ctx.policy.revoke_access_on_logout {
        events.extend(blacklist_all(
            ctx.now,
            &bearers(session),
            Reason::Logout,
            None,
        ));
    }
    read.extend_from_slice(session);
    Decision::new(events, Ok(())).decided_on(read)
}

/// RFC 7009: the presented token is revoked; a refresh token takes its session's bearer
/// tokens with it, as the RFC asks for tokens of the same grant. Revoking a revoked token
/// is no error.
pub fn revoke_presented(
    ctx: Context<'_>,
    known: Known,
    session: &[TokenRow],
    actor: Option<&str>,
) -> Decision<()> {
    let mut events = known.events();
    let mut read = known.held();
    let row = known.row;
    if !row.is_blacklisted() {
        events.extend(blacklist_all(
            ctx.now,
            std::slice::from_ref(&row),
            Reason::Revoked,
            actor,
        ));
    }
    if row.token_type == TokenType::Refresh {
        events.extend(blacklist_all(
            ctx.now,
            &bearers(session),
            Reason::Revoked,
            actor,
        ));
    }
    read.extend_from_slice(session);
    Decision::new(events, ()).decided_on(read)
}

/// What an admin's blacklisting of one token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminBlacklist {
    /// The view does not hold the token.
    Unknown,
    /// Blacklisted now, or already (no second event: idempotent).
    Blacklisted,
}

pub fn admin_blacklist(
    ctx: Context<'_>,
    row: Option<&TokenRow>,
    actor: &str,
) -> Decision<AdminBlacklist> {
    match row {
        None => Decision::nothing(AdminBlacklist::Unknown),
        Some(row) if row.is_blacklisted() => Decision::nothing(AdminBlacklist::Blacklisted),
        Some(row) => Decision::new(
            blacklist_all(
                ctx.now,
                std::slice::from_ref(row),
                Reason::Admin,
                Some(actor),
            ),
            AdminBlacklist::Blacklisted,
        )
        .decided_on(vec![row.clone()]),
    }
}

/// A user revokes one of their live sessions (`session`: its outstanding tokens). `None`
/// when it is not one of theirs, or not live: nothing tells a stranger's session apart.
pub fn revoke_session(
    ctx: Context<'_>,
    user_id: i64,
    session: &[TokenRow],
    actor: &str,
) -> Decision<Option<usize>> {
    if session.is_empty() || session.iter().any(|token| token.user_id != user_id) {
        return Decision::nothing(None);
    }
    let events = blacklist_all(ctx.now, session, Reason::Logout, Some(actor));
    let revoked = events.len();
    Decision::new(events, Some(revoked)).decided_on(session.to_vec())
}

/// Every outstanding token of a user (`outstanding`) but those of `keep_sid`: logout
/// everywhere, a password change (which keeps the session that asked), a deactivation.
/// Answers how many.
pub fn revoke_all(
    now: NaiveDateTime,
    outstanding: &[TokenRow],
    reason: Reason,
    actor: Option<&str>,
    keep_sid: Option<&str>,
) -> Decision<usize> {
    let revoked: Vec<TokenRow> = outstanding
        .iter()
        .filter(|row| Some(row.sid.as_str()) != keep_sid)
        .cloned()
        .collect();
    let events = blacklist_all(now, &revoked, reason, actor);
    let count = events.len();
    Decision::new(events, count).decided_on(revoked)
}

/// The lockout's revocation, at most once per user per window: `claimed` says whether this
/// failure is the first of the window to claim it. `None` when another already did.
pub fn lockout(
    ctx: Context<'_>,
    claimed: bool,
    outstanding: &[TokenRow],
    actor: &str,
) -> Decision<Option<usize>> {
    if !claimed {
        return Decision::nothing(None);
    }
    revoke_all(ctx.now, outstanding, Reason::Lockout, Some(actor), None).map(Some)
}

fn bearers(session: &[TokenRow]) -> Vec<TokenRow> {
    session
        .iter()
        .filter(|token| token.token_type.is_bearer())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{EventKind, TokenState};
    use crate::tokens::decide::given::{context, policy, row};

    fn known(row: TokenRow) -> Known {
        Known { row, adopted: None }
    }

    fn revoked(events: &[NewEvent]) -> Vec<(&str, Option<Reason>, Option<&str>)> {
        assert!(events.iter().all(|e| e.event == EventKind::Blacklisted));
        events
            .iter()
            .map(|e| (e.token.jti.as_str(), e.reason, e.actor.as_deref()))
            .collect()
    }

    fn session() -> Vec<TokenRow> {
        vec![
            row("refresh", TokenType::Refresh, "s"),
            row("access", TokenType::Access, "s"),
            row("other-refresh", TokenType::Refresh, "s"),
        ]
    }

    #[test]
    fn given_an_outstanding_refresh_token_when_logging_out_then_it_and_its_sessions_bearers_go() {
        let policy = policy();
        let decided = logout(
            context(&policy, 1),
            known(row("refresh", TokenType::Refresh, "s")),
            &session(),
        );
        assert!(decided.outcome.is_ok());
        assert_eq!(
            revoked(&decided.events),
            [
                ("refresh", Some(Reason::Logout), None),
                ("access", Some(Reason::Logout), None),
            ]
        );
    }

    #[test]
    fn given_revoke_access_on_logout_off_then_only_the_refresh_token_goes() {
        let mut policy = policy();
        policy.revoke_access_on_logout = false;
        let decided = logout(
            context(&policy, 1),
            known(row("refresh", TokenType::Refresh, "s")),
            &session(),
        );
        assert_eq!(
            revoked(&decided.events),
            [("refresh", Some(Reason::Logout), None)]
        );
    }

    #[test]
    fn given_a_blacklisted_token_when_logging_out_then_refused_and_nothing_recorded() {
        let policy = policy();
        let mut gone = row("refresh", TokenType::Refresh, "s");
        gone.state = TokenState::Blacklisted;
        let decided = logout(context(&policy, 1), known(gone), &session());
        assert!(decided.events.is_empty());
        assert!(matches!(
            decided.outcome,
            Err(AuthError::Token(TokenError::Blacklisted))
        ));
    }

    #[test]
    fn given_a_refresh_token_when_revoked_by_rfc7009_then_its_grants_bearers_go_too() {
        let policy = policy();
        let decided = revoke_presented(
            context(&policy, 1),
            known(row("refresh", TokenType::Refresh, "s")),
            &session(),
            Some("client"),
        );
        assert_eq!(
            revoked(&decided.events),
            [
                ("refresh", Some(Reason::Revoked), Some("client")),
                ("access", Some(Reason::Revoked), Some("client")),
            ]
        );
    }

    #[test]
    fn given_an_access_token_when_revoked_then_only_it_goes_and_again_is_no_event() {
        let policy = policy();
        let ctx = context(&policy, 1);
        let access = row("access", TokenType::Access, "s");
        let decided = revoke_presented(ctx, known(access.clone()), &[], None);
        assert_eq!(
            revoked(&decided.events),
            [("access", Some(Reason::Revoked), None)]
        );
        let mut gone = access;
        gone.state = TokenState::Blacklisted;
        assert!(
            revoke_presented(ctx, known(gone), &[], None)
                .events
                .is_empty()
        );
    }

    #[test]
    fn given_admin_blacklist_then_unknown_blacklisted_once_and_idempotent() {
        let policy = policy();
        let ctx = context(&policy, 1);
        assert_eq!(
            admin_blacklist(ctx, None, "admin:1").outcome,
            AdminBlacklist::Unknown
        );
        let mut token = row("t", TokenType::Access, "s");
        let decided = admin_blacklist(ctx, Some(&token), "admin:1");
        assert_eq!(decided.outcome, AdminBlacklist::Blacklisted);
        assert_eq!(
            revoked(&decided.events),
            [("t", Some(Reason::Admin), Some("admin:1"))]
        );
        token.state = TokenState::Blacklisted;
        let again = admin_blacklist(ctx, Some(&token), "admin:1");
        assert_eq!(again.outcome, AdminBlacklist::Blacklisted);
        assert!(again.events.is_empty());
    }

    #[test]
    fn given_someone_elses_or_an_empty_session_when_revoked_then_nothing() {
        let policy = policy();
        let ctx = context(&policy, 1);
        assert_eq!(revoke_session(ctx, 7, &[], "me").outcome, None);
        let mut theirs = session();
        theirs[1].user_id = 8;
        let decided = revoke_session(ctx, 7, &theirs, "me");
        assert_eq!(decided.outcome, None);
        assert!(decided.events.is_empty());
        let mine = revoke_session(ctx, 7, &session(), "me");
        assert_eq!(mine.outcome, Some(3));
        assert!(mine.events.iter().all(|e| e.reason == Some(Reason::Logout)));
    }

    #[test]
    fn given_a_password_change_then_every_session_but_the_callers_is_revoked() {
        let policy = policy();
        let tokens = vec![
            row("mine", TokenType::Access, "kept"),
            row("a", TokenType::Refresh, "s1"),
            row("b", TokenType::Access, "s2"),
        ];
        let decided = revoke_all(
            context(&policy, 1).now,
            &tokens,
            Reason::PasswordChanged,
            Some("user:7"),
            Some("kept"),
        );
        assert_eq!(decided.outcome, 2);
        assert_eq!(
            revoked(&decided.events),
            [
                ("a", Some(Reason::PasswordChanged), Some("user:7")),
                ("b", Some(Reason::PasswordChanged), Some("user:7")),
            ]
        );
    }

    #[test]
    fn given_a_lockout_then_revoked_only_by_the_failure_that_claimed_the_window() {
        let policy = policy();
        let ctx = context(&policy, 1);
        let tokens = session();
        let first = lockout(ctx, true, &tokens, "login_throttle");
        assert_eq!(first.outcome, Some(3));
        assert!(
            first
                .events
                .iter()
                .all(|e| e.reason == Some(Reason::Lockout))
        );
        let later = lockout(ctx, false, &tokens, "login_throttle");
        assert_eq!(later.outcome, None);
        assert!(later.events.is_empty());
    }
}
