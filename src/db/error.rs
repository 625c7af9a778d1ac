//! What a storage failure is: an outage (503, retry), the client's mistake, or a bug (500).

use diesel::r2d2::PoolError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL {0:?}: expected sqlite://PATH, sqlite::memory:, postgres://... or mysql://..."
    )]
    UnsupportedUrl(String),
    #[error("this build has no {0} support: build it with `cargo build --release --features {0}`")]
    NotBuiltWith(&'static str),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(DieselError),
    #[error("a concurrent write changed the same token; the transaction was rolled back")]
    Conflict,
    /// PostgreSQL stores no NUL character: a value carrying one is the client's mistake.
    #[error("a value holds a NUL character")]
    NulCharacter,
}

/// A lost connection or a locked database is an outage (503, retry), not a bug (500).
impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                StoreError::Unavailable(err.to_string())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_outage(info.message()) =>
            {
                StoreError::Unavailable(err.to_string())
            }
            DieselError::DatabaseError(_, info) if info.message().contains("0x00") => {
                StoreError::NulCharacter
            }
            _ => StoreError::Query(err),
        }
    }
}

/// Messages SQLite, PostgreSQL and MariaDB give when a wait for a lock ran out.
const LOCK_WAITS: [&str; 3] = [
    "database is locked",
    "canceling statement due to lock timeout",
    "Lock wait timeout exceeded",
];

/// Whether `err` is a lock wait that ran out: the database is there, another writer held the
/// lock too long, and another connection would wait just as long.
pub fn is_lock_wait(err: &DieselError) -> bool {
    matches!(err, DieselError::DatabaseError(_, info)
        if LOCK_WAITS.iter().any(|wait| info.message().contains(wait)))
}

/// Messages libpq, MariaDB and SQLite give when the server went away or the lock wait ran out.
fn is_outage(message: &str) -> bool {
    if LOCK_WAITS.iter().any(|wait| message.contains(wait)) {
        return true;
    }
    const OUTAGES: [&str; 9] = [
        "server closed the connection",
        "server has gone away",
        "Lost connection to",
        "Can't connect to",
        "connection to server",
        "no connection to the server",
        "terminating connection",
        "could not receive data",
        "could not send data",
    ];
    OUTAGES.iter().any(|outage| message.contains(outage))
}

impl From<PoolError> for StoreError {
    fn from(err: PoolError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(err: diesel::ConnectionError) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(message: &str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()))
    }

    #[test]
    fn a_lock_wait_that_ran_out_is_told_from_a_lost_connection_and_both_are_outages() {
        for waited in [
            "database is locked",
            "canceling statement due to lock timeout",
            "Lock wait timeout exceeded; try restarting transaction",
        ] {
            assert!(is_lock_wait(&database_error(waited)), "{waited}");
            assert!(
                matches!(
                    StoreError::from(database_error(waited)),
                    StoreError::Unavailable(_)
                ),
                "{waited}"
            );
        }
        let lost = "server closed the connection unexpectedly";
        assert!(!is_lock_wait(&database_error(lost)));
        assert!(matches!(
            StoreError::from(database_error(lost)),
            StoreError::Unavailable(_)
        ));
        assert!(!is_lock_wait(&DieselError::NotFound));
    }
}
