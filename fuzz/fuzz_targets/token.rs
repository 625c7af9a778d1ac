//! Any bytes as a presented token: decoding (header, algorithm, key selection, signature)
//! and the claim checks must refuse or accept, never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tokenledger::config::{Secret, SigningAlgorithm};
use tokenledger::tokens::TokenKeys;
use tokenledger::tokens::claims::{self, Rules};
use tokenledger::tokens::keys::SigningKey;

/// The seed corpus's valid tokens are signed with this secret.
const SECRET: &str = "fuzz-signing-key-of-at-least-32-bytes";

fn keys() -> &'static TokenKeys {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signing =
            SigningKey::load(SigningAlgorithm::HS256, &Secret::new(SECRET)).expect("an HMAC key");
        TokenKeys::new(signing, Vec::new())
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    if let Ok(payload) = keys().decode(&token) {
        let rules = Rules {
            now: 1_900_000_000,
            leeway: 0,
            issuer: None,
            audience: None,
        };
        let _ = claims::check(payload, &rules, None);
    }
});
