//! What each Django token becomes: planned from its row alone, then decided against what the
//! ledger already knows (pure functions, tested in `import`'s tests).

use std::collections::HashSet;

use base64::Engine;
use chrono::NaiveDateTime;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ACTOR;
use super::django::OutstandingRow;
use crate::ledger::{NewEvent, Reason, TokenRef, TokenRow, TokenType};
use crate::time;

/// What one Django outstanding token becomes, before the ledger is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Expired,
    WithoutUser,
    Token { token: TokenRef, blacklisted: bool },
}

/// The session an imported token belongs to (SimpleJWT tokens carry no `sid`).
pub fn imported_sid(jti: &str) -> String {
    if jti.len() <= 64 {
        format!("imported-{jti}")
    } else {
        format!("imported-{}", hex::encode(Sha256::digest(jti.as_bytes())))
    }
}

/// Maps one outstanding row to the token it records. The type and a sliding token's
/// `refresh_exp` come from the JWT the row keeps (its signature is not checked: the row is
/// the issuer's own record); the table's `expires_at` is a sliding token's first `exp`.
pub fn plan_token(row: &OutstandingRow, users: &HashSet<i64>, now: NaiveDateTime) -> Planned {
    let Some(user_id) = row.user_id.filter(|id| users.contains(id)) else {
        return Planned::WithoutUser;
    };
    let payload = unverified_payload(&row.token);
    let claim = |name: &str| payload.as_ref().and_then(|p| p.get(name));
    let token_type = claim("token_type")
        .and_then(Value::as_str)
        .and_then(|name| name.parse::<TokenType>().ok())
        .unwrap_or(TokenType::Refresh);
    let refresh_exp = claim("refresh_exp")
        .and_then(Value::as_i64)
        .and_then(time::from_unix);
    let expires_at = refresh_exp.map_or(row.expires_at, |end| end.max(row.expires_at));
    if expires_at <= now {
        return Planned::Expired;
    }
    Planned::Token {
        token: TokenRef {
            jti: row.jti.clone(),
            token_type,
            user_id,
            sid: imported_sid(&row.jti),
            expires_at,
        },
        blacklisted: row.blacklisted_at.is_some(),
    }
}

fn unverified_payload(token: &str) -> Option<serde_json::Map<String, Value>> {
    let encoded = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(payload) => Some(payload),
        _ => None,
    }
}

/// What the ledger already knows of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    Unknown,
    /// In the view (imported before, or adopted when presented).
    InView(TokenRow),
    /// In the ledger but no longer in the view (flushed).
    Gone,
}

/// What happens to one token: the events, and how the summary counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Outstanding,
    Blacklisted,
    NewlyBlacklisted,
    AlreadyImported,
}

/// The events that bring the ledger up to what Django says of a token (pure).
pub fn events_for(
    token: TokenRef,
    blacklisted: bool,
    known: Known,
    at: NaiveDateTime,
) -> (Vec<NewEvent>, Outcome) {
    let actor = || Some(ACTOR.to_owned());
    match known {
        Known::Unknown => {
            let mut events = vec![NewEvent::issued(token.clone(), None, at).by(actor())];
            if blacklisted {
                events.push(NewEvent::blacklisted(token, Reason::Revoked, at).by(actor()));
                (events, Outcome::Blacklisted)
            } else {
                (events, Outcome::Outstanding)
            }
        }
        Known::InView(row) if blacklisted && !row.is_blacklisted() => (
            vec![NewEvent::blacklisted(row.token_ref(), Reason::Revoked, at).by(actor())],
            Outcome::NewlyBlacklisted,
        ),
        Known::InView(_) | Known::Gone => (Vec::new(), Outcome::AlreadyImported),
    }
}
