//! The ledger writer's connection, kept from one batch to the next.

use crate::db::{self, DbPool, PooledConn, StoreError};

/// The writer's connection. It keeps the one its last batch committed on: a pooled
/// connection to a database server is pinged at every checkout (PostgreSQL: a round trip per
/// batch, while the next batch waits), and an SQLite connection keeps its page cache. A batch
/// that fails gives its connection back (the pool drops a broken one) and the next takes a
/// fresh one. Not kept when the pool has a single connection (an in-memory SQLite database):
/// the readers need it between batches.
pub(super) struct WriterConnection {
    pool: DbPool,
    kept: Option<PooledConn>,
}

impl WriterConnection {
    pub(super) fn new(pool: DbPool) -> Self {
        Self { pool, kept: None }
    }

    /// Begins a write transaction: the database's write lock is held from here to the commit.
    /// On the kept connection if it can, else (it broke while idle: the server restarted) on
    /// one from the pool. A wait for the lock that ran out is the answer as it is: another
    /// connection would wait as long again.
    pub(super) fn begin(&mut self) -> Result<PooledConn, StoreError> {
        if let Some(mut conn) = self.kept.take() {
            match db::begin_write(&mut conn) {
                Ok(()) => return Ok(conn),
                Err(err) if db::is_lock_wait(&err) => return Err(err.into()),
                Err(_) => {}
            }
        }
        let mut conn = self.pool.get()?;
        db::begin_write(&mut conn)?;
        Ok(conn)
    }

    /// Takes back a connection whose batch ended cleanly (committed, or rolled back as a whole).
    pub(super) fn keep(&mut self, conn: PooledConn) {
        if self.pool.max_size() > 1 {
            self.kept = Some(conn);
        }
    }
}
