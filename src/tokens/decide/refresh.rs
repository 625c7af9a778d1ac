//! Presenting a refresh or sliding token: adoption of a token the view does not know,
//! rotation, the reuse grace, reuse detection, and sliding renewal.

use super::issue::{Issue, claims, claims_of_row, issue, user_claims};
use super::known::Known;
use super::revoke::blacklist_all;
use super::{Context, Decision, Fresh};
use crate::ledger::{NewEvent, Reason, TokenRow, TokenType};
use crate::time;
use crate::tokens::claims::{Claims, Verified};
use crate::tokens::error::{AuthError, TokenError};
use crate::users::User;

/// Which rule a presented refresh token falls under, and so which facts it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCase {
    /// Rotated within the reuse grace: another tab refreshed first; answer with its pair.
    Replay,
    /// Rotated before (beyond the grace) with reuse detection on: someone holds a copy.
    Reused,
    /// Blacklisted.
    Refused,
    /// Usable: refresh (and rotate, if the policy says so).
    Refresh,
}

pub fn case(ctx: Context<'_>, row: &TokenRow) -> RefreshCase {
    let policy = ctx.policy;
    // Zero grace means none, even where another instance's clock is a little behind.
    let within_grace = policy.reuse_grace > chrono::Duration::zero()
        && row
            .rotated_at
            .is_some_and(|rotated| ctx.now - rotated <= policy.reuse_grace);
    if within_grace {
        RefreshCase::Replay
    } else if row.rotated_at.is_some() && policy.reuse_detection {
        RefreshCase::Reused
    } else if row.is_blacklisted() {
        RefreshCase::Refused
    } else {
        RefreshCase::Refresh
    }
}

/// The facts each case needs, loaded inside the write transaction.
#[derive(Debug, Clone)]
pub enum RefreshFacts {
    /// The tokens the rotation issued (the view's children of the presented token), and
    /// the user as it is now if `TOKEN_CLAIMS` puts user fields in the access token.
    Replay {
        children: Vec<TokenRow>,
        user: Option<User>,
    },
    /// The session's outstanding tokens.
    Reused {
        session: Vec<TokenRow>,
    },
    Refused,
    /// The user as it is now (the new tokens claim it; an inactive one gets none).
    Refresh {
        user: Option<User>,
    },
}

/// The claims of a refresh's answer, to sign after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    pub access: Claims,
    /// Present when refresh tokens rotate (and in a replay).
    pub refresh: Option<Claims>,
}

pub fn refresh(
    ctx: Context<'_>,
    known: Known,
    facts: RefreshFacts,
    fresh: Fresh,
) -> Decision<Result<RefreshClaims, AuthError>> {
    let mut events = known.events();
    // The fold's facts: the presented token's row, and the session's on reuse. The tokens a
    // rotation mints are new.
    let mut read = known.held();
    let row = known.row;
    let outcome = match facts {
        RefreshFacts::Replay { children, user } => replay(ctx, &row, &children, user.as_ref()),
        RefreshFacts::Reused { session } => {
            read.extend_from_slice(&session);
            events.push(NewEvent::reuse_detected(row.token_ref(), ctx.now));
            events.extend(blacklist_all(
                ctx.now,
                &session,
                Reason::ReuseDetected,
                None,
            ));
            Err(TokenError::Blacklisted.into())
        }
        RefreshFacts::Refused => Err(TokenError::Blacklisted.into()),
        RefreshFacts::Refresh { user } => match user.filter(|user| user.is_active) {
            None => Err(AuthError::NoActiveAccountForToken),
            Some(user) => Ok(rotate(ctx, &row, &user, fresh, &mut events)),
        },
    };
    Decision::new(events, outcome).decided_on(read)
}

