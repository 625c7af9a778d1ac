//! Facts for the given/when/then tests of the rules.

use super::{Context, Fresh};
use crate::config::Settings;
use crate::ledger::{TokenRow, TokenState, TokenType};
use crate::tokens::claims::Verified;
use crate::tokens::policy::TokenPolicy;
use crate::users::User;

pub use crate::time::at;

/// The defaults of the contract: rotation with blacklisting, reuse detection, no grace.
pub fn policy() -> TokenPolicy {
    TokenPolicy::from_settings(&Settings::default()).expect("the default policy")
}

pub fn context(policy: &TokenPolicy, secs: i64) -> Context<'_> {
    Context {
        policy,
        now: at(secs),
    }
}

pub fn fresh() -> Fresh {
    Fresh {
        sid: "new-session".into(),
        token: "new-token".into(),
        access: "new-access".into(),
    }
}

pub fn user() -> User {
    User {
        id: 7,
        username: "alice".into(),
        email: Some("alice@example.com".into()),
        password_hash: String::new(),
        is_active: true,
        is_staff: false,
        date_joined: at(-1_000),
        last_login: None,
    }
}

/// An outstanding token of user 7 in session `sid`, issued at 0 for a day.
pub fn row(jti: &str, token_type: TokenType, sid: &str) -> TokenRow {
    TokenRow {
        jti: jti.into(),
        token_type,
        user_id: 7,
        sid: sid.into(),
        parent_jti: None,
        issued_at: at(0),
        expires_at: at(86_400),
        state: TokenState::Outstanding,
        rotated_at: None,
        blacklisted_at: None,
        reason: None,
        last_seq: 1,
    }
}

/// A decoded token with jti `old` and these claims.
pub fn presented(token_type: TokenType, payload: serde_json::Value) -> Verified {
    let serde_json::Value::Object(payload) = payload else {
        panic!("an object");
    };
    Verified {
        token_type,
        jti: "old".into(),
        exp: payload["exp"].as_i64().unwrap_or(0),
        payload,
    }
}
