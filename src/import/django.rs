//! Reading a Django project's database: `auth_user` and SimpleJWT's blacklist app tables
//! (`token_blacklist_outstandingtoken`, `token_blacklist_blacklistedtoken`), on SQLite,
//! PostgreSQL or MariaDB/MySQL, as Django's migrations created them. Read only: nothing here
//! writes, and the source database is never migrated.
//!
//! Django's columns are not ours: ids are 32-bit on some backends, PostgreSQL keeps
//! `timestamp with time zone`. Each query casts to the portable types (BigInt, Timestamp in
//! UTC), in the dialect of the connection it runs on.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

use crate::db::DbConn;

/// Loads a raw query through the concrete backend's connection, in that backend's own types
/// (diesel's multi-connection does not load raw SQL by name).
macro_rules! load_natively {
    ($conn:expr, $query:expr, $row:ty) => {
        match $conn {
            DbConn::Sqlite(inner) => $query.load::<$row>(inner),
            DbConn::Postgres(inner) => $query.load::<$row>(inner),
            #[cfg(feature = "mysql")]
            DbConn::Mysql(inner) => $query.load::<$row>(inner),
        }
    };
}

/// One row of Django's user table.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DjangoUser {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    /// Django's encoded hash (`algorithm$...`), or an unusable password (`!...`).
    #[diesel(sql_type = Text)]
    pub password: String,
    #[diesel(sql_type = Bool)]
    pub is_active: bool,
    #[diesel(sql_type = Bool)]
    pub is_staff: bool,
    #[diesel(sql_type = Timestamp)]
    pub date_joined: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub last_login: Option<NaiveDateTime>,
}

/// One outstanding token, with the time it was blacklisted if it was.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct OutstandingRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `NULL` once the user was deleted (the foreign key is `SET_NULL`).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub user_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub jti: String,
    /// The encoded JWT as SimpleJWT issued it.
    #[diesel(sql_type = Text)]
    pub token: String,
    #[diesel(sql_type = Timestamp)]
    pub expires_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub blacklisted_at: Option<NaiveDateTime>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// How a column becomes a portable type in each dialect.
#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    Postgres,
    #[cfg(feature = "mysql")]
    Mysql,
}

impl Dialect {
    fn of(conn: &DbConn) -> Self {
        match conn {
            DbConn::Sqlite(_) => Dialect::Sqlite,
            DbConn::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            DbConn::Mysql(_) => Dialect::Mysql,
        }
    }

    fn int(self, column: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!("CAST({column} AS BIGINT)"),
            #[cfg(feature = "mysql")]
            Dialect::Mysql => format!("CAST({column} AS SIGNED)"),
        }
    }

    /// Django stores UTC; PostgreSQL's `timestamptz` is read as UTC wall-clock time.
    fn timestamp(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("({column} AT TIME ZONE 'UTC')"),
            _ => column.to_owned(),
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            Dialect::Postgres => "$1",
            _ => "?",
        }
    }
}

/// A table name spliced into SQL: letters, digits and `_` only (Django's own names are).
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Every user of `user_table` (Django's `auth_user`, or a custom user model's table with the
/// same columns), by id.
pub fn users(conn: &mut DbConn, user_table: &str) -> QueryResult<Vec<DjangoUser>> {
    let d = Dialect::of(conn);
    let sql = format!(
        "SELECT {id} AS id, username, email, password, is_active, is_staff, \
         {joined} AS date_joined, {login} AS last_login FROM {user_table} ORDER BY id",
        id = d.int("id"),
        joined = d.timestamp("date_joined"),
        login = d.timestamp("last_login"),
    );
    let query = diesel::sql_query(sql);
    load_natively!(conn, query, DjangoUser)
}

pub fn count_outstanding(conn: &mut DbConn) -> QueryResult<i64> {
    let query = diesel::sql_query(format!(
        "SELECT {} AS count FROM token_blacklist_outstandingtoken",
        Dialect::of(conn).int("COUNT(*)")
    ));
    let rows = load_natively!(conn, query, Count)?;
    Ok(rows.first().map_or(0, |row| row.count))
}

/// Up to `limit` outstanding tokens with an id above `after`, by id (a keyset page).
pub fn outstanding_page(
    conn: &mut DbConn,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<OutstandingRow>> {
    let d = Dialect::of(conn);
    let sql = format!(
        "SELECT {id} AS id, {user_id} AS user_id, o.jti AS jti, o.token AS token, \
         {expires} AS expires_at, {blacklisted} AS blacklisted_at \
         FROM token_blacklist_outstandingtoken o \
         LEFT JOIN token_blacklist_blacklistedtoken b ON b.token_id = o.id \
         WHERE o.id > {after} ORDER BY o.id LIMIT {limit}",
        id = d.int("o.id"),
        user_id = d.int("o.user_id"),
        expires = d.timestamp("o.expires_at"),
        blacklisted = d.timestamp("b.blacklisted_at"),
        after = d.placeholder(),
        limit = limit.max(1),
    );
    let query = diesel::sql_query(sql).bind::<BigInt, _>(after);
    load_natively!(conn, query, OutstandingRow)
}
