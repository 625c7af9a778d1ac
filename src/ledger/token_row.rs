//! A token's row in the view, and its state: what the fold makes of a token's events.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::event::{Reason, TokenRef, TokenType};
use super::text_enum::text_enum;
use crate::db::schema::token_view;
use crate::time::rfc3339;

text_enum!(
    /// Whether a token in the view may still be used.
    TokenState {
        Outstanding => "outstanding",
        Blacklisted => "blacklisted",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize)]
// As `LedgerEvent`: `None` is NULL, so a batch of rows is one multi-row INSERT on SQLite.
#[diesel(table_name = token_view, treat_none_as_default_value = false)]
pub struct TokenRow {
    pub jti: String,
    pub token_type: TokenType,
    pub user_id: i64,
    pub sid: String,
    pub parent_jti: Option<String>,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub issued_at: NaiveDateTime,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub expires_at: NaiveDateTime,
    pub state: TokenState,
    #[serde(serialize_with = "rfc3339::serialize_opt")]
    pub rotated_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "rfc3339::serialize_opt")]
    pub blacklisted_at: Option<NaiveDateTime>,
    pub reason: Option<Reason>,
    /// The seq of the last event folded into this row: the view's own consistency marker.
    pub last_seq: i64,
}

impl TokenRow {
    pub fn token_ref(&self) -> TokenRef {
        TokenRef {
            jti: self.jti.clone(),
            token_type: self.token_type,
            user_id: self.user_id,
            sid: self.sid.clone(),
            expires_at: self.expires_at,
        }
    }

    pub fn is_blacklisted(&self) -> bool {
        self.state == TokenState::Blacklisted
    }
}
