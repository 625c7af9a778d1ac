//! Keys every instance on one database shares (the console's CSRF key): made by the first
//! instance that asks, kept in the database, so restarts and other instances accept what
//! one of them signed.

use crate::db::{self, StoreError};
use crate::ledger::Ledger;

/// The random 256-bit key (hex) stored under `name`, generated and stored if there is none.
pub fn shared_key(ledger: &Ledger, name: &str) -> Result<String, StoreError> {
    let mut conn = ledger.pool().get()?;
    let (key, _) = db::secrets::get_or_create(&mut conn, name, || {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        hex::encode(bytes)
    })?;
    Ok(key)
}
