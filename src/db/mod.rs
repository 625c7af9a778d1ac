//! Storage: the connection type, the pool, migrations and the schema. Everything above this
//! module talks to the database through [`DbConn`] and [`DbPool`], so adding a backend (a
//! `diesel::MultiConnection` enum over SQLite and PostgreSQL) changes this module only.

pub mod schema;
pub mod secrets;
pub mod signing_keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PoolError, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The one connection type every query in the crate is written against.
pub type DbConn = SqliteConnection;
pub type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConn>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or sqlite::memory:")]
    UnsupportedUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("a concurrent write changed the same token; the transaction was rolled back")]
    Conflict,
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

/// Where a `TOKENLEDGER_DATABASE_URL` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    SqliteFile(String),
    SqliteMemory,
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        match url {
            "sqlite::memory:" | "sqlite://:memory:" => Ok(Self::SqliteMemory),
            _ => match url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                Some(path) if !path.is_empty() => Ok(Self::SqliteFile(path.to_owned())),
                _ => Err(StoreError::UnsupportedUrl(url.to_owned())),
            },
        }
    }
}

/// Threads whose names start with this do background work (the ledger follower); their
/// queries are not counted as request work.
pub const BACKGROUND_THREAD_PREFIX: &str = "tokenledger-bg";

/// Queries run for requests, for `/metrics`: the proof that the hot path asks no database.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// SQLite settings applied to every pooled connection: wait for the write lock instead of
/// failing, WAL so readers never block the writer, and a full sync so an acknowledged write
/// survives a power cut as well as a crash. It also counts the queries.
#[derive(Debug)]
struct SqlitePragmas {
    queries: QueryCounter,
}

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_PRAGMAS)
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
    let (path, max_size) = match &location {
        SqliteFile(path) => (path.clone(), 8),
        // Each connection to ":memory:" is its own database, so the pool holds exactly one.
        SqliteMemory => (":memory:".to_owned(), 1),
    };
    let manager = ConnectionManager::<DbConn>::new(path);
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas {
            queries: queries.clone(),
        }))
        .build(manager)?;
    let mut conn = pool.get()?;
    run_migrations(&mut conn)?;
    Ok((pool, queries))
}

use DatabaseLocation::{SqliteFile, SqliteMemory};

/// Applies pending migrations; returns how many ran.
pub fn run_migrations(conn: &mut DbConn) -> Result<usize, StoreError> {
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map(|applied| applied.len())
        .map_err(|err| StoreError::Migration(err.to_string()))
}

/// Runs `work` in a write transaction. SQLite takes the write lock up front (`BEGIN
/// IMMEDIATE`), so two writers never both read a token as live and then both change it.
pub fn write_transaction<T, E>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.immediate_transaction(work)
}

/// A cheap round trip proving the database answers (for `/readyz`).
pub fn ping(conn: &mut DbConn) -> Result<(), StoreError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}
