//! Password hashing: argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
//!
//! Every hash and check runs on one bounded pool of threads: a flood of logins queues there
//! (in memory: 19 MiB per hash in flight) instead of taking every core and every connection
//! from the requests that need no hashing.
//!
//! Hashes imported from Django (`tokenledger import simplejwt`) verify too, each in constant
//! time: `pbkdf2_sha256$<iterations>$<salt>$<base64>`, `argon2$argon2id$v=19$m=..$<salt>$<hash>`
//! (Django's PHC string without its leading `$`), `bcrypt_sha256$$2b$..` (bcrypt over the
//! lowercase hex SHA-256 of the password) and `bcrypt$$2b$..`. A Django unusable password
//! (`!...`) never verifies. [`needs_upgrade`] tells the login to rehash with ours.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
/// The prefix of every hash [`hash`] makes.
const OURS: &str = "$argon2id$";

/// Django's PBKDF2 iteration counts stay well below this; a stored count above it is refused
/// rather than spending minutes of CPU on one login.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

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

/// Constant-time check of `password` against a stored hash (ours, or one imported from
/// Django); an unreadable or unusable hash fails, after as much work as a real check, so the
/// timing does not tell which accounts have no usable password.
pub fn verify(stored_hash: &str, password: &str) -> bool {
    on_hashers(|| verify_any(stored_hash, password))
}

fn verify_any(stored_hash: &str, password: &str) -> bool {
    if stored_hash.starts_with('$') {
        return verify_phc(stored_hash, password);
    }
    let Some((algorithm, rest)) = stored_hash.split_once('$') else {
        // Django's unusable passwords (`!` and 40 random characters) land here, as does "".
        // Already on a hashing thread: the dummy's own check, not a second trip to the pool.
        dummy_check(password);
        return false;
    };
    match algorithm {
        "pbkdf2_sha256" => verify_django_pbkdf2(rest, password),
        // Django stores argon2's PHC string without its leading `$`, after its own prefix.
        "argon2" => verify_phc(&format!("${rest}"), password),
        "bcrypt_sha256" => match rest.strip_prefix('$') {
            Some(bcrypt_hash) => {
                let digest = hex::encode(Sha256::digest(password.as_bytes()));
                bcrypt::verify(digest, bcrypt_hash).unwrap_or(false)
            }
            None => false,
        },
        "bcrypt" => match rest.strip_prefix('$') {
            Some(bcrypt_hash) => bcrypt::verify(password, bcrypt_hash).unwrap_or(false),
            None => false,
        },
        _ => {
            dummy_check(password);
            false
        }
    }
}

/// Whether a hash that just verified should be replaced by one of ours (an imported one).
pub fn needs_upgrade(stored_hash: &str) -> bool {
    !stored_hash.starts_with(OURS)
}

