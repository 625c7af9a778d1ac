//! The write transaction and the one write lock every writer of every instance takes, and
//! the consistent snapshot a view check reads.

use diesel::Connection;
use diesel::RunQueryDsl;
#[cfg(feature = "mysql")]
use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;

use super::DbConn;

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
