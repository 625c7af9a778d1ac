//! Storage: the connection type, the pool, migrations, transactions and the schema. Everything
//! above this module talks to the database through [`DbConn`] and [`DbPool`]; what differs
//! between SQLite and PostgreSQL (pragmas, how a writer takes the write lock, snapshots,
//! notifications) is decided here and nowhere else.

mod connection;
mod location;
pub mod schema;
pub mod secrets;
pub mod signing_keys;
pub mod webhook_cursors;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, InstrumentationEvent, SimpleConnection, TransactionManager,
};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::r2d2::{CustomizeConnection, Pool, PoolError, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use connection::{DbConn, Manager, prepare_postgres_client};
pub use location::{DatabaseLocation, redact};

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

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

/// Messages libpq and SQLite give when the server went away or the lock wait ran out.
fn is_outage(message: &str) -> bool {
    const OUTAGES: [&str; 10] = [
        "server closed the connection",
        "server has gone away",
        "Lost connection to",
        "Can't connect to",
        "connection to server",
        "no connection to the server",
        "terminating connection",
        "could not receive data",
        "database is locked",
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

/// Settings applied to every pooled connection, and the query counter. SQLite: wait for the
/// write lock instead of failing, WAL so readers never block the writer, and a full sync so an
/// acknowledged write survives a power cut as well as a crash. PostgreSQL: UTC sessions (our
/// timestamps carry no zone) and a bound on how long a statement may wait for a lock.
#[derive(Debug)]
struct SessionSetup {
    queries: QueryCounter,
}

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

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

/// MariaDB/MySQL's write lock: the one row of `ledger_write_lock`, locked for update as a
/// writer's first statement and released by its commit or rollback.
#[cfg(feature = "mysql")]
const MYSQL_WRITE_LOCK: &str = "SELECT id FROM ledger_write_lock WHERE id = 1 FOR UPDATE";

/// Every ledger writer, on every instance, holds this PostgreSQL advisory lock until it commits.
const POSTGRES_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(8389754676633372004)";

/// Runs `work` in a write transaction that holds the database's one write lock from its
/// first statement to its commit. SQLite takes it with `BEGIN IMMEDIATE`; PostgreSQL with a
/// transaction-scoped advisory lock that every instance's writers share. So two writers never
/// both read a token as live and then both change it, and a writer's `seq` (the head + 1, read
/// under the lock) commits before the next writer can read the head: seq order is commit
/// order, which the followers of other instances rely on.
pub fn write_transaction<T, E>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    begin_write(conn)?;
    match work(conn) {
        Ok(value) => {
            commit_write(conn)?;
            Ok(value)
        }
        Err(err) => {
            rollback_write(conn);
            Err(err)
        }
    }
}

/// Begins a write transaction and takes the write lock (see `write_transaction`); it is held
/// until `commit_write` or `rollback_write`. For a transaction whose statements come from
/// several threads in turn (the ledger's group commit).
pub fn begin_write(conn: &mut DbConn) -> Result<(), DieselError> {
    let lock = match conn {
        DbConn::Sqlite(inner) => {
            return AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE");
        }
        DbConn::Postgres(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN")?;
            POSTGRES_WRITE_LOCK
        }
        #[cfg(feature = "mysql")]
        DbConn::Mysql(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN")?;
            MYSQL_WRITE_LOCK
        }
    };
    if let Err(err) = diesel::sql_query(lock).execute(conn) {
        rollback_write(conn);
        return Err(err);
    }
    Ok(())
}

/// Commits what `begin_write` began; a failed commit is rolled back.
pub fn commit_write(conn: &mut DbConn) -> Result<(), DieselError> {
    let committed = <DbConn as Connection>::TransactionManager::commit_transaction(conn);
    if committed.is_err() {
        rollback_write(conn);
    }
    committed
}

/// Rolls back what `begin_write` began. A connection whose rollback fails is broken, and the
/// pool discards it.
pub fn rollback_write(conn: &mut DbConn) {
    let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
}

/// Runs `work` on one consistent snapshot of the database (a view check compares the ledger
/// with the view; both must be read as of one instant). PostgreSQL's default isolation takes a
/// new snapshot per statement, so it asks for REPEATABLE READ.
pub fn read_snapshot<T, E>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(_) => conn.transaction(work),
        DbConn::Postgres(_) => transaction_beginning_with(
            conn,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            work,
        ),
        // Sessions run READ COMMITTED; this one transaction asks for a snapshot.
        #[cfg(feature = "mysql")]
        DbConn::Mysql(_) => {
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
            transaction_beginning_with(
                conn,
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                work,
            )
        }
    }
}