/// A PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`), with the parameters it names.
fn verify_phc(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Django's `PBKDF2PasswordHasher`: `<iterations>$<salt>$<base64 of the 32-byte key>`, the
/// salt used as its UTF-8 bytes.
fn verify_django_pbkdf2(encoded: &str, password: &str) -> bool {
    let mut parts = encoded.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS || salt.contains('$') {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    derived.ct_eq(expected.as_slice()).into()
}

fn dummy_check(password: &str) {
    let dummy = dummy_hash();
    let _ = verify_phc(dummy, password);
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(b"tokenledger-dummy-password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Spends the same work as a real check, so a login for a missing user takes as long as one
/// with a wrong password and the timing does not tell which usernames exist.
pub fn verify_against_dummy(password: &str) {
    // On the hashing pool like every other check: on the calling thread it would be
    // unbounded (argon2's 19 MiB each) and, under load, faster than a known user's check.
    on_hashers(|| dummy_check(password));
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery staple";

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "correct horse "));
        assert!(!verify("not a phc string", "correct horse"));
        assert!(!needs_upgrade(&stored));
    }

    // Every vector below was made by Django 5.2.19 (`make_password`, or the hasher's `encode`
    // with a lower cost) and checked there with `check_password`.

    /// Django's default hasher at its default 1,000,000 iterations.
    const DJANGO_PBKDF2: &str =
        "pbkdf2_sha256$1000000$UPu0yRSAhjvM31a9Qxglq7$nfM3vbaimkSo45yFu4JhB8PrY2EKQZpFT73YjnOO31s=";
    const DJANGO_PBKDF2_1000: &str =
        "pbkdf2_sha256$1000$fixturesalt1234$TI29vSzZVs4U+vUX0Uw4WTe8bplbM6+2wlI8cZhGB1s=";
    /// `pässwörd ✓`: the password's UTF-8 bytes are what is hashed.
    const DJANGO_PBKDF2_UNICODE: &str =
        "pbkdf2_sha256$1000000$2MLZcDgieBW2lNbiNrS6Fq$hOB1kuXWcQb0IwkMjxcoTqPuhRnvcJ1kmEL9xnBfoos=";
    /// Django's defaults: 100 MiB, 2 passes, 8 lanes.
    const DJANGO_ARGON2: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$YTRNVk90bWVheHRXWmVCQktLcWNNRw$E/2LUQ40H5lFp1TeXGZbzn2DNiYW78o8VfN42ILwrf4";
    const DJANGO_ARGON2_SMALL: &str = "argon2$argon2id$v=19$m=1024,t=1,p=2$Zml4dHVyZXNhbHQxMjM0$C7cq9VpC33NrUXxOYa/r2DU1Iv/2a3JWI4aOb3ynk/g";
    const DJANGO_BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$12$3E4uYpVQF/QYp1RXHbxisua9OIjO7kInwTMQLUj9xi8cSs0rWmFkG";
    const DJANGO_BCRYPT_SHA256_4: &str =
        "bcrypt_sha256$$2b$04$gjYG7CdtcwCVxYfbmPFYZuGr6zvYJb721c8GpRl.6cPCMBmhRbRxa";
    const DJANGO_BCRYPT: &str =
        "bcrypt$$2b$12$ua/8CsYbwUWoD/EyRiF47OpdGNr1HR4ZIiXhFxw9MWKxpfyxaUu42";
    const DJANGO_UNUSABLE: &str = "!gUI1DvcdLP7tzwBMx8ZcAjj5nSL0D6OZwSWuv8jL";

    /// At Django's default costs each check takes a noticeable fraction of a second: the
    /// cheap vectors (`_1000`, `_SMALL`, `_4`) take the wider set of wrong passwords.
    fn verifies_its_password_only(stored: &str) {
        assert!(verify(stored, PASSWORD), "{stored} should verify");
        assert!(!verify(stored, "correct horse battery stapler"));
        assert!(needs_upgrade(stored));
    }

    fn refuses_near_misses(stored: &str) {
        verifies_its_password_only(stored);
        for wrong in [
            "",
            "Correct horse battery staple",
            "correct horse battery staple ",
        ] {
            assert!(!verify(stored, wrong), "{wrong:?}");
        }
    }

    #[test]
    fn django_pbkdf2_sha256_verifies() {
        verifies_its_password_only(DJANGO_PBKDF2);
        refuses_near_misses(DJANGO_PBKDF2_1000);
        assert!(verify(DJANGO_PBKDF2_UNICODE, "pässwörd ✓"));
        assert!(!verify(DJANGO_PBKDF2_UNICODE, "passwörd ✓"));
    }

    #[test]
    fn django_argon2_verifies_with_the_parameters_it_names() {
        verifies_its_password_only(DJANGO_ARGON2);
        refuses_near_misses(DJANGO_ARGON2_SMALL);
    }

    #[test]
    fn django_bcrypt_sha256_verifies() {
        verifies_its_password_only(DJANGO_BCRYPT_SHA256);
        refuses_near_misses(DJANGO_BCRYPT_SHA256_4);
        // Not bcrypt of the password itself: the SHA-256 step is required.
        assert!(!verify(
            &format!("bcrypt{}", &DJANGO_BCRYPT_SHA256[13..]),
            PASSWORD
        ));
    }

    #[test]
    fn django_plain_bcrypt_verifies() {
        verifies_its_password_only(DJANGO_BCRYPT);
    }

    #[test]
    fn unusable_and_malformed_django_hashes_never_verify() {
        for stored in [
            DJANGO_UNUSABLE,
            "!",
            "",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$1000$fixturesalt1234$",
            "pbkdf2_sha256$0$fixturesalt1234$TI29vSzZVs4U+vUX0Uw4WTe8bplbM6+2wlI8cZhGB1s=",
            "pbkdf2_sha256$99999999999$s$TI29vSzZVs4U+vUX0Uw4WTe8bplbM6+2wlI8cZhGB1s=",
            "pbkdf2_sha256$1000$fixturesalt1234$not base64!",
            "pbkdf2_sha256$1001$fixturesalt1234$TI29vSzZVs4U+vUX0Uw4WTe8bplbM6+2wlI8cZhGB1s=",
            "pbkdf2_sha1$1000$fixturesalt1234$TI29vSzZVs4U+vUX0Uw4WTe8bplbM6+2wlI8cZhGB1s=",
            "argon2$garbage",
            "bcrypt_sha256$2b$04$gjYG7CdtcwCVxYfbmPFYZuGr6zvYJb721c8GpRl.6cPCMBmhRbRxa",
            "bcrypt_sha256$$2b$04$short",
            "md5$salt$0123456789abcdef0123456789abcdef",
        ] {
            assert!(!verify(stored, PASSWORD), "{stored:?} must not verify");
            assert!(!verify(stored, ""), "{stored:?} must not verify");
        }
    }
}
