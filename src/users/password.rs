//! Password hashing: argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
//!
//! Every hash and check runs on one bounded pool of threads: a flood of logins queues there
//! (in memory: 19 MiB per hash in flight) instead of taking every core and every connection
//! from the requests that need no hashing.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

static HASHERS: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// Sizes the hashing pool: `threads` at once, 0 for one per core. The first call wins (the
/// pool is the process's, like its cores); hashing before any call gets one per core.
pub fn configure_hashers(threads: usize) {
    let _ = hashers_with(threads);
}

fn hashers_with(threads: usize) -> &'static rayon::ThreadPool {
    HASHERS.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|n| format!("tokenledger-hash-{n}"))
            .build()
            .unwrap_or_else(|err| {
                // Only when threads cannot be spawned at all; one is then the least we can try.
                tracing::error!(%err, "could not start the password hashing threads");
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .expect("one hashing thread")
            })
    })
}

/// Runs `work` on the hashing pool, waiting (blocked, holding nothing else) for a thread.
fn on_hashers<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    hashers_with(0).install(work)
}

/// How many hashing threads there are.
pub fn hashers() -> usize {
    hashers_with(0).current_num_threads()
}

#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct HashError(String);

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    on_hashers(|| {
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| HashError(err.to_string()))
    })
}

/// Constant-time check of `password` against a stored PHC string; an unreadable hash fails.
pub fn verify(stored_hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return false;
    };
    on_hashers(|| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the same work as a real check, so a login for a missing user takes as long as one
/// with a wrong password and the timing does not tell which usernames exist.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("tokenledger-dummy-password").unwrap_or_default());
    let _ = verify(dummy, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "correct horse "));
        assert!(!verify("not a phc string", "correct horse"));
    }
}
