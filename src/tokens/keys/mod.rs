//! Signing and verifying keys. The algorithm comes from configuration only: a token's own
//! `alg` header is checked against it, never obeyed.

mod pem;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Map, Value, json};

pub use self::pem::PublicKey;
use super::claims::Claims;
use super::error::{AuthError, TokenError};
use crate::config::{Secret, SigningAlgorithm};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key is empty")]
    Empty,
    #[error(
        "{0:?} signs with a PEM private key: set TOKENLEDGER_SIGNING_KEY_FILE (or TOKENLEDGER_SIGNING_KEY)"
    )]
    NeedsPrivateKey(SigningAlgorithm),
    #[error("{0:?} has no public key")]
    NotAsymmetric(Algorithm),
    #[error("{0}")]
    Malformed(String),
    #[error(
        "the {algorithm:?} signing key is {bytes} bytes; it must be at least {needed} (RFC 7518 \
         section 3.2: no shorter than the hash's output). Generate one with `openssl rand -hex {needed}`"
    )]
    TooShort {
        algorithm: SigningAlgorithm,
        bytes: usize,
        needed: usize,
    },
}

/// The fewest bytes an HMAC key may have: the size of the hash's output (RFC 7518, 3.2).
fn hmac_minimum(algorithm: SigningAlgorithm) -> usize {
    match algorithm {
        SigningAlgorithm::HS384 => 48,
        SigningAlgorithm::HS512 => 64,
        _ => 32,
    }
}

