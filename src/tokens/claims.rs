//! The claims we put in tokens, and the checks a presented payload must pass, in the order
//! the reference makes them (so the first failure gives the same message).

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::TokenError;
use crate::ledger::TokenType;

/// Claims of a token we sign (contract section 3). Field order is the serialised order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_exp: Option<i64>,
    pub user_id: String,
    pub sid: String,
    /// `TOKEN_CLAIMS`: the user's fields, in access and sliding tokens only.
    #[serde(flatten)]
    pub user: UserClaims,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// The user fields `TOKEN_CLAIMS` copies into a token (absent ones are not claimed), so a
/// service that verifies tokens itself needs no user lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A user without an email claims `""`, as Django stores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_staff: Option<bool>,
}

/// A fresh id for a token (`jti`) or a session (`sid`): 32 lowercase hex characters, the shape
/// of the reference's `uuid4().hex`, but a UUIDv7: a millisecond timestamp, then 74 random
/// bits (the `uuid` crate keeps one process's ids in order within a millisecond).
///
/// Why time-ordered: the jti and the sid are keys of most of the ledger's and the view's
/// indexes. Random keys put every new event, every state change and every flushed token on a
/// random page of each such index, so each write dirtied a page per index and the working set
/// was the whole file; keys in time order put new tokens at the right edge, and tokens that
/// end together (one lifetime per type) side by side. The jti is not a secret (a token's
/// signature, not its id, is what cannot be guessed) and the time it carries is in `iat`.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// What verification of a presented token needs besides the signature.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub now: i64,
    pub leeway: i64,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
}

/// A payload whose signature, times, issuer, audience, id and type checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub token_type: TokenType,
    pub jti: String,
    pub exp: i64,
    pub payload: Map<String, Value>,
}

