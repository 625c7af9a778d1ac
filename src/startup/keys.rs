//! Which keys sign and verify at start: the configured or stored signing key, and the retired
//! keys that still verify until the last token they can have signed expires (the rotation
//! policy).

use rand::RngCore;

use super::StartupError;
use crate::config::{Secret, Settings};
use crate::db::{self, StoreError};
use crate::time;
use crate::tokens::keys::{KeyError, PublicKey, RetiredKey, SigningKey};
use crate::tokens::{TokenKeys, TokenPolicy};

/// The signing key, and every retired public key still verifying: those this database saw
/// sign before (until the last token they can have signed expires) and the configured files.
pub(super) fn token_keys(
    settings: &Settings,
    policy: &TokenPolicy,
    pool: &db::DbPool,
) -> Result<TokenKeys, StartupError> {
    let signing = SigningKey::load(settings.algorithm, &signing_key(settings, pool)?)?;
    let Some(public) = signing.public() else {
        return Ok(TokenKeys::new(signing, Vec::new()));
    };
    let record = db::signing_keys::start_signing(
        &mut *pool.get().map_err(StoreError::from)?,
        &public.kid,
        &format!("{:?}", public.algorithm),
        &public.to_json(),
        time::now(),
    )?;
    if record.already_retired {
        tracing::warn!(
            kid = %public.kid,
            "signing with a key that a newer one replaced; its tokens stop verifying when the \
             retired key's grace ends"
        );
    }
    let grace = policy.longest_token_life();
    let mut retired = Vec::new();
    for stored in record.retired {
        let Ok(algorithm) = stored.algorithm.parse() else {
            tracing::warn!(kid = %stored.kid, algorithm = %stored.algorithm, "unknown algorithm of a retired key; ignored");
            continue;
        };
        let key = PublicKey::from_json(algorithm, &stored.public_jwk)?;
        retired.push(RetiredKey {
            key,
            verifies_until: Some(time::to_unix(stored.retired_at) + grace),
        });
    }
    let now = chrono::Utc::now().timestamp();
    for (path, pem) in settings.verifying_keys()? {
        let key = PublicKey::from_pem(public.algorithm, pem.as_bytes())
            .map_err(|err| KeyError::Malformed(format!("{}: {err}", path.display())))?;
        let outlived = retired.iter().any(|known| {
            known.key.kid == key.kid && known.verifies_until.is_some_and(|t| t <= now)
        });
        if outlived {
            tracing::warn!(
                kid = %key.kid,
                file = %path.display(),
                "every token this retired key signed has expired: it no longer verifies; \
                 remove it from TOKENLEDGER_VERIFYING_KEY_FILES"
            );
        }
        // A key this database recorded keeps its recorded bound (the first entry wins).
        retired.push(RetiredKey {
            key,
            verifies_until: None,
        });
    }
    Ok(TokenKeys::new(signing, retired))
}

/// The configured key, or (HMAC only) the one generated once and kept in the database, so
/// that every instance on it (and every restart) signs with the same key.
fn signing_key(settings: &Settings, pool: &db::DbPool) -> Result<Secret, StartupError> {
    if let Some(key) = settings.configured_signing_key()? {
        return Ok(key);
    }
    if !settings.algorithm.is_hmac() {
        return Err(KeyError::NeedsPrivateKey(settings.algorithm).into());
    }
    let (key, generated) = db::secrets::get_or_create(
        &mut *pool.get().map_err(StoreError::from)?,
        "signing_key",
        || {
            let mut bytes = [0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            hex::encode(bytes)
        },
    )?;
    if generated {
        tracing::warn!(
            "no TOKENLEDGER_SIGNING_KEY set: generated a signing key and stored it in the database; \
             set TOKENLEDGER_SIGNING_KEY to manage it yourself"
        );
    }
    Ok(Secret::new(key))
}