/// A new access token and, when refresh tokens rotate, a successor of `row` that takes its
/// place (`row` is marked rotated and, with `BLACKLIST_AFTER_ROTATION`, blacklisted).
fn rotate(
    ctx: Context<'_>,
    row: &TokenRow,
    user: &User,
    fresh: Fresh,
    events: &mut Vec<NewEvent>,
) -> RefreshClaims {
    let policy = ctx.policy;
    let access = issue(ctx, TokenType::Access, user, &row.sid, fresh.access);
    let mut refresh = None;
    if policy.rotate_refresh_tokens {
        let Issue { claims, token } = issue(ctx, TokenType::Refresh, user, &row.sid, fresh.token);
        events.push(NewEvent::rotated(row.token_ref(), ctx.now));
        if policy.blacklist_after_rotation {
            events.push(NewEvent::blacklisted(
                row.token_ref(),
                Reason::Rotation,
                ctx.now,
            ));
        }
        events.push(NewEvent::issued(token, Some(row.jti.clone()), ctx.now));
        refresh = Some(claims);
    }
    events.push(NewEvent::issued(
        access.token,
        Some(row.jti.clone()),
        ctx.now,
    ));
    RefreshClaims {
        access: access.claims,
        refresh,
    }
}

/// The pair the rotation of `rotated` issued: the same jtis and times, so the same tokens.
/// Refused if either has since been revoked.
fn replay(
    ctx: Context<'_>,
    rotated: &TokenRow,
    children: &[TokenRow],
    user: Option<&User>,
) -> Result<RefreshClaims, AuthError> {
    let policy = ctx.policy;
    let latest = |token_type: TokenType| {
        children
            .iter()
            .filter(|child| {
                child.token_type == token_type && Some(child.issued_at) == rotated.rotated_at
            })
            .max_by_key(|child| child.last_seq)
    };
    let (Some(refresh), Some(access)) = (latest(TokenType::Refresh), latest(TokenType::Access))
    else {
        return Err(TokenError::Blacklisted.into());
    };
    if refresh.is_blacklisted() || access.is_blacklisted() {
        return Err(TokenError::Blacklisted.into());
    }
    let user = if policy.user_claims.is_empty() {
        None
    } else {
        Some(
            user.filter(|user| user.is_active)
                .ok_or(AuthError::NoActiveAccountForToken)?,
        )
    };
    Ok(RefreshClaims {
        access: claims_of_row(policy, access, user),
        refresh: Some(claims_of_row(policy, refresh, None)),
    })
}

/// A sliding token renewed: the same jti and `refresh_exp`, a fresh `exp` and `iat`, never
/// past the view's end of the token (beyond it a flush forgets the token, and with it any
/// revocation; only bites when the lifetimes were changed since issue). `user`: the user as
/// it is now, loaded when `TOKEN_CLAIMS` puts user fields in the token.
pub fn renew_sliding(
    ctx: Context<'_>,
    known: Known,
    presented: &Verified,
    user_id: i64,
    user: Option<&User>,
) -> Decision<Result<Claims, AuthError>> {
    let events = known.events();
    let outcome = renewal(ctx, &known.row, presented, user_id, user);
    Decision::new(events, outcome).decided_on(known.held())
}

