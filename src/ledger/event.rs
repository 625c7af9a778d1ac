//! What the ledger records: one immutable event per change of a token's state.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::text_enum::text_enum;
use crate::db::schema::token_ledger;
use crate::time::rfc3339;

text_enum!(
    /// The kinds of ledger event (contract section 6).
    EventKind {
        Issued => "issued",
        Rotated => "rotated",
        Blacklisted => "blacklisted",
        Expired => "expired",
        ReuseDetected => "reuse_detected",
    }
);

text_enum!(
    /// The JWT `token_type` claim.
    TokenType {
        Access => "access",
        Refresh => "refresh",
        Sliding => "sliding",
    }
);

text_enum!(
    /// Why a token was blacklisted.
    Reason {
        Logout => "logout",
        Rotation => "rotation",
        LogoutAll => "logout_all",
        ReuseDetected => "reuse_detected",
        PasswordChanged => "password_changed",
        UserDeactivated => "user_deactivated",
        Admin => "admin",
        Revoked => "revoked",
        Lockout => "lockout",
    }
);

impl TokenType {
    /// Tokens presented as `Authorization: Bearer`; their revocations are held in memory.
    pub fn is_bearer(self) -> bool {
        matches!(self, TokenType::Access | TokenType::Sliding)
    }
}

/// An event as it stands in the ledger.
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize, utoipa::ToSchema,
)]
// `None` is written as NULL rather than left to the column's default (which is NULL too):
// rows of one shape, so SQLite takes a batch in one multi-row INSERT. With defaults, diesel
// cannot render one for SQLite and runs a statement per row.
#[diesel(table_name = token_ledger, treat_none_as_default_value = false)]
pub struct LedgerEvent {
    pub seq: i64,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub at: NaiveDateTime,
    pub event: EventKind,
    pub jti: String,
    pub token_type: TokenType,
    pub user_id: i64,
    pub sid: String,
    pub parent_jti: Option<String>,
    pub reason: Option<Reason>,
    pub actor: Option<String>,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub expires_at: NaiveDateTime,
    /// SHA-256 over the previous event's hash and this event's fields (see `chain`).
    pub hash: String,
}

/// The token an event is about: what every event of one token repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    pub jti: String,
    pub token_type: TokenType,
    pub user_id: i64,
    pub sid: String,
    /// When the token stops being usable (a sliding token's `refresh_exp`).
    pub expires_at: NaiveDateTime,
}

#[cfg(test)]
impl TokenRef {
    /// The unit tests' token: a refresh token of user 7 that ends a day after the tests' clock.
    pub fn for_tests() -> Self {
        Self {
            jti: "a".repeat(32),
            token_type: TokenType::Refresh,
            user_id: 7,
            sid: "s".repeat(32),
            expires_at: crate::time::at(86_400),
        }
    }
}

/// An event decided but not yet appended: it gets its `seq` inside the write transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at: NaiveDateTime,
    pub event: EventKind,
    pub token: TokenRef,
    pub parent_jti: Option<String>,
    pub reason: Option<Reason>,
    pub actor: Option<String>,
}

impl NewEvent {
    pub fn issued(token: TokenRef, parent_jti: Option<String>, at: NaiveDateTime) -> Self {
        Self::new(EventKind::Issued, token, at).with_parent(parent_jti)
    }

    pub fn rotated(token: TokenRef, at: NaiveDateTime) -> Self {
        Self::new(EventKind::Rotated, token, at)
    }

    pub fn blacklisted(token: TokenRef, reason: Reason, at: NaiveDateTime) -> Self {
        let mut event = Self::new(EventKind::Blacklisted, token, at);
        event.reason = Some(reason);
        event
    }

    pub fn expired(token: TokenRef, at: NaiveDateTime) -> Self {
        Self::new(EventKind::Expired, token, at)
    }

    pub fn reuse_detected(token: TokenRef, at: NaiveDateTime) -> Self {
        Self::new(EventKind::ReuseDetected, token, at)
    }

    pub fn by(mut self, actor: Option<String>) -> Self {
        self.actor = actor;
        self
    }

    fn with_parent(mut self, parent_jti: Option<String>) -> Self {
        self.parent_jti = parent_jti;
        self
    }

    fn new(event: EventKind, token: TokenRef, at: NaiveDateTime) -> Self {
        Self {
            at,
            event,
            token,
            parent_jti: None,
            reason: None,
            actor: None,
        }
    }

    pub fn with_seq(self, seq: i64) -> LedgerEvent {
        LedgerEvent {
            seq,
            at: self.at,
            event: self.event,
            jti: self.token.jti,
            token_type: self.token.token_type,
            user_id: self.token.user_id,
            sid: self.token.sid,
            parent_jti: self.parent_jti,
            reason: self.reason,
            actor: self.actor,
            expires_at: self.token.expires_at,
            hash: String::new(),
        }
    }
}
