//! The users an import creates: Django's, with their ids and hashes, in one transaction.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::ImportError;
use super::django::DjangoUser;
use crate::db::DbConn;
use crate::db::schema::users;

#[derive(Insertable)]
#[diesel(table_name = users)]
struct ImportedUser<'a> {
    id: i64,
    username: &'a str,
    email: Option<&'a str>,
    password_hash: &'a str,
    is_active: bool,
    is_staff: bool,
    date_joined: NaiveDateTime,
    last_login: Option<NaiveDateTime>,
}

impl<'a> From<&'a DjangoUser> for ImportedUser<'a> {
    fn from(user: &'a DjangoUser) -> Self {
        Self {
            id: user.id,
            username: &user.username,
            // Django keeps "" for no email; we keep NULL.
            email: user.email.as_deref().filter(|email| !email.is_empty()),
            // Django's encoded hash as it is: it verifies at login and is then upgraded.
            password_hash: &user.password,
            is_active: user.is_active,
            is_staff: user.is_staff,
            date_joined: user.date_joined,
            last_login: user.last_login,
        }
    }
}

/// Creates the users tokenledger lacks, with Django's ids, in one transaction; a Django user
/// whose id or username belongs to another user here stops the import before anything is
/// written. Returns (created, already present).
pub(super) fn import_users(
    conn: &mut DbConn,
    django_users: &[DjangoUser],
    dry_run: bool,
) -> Result<(u64, u64), ImportError> {
    let work = |conn: &mut DbConn| -> Result<(u64, u64), ImportError> {
        let missing = missing_users(conn, django_users)?;
        let present = (django_users.len() - missing.len()) as u64;
        if !dry_run && !missing.is_empty() {
            let rows: Vec<ImportedUser<'_>> = missing
                .iter()
                .map(|user| ImportedUser::from(*user))
                .collect();
            for chunk in rows.chunks(500) {
                crate::db::execute_natively(conn, diesel::insert_into(users::table).values(chunk))?;
            }
            crate::db::advance_user_ids(conn)?;
        }
        Ok((missing.len() as u64, present))
    };
    if dry_run {
        work(conn)
    } else {
        crate::db::write_transaction(conn, work)
    }
}

/// The Django users not yet here; an error for one whose id or username is taken by
/// someone else.
fn missing_users<'a>(
    conn: &mut DbConn,
    django_users: &'a [DjangoUser],
) -> Result<Vec<&'a DjangoUser>, ImportError> {
    let mut by_id: HashMap<i64, String> = HashMap::new();
    let mut by_name: HashMap<String, i64> = HashMap::new();
    for chunk in django_users.chunks(500) {
        let ids: Vec<i64> = chunk.iter().map(|user| user.id).collect();
        let names: Vec<&str> = chunk.iter().map(|user| user.username.as_str()).collect();
        let found: Vec<(i64, String)> = users::table
            .filter(users::id.eq_any(ids).or(users::username.eq_any(names)))
            .select((users::id, users::username))
            .load(conn)?;
        for (id, username) in found {
            by_name.insert(username.clone(), id);
            by_id.insert(id, username);
        }
    }
    let mut missing = Vec::new();
    for user in django_users {
        let same_id = by_id.get(&user.id);
        let same_name = by_name.get(&user.username);
        match (same_id, same_name) {
            (None, None) => missing.push(user),
            (Some(name), Some(&id)) if *name == user.username && id == user.id => {}
            _ => {
                let (ours_id, ours_name) = match (same_id, same_name) {
                    (Some(name), _) => (user.id, name.clone()),
                    (None, Some(&id)) => (id, user.username.clone()),
                    (None, None) => (user.id, user.username.clone()),
                };
                return Err(ImportError::Collision {
                    django_id: user.id,
                    django_name: user.username.clone(),
                    ours_id,
                    ours_name,
                });
            }
        }
    }
    Ok(missing)
}
