//! Storage: the connection type, the pool, migrations, transactions and the schema. Everything
//! above this module talks to the database through [`DbConn`] and [`DbPool`]; what differs
//! between the backends (SQLite, PostgreSQL, MariaDB/MySQL: session setup, how a writer takes
//! the write lock, snapshots, notifications, multi-row inserts) is decided in this module's
//! files, and `import/django.rs` reads Django's own database the same way.

pub mod bulk_load;
mod connection;
mod error;
mod insert_rows;
mod location;
mod migrations;
mod pool;
mod query_counter;
pub mod schema;
pub mod secrets;
pub mod signing_keys;
pub mod webhook_cursors;
mod write_lock;

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::r2d2::{Pool, PooledConnection};

pub use connection::{DbConn, Manager, prepare_postgres_client};
pub use error::{StoreError, is_lock_wait};
pub(crate) use insert_rows::insert_rows;
pub use location::{DatabaseLocation, redact};
pub use migrations::run_migrations;
pub use pool::{connect, connect_counted};
pub use query_counter::{BACKGROUND_THREAD_PREFIX, QueryCounter};
pub use write_lock::{begin_write, commit_write, read_snapshot, rollback_write, write_transaction};

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// A migrated SQLite file in a fresh temporary directory, for unit tests that need a real
/// database; the file goes when the directory does.
#[cfg(test)]
pub(crate) fn scratch_pool() -> (tempfile::TempDir, DbPool) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("scratch.db").display());
    let pool = connect(&url).expect("a database");
    (dir, pool)
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
