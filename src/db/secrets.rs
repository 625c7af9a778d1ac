//! Instance-wide secrets kept in the database, so every instance on it shares them.

use diesel::prelude::*;

use super::schema::service_secrets;
use super::{DbConn, StoreError, write_transaction};

/// Returns the secret stored under `name`, storing `generate()` first if there is none.
/// Returns whether it was generated now, so the caller can warn once.
pub fn get_or_create(
    conn: &mut DbConn,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<(String, bool), StoreError> {
    write_transaction(conn, |conn| {
        let existing = service_secrets::table
            .find(name)
            .select(service_secrets::value)
            .first::<String>(conn)
            .optional()?;
        if let Some(value) = existing {
            return Ok((value, false));
        }
        let value = generate();
        diesel::insert_into(service_secrets::table)
            .values((
                service_secrets::name.eq(name),
                service_secrets::value.eq(&value),
            ))
            .execute(conn)?;
        Ok((value, true))
    })
}
