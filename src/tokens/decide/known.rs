//! The presented token as the view knows it, or its adoption.

use super::Context;
use crate::ledger::{NewEvent, TokenRef, TokenRow, fold};
use crate::time;
use crate::tokens::claims::Verified;

/// The presented token as the view holds it; if the view did not, the `issued` event that
/// adopts it (the reference's blacklist app records unknown tokens the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub row: TokenRow,
    pub adopted: Option<NewEvent>,
}

impl Known {
    /// The events any decision about this token starts with.
    pub fn events(&self) -> Vec<NewEvent> {
        self.adopted.iter().cloned().collect()
    }

    /// The view's row of the token, as the decision's facts for the fold: none when the
    /// token is adopted (the view does not hold it).
    pub fn held(&self) -> Vec<TokenRow> {
        match self.adopted {
            None => vec![self.row.clone()],
            Some(_) => Vec::new(),
        }
    }
}

/// The view's row of a valid token we signed, or its adoption: the database was restored
/// from a backup, or the token comes from an imported deployment. `fresh_sid` is the session
/// of a token that names none.
pub fn known(
    ctx: Context<'_>,
    row: Option<TokenRow>,
    presented: &Verified,
    user_id: i64,
    fresh_sid: String,
) -> Known {
    if let Some(row) = row {
        return Known { row, adopted: None };
    }
    // A sliding token may be renewed until `refresh_exp`, each renewal as long as this one.
    let lifetime = presented
        .numeric("iat")
        .map_or(0, |iat| (presented.exp - iat).max(0));
    let ends = match presented.numeric("refresh_exp") {
        Some(refresh_exp) => presented.exp.max(refresh_exp.saturating_add(lifetime)),
        None => presented.exp,
    };
    let token = TokenRef {
        jti: presented.jti.clone(),
        token_type: presented.token_type,
        user_id,
        sid: presented.sid().map_or(fresh_sid, str::to_owned),
        expires_at: time::from_unix(ends).unwrap_or(ctx.now),
    };
    let adopted = NewEvent::issued(token, None, ctx.now).by(Some("adopted".into()));
    // The fold of an `issued` event into nothing is always a row.
    let row = fold::fold(None, &adopted.clone().with_seq(0))
        .unwrap_or_else(|| unreachable!("an issued event always folds into a row"));
    Known {
        row,
        adopted: Some(adopted),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ledger::{EventKind, TokenState, TokenType};
    use crate::tokens::decide::given::{at, context, policy, presented, row};

    fn known_row(row: TokenRow) -> Known {
        Known { row, adopted: None }
    }

    #[test]
    fn given_a_token_the_view_holds_then_nothing_is_adopted() {
        let policy = policy();
        let iat = time::to_unix(at(0));
        let token = presented(TokenType::Refresh, json!({"exp": iat + 60, "iat": iat}));
        let held = row("old", TokenType::Refresh, "s");
        let known = known(
            context(&policy, 1),
            Some(held.clone()),
            &token,
            7,
            "x".into(),
        );
        assert_eq!(known, known_row(held));
    }

    #[test]
    fn given_a_valid_token_the_view_lacks_then_it_is_adopted_in_its_own_session() {
        let policy = policy();
        let iat = time::to_unix(at(0));
        let token = presented(
            TokenType::Refresh,
            json!({"exp": iat + 60, "iat": iat, "sid": "theirs"}),
        );
        let known = known(context(&policy, 1), None, &token, 7, "fresh".into());
        let adopted = known.adopted.expect("an adoption");
        assert_eq!(adopted.event, EventKind::Issued);
        assert_eq!(adopted.actor.as_deref(), Some("adopted"));
        assert_eq!(adopted.token.sid, "theirs");
        assert_eq!(known.row.expires_at, at(60));
        assert_eq!(known.row.state, TokenState::Outstanding);
    }

    #[test]
    fn given_an_adopted_sliding_token_then_the_view_keeps_it_until_its_last_renewal_ends() {
        let policy = policy();
        let iat = time::to_unix(at(0));
        let token = presented(
            TokenType::Sliding,
            json!({"exp": iat + 300, "iat": iat, "refresh_exp": iat + 86_400}),
        );
        let known = known(context(&policy, 1), None, &token, 7, "fresh".into());
        assert_eq!(
            known.row.sid, "fresh",
            "a token without sid gets a new session"
        );
        assert_eq!(known.row.expires_at, at(86_400 + 300));
    }
}
