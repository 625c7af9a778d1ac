//! Asymmetric keys from PEM: the private key we sign with, and the public keys (ours and retired
//! ones) we verify with and publish as a JWK Set. A key's `kid` is its RFC 7638 thumbprint, so
//! every instance derives the same `kid` from the same key without coordination.

use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::pkcs8::EncodePrivateKey;

use super::KeyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ec,
    Ed,
}

fn family(algorithm: Algorithm) -> Result<Family, KeyError> {
    match algorithm {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Ok(Family::Rsa),
        Algorithm::ES256 | Algorithm::ES384 => Ok(Family::Ec),
        Algorithm::EdDSA => Ok(Family::Ed),
        other => Err(KeyError::NotAsymmetric(other)),
    }
}

/// A public key ready to verify, with the JWK we publish for it.
#[derive(Clone)]
pub struct PublicKey {
    pub algorithm: Algorithm,
    pub kid: String,
    pub jwk: Jwk,
    pub decoding: DecodingKey,
}

impl PublicKey {
    fn from_bare_jwk(algorithm: Algorithm, mut jwk: Jwk) -> Result<Self, KeyError> {
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|err| KeyError::Malformed(err.to_string()))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(algorithm.into());
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|err| KeyError::Malformed(err.to_string()))?;
        Ok(Self {
            algorithm,
            kid,
            jwk,
            decoding,
        })
    }

    /// A public key PEM (`PUBLIC KEY`, or `RSA PUBLIC KEY`) for `algorithm`.
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let malformed = |err: jsonwebtoken::errors::Error| {
            KeyError::Malformed(format!("not a {algorithm:?} public key PEM ({err})"))
        };
        let decoding = match family(algorithm)? {
            Family::Rsa => DecodingKey::from_rsa_pem(pem),
            Family::Ec => DecodingKey::from_ec_pem(pem),
            Family::Ed => DecodingKey::from_ed_pem(pem),
        }
        .map_err(malformed)?;
        let jwk = Jwk::from_decoding_key(&decoding, Some(algorithm)).map_err(malformed)?;
        Self::from_bare_jwk(algorithm, jwk)
    }

    /// The JWK as stored in the database and published.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.jwk).unwrap_or_default()
    }

    /// A JWK this service stored earlier (see [`PublicKey::to_json`]).
    pub fn from_json(algorithm: Algorithm, json: &str) -> Result<Self, KeyError> {
        let jwk: Jwk =
            serde_json::from_str(json).map_err(|err| KeyError::Malformed(err.to_string()))?;
        Self::from_bare_jwk(algorithm, jwk)
    }
}

/// A private key PEM for `algorithm`, and its public half. EC keys may be PKCS#8 (`PRIVATE KEY`)
/// or SEC1 (`EC PRIVATE KEY`, what `openssl ecparam -genkey` writes).
pub fn private_key(algorithm: Algorithm, pem: &[u8]) -> Result<(EncodingKey, PublicKey), KeyError> {
    let malformed = |detail: String| {
        KeyError::Malformed(format!("not a {algorithm:?} private key PEM ({detail})"))
    };
    let encoding = match family(algorithm)? {
        Family::Rsa => EncodingKey::from_rsa_pem(pem),
        Family::Ec => match sec1_to_pkcs8(algorithm, pem) {
            Some(der) => Ok(EncodingKey::from_ec_der(&der.map_err(malformed)?)),
            None => EncodingKey::from_ec_pem(pem),
        },
        Family::Ed => EncodingKey::from_ed_pem(pem),
    }
    .map_err(|err| malformed(err.to_string()))?;
    // Deriving the public half also proves the key fits the algorithm (curve, size).
    let jwk =
        Jwk::from_encoding_key(&encoding, algorithm).map_err(|err| malformed(err.to_string()))?;
    let public = PublicKey::from_bare_jwk(algorithm, jwk)?;
    Ok((encoding, public))
}

/// `None` when the PEM is not SEC1; otherwise the key re-encoded as PKCS#8 DER.
fn sec1_to_pkcs8(algorithm: Algorithm, pem: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let text = std::str::from_utf8(pem).ok()?;
    if !text.contains("-----BEGIN EC PRIVATE KEY-----") {
        return None;
    }
    let der = match algorithm {
        Algorithm::ES256 => p256::SecretKey::from_sec1_pem(text)
            .map_err(|err| err.to_string())
            .and_then(|key| key.to_pkcs8_der().map_err(|err| err.to_string())),
        _ => p384::SecretKey::from_sec1_pem(text)
            .map_err(|err| err.to_string())
            .and_then(|key| key.to_pkcs8_der().map_err(|err| err.to_string())),
    };
    Some(der.map(|document| document.as_bytes().to_vec()))
}
