//! Users: the account table and password checks. Account changes that also revoke tokens
//! are `tokens::accounts`.

pub mod directory;
pub mod hash_queue;
pub mod login_rate;
pub mod password;
pub mod throttle;
pub mod username_field;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{token_view, users};
use crate::db::{DbConn, DbPool, StoreError};
use crate::ledger::{TokenRow, view};
use crate::time;

pub use directory::{Principal, UserDirectory};
pub use username_field::UsernameField;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user {0:?} already exists")]
    Taken(String),
    #[error("no user named {0:?}")]
    NotFound(String),
    #[error("the username may not be blank")]
    BlankUsername,
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for UserError {
    fn from(err: diesel::result::Error) -> Self {
        UserError::Store(StoreError::from(err))
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password: &'a str,
    pub is_staff: bool,
}

// By a unique key, so without `.first()`: its `LIMIT` is a bound parameter, and SQLite
// re-prepares a statement whose LIMIT parameter is bound again, on every run (see
// `ledger::view::find`).
pub fn find(conn: &mut DbConn, id: i64) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

/// The user `id` and the view's row of token `jti` (`None`s where there is none), in one
/// statement where it can: a refresh needs both under the write lock, and on PostgreSQL each
/// statement there is a round trip that every writer of every instance waits for. A row the
/// writer's batch has touched is read as the batch left it.
pub fn find_with_token(
    conn: &mut DbConn,
    id: i64,
    jti: &str,
) -> Result<(Option<User>, Option<TokenRow>), StoreError> {
    if let Some(row) = view::as_this_batch_left_it(jti) {
        return Ok((find(conn, id)?, row));
    }
    let joined = token_view::table
        .find(jti)
        .left_join(users::table.on(users::id.eq(id)))
        .select((TokenRow::as_select(), Option::<User>::as_select()))
        .get_result::<(TokenRow, Option<User>)>(conn)
        .optional()?;
    match joined {
        Some((row, user)) => Ok((user, Some(row))),
        // No such token (one to adopt): the user alone.
        None => Ok((find(conn, id)?, None)),
    }
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

fn find_for_login(
    conn: &mut DbConn,
    field: UsernameField,
    login: &str,
) -> Result<Option<User>, StoreError> {
    match field {
        UsernameField::Username => find_by_username(conn, login),
        UsernameField::Email => Ok(users::table
            .filter(users::email.eq(login))
            .order(users::id)
            .select(User::as_select())
            .first(conn)
            .optional()?),
    }
}

/// Users whose username contains `needle` (all users without one), by id, after `after_id`.
pub fn search(
    conn: &mut DbConn,
    needle: Option<&str>,
    after_id: Option<i64>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    let mut query = users::table.select(User::as_select()).into_boxed();
    if let Some(needle) = needle {
        let escaped: String = needle
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        query = query.filter(users::username.like(format!("%{escaped}%")).escape('\\'));
    }
    if let Some(after) = after_id {
        query = query.filter(users::id.gt(after));
    }
    Ok(query.order(users::id).limit(limit).load(conn)?)
}

/// The users with these ids (unknown ids are left out).
pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<User>, StoreError> {
    Ok(users::table
        .filter(users::id.eq_any(ids.to_vec()))
        .select(User::as_select())
        .load(conn)?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Creates a user; the password is hashed before the database is touched.
pub fn create(conn: &mut DbConn, new: NewUser<'_>) -> Result<User, UserError> {
    if new.username.trim().is_empty() {
        return Err(UserError::BlankUsername);
    }
    let password_hash = password::hash(new.password)?;
    crate::db::write_transaction(conn, |conn| {
        if find_by_username(conn, new.username)?.is_some() {
            return Err(UserError::Taken(new.username.to_owned()));
        }
        diesel::insert_into(users::table)
            .values((
                users::username.eq(new.username),
                users::email.eq(new.email),
                users::password_hash.eq(&password_hash),
                users::is_active.eq(true),
                users::is_staff.eq(new.is_staff),
                users::date_joined.eq(time::now()),
            ))
            .execute(conn)?;
        find_by_username(conn, new.username)?
            .ok_or_else(|| UserError::NotFound(new.username.to_owned()))
    })
}

/// The active user these credentials belong to, or `None` (unknown user, wrong password or
/// inactive account alike: the caller must not tell them apart). No connection is held while
/// the password is hashed, so queued logins leave the pool to the other requests. A password
/// hash imported from Django that verifies is replaced by our argon2id in this same call.
pub fn authenticate(
    pool: &DbPool,
    field: UsernameField,
    login: &str,
    password: &str,
    update_last_login: bool,
) -> Result<Result<User, Refused>, StoreError> {
    let found = find_for_login(&mut *pool.get()?, field, login)?;
    let Some(user) = found else {
        password::verify_against_dummy(password);
        return Ok(Err(Refused { user_id: None }));
    };
    if !password::verify(&user.password_hash, password) || !user.is_active {
        return Ok(Err(Refused {
            user_id: Some(user.id),
        }));
    }
    if password::needs_upgrade(&user.password_hash) {
        upgrade_hash(pool, &user, password)?;
    }
    if update_last_login {
        diesel::update(users::table.find(user.id))
            .set(users::last_login.eq(time::now()))
            .execute(&mut *pool.get()?)?;
    }
    Ok(Ok(user))
}

/// Replaces a hash imported from Django, which just verified, by our argon2id, so the
/// imported format is used once. Only if it is still the one that verified: a password
/// changed meanwhile stays changed. A failure to hash leaves the old hash (it still works).
fn upgrade_hash(pool: &DbPool, user: &User, password: &str) -> Result<(), StoreError> {
    let Ok(upgraded) = password::hash(password) else {
        tracing::warn!(user_id = user.id, "could not rehash an imported password");
        return Ok(());
    };
    let changed = diesel::update(
        users::table
            .find(user.id)
            .filter(users::password_hash.eq(&user.password_hash)),
    )
    .set(users::password_hash.eq(&upgraded))
    .execute(&mut *pool.get()?)?;
    if changed == 1 {
        tracing::info!(
            user_id = user.id,
            "imported password hash upgraded to argon2id"
        );
    }
    Ok(())
}

/// A refused login, for the audit record: the account it named, if one exists (the client
/// is told nothing of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub user_id: Option<i64>,
}

/// Which user an account change is about: the CLI names users, the admin API numbers them.
/// It owns the name: the change runs on the ledger's writer thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    Id(i64),
    Name(String),
}

/// The user `key` names, or `NotFound`.
pub fn existing(conn: &mut DbConn, key: &UserKey) -> Result<User, UserError> {
    match key {
        UserKey::Id(id) => find(conn, *id)?.ok_or_else(|| UserError::NotFound(id.to_string())),
        UserKey::Name(name) => {
            find_by_username(conn, name)?.ok_or_else(|| UserError::NotFound(name.clone()))
        }
    }
}

/// Replaces the user's password hash (inside the caller's transaction).
pub fn update_password_hash(conn: &mut DbConn, id: i64, hash: &str) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(())
}

/// Activates or deactivates the user (inside the caller's transaction).
pub fn update_active(conn: &mut DbConn, id: i64, active: bool) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::is_active.eq(active))
        .execute(conn)?;
    Ok(())
}
