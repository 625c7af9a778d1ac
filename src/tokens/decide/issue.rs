//! The claims of a token we are about to issue, and the ledger's record of it: one rule for
//! lifetimes, `refresh_exp`, `TOKEN_CLAIMS` and the view's end of a token.

use chrono::NaiveDateTime;

use super::Context;
use crate::config::UserClaim;
use crate::ledger::{TokenRef, TokenRow, TokenType};
use crate::time;
use crate::tokens::claims::{Claims, UserClaims};
use crate::tokens::policy::TokenPolicy;
use crate::users::User;

/// A token decided: the claims to sign once its `issued` event is committed, and the
/// ledger's record of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub claims: Claims,
    pub token: TokenRef,
}

/// A new token of `user` in session `sid`, with id `jti`, issued now.
pub fn issue(
    ctx: Context<'_>,
    token_type: TokenType,
    user: &User,
    sid: &str,
    jti: String,
) -> Issue {
    let policy = ctx.policy;
    let refresh_exp = (token_type == TokenType::Sliding)
        .then(|| time::to_unix(ctx.now) + policy.sliding_refresh_lifetime);
    let mut claims = claims(policy, token_type, user.id, sid, refresh_exp, ctx.now, jti);
    claims.user = user_claims(policy, token_type, Some(user));
    // A sliding token is usable until its last renewal expires: a renewal just before
    // `refresh_exp` signs `exp = refresh_exp + lifetime`. The view keeps the token (and a
    // revocation of it) until then, so a flush can never forget a revoked token that still
    // verifies; a renewal never signs past this end.
    let ends = match claims.refresh_exp {
        Some(refresh_exp) => claims.exp.max(refresh_exp + policy.sliding_lifetime),
        None => claims.exp,
    };
    let token = TokenRef {
        jti: claims.jti.clone(),
        token_type,
        user_id: user.id,
        sid: claims.sid.clone(),
        expires_at: time::from_unix(ends).unwrap_or(ctx.now),
    };
    Issue { claims, token }
}

/// The claims every token we sign carries; `TOKEN_CLAIMS` fields are added by the caller.
pub fn claims(
    policy: &TokenPolicy,
    token_type: TokenType,
    user_id: i64,
    sid: &str,
    refresh_exp: Option<i64>,
    now: NaiveDateTime,
    jti: String,
) -> Claims {
    let iat = time::to_unix(now);
    Claims {
        token_type,
        exp: iat + policy.lifetime(token_type),
        iat,
        jti,
        user_id: user_id.to_string(),
        sid: sid.to_owned(),
        user: UserClaims::default(),
        refresh_exp,
        iss: policy.issuer.clone(),
        aud: policy.audience.clone(),
    }
}

/// The claims of a token the view holds, as they were signed: the same jti and times, so
/// signing them again gives the same token (the reuse grace's replay).
pub fn claims_of_row(policy: &TokenPolicy, row: &TokenRow, user: Option<&User>) -> Claims {
    Claims {
        user: user_claims(policy, row.token_type, user),
        token_type: row.token_type,
        exp: time::to_unix(row.expires_at),
        iat: time::to_unix(row.issued_at),
        jti: row.jti.clone(),
        refresh_exp: None,
        user_id: row.user_id.to_string(),
        sid: row.sid.clone(),
        aud: policy.audience.clone(),
        iss: policy.issuer.clone(),
    }
}

/// The `TOKEN_CLAIMS` fields of `user`, for an access or sliding token; none otherwise.
pub fn user_claims(policy: &TokenPolicy, token_type: TokenType, user: Option<&User>) -> UserClaims {
    let (Some(user), true) = (user, token_type.is_bearer()) else {
        return UserClaims::default();
    };
    let mut claims = UserClaims::default();
    for claim in &policy.user_claims {
        match claim {
            UserClaim::Username => claims.username = Some(user.username.clone()),
            UserClaim::Email => claims.email = Some(user.email.clone().unwrap_or_default()),
            UserClaim::IsStaff => claims.is_staff = Some(user.is_staff),
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::decide::given::{at, context, policy, user};

    #[test]
    fn given_a_user_when_an_access_token_is_issued_then_it_lives_the_access_lifetime() {
        let policy = policy();
        let issued = issue(
            context(&policy, 0),
            TokenType::Access,
            &user(),
            "s",
            "j".into(),
        );
        assert_eq!(
            issued.claims.exp - issued.claims.iat,
            policy.access_lifetime
        );
        assert_eq!(issued.token.expires_at, at(policy.access_lifetime));
        assert_eq!(issued.claims.refresh_exp, None);
        assert_eq!((issued.token.jti.as_str(), issued.token.user_id), ("j", 7));
    }

    #[test]
    fn given_a_sliding_token_then_the_view_keeps_it_until_its_last_renewal_can_end() {
        let policy = policy();
        let issued = issue(
            context(&policy, 0),
            TokenType::Sliding,
            &user(),
            "s",
            "j".into(),
        );
        let refresh_exp = policy.sliding_refresh_lifetime;
        assert_eq!(
            issued.claims.refresh_exp,
            Some(time::to_unix(at(refresh_exp)))
        );
        assert_eq!(
            issued.token.expires_at,
            at(refresh_exp + policy.sliding_lifetime)
        );
    }

    #[test]
    fn given_token_claims_then_only_bearer_tokens_carry_the_user_fields() {
        let mut policy = policy();
        policy.user_claims = vec![UserClaim::Username, UserClaim::Email, UserClaim::IsStaff];
        let ctx = context(&policy, 0);
        let access = issue(ctx, TokenType::Access, &user(), "s", "a".into());
        assert_eq!(access.claims.user.username.as_deref(), Some("alice"));
        assert_eq!(
            access.claims.user.email.as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(access.claims.user.is_staff, Some(false));
        let refresh = issue(ctx, TokenType::Refresh, &user(), "s", "r".into());
        assert_eq!(refresh.claims.user, UserClaims::default());
    }

    #[test]
    fn a_user_without_email_claims_the_empty_string_as_django_stores_it() {
        let mut policy = policy();
        policy.user_claims = vec![UserClaim::Email];
        let nameless = User {
            email: None,
            ..user()
        };
        let claims = user_claims(&policy, TokenType::Access, Some(&nameless));
        assert_eq!(claims.email.as_deref(), Some(""));
    }
}
