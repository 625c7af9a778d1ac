//! The schema's migrations, one folder per backend, embedded in the binary.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, StoreError};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Applies pending migrations (each backend has its own); returns how many ran. On a database
/// server the instances of a rolling deploy start at once: one migrates under a session lock,
/// the others wait for it and then find nothing pending.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, StoreError> {
    let lock = migration_lock(conn);
    if let Some((take, _)) = lock {
        diesel::sql_query(take).execute(conn)?;
    }
    let applied = match conn {
        DbConn::Sqlite(conn) => conn.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConn::Postgres(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
        #[cfg(feature = "mysql")]
        DbConn::Mysql(conn) => conn.run_pending_migrations(MYSQL_MIGRATIONS),
    }
    .map(|applied| applied.len());
    if let Some((_, release)) = lock {
        diesel::sql_query(release).execute(conn)?;
    }
    applied.map_err(|err| StoreError::Migration(err.to_string()))
}

/// The statements that take and release the migration lock; none for SQLite, whose writers
/// already exclude each other.
fn migration_lock(conn: &DbConn) -> Option<(&'static str, &'static str)> {
    match conn {
        DbConn::Sqlite(_) => None,
        DbConn::Postgres(_) => Some((
            "SELECT pg_advisory_lock(8389754676633372005)",
            "SELECT pg_advisory_unlock(8389754676633372005)",
        )),
        #[cfg(feature = "mysql")]
        DbConn::Mysql(_) => Some((
            "SELECT GET_LOCK('tokenledger_migrations', 600)",
            "SELECT RELEASE_LOCK('tokenledger_migrations')",
        )),
    }
}
