//! Signing and verifying keys. The algorithm comes from configuration only: a token's own
//! `alg` header is checked against it, never obeyed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Map, Value, json};

use super::claims::Claims;
use super::error::{AuthError, TokenError};
use crate::config::{Secret, SigningAlgorithm};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0:?} needs a PEM key pair; only HS256/HS384/HS512 are supported so far")]
    Unsupported(SigningAlgorithm),
    #[error("the signing key is empty")]
    Empty,
}

pub struct TokenKeys {
    algorithm: Algorithm,
    /// `{"alg":…,"typ":"JWT"}`, encoded once: the reference's header, in its key order.
    encoded_header: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(algorithm: SigningAlgorithm, key: &Secret) -> Result<Self, KeyError> {
        if !algorithm.is_hmac() {
            return Err(KeyError::Unsupported(algorithm));
        }
        if key.expose().is_empty() {
            return Err(KeyError::Empty);
        }
        let jose = match algorithm {
            SigningAlgorithm::HS384 => Algorithm::HS384,
            SigningAlgorithm::HS512 => Algorithm::HS512,
            _ => Algorithm::HS256,
        };
        let secret = key.expose().as_bytes();
        // Time, issuer and audience are checked by `claims::check`, in the reference's order
        // and with its messages; the library checks the signature and the algorithm only.
        let mut validation = Validation::new(jose);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        let header = json!({"alg": format!("{algorithm:?}"), "typ": "JWT"});
        Ok(Self {
            algorithm: jose,
            encoded_header: URL_SAFE_NO_PAD.encode(header.to_string()),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let payload =
            serde_json::to_vec(claims).map_err(|err| AuthError::Signing(err.to_string()))?;
        let message = format!(
            "{}.{}",
            self.encoded_header,
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, self.algorithm)
                .map_err(|err| AuthError::Signing(err.to_string()))?;
        Ok(format!("{message}.{signature}"))
    }

    /// The payload of a token whose signature and algorithm check out; anything else is
    /// `Token is invalid`.
    pub fn decode(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::TokenType;

    fn claims() -> Claims {
        Claims {
            token_type: TokenType::Access,
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            jti: "j".into(),
            user_id: "1".into(),
            sid: "s".into(),
            refresh_exp: None,
            iss: None,
            aud: None,
        }
    }

    #[test]
    fn signed_tokens_round_trip_and_carry_the_reference_header() {
        let keys = TokenKeys::new(SigningAlgorithm::HS256, &Secret::new("k")).unwrap();
        let token = keys.sign(&claims()).unwrap();
        let header = token.split('.').next().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(header).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
        assert_eq!(keys.decode(&token).unwrap()["jti"], "j");
    }

    #[test]
    fn another_key_or_algorithm_is_invalid() {
        let keys = TokenKeys::new(SigningAlgorithm::HS256, &Secret::new("k")).unwrap();
        let other = TokenKeys::new(SigningAlgorithm::HS256, &Secret::new("other")).unwrap();
        let hs512 = TokenKeys::new(SigningAlgorithm::HS512, &Secret::new("k")).unwrap();
        assert_eq!(
            keys.decode(&other.sign(&claims()).unwrap()),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            keys.decode(&hs512.sign(&claims()).unwrap()),
            Err(TokenError::Invalid)
        );
        assert_eq!(keys.decode("not.a.token"), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = TokenKeys::new(SigningAlgorithm::HS256, &Secret::new("k")).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        assert_eq!(
            keys.decode(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
    }
}
