//! The one connection type over every backend, and the pool manager that opens it from a
//! [`DatabaseLocation`]. Queries are written once against [`DbConn`]; diesel renders each in
//! the dialect of the connection it runs on.

use diesel::r2d2::{Error as PoolConnectionError, ManageConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};

use super::location::DatabaseLocation;

#[cfg(not(feature = "mysql"))]
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The same, with MariaDB/MySQL (the derive cannot leave out a variant by `cfg`).
#[cfg(feature = "mysql")]
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(diesel::MysqlConnection),
}

/// Prepares the process for libpq. libpq's TLS is OpenSSL, whose default exit handler frees
/// its global state while r2d2's threads may still be opening a connection (a pool keeps one
/// idle connection ready), which crashed short CLI runs at exit. Initialising OpenSSL first,
/// without that handler, leaves the clean-up to the operating system. Idempotent.
pub fn prepare_postgres_client() {
    openssl_sys::init();
}

impl DbConn {
    pub fn establish_at(location: &DatabaseLocation) -> diesel::ConnectionResult<Self> {
        if location.is_postgres() {
            prepare_postgres_client();
        }
        match location {
            DatabaseLocation::SqliteFile(path) => {
                SqliteConnection::establish(path).map(Self::Sqlite)
            }
            DatabaseLocation::SqliteMemory => {
                SqliteConnection::establish(":memory:").map(Self::Sqlite)
            }
            DatabaseLocation::Postgres(url) => PgConnection::establish(url).map(Self::Postgres),
            #[cfg(feature = "mysql")]
            DatabaseLocation::Mysql(url) => {
                diesel::MysqlConnection::establish(url).map(Self::Mysql)
            }
        }
    }
}

/// Opens connections for the r2d2 pool. diesel's own `ConnectionManager` would hand the URL to
/// every backend in turn, and SQLite accepts any string as a file name.
#[derive(Debug)]
pub struct Manager {
    location: DatabaseLocation,
}

impl Manager {
    pub fn new(location: DatabaseLocation) -> Self {
        Self { location }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = PoolConnectionError;

    fn connect(&self) -> Result<DbConn, PoolConnectionError> {
        DbConn::establish_at(&self.location).map_err(PoolConnectionError::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), PoolConnectionError> {
        conn.ping().map_err(PoolConnectionError::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}
