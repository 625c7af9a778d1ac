//! The pool: how many connections per backend, and what every connection is set up with.

use std::sync::atomic::Ordering;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{CustomizeConnection, Pool};

use super::query_counter::{BACKGROUND_THREAD_PREFIX, QueryCounter};
use super::{DatabaseLocation, DbConn, DbPool, Manager, StoreError, run_migrations};

/// Settings applied to every pooled connection, and the query counter. SQLite: wait for the
/// write lock instead of failing, WAL so readers never block the writer, and a full sync so an
/// acknowledged write survives a power cut as well as a crash; temporary files in memory, as
/// every write transaction's savepoints (the group commit's) keep a statement journal, which
/// SQLite otherwise creates, writes and unlinks as a file each time. PostgreSQL: UTC sessions (our
/// timestamps carry no zone) and a bound on how long a statement may wait for a lock.
#[derive(Debug)]
struct SessionSetup {
    queries: QueryCounter,
}

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                              PRAGMA temp_store = MEMORY;";

const POSTGRES_SESSION: &str = "SET TIME ZONE 'UTC'; SET lock_timeout = '10s'; \
                                SET application_name = 'tokenledger';";

/// MariaDB/MySQL: UTC, a bounded lock wait, and READ COMMITTED so that every statement of a
/// writer that has just taken the write lock sees what the previous holder committed.
#[cfg(feature = "mysql")]
const MYSQL_SESSION: &str = "SET time_zone = '+00:00'; SET innodb_lock_wait_timeout = 10; \
                             SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;";

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        let setup = match conn {
            DbConn::Sqlite(_) => SQLITE_PRAGMAS,
            DbConn::Postgres(_) => POSTGRES_SESSION,
            #[cfg(feature = "mysql")]
            DbConn::Mysql(_) => MYSQL_SESSION,
        };
        conn.batch_execute(setup)
            .map_err(diesel::r2d2::Error::QueryError)?;
        let counter = self.queries.0.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            let background = std::thread::current()
                .name()
                .is_some_and(|name| name.starts_with(BACKGROUND_THREAD_PREFIX));
            if matches!(event, InstrumentationEvent::StartQuery { .. }) && !background {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }
}

/// Opens the database, applies pending migrations on one connection, then builds the pool.
pub fn connect(url: &str) -> Result<DbPool, StoreError> {
    connect_counted(url).map(|(pool, _)| pool)
}

/// As [`connect`], with the counter of the queries run through the pool.
pub fn connect_counted(url: &str) -> Result<(DbPool, QueryCounter), StoreError> {
    let queries = QueryCounter::default();
    let location = DatabaseLocation::parse(url)?;
    let (max_size, wait) = match &location {
        DatabaseLocation::SqliteFile(_) => (8, Duration::from_secs(10)),
        // Each connection to ":memory:" is its own database, so the pool holds exactly one.
        DatabaseLocation::SqliteMemory => (1, Duration::from_secs(10)),
        // One connection stays with the ledger follower; a request that cannot get one soon
        // is better answered 503 than left waiting while the database is away.
        DatabaseLocation::Postgres(_) => (16, Duration::from_secs(3)),
        #[cfg(feature = "mysql")]
        DatabaseLocation::Mysql(_) => (16, Duration::from_secs(3)),
    };
    // A database server can go away between two requests, so its connections are pinged
    // before use; an SQLite file cannot, and there the ping would be one more query per
    // checkout on every write.
    let ping = !matches!(
        location,
        DatabaseLocation::SqliteFile(_) | DatabaseLocation::SqliteMemory
    );
    let pool = Pool::builder()
        .test_on_check_out(ping)
        .max_size(max_size)
        .min_idle(Some(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(wait)
        .connection_customizer(Box::new(SessionSetup {
            queries: queries.clone(),
        }))
        .build_unchecked(Manager::new(location));
    let mut conn = pool.get()?;
    run_migrations(&mut conn)?;
    Ok((pool, queries))
}