/// The JOSE algorithm of a configured one.
pub fn jose(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::HS256 => Algorithm::HS256,
        SigningAlgorithm::HS384 => Algorithm::HS384,
        SigningAlgorithm::HS512 => Algorithm::HS512,
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::RS384 => Algorithm::RS384,
        SigningAlgorithm::RS512 => Algorithm::RS512,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::PS384 => Algorithm::PS384,
        SigningAlgorithm::PS512 => Algorithm::PS512,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::ES384 => Algorithm::ES384,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

/// The key this instance signs new tokens with.
pub struct SigningKey {
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// The HMAC secret's verifier, or the private key's public half.
    verifying: Verifying,
}

enum Verifying {
    Secret(DecodingKey),
    Public(Box<PublicKey>),
}

impl SigningKey {
    /// An HMAC secret, or a PEM private key for an asymmetric algorithm.
    pub fn load(algorithm: SigningAlgorithm, key: &Secret) -> Result<Self, KeyError> {
        let jose = jose(algorithm);
        if key.expose().trim().is_empty() {
            return Err(KeyError::Empty);
        }
        if algorithm.is_hmac() {
            let secret = key.expose().as_bytes();
            let needed = hmac_minimum(algorithm);
            if secret.len() < needed {
                return Err(KeyError::TooShort {
                    algorithm,
                    bytes: secret.len(),
                    needed,
                });
            }
            return Ok(Self {
                algorithm: jose,
                encoding: EncodingKey::from_secret(secret),
                verifying: Verifying::Secret(DecodingKey::from_secret(secret)),
            });
        }
        if !key.expose().contains("-----BEGIN") {
            return Err(KeyError::NeedsPrivateKey(algorithm));
        }
        let (encoding, public) = pem::private_key(jose, key.expose().as_bytes())?;
        Ok(Self {
            algorithm: jose,
            encoding,
            verifying: Verifying::Public(Box::new(public)),
        })
    }

    /// The public half (`None` for HMAC), recorded so it outlives this key's retirement.
    pub fn public(&self) -> Option<&PublicKey> {
        match &self.verifying {
            Verifying::Public(public) => Some(public),
            Verifying::Secret(_) => None,
        }
    }
}

/// A public key that no longer signs but still verifies: until `verifies_until` (unix seconds,
/// when the last token it can have signed expires), or while configured when `None`.
pub struct RetiredKey {
    pub key: PublicKey,
    pub verifies_until: Option<i64>,
}

struct Verifier {
    kid: Option<String>,
    decoding: DecodingKey,
    validation: Validation,
    jwk: Option<Jwk>,
    verifies_until: Option<i64>,
}

impl Verifier {
    fn new(
        algorithm: Algorithm,
        kid: Option<String>,
        decoding: DecodingKey,
        jwk: Option<Jwk>,
    ) -> Self {
        // Time, issuer and audience are checked by `claims::check`, in the reference's order
        // and with its messages; the library checks the signature and the algorithm only.
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        Self {
            kid,
            decoding,
            validation,
            jwk,
            verifies_until: None,
        }
    }

    fn from_public(key: PublicKey) -> Self {
        Self::new(key.algorithm, Some(key.kid), key.decoding, Some(key.jwk))
    }

    fn live(&self, now: &mut Option<i64>) -> bool {
        self.verifies_until
            .is_none_or(|until| *now.get_or_insert_with(|| chrono::Utc::now().timestamp()) < until)
    }

    /// A token's `kid` picks the key; without one, every key of its algorithm is tried. An
    /// HMAC secret has no `kid` and ignores the header's.
    fn accepts(&self, header: &jsonwebtoken::Header) -> bool {
        self.validation.algorithms.contains(&header.alg)
            && match (&header.kid, &self.kid) {
                (Some(presented), Some(ours)) => presented == ours,
                _ => true,
            }
    }
}

pub struct TokenKeys {
    algorithm: Algorithm,
    /// `{"alg":…,"typ":"JWT"}` (with `kid` between them for asymmetric keys), encoded once:
    /// PyJWT's header, keys sorted as it sorts them.
    encoded_header: String,
    encoding: EncodingKey,
    /// The signing key's verifier first, then retired keys.
    verifiers: Vec<Verifier>,
}

impl TokenKeys {
    pub fn new(signing: SigningKey, retired: Vec<RetiredKey>) -> Self {
        let algorithm = signing.algorithm;
        let (header, first) = match signing.verifying {
            Verifying::Secret(decoding) => (
                json!({"alg": format!("{algorithm:?}"), "typ": "JWT"}),
                Verifier::new(algorithm, None, decoding, None),
            ),
            Verifying::Public(public) => (
                json!({"alg": format!("{algorithm:?}"), "kid": public.kid, "typ": "JWT"}),
                Verifier::from_public(*public),
            ),
        };
        let mut verifiers = vec![first];
        for retired in retired {
            if verifiers
                .iter()
                .any(|v| v.kid.as_ref() == Some(&retired.key.kid))
            {
                continue;
            }
            let mut verifier = Verifier::from_public(retired.key);
            verifier.verifies_until = retired.verifies_until;
            verifiers.push(verifier);
        }
        Self {
            algorithm,
            encoded_header: URL_SAFE_NO_PAD.encode(header.to_string()),
            encoding: signing.encoding,
            verifiers,
        }
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

    /// The payload of a token whose signature checks out under one of our live keys, for that
    /// key's configured algorithm; anything else is `Token is invalid`.
    pub fn decode(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        // One key that takes any `kid` and never retires (an HMAC secret, the common case):
        // `decode` checks the algorithm itself, so the header need not be read twice.
        if let [only] = self.verifiers.as_slice()
            && only.kid.is_none()
            && only.verifies_until.is_none()
        {
            return jsonwebtoken::decode::<Map<String, Value>>(
                token,
                &only.decoding,
                &only.validation,
            )
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let mut now = None;
        self.verifiers
            .iter()
            .filter(|verifier| verifier.accepts(&header))
            .filter(|verifier| verifier.live(&mut now))
            .find_map(|verifier| {
                jsonwebtoken::decode::<Map<String, Value>>(
                    token,
                    &verifier.decoding,
                    &verifier.validation,
                )
                .ok()
            })
            .map(|data| data.claims)
            .ok_or(TokenError::Invalid)
    }

    /// Every public key that still verifies (RFC 7517); empty for HMAC.
    pub fn jwks(&self) -> JwkSet {
        let mut now = None;
        JwkSet {
            keys: self
                .verifiers
                .iter()
                .filter(|verifier| verifier.live(&mut now))
                .filter_map(|verifier| verifier.jwk.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::TokenType;

    /// A key of `secret` repeated to the algorithm's minimum length.
    fn hmac(algorithm: SigningAlgorithm, secret: &str) -> TokenKeys {
        let secret = secret.repeat(hmac_minimum(algorithm).div_ceil(secret.len()));
        TokenKeys::new(
            SigningKey::load(algorithm, &Secret::new(secret)).unwrap(),
            vec![],
        )
    }

    fn claims() -> Claims {
        Claims {
            token_type: TokenType::Access,
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            jti: "j".into(),
            user_id: "1".into(),
            sid: "s".into(),
            user: Default::default(),
            refresh_exp: None,
            iss: None,
            aud: None,
        }
    }

    #[test]
    fn signed_tokens_round_trip_and_carry_the_reference_header() {
        let keys = hmac(SigningAlgorithm::HS256, "k");
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
        let keys = hmac(SigningAlgorithm::HS256, "k");
        let other = hmac(SigningAlgorithm::HS256, "other");
        let hs512 = hmac(SigningAlgorithm::HS512, "k");
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
        let keys = hmac(SigningAlgorithm::HS256, "k");
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        assert_eq!(
            keys.decode(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    fn asymmetric(algorithm: SigningAlgorithm, private: &str) -> SigningKey {
        SigningKey::load(algorithm, &Secret::new(fixture(private))).unwrap()
    }

    fn header_of(token: &str) -> Value {
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
    }

    #[test]
    fn every_asymmetric_algorithm_signs_with_a_kid_its_public_pem_reproduces() {
        let cases = [
            (SigningAlgorithm::RS256, "rsa-a"),
            (SigningAlgorithm::RS384, "rsa-b"),
            (SigningAlgorithm::RS512, "rsa-a"),
            (SigningAlgorithm::PS256, "rsa-b"),
            (SigningAlgorithm::PS384, "rsa-a"),
            (SigningAlgorithm::PS512, "rsa-a"),
            (SigningAlgorithm::ES256, "ec256-a"),
            (SigningAlgorithm::ES256, "ec256-b"),
            (SigningAlgorithm::ES384, "ec384"),
            (SigningAlgorithm::EdDSA, "ed25519"),
        ];
        for (algorithm, name) in cases {
            let public = PublicKey::from_pem(
                jose(algorithm),
                fixture(&format!("{name}.pub.pem")).as_bytes(),
            )
            .unwrap();
            let keys = TokenKeys::new(asymmetric(algorithm, &format!("{name}.pem")), vec![]);
            let token = keys.sign(&claims()).unwrap();
            assert_eq!(
                header_of(&token),
                json!({"alg": format!("{algorithm:?}"), "kid": public.kid, "typ": "JWT"}),
                "{algorithm:?} {name}"
            );
            assert_eq!(
                keys.decode(&token).unwrap()["jti"],
                "j",
                "{algorithm:?} {name}"
            );
            let only_public = TokenKeys::new(
                hmac_signer(),
                vec![RetiredKey {
                    key: public,
                    verifies_until: None,
                }],
            );
            assert!(
                only_public.decode(&token).is_ok(),
                "{algorithm:?} {name} by its public PEM"
            );
            let published = serde_json::to_value(keys.jwks()).unwrap();
            assert_eq!(published["keys"].as_array().unwrap().len(), 1);
            assert_eq!(published["keys"][0]["use"], "sig");
            assert!(
                published["keys"][0].get("d").is_none(),
                "no private part is published"
            );
        }
    }

    #[test]
    fn hmac_keys_shorter_than_the_hash_are_refused() {
        for (algorithm, needed) in [
            (SigningAlgorithm::HS256, 32),
            (SigningAlgorithm::HS384, 48),
            (SigningAlgorithm::HS512, 64),
        ] {
            let short = SigningKey::load(algorithm, &Secret::new("k".repeat(needed - 1)));
            assert!(
                matches!(short, Err(KeyError::TooShort { bytes, .. }) if bytes == needed - 1),
                "{algorithm:?}"
            );
            assert!(SigningKey::load(algorithm, &Secret::new("k".repeat(needed))).is_ok());
        }
    }

    fn hmac_signer() -> SigningKey {
        SigningKey::load(
            SigningAlgorithm::HS256,
            &Secret::new("an unrelated key of thirty-two bytes"),
        )
        .unwrap()
    }

    #[test]
    fn a_key_that_does_not_fit_the_algorithm_is_refused_at_load() {
        for (algorithm, name) in [
            (SigningAlgorithm::ES384, "ec256-b.pem"),
            (SigningAlgorithm::ES256, "rsa-a.pem"),
            (SigningAlgorithm::RS256, "ed25519.pem"),
            (SigningAlgorithm::EdDSA, "ec256-a.pem"),
            (SigningAlgorithm::RS256, "rsa-a.pub.pem"),
        ] {
            let loaded = SigningKey::load(algorithm, &Secret::new(fixture(name)));
            assert!(loaded.is_err(), "{algorithm:?} with {name}");
        }
        assert!(matches!(
            SigningKey::load(SigningAlgorithm::ES256, &Secret::new("a shared secret")),
            Err(KeyError::NeedsPrivateKey(SigningAlgorithm::ES256))
        ));
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused_by_an_rs256_service() {
        let keys = TokenKeys::new(asymmetric(SigningAlgorithm::RS256, "rsa-a.pem"), vec![]);
        let confused = TokenKeys::new(
            SigningKey::load(
                SigningAlgorithm::HS256,
                &Secret::new(fixture("rsa-a.pub.pem")),
            )
            .unwrap(),
            vec![],
        );
        let forged = confused.sign(&claims()).unwrap();
        assert_eq!(keys.decode(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn a_kid_naming_no_key_of_ours_is_invalid() {
        let ours = TokenKeys::new(asymmetric(SigningAlgorithm::ES256, "ec256-a.pem"), vec![]);
        let theirs = TokenKeys::new(asymmetric(SigningAlgorithm::ES256, "ec256-b.pem"), vec![]);
        assert_eq!(
            ours.decode(&theirs.sign(&claims()).unwrap()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn a_retired_key_verifies_and_is_published_until_its_bound() {
        let old = asymmetric(SigningAlgorithm::ES256, "ec256-a.pem");
        let old_token = TokenKeys::new(asymmetric(SigningAlgorithm::ES256, "ec256-a.pem"), vec![])
            .sign(&claims())
            .unwrap();
        let retired = |until: i64| RetiredKey {
            key: old.public().unwrap().clone(),
            verifies_until: Some(until),
        };
        let now = chrono::Utc::now().timestamp();
        let within = TokenKeys::new(
            asymmetric(SigningAlgorithm::ES256, "ec256-b.pem"),
            vec![retired(now + 60)],
        );
        assert!(within.decode(&old_token).is_ok());
        assert_eq!(within.jwks().keys.len(), 2);
        let past = TokenKeys::new(
            asymmetric(SigningAlgorithm::ES256, "ec256-b.pem"),
            vec![retired(now - 1)],
        );
        assert_eq!(past.decode(&old_token), Err(TokenError::Invalid));
        assert_eq!(past.jwks().keys.len(), 1);
    }

    #[test]
    fn hmac_publishes_no_keys() {
        assert!(hmac(SigningAlgorithm::HS256, "k").jwks().keys.is_empty());
    }
}
