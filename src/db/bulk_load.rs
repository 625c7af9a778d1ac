//! Loading a whole table at once (`view rebuild`): its secondary indexes are dropped for the
//! load and built again after it, inside the caller's transaction. A million rows inserted
//! into its indexes is millions of random b-tree inserts; building an index afterwards is
//! one sorted pass each.
//!
//! SQLite only. PostgreSQL's `DROP INDEX` would lock the table against readers until the
//! commit (SQLite's readers keep their snapshot), and MariaDB's DDL commits the transaction;
//! there the rows go into the indexes as they are inserted.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;

use super::{DbConn, StoreError};

/// Runs `load` (a whole transaction) with SQLite's temporary storage in files, then gives the
/// connection back its own setting. Pooled connections keep it in memory (`pool.rs`: the group
/// commit's statement journals), but building an index sorts the whole table, and an
/// in-memory sorter spills into memory: a `view rebuild` of a million tokens peaked at
/// 108 MiB. On files, memory stays flat at any ledger size. SQLite refuses the change inside a
/// transaction, hence around it.
pub fn with_temp_files<R>(
    conn: &mut DbConn,
    load: impl FnOnce(&mut DbConn) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    if !matches!(conn, DbConn::Sqlite(_)) {
        return load(conn);
    }
    let own = temp_store(conn)?;
    conn.batch_execute("PRAGMA temp_store = FILE")?;
    let loaded = load(conn);
    conn.batch_execute(&format!("PRAGMA temp_store = {own}"))?;
    loaded
}

#[derive(diesel::QueryableByName)]
struct TempStore {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    temp_store: i32,
}

/// SQLite's `temp_store` on this connection: 0 default, 1 file, 2 memory.
fn temp_store(conn: &mut DbConn) -> Result<i32, StoreError> {
    Ok(diesel::sql_query("PRAGMA temp_store")
        .get_result::<TempStore>(conn)?
        .temp_store)
}

/// Runs `load` with `table`'s secondary indexes dropped, and builds them again after it.
pub fn without_indexes<R>(
    conn: &mut DbConn,
    table: &str,
    load: impl FnOnce(&mut DbConn) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    if !matches!(conn, DbConn::Sqlite(_)) {
        return load(conn);
    }
    let indexes = sqlite_indexes(conn, table)?;
    for index in &indexes {
        conn.batch_execute(&format!("DROP INDEX \"{}\"", index.name))?;
    }
    let loaded = load(conn)?;
    for index in &indexes {
        conn.batch_execute(&index.sql)?;
    }
    Ok(loaded)
}

#[derive(diesel::QueryableByName)]
struct Index {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sql: String,
}

/// The `CREATE INDEX` statements the migrations made on `table` (the primary key's own index
/// has no statement and stays).
fn sqlite_indexes(conn: &mut DbConn, table: &str) -> Result<Vec<Index>, StoreError> {
    Ok(diesel::sql_query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load(conn)?)
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    use super::*;

    fn index_statements(conn: &mut DbConn) -> Vec<String> {
        let mut statements: Vec<String> = sqlite_indexes(conn, "token_view")
            .unwrap()
            .into_iter()
            .map(|index| index.sql)
            .collect();
        statements.sort();
        statements
    }

    #[test]
    fn temporary_storage_is_on_files_for_the_load_and_in_memory_again_after_it() {
        let (_dir, pool) = crate::db::scratch_pool();
        let mut conn = pool.get().unwrap();
        const FILE: i32 = 1;
        const MEMORY: i32 = 2;
        assert_eq!(
            temp_store(&mut conn).unwrap(),
            MEMORY,
            "as every pooled connection"
        );

        let during = with_temp_files(&mut conn, temp_store).unwrap();
        assert_eq!(during, FILE);
        assert_eq!(temp_store(&mut conn).unwrap(), MEMORY);

        let failed = with_temp_files(&mut conn, |_| {
            Err::<(), _>(StoreError::from(diesel::result::Error::NotFound))
        });
        assert!(failed.is_err());
        assert_eq!(
            temp_store(&mut conn).unwrap(),
            MEMORY,
            "restored after a failed load too"
        );
    }

    #[test]
    fn the_load_runs_without_the_indexes_and_they_are_back_after_it() {
        let (_dir, pool) = crate::db::scratch_pool();
        let mut conn = pool.get().unwrap();
        let before = index_statements(&mut conn);
        assert!(
            before.len() >= 4,
            "the migrations index the view: {before:?}"
        );

        let during = without_indexes(&mut conn, "token_view", |conn| {
            conn.batch_execute(
                "INSERT INTO token_view (jti, token_type, user_id, sid, issued_at, expires_at, state, last_seq) \
                 VALUES ('a', 'access', 1, 's', '2026-01-01 00:00:00', '2026-01-01 01:00:00', 'outstanding', 1)",
            )?;
            Ok(index_statements(conn))
        })
        .unwrap();

        assert_eq!(during, Vec::<String>::new());
        assert_eq!(index_statements(&mut conn), before);
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM token_view INDEXED BY token_view_sid WHERE sid = 's'",
        )
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(rows.n, 1, "the rebuilt index holds the loaded row");
    }
}
