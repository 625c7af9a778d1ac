//! Multi-row INSERTs of a few fixed sizes, so each size is prepared once per connection.
//!
//! diesel caches a prepared statement only when its SQL cannot vary: an insert of a slice
//! (any length) is parsed and planned again on every call, which was a fifth of a logout's
//! CPU on SQLite. An insert of an array `[T; N]` has one SQL text per `N` and is cached. So
//! a batch goes in as chunks of 256, 32, 8, 4, 2 and then single rows: a refresh's two new
//! view rows are one statement (one round trip to PostgreSQL under the write lock, not two),
//! any count below eight at most three, a flush batch of a thousand eleven.

/// Inserts `$rows` (a slice) into `$table`, in chunks of the sizes above, through
/// [`super::execute_natively`]; evaluates to `Result<(), StoreError>`.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let conn: &mut $crate::db::DbConn = $conn;
        let mut rest = $rows;
        let mut inserted: Result<(), $crate::db::StoreError> = Ok(());
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 256);
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 32);
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 8);
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 4);
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 2);
        $crate::db::insert_rows!(@size conn, $table, rest, inserted, 1);
        debug_assert!(rest.is_empty() || inserted.is_err(), "single rows leave nothing over");
        inserted
    }};
    (@size $conn:ident, $table:expr, $rest:ident, $inserted:ident, $n:literal) => {
        if $inserted.is_ok() {
            let mut chunks = $rest.chunks_exact($n);
            for chunk in &mut chunks {
                let Ok(chunk) = <&[_; $n]>::try_from(chunk) else {
                    unreachable!("chunks_exact yields chunks of exactly {} rows", $n)
                };
                if let Err(err) = $crate::db::execute_natively(
                    &mut *$conn,
                    diesel::insert_into($table).values(chunk),
                ) {
                    $inserted = Err(err);
                    break;
                }
            }
            $rest = chunks.remainder();
        }
    };
}

pub(crate) use insert_rows;
