//! The record of asymmetric signing keys: which one signs now, and when each other one retired.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConn, StoreError, write_transaction};

/// A key that signed before the current one, as recorded.
#[derive(Debug, Clone, Queryable)]
pub struct RetiredRecord {
    pub kid: String,
    pub algorithm: String,
    pub public_jwk: String,
    pub retired_at: NaiveDateTime,
}

/// What starting to sign with a key found.
#[derive(Debug)]
pub struct SigningRecord {
    /// Every other key ever recorded, retired at the latest now.
    pub retired: Vec<RetiredRecord>,
    /// The key itself was retired earlier: an instance went back to an old key.
    pub already_retired: bool,
}

/// Records `kid` as the key that signs from `now`, and retires the keys that signed before it.
/// A retired key stays retired: an instance still holding it during a rollout cannot bring it
/// back and so extend the life of its tokens.
pub fn start_signing(
    conn: &mut DbConn,
    kid: &str,
    algorithm: &str,
    public_jwk: &str,
    now: NaiveDateTime,
) -> Result<SigningRecord, StoreError> {
    write_transaction(conn, |conn| {
        let recorded = signing_keys::table
            .find(kid)
            .select(signing_keys::retired_at)
            .first::<Option<NaiveDateTime>>(conn)
            .optional()?;
        if recorded.is_none() {
            diesel::insert_into(signing_keys::table)
                .values((
                    signing_keys::kid.eq(kid),
                    signing_keys::algorithm.eq(algorithm),
                    signing_keys::public_jwk.eq(public_jwk),
                    signing_keys::first_used_at.eq(now),
                ))
                .execute(conn)?;
        }
        let already_retired = recorded.flatten().is_some();
        if !already_retired {
            diesel::update(
                signing_keys::table
                    .filter(signing_keys::kid.ne(kid))
                    .filter(signing_keys::retired_at.is_null()),
            )
            .set(signing_keys::retired_at.eq(now))
            .execute(conn)?;
        }
        let retired = signing_keys::table
            .filter(signing_keys::kid.ne(kid))
            .filter(signing_keys::retired_at.is_not_null())
            .select((
                signing_keys::kid,
                signing_keys::algorithm,
                signing_keys::public_jwk,
                signing_keys::retired_at.assume_not_null(),
            ))
            .order(signing_keys::retired_at.desc())
            .load(conn)?;
        Ok(SigningRecord {
            retired,
            already_retired,
        })
    })
}