/// diesel's `Connection::transaction`, opened by a statement of our choosing.
fn transaction_beginning_with<T, E>(
    conn: &mut DbConn,
    begin: &str,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, begin)?,
        DbConn::Postgres(inner) => AnsiTransactionManager::begin_transaction_sql(inner, begin)?,
        #[cfg(feature = "mysql")]
        DbConn::Mysql(inner) => AnsiTransactionManager::begin_transaction_sql(inner, begin)?,
    }
    match work(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => match <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(err),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// The channel a PostgreSQL writer notifies inside its transaction (delivered at commit), so
/// other instances' followers wake up instead of waiting for their next poll.
const LEDGER_CHANNEL: &str = "tokenledger_ledger";

/// Tells listeners that this transaction appended up to `seq`. Nothing to do on SQLite: all
/// its writers share one machine and the follower's poll.
pub fn announce_append(conn: &mut DbConn, seq: i64) -> Result<(), StoreError> {
    if let DbConn::Postgres(_) = conn {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(LEDGER_CHANNEL)
            .bind::<diesel::sql_types::Text, _>(seq.to_string())
            .execute(conn)?;
    }
    Ok(())
}

/// Subscribes this connection to the ledger channel; `false` where the backend has none.
pub fn listen_for_appends(conn: &mut DbConn) -> Result<bool, StoreError> {
    match conn {
        DbConn::Postgres(_) => {
            conn.batch_execute(&format!("LISTEN {LEDGER_CHANNEL}"))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// SQLite's count of the commits other connections (any process) made to the file, as this
/// connection sees it: read from shared memory, no disk access. Two reads on one connection
/// differ iff someone else committed in between. `None` on the other backends.
pub fn change_counter(conn: &mut DbConn) -> Result<Option<i64>, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct DataVersion {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        data_version: i64,
    }
    match conn {
        DbConn::Sqlite(_) => Ok(Some(
            diesel::sql_query("PRAGMA data_version")
                .get_result::<DataVersion>(conn)?
                .data_version,
        )),
        _ => Ok(None),
    }
}

/// Takes the notifications that arrived on a listening connection (no round trip: it reads
/// what the socket already holds); returns the newest seq they announced, if any arrived.
pub fn take_notifications(conn: &mut DbConn) -> Result<Option<i64>, StoreError> {
    let mut newest = None;
    if let DbConn::Postgres(pg) = conn {
        for notification in pg.notifications_iter() {
            // A payload we cannot read still means "something was appended".
            let seq = notification?.payload.parse::<i64>().unwrap_or(0);
            newest = newest.max(Some(seq));
        }
    }
    Ok(newest)
}

/// Brings an instant a query binds into the range the backend can bind. MariaDB/MySQL takes
/// diesel's `Timestamp` parameters as its TIMESTAMP type, which spans 1970 to January 2038;
/// a bound outside compares as NULL and would match nothing, while no stored instant lies
/// outside (they are written through the same type), so clamping keeps the query's meaning.
pub fn bindable_instant(conn: &DbConn, instant: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    match conn {
        #[cfg(feature = "mysql")]
        DbConn::Mysql(_) => {
            let first = chrono::DateTime::from_timestamp(1, 0).map(|t| t.naive_utc());
            let last = chrono::DateTime::from_timestamp(i32::MAX.into(), 0).map(|t| t.naive_utc());
            match (first, last) {
                (Some(first), Some(last)) => instant.clamp(first, last),
                _ => instant,
            }
        }
        _ => instant,
    }
}

/// After users were inserted with explicit ids (an import), makes the next generated id
/// follow the highest. SQLite's AUTOINCREMENT and MariaDB/MySQL's AUTO_INCREMENT already do;
/// a PostgreSQL sequence does not.
pub fn advance_user_ids(conn: &mut DbConn) -> Result<(), StoreError> {
    if let DbConn::Postgres(_) = conn {
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), \
             (SELECT COALESCE(MAX(id), 1) FROM users))",
        )
        .execute(conn)?;
    }
    Ok(())
}

/// A cheap round trip proving the database answers (for `/readyz`).
pub fn ping(conn: &mut DbConn) -> Result<(), StoreError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Runs a statement through the concrete backend's own query builder. diesel's multi-backend
/// cannot render a multi-row INSERT for SQLite; each backend on its own can.
pub fn execute_natively<Q: NativeStatement>(
    conn: &mut DbConn,
    statement: Q,
) -> Result<usize, StoreError> {
    let affected = match conn {
        DbConn::Sqlite(inner) => ExecuteDsl::<diesel::SqliteConnection>::execute(statement, inner),
        DbConn::Postgres(inner) => ExecuteDsl::<diesel::PgConnection>::execute(statement, inner),
        #[cfg(feature = "mysql")]
        DbConn::Mysql(inner) => ExecuteDsl::<diesel::MysqlConnection>::execute(statement, inner),
    }?;
    Ok(affected)
}

/// A statement every compiled-in backend can execute on its own connection.
#[cfg(not(feature = "mysql"))]
pub trait NativeStatement:
    ExecuteDsl<diesel::SqliteConnection> + ExecuteDsl<diesel::PgConnection>
{
}
#[cfg(not(feature = "mysql"))]
impl<Q> NativeStatement for Q where
    Q: ExecuteDsl<diesel::SqliteConnection> + ExecuteDsl<diesel::PgConnection>
{
}
#[cfg(feature = "mysql")]
pub trait NativeStatement:
    ExecuteDsl<diesel::SqliteConnection>
    + ExecuteDsl<diesel::PgConnection>
    + ExecuteDsl<diesel::MysqlConnection>
{
}
#[cfg(feature = "mysql")]
impl<Q> NativeStatement for Q where
    Q: ExecuteDsl<diesel::SqliteConnection>
        + ExecuteDsl<diesel::PgConnection>
        + ExecuteDsl<diesel::MysqlConnection>
{
}