impl Verified {
    /// The `user_id` claim as our numeric id, if it is one.
    pub fn user_id(&self) -> Option<i64> {
        match self.payload.get("user_id")? {
            Value::String(text) => text.parse().ok(),
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
    }

    pub fn has_user_id(&self) -> bool {
        self.payload
            .get("user_id")
            .is_some_and(|value| !value.is_null())
    }

    pub fn sid(&self) -> Option<&str> {
        self.payload.get("sid")?.as_str()
    }

    pub fn numeric(&self, claim: &str) -> Option<i64> {
        numeric_date(self.payload.get(claim)?)
    }
}

/// JWT NumericDate: integer seconds (PyJWT also takes floats, truncating).
fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

/// Time, issuer and audience checks (the reference's decode step), then presence of
/// `exp`, `jti` and the type (its verify step). `expected` `None` accepts any type.
pub fn check(
    payload: Map<String, Value>,
    rules: &Rules<'_>,
    expected: Option<TokenType>,
) -> Result<Verified, TokenError> {
    let time_claim = |name: &str| match payload.get(name) {
        None => Ok(None),
        Some(value) => numeric_date(value).map(Some).ok_or(TokenError::Invalid),
    };
    let iat = time_claim("iat")?;
    let nbf = time_claim("nbf")?;
    let exp = time_claim("exp")?;
    if iat.is_some_and(|iat| iat > rules.now + rules.leeway) {
        return Err(TokenError::Invalid);
    }
    if nbf.is_some_and(|nbf| nbf > rules.now + rules.leeway) {
        return Err(TokenError::Invalid);
    }
    if exp.is_some_and(|exp| exp <= rules.now - rules.leeway) {
        return Err(TokenError::Expired);
    }
    if let Some(issuer) = rules.issuer
        && payload.get("iss").and_then(Value::as_str) != Some(issuer)
    {
        return Err(TokenError::Invalid);
    }
    if let Some(audience) = rules.audience {
        let matches = match payload.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            _ => false,
        };
        if !matches {
            return Err(TokenError::Invalid);
        }
    }
    let exp = exp.ok_or(TokenError::MissingClaim("exp"))?;
    let jti = match payload.get("jti") {
        None | Some(Value::Null) => return Err(TokenError::NoId),
        Some(Value::String(jti)) if !jti.is_empty() => jti.clone(),
        Some(_) => return Err(TokenError::Invalid),
    };
    let token_type = match payload.get("token_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            Some(name.parse::<TokenType>().map_err(|_| TokenError::WrongType))
        }
        Some(_) => Some(Err(TokenError::WrongType)),
    };
    let token_type = match (expected, token_type) {
        (Some(_), None) => return Err(TokenError::NoType),
        (Some(expected), Some(found)) => match found {
            Ok(found) if found == expected => found,
            _ => return Err(TokenError::WrongType),
        },
        // Untyped verification (`/api/token/verify/`) still records what the token says.
        (None, Some(Ok(found))) => found,
        (None, _) => TokenType::Access,
    };
    Ok(Verified {
        token_type,
        jti,
        exp,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn rules() -> Rules<'static> {
        Rules {
            now: NOW,
            leeway: 0,
            issuer: None,
            audience: None,
        }
    }

    fn payload(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn good() -> Value {
        json!({"token_type": "refresh", "exp": NOW + 60, "iat": NOW, "jti": "abc", "user_id": "7"})
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        let mut p = payload(good());
        p.insert(key.into(), value);
        p
    }

    fn without(key: &str) -> Map<String, Value> {
        let mut p = payload(good());
        p.remove(key);
        p
    }

    #[test]
    fn a_good_payload_passes_with_its_fields() {
        let verified = check(payload(good()), &rules(), Some(TokenType::Refresh)).unwrap();
        assert_eq!(verified.jti, "abc");
        assert_eq!(verified.exp, NOW + 60);
        assert_eq!(verified.user_id(), Some(7));
    }

    #[test]
    fn each_failure_gives_the_reference_message() {
        let refresh = Some(TokenType::Refresh);
        assert_eq!(
            check(with("exp", json!(NOW)), &rules(), refresh),
            Err(TokenError::Expired)
        );
        assert_eq!(
            check(with("exp", json!("soon")), &rules(), refresh),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check(with("nbf", json!(NOW + 5)), &rules(), refresh),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check(with("iat", json!(NOW + 5)), &rules(), refresh),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check(without("exp"), &rules(), refresh),
            Err(TokenError::MissingClaim("exp"))
        );
        assert_eq!(
            check(without("jti"), &rules(), refresh),
            Err(TokenError::NoId)
        );
        assert_eq!(
            check(without("token_type"), &rules(), refresh),
            Err(TokenError::NoType)
        );
        assert_eq!(
            check(with("token_type", json!("access")), &rules(), refresh),
            Err(TokenError::WrongType)
        );
        assert_eq!(
            check(with("token_type", json!("bogus")), &rules(), refresh),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn expiry_is_checked_before_the_missing_claims() {
        let mut p = without("jti");
        p.insert("exp".into(), json!(NOW - 1));
        assert_eq!(
            check(p, &rules(), Some(TokenType::Refresh)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn leeway_extends_expiry_and_not_before() {
        let lenient = Rules {
            leeway: 10,
            ..rules()
        };
        assert!(
            check(
                with("exp", json!(NOW - 5)),
                &lenient,
                Some(TokenType::Refresh)
            )
            .is_ok()
        );
        assert!(
            check(
                with("nbf", json!(NOW + 5)),
                &lenient,
                Some(TokenType::Refresh)
            )
            .is_ok()
        );
    }

    #[test]
    fn issuer_and_audience_are_required_when_configured() {
        let strict = Rules {
            issuer: Some("tl"),
            audience: Some("api"),
            ..rules()
        };
        assert_eq!(
            check(payload(good()), &strict, None),
            Err(TokenError::Invalid)
        );
        let mut p = with("iss", json!("tl"));
        p.insert("aud".into(), json!(["other", "api"]));
        assert!(check(p, &strict, None).is_ok());
    }

    #[test]
    fn untyped_verification_accepts_any_type() {
        assert!(check(with("token_type", json!("sliding")), &rules(), None).is_ok());
        assert!(check(without("token_type"), &rules(), None).is_ok());
    }
}
