//! Login: an authenticated, active user gets a new session and its first tokens.

use super::issue::{Issue, issue};
use super::{Context, Decision, Fresh};
use crate::ledger::{NewEvent, TokenType};
use crate::tokens::claims::Claims;
use crate::users::User;

/// The claims of a new pair, to sign after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairClaims {
    pub refresh: Claims,
    pub access: Claims,
}

/// A refresh token and an access token in a new session; the access token's parent is the
/// refresh token, as a rotation's are.
pub fn pair(ctx: Context<'_>, user: &User, fresh: Fresh) -> Decision<PairClaims> {
    let Issue {
        claims: refresh,
        token: refresh_ref,
    } = issue(ctx, TokenType::Refresh, user, &fresh.sid, fresh.token);
    let Issue {
        claims: access,
        token: access_ref,
    } = issue(ctx, TokenType::Access, user, &fresh.sid, fresh.access);
    let parent = Some(refresh_ref.jti.clone());
    let events = vec![
        NewEvent::issued(refresh_ref, None, ctx.now),
        NewEvent::issued(access_ref, parent, ctx.now),
    ];
    // Both jtis are new: the fold has nothing to read.
    Decision::new(events, PairClaims { refresh, access }).decided_on(Vec::new())
}

/// A sliding token in a new session.
pub fn sliding(ctx: Context<'_>, user: &User, fresh: Fresh) -> Decision<Claims> {
    let Issue { claims, token } = issue(ctx, TokenType::Sliding, user, &fresh.sid, fresh.token);
    Decision::new(vec![NewEvent::issued(token, None, ctx.now)], claims).decided_on(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::EventKind;
    use crate::tokens::decide::given::{at, context, fresh, policy, user};

    #[test]
    fn given_a_user_when_logging_in_then_a_refresh_and_an_access_token_are_issued_in_a_new_session()
    {
        let policy = policy();
        let decided = pair(context(&policy, 5), &user(), fresh());
        let kinds: Vec<_> = decided
            .events
            .iter()
            .map(|e| (e.event, e.token.token_type, e.token.jti.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (EventKind::Issued, TokenType::Refresh, "new-token"),
                (EventKind::Issued, TokenType::Access, "new-access"),
            ]
        );
        assert!(decided.events.iter().all(|e| e.token.sid == "new-session"));
        assert!(decided.events.iter().all(|e| e.at == at(5)));
        assert_eq!(decided.events[1].parent_jti.as_deref(), Some("new-token"));
        assert_eq!(decided.outcome.refresh.jti, "new-token");
        assert_eq!(decided.outcome.access.jti, "new-access");
        assert_eq!(decided.outcome.access.user_id, "7");
    }

    #[test]
    fn given_a_user_when_logging_in_for_a_sliding_token_then_one_sliding_token_is_issued() {
        let policy = policy();
        let decided = sliding(context(&policy, 0), &user(), fresh());
        assert_eq!(decided.events.len(), 1);
        assert_eq!(decided.events[0].token.token_type, TokenType::Sliding);
        assert!(decided.outcome.refresh_exp.is_some());
    }
}