fn renewal(
    ctx: Context<'_>,
    row: &TokenRow,
    presented: &Verified,
    user_id: i64,
    user: Option<&User>,
) -> Result<Claims, AuthError> {
    let policy = ctx.policy;
    if row.is_blacklisted() {
        return Err(TokenError::Blacklisted.into());
    }
    let refresh_exp = match presented.payload.get("refresh_exp") {
        None => return Err(TokenError::MissingClaim("refresh_exp").into()),
        Some(_) => presented
            .numeric("refresh_exp")
            .ok_or(TokenError::Invalid)?,
    };
    if refresh_exp <= time::to_unix(ctx.now) {
        return Err(TokenError::ClaimExpired("refresh_exp").into());
    }
    let mut renewed = claims(
        policy,
        TokenType::Sliding,
        user_id,
        &row.sid,
        Some(refresh_exp),
        ctx.now,
        row.jti.clone(),
    );
    if !policy.user_claims.is_empty() {
        let user = user
            .filter(|user| user.is_active)
            .ok_or(AuthError::NoActiveAccountForToken)?;
        renewed.user = user_claims(policy, TokenType::Sliding, Some(user));
    }
    renewed.exp = renewed.exp.min(time::to_unix(row.expires_at));
    Ok(renewed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::UserClaim;
    use crate::ledger::{EventKind, TokenState};
    use crate::tokens::decide::given::{at, context, fresh, policy, presented, row, user};
    use crate::tokens::policy::TokenPolicy;

    fn kinds(events: &[NewEvent]) -> Vec<(EventKind, &str)> {
        events
            .iter()
            .map(|e| (e.event, e.token.jti.as_str()))
            .collect()
    }

    fn known_row(row: TokenRow) -> Known {
        Known { row, adopted: None }
    }

    #[test]
    fn given_a_usable_token_when_refreshed_then_it_is_rotated_blacklisted_and_succeeded() {
        let policy = policy();
        let ctx = context(&policy, 10);
        let old = row("old", TokenType::Refresh, "s");
        assert_eq!(case(ctx, &old), RefreshCase::Refresh);
        let decided = refresh(
            ctx,
            known_row(old),
            RefreshFacts::Refresh { user: Some(user()) },
            fresh(),
        );
        assert_eq!(
            kinds(&decided.events),
            [
                (EventKind::Rotated, "old"),
                (EventKind::Blacklisted, "old"),
                (EventKind::Issued, "new-token"),
                (EventKind::Issued, "new-access"),
            ]
        );
        assert_eq!(decided.events[1].reason, Some(Reason::Rotation));
        assert!(
            decided.events[2..]
                .iter()
                .all(|e| e.parent_jti.as_deref() == Some("old"))
        );
        assert!(decided.events.iter().all(|e| e.token.sid == "s"));
        let answer = decided.outcome.expect("refreshed");
        assert_eq!(answer.refresh.map(|c| c.jti).as_deref(), Some("new-token"));
        assert_eq!(answer.access.jti, "new-access");
    }

    #[test]
    fn given_no_rotation_when_refreshed_then_only_an_access_token_is_issued() {
        let mut policy = policy();
        policy.rotate_refresh_tokens = false;
        let decided = refresh(
            context(&policy, 10),
            known_row(row("old", TokenType::Refresh, "s")),
            RefreshFacts::Refresh { user: Some(user()) },
            fresh(),
        );
        assert_eq!(kinds(&decided.events), [(EventKind::Issued, "new-access")]);
        assert_eq!(decided.outcome.expect("refreshed").refresh, None);
    }

    #[test]
    fn given_rotation_without_blacklisting_then_the_old_token_is_only_marked_rotated() {
        let mut policy = policy();
        policy.blacklist_after_rotation = false;
        let decided = refresh(
            context(&policy, 10),
            known_row(row("old", TokenType::Refresh, "s")),
            RefreshFacts::Refresh { user: Some(user()) },
            fresh(),
        );
        assert!(
            !decided
                .events
                .iter()
                .any(|e| e.event == EventKind::Blacklisted)
        );
        assert_eq!(decided.events[0].event, EventKind::Rotated);
    }

    #[test]
    fn given_an_inactive_or_deleted_user_when_refreshed_then_refused_and_nothing_recorded() {
        let policy = policy();
        for user in [
            None,
            Some(User {
                is_active: false,
                ..user()
            }),
        ] {
            let decided = refresh(
                context(&policy, 10),
                known_row(row("old", TokenType::Refresh, "s")),
                RefreshFacts::Refresh { user },
                fresh(),
            );
            assert!(decided.events.is_empty());
            assert!(matches!(
                decided.outcome,
                Err(AuthError::NoActiveAccountForToken)
            ));
        }
    }

    #[test]
    fn given_a_rotated_token_beyond_the_grace_when_presented_again_then_its_session_is_revoked() {
        let policy = policy();
        let ctx = context(&policy, 100);
        let mut old = row("old", TokenType::Refresh, "s");
        old.rotated_at = Some(at(50));
        old.state = TokenState::Blacklisted;
        assert_eq!(case(ctx, &old), RefreshCase::Reused);
        let session = vec![
            row("successor", TokenType::Refresh, "s"),
            row("access", TokenType::Access, "s"),
        ];
        let decided = refresh(
            ctx,
            known_row(old),
            RefreshFacts::Reused { session },
            fresh(),
        );
        assert_eq!(
            kinds(&decided.events),
            [
                (EventKind::ReuseDetected, "old"),
                (EventKind::Blacklisted, "successor"),
                (EventKind::Blacklisted, "access"),
            ]
        );
        assert!(
            decided.events[1..]
                .iter()
                .all(|e| e.reason == Some(Reason::ReuseDetected))
        );
        assert!(matches!(
            decided.outcome,
            Err(AuthError::Token(TokenError::Blacklisted))
        ));
    }

    #[test]
    fn given_reuse_detection_off_then_a_rotated_blacklisted_token_is_only_refused() {
        let mut policy = policy();
        policy.reuse_detection = false;
        let mut old = row("old", TokenType::Refresh, "s");
        old.rotated_at = Some(at(50));
        old.state = TokenState::Blacklisted;
        assert_eq!(case(context(&policy, 100), &old), RefreshCase::Refused);
        let decided = refresh(
            context(&policy, 100),
            known_row(old),
            RefreshFacts::Refused,
            fresh(),
        );
        assert!(decided.events.is_empty());
        assert!(decided.outcome.is_err());
    }

    /// The contract's policy with a reuse grace of 5 s.
    fn with_grace() -> TokenPolicy {
        let mut policy = policy();
        policy.reuse_grace = chrono::Duration::seconds(5);
        policy
    }

    /// `old` presented again 2 s after its rotation at 10 s, its children loaded, no user.
    fn replay_at_12(
        policy: &TokenPolicy,
        old: TokenRow,
        children: Vec<TokenRow>,
    ) -> Decision<Result<RefreshClaims, AuthError>> {
        refresh(
            context(policy, 12),
            known_row(old),
            RefreshFacts::Replay {
                children,
                user: None,
            },
            fresh(),
        )
    }

    fn rotated_within_grace() -> (TokenRow, Vec<TokenRow>) {
        let mut old = row("old", TokenType::Refresh, "s");
        old.rotated_at = Some(at(10));
        old.state = TokenState::Blacklisted;
        let mut children = vec![
            row("successor", TokenType::Refresh, "s"),
            row("access", TokenType::Access, "s"),
        ];
        for child in &mut children {
            child.issued_at = at(10);
            child.expires_at = at(10 + 300);
        }
        (old, children)
    }

    #[test]
    fn given_a_rotation_within_the_grace_when_presented_again_then_the_same_pair_is_replayed() {
        let policy = with_grace();
        let (old, children) = rotated_within_grace();
        assert_eq!(case(context(&policy, 12), &old), RefreshCase::Replay);
        let decided = replay_at_12(&policy, old, children);
        assert!(decided.events.is_empty(), "a replay records nothing");
        let answer = decided.outcome.expect("replayed");
        assert_eq!(answer.access.jti, "access");
        assert_eq!(answer.access.iat, time::to_unix(at(10)));
        assert_eq!(answer.refresh.map(|c| c.jti).as_deref(), Some("successor"));
    }

    #[test]
    fn given_a_replay_whose_successor_was_revoked_then_refused() {
        let (old, mut children) = rotated_within_grace();
        children[0].state = TokenState::Blacklisted;
        let decided = replay_at_12(&with_grace(), old, children);
        assert!(matches!(
            decided.outcome,
            Err(AuthError::Token(TokenError::Blacklisted))
        ));
    }

    #[test]
    fn given_the_grace_has_passed_then_the_case_is_reuse_not_replay() {
        let policy = with_grace();
        let (old, _) = rotated_within_grace();
        assert_eq!(case(context(&policy, 15), &old), RefreshCase::Replay);
        assert_eq!(case(context(&policy, 16), &old), RefreshCase::Reused);
    }

    #[test]
    fn given_a_replay_with_token_claims_and_the_user_gone_then_refused() {
        let mut policy = with_grace();
        policy.user_claims = vec![UserClaim::Username];
        let (old, children) = rotated_within_grace();
        let decided = replay_at_12(&policy, old, children);
        assert!(matches!(
            decided.outcome,
            Err(AuthError::NoActiveAccountForToken)
        ));
    }

    fn sliding(refresh_exp: Option<i64>) -> Verified {
        let iat = time::to_unix(at(0));
        let mut payload = json!({"exp": iat + 300, "iat": iat});
        if let Some(refresh_exp) = refresh_exp {
            payload["refresh_exp"] = json!(time::to_unix(at(refresh_exp)));
        }
        presented(TokenType::Sliding, payload)
    }

    #[test]
    fn given_a_sliding_token_when_renewed_then_same_jti_fresh_exp_no_event() {
        let policy = policy();
        let mut held = row("old", TokenType::Sliding, "s");
        held.expires_at = at(10_000);
        let decided = renew_sliding(
            context(&policy, 100),
            known_row(held),
            &sliding(Some(1_000)),
            7,
            None,
        );
        assert!(decided.events.is_empty());
        let renewed = decided.outcome.expect("renewed");
        assert_eq!(renewed.jti, "old");
        assert_eq!(renewed.iat, time::to_unix(at(100)));
        assert_eq!(
            renewed.exp,
            time::to_unix(at(100)) + policy.sliding_lifetime
        );
        assert_eq!(renewed.refresh_exp, Some(time::to_unix(at(1_000))));
    }

    #[test]
    fn given_a_sliding_token_near_the_views_end_then_the_renewal_stops_there() {
        let policy = policy();
        let mut held = row("old", TokenType::Sliding, "s");
        held.expires_at = at(150);
        let renewed = renew_sliding(
            context(&policy, 100),
            known_row(held),
            &sliding(Some(1_000)),
            7,
            None,
        )
        .outcome
        .expect("renewed");
        assert_eq!(renewed.exp, time::to_unix(at(150)));
    }

    #[test]
    fn given_a_sliding_token_refusals_come_in_the_references_order() {
        let policy = policy();
        let ctx = context(&policy, 100);
        let mut blacklisted = row("old", TokenType::Sliding, "s");
        blacklisted.state = TokenState::Blacklisted;
        let refused = |row: TokenRow, token: Verified| {
            renew_sliding(ctx, known_row(row), &token, 7, None).outcome
        };
        assert!(matches!(
            refused(blacklisted, sliding(None)),
            Err(AuthError::Token(TokenError::Blacklisted))
        ));
        let held = || row("old", TokenType::Sliding, "s");
        assert!(matches!(
            refused(held(), sliding(None)),
            Err(AuthError::Token(TokenError::MissingClaim("refresh_exp")))
        ));
        assert!(matches!(
            refused(held(), sliding(Some(100))),
            Err(AuthError::Token(TokenError::ClaimExpired("refresh_exp")))
        ));
    }

    #[test]
    fn given_an_adopted_sliding_token_when_renewed_then_the_adoption_is_recorded_even_if_refused() {
        let policy = policy();
        let ctx = context(&policy, 100);
        let token = sliding(None);
        let known = super::super::known::known(ctx, None, &token, 7, "fresh".into());
        let decided = renew_sliding(ctx, known, &token, 7, None);
        assert_eq!(decided.events.len(), 1);
        assert!(decided.outcome.is_err());
    }
}
