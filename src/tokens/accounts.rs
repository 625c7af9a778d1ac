//! Accounts: the account operations HTTP serves, each with what it implies decided here (the
//! actor the ledger names; forgetting a changed user in the directory so the hot path re-reads
//! it), and the account changes that revoke tokens (a password change, a deactivation, logout
//! everywhere): the user's row changes and the revocations are appended in one write
//! transaction, `decide::revoke::revoke_all` picking the events. Handlers call these, never
//! the table functions of `users` with a pooled connection.

use std::collections::HashMap;

use super::decide::revoke;
use crate::db::StoreError;
use crate::ledger::{Ledger, Reason, view};
use crate::time;
use crate::users::{self, NewUser, Principal, User, UserDirectory, UserError, UserKey, password};

/// Who the ledger names as the actor of a change: staff acting on someone (`admin:<id>`), or
/// a user acting on their own account (`user:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    pub fn admin(staff: &Principal) -> Self {
        Self(format!("admin:{}", staff.id))
    }

    pub fn own(user: &Principal) -> Self {
        Self(format!("user:{}", user.id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone)]
pub struct Accounts {
    ledger: Ledger,
    directory: UserDirectory,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Accounts")
    }
}

impl Accounts {
    /// Accounts over the ledger's database; `directory` is the hot path's memory of users.
    pub fn new(ledger: Ledger, directory: UserDirectory) -> Self {
        Self { ledger, directory }
    }

    pub fn directory(&self) -> &UserDirectory {
        &self.directory
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn find(&self, id: i64) -> Result<Option<User>, StoreError> {
        users::find(&mut *self.ledger.pool().get()?, id)
    }

    /// The user a person typed: an id if it is a number, else a username.
    pub fn find_named(&self, name_or_id: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.ledger.pool().get()?;
        match name_or_id.parse::<i64>() {
            Ok(id) => users::find(&mut conn, id),
            Err(_) => users::find_by_username(&mut conn, name_or_id),
        }
    }

    /// The usernames of these ids (unknown ids are left out).
    pub fn usernames(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(users::find_many(&mut *self.ledger.pool().get()?, ids)?
            .into_iter()
            .map(|user| (user.id, user.username))
            .collect())
    }

    /// Users whose username contains `needle` (all without one), by id, after `after_id`.
    pub fn search(
        &self,
        needle: Option<&str>,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        users::search(&mut *self.ledger.pool().get()?, needle, after_id, limit)
    }

    pub fn create(&self, new: NewUser<'_>) -> Result<User, UserError> {
        let mut conn = self.ledger.pool().get().map_err(StoreError::from)?;
        users::create(&mut conn, new)
    }

    /// Staff activates or deactivates user `id` (a deactivation revokes every token of it).
    /// The directory forgets the user either way, so the next request reads it again.
    pub fn set_active(
        &self,
        staff: &Principal,
        id: i64,
        active: bool,
    ) -> Result<(User, usize), UserError> {
        let actor = Actor::admin(staff);
        let changed = set_active(&self.ledger, UserKey::Id(id), active, Some(actor.as_str()));
        self.directory.forget(id);
        changed
    }

    /// Staff revokes every token of user `id`; returns how many.
    pub fn revoke_all(&self, staff: &Principal, id: i64) -> Result<usize, UserError> {
        let actor = Actor::admin(staff);
        revoke_all(
            &self.ledger,
            UserKey::Id(id),
            Reason::Admin,
            Some(actor.as_str()),
        )
    }

    /// The user logs out everywhere; returns how many tokens were revoked.
    pub fn logout_all(&self, user: &Principal) -> Result<usize, UserError> {
        let actor = Actor::own(user);
        revoke_all(
            &self.ledger,
            UserKey::Id(user.id),
            Reason::LogoutAll,
            Some(actor.as_str()),
        )
    }
}

/// Changes the password and, in the same transaction, revokes every token of the user but
/// those of `keep_sid` (the session that asked for the change). Returns how many. The new
/// password is hashed before the transaction: nothing slow runs under the write lock.
pub fn set_password(
    ledger: &Ledger,
    key: UserKey,
    password: &str,
    keep_sid: Option<&str>,
    actor: Option<&str>,
) -> Result<usize, UserError> {
    let password_hash = password::hash(password)?;
    let (keep_sid, actor) = (keep_sid.map(str::to_owned), actor.map(str::to_owned));
    ledger.write_changing(move |conn| {
        let user = users::existing(conn, &key)?;
        users::update_password_hash(conn, user.id, &password_hash)?;
        let outstanding = view::outstanding_of_user(conn, user.id)?;
        Ok(revoke::revoke_all(
            time::now(),
            &outstanding,
            Reason::PasswordChanged,
            actor.as_deref(),
            keep_sid.as_deref(),
        ))
    })
}

/// Activates or deactivates; deactivation revokes every token of the user in the same
/// transaction. Returns the user as it now is, and how many tokens were revoked.
pub fn set_active(
    ledger: &Ledger,
    key: UserKey,
    active: bool,
    actor: Option<&str>,
) -> Result<(User, usize), UserError> {
    let actor = actor.map(str::to_owned);
    ledger.write_changing(move |conn| {
        let user = users::existing(conn, &key)?;
        users::update_active(conn, user.id, active)?;
        let outstanding = if active {
            Vec::new()
        } else {
            view::outstanding_of_user(conn, user.id)?
        };
        let decided = revoke::revoke_all(
            time::now(),
            &outstanding,
            Reason::UserDeactivated,
            actor.as_deref(),
            None,
        );
        let user = User {
            is_active: active,
            ..user
        };
        Ok(decided.map(|revoked| (user, revoked)))
    })
}

/// Revokes every token of the user; returns how many.
pub fn revoke_all(
    ledger: &Ledger,
    key: UserKey,
    reason: Reason,
    actor: Option<&str>,
) -> Result<usize, UserError> {
    let actor = actor.map(str::to_owned);
    ledger.write(move |conn| {
        let user = users::existing(conn, &key)?;
        let outstanding = view::outstanding_of_user(conn, user.id)?;
        Ok(revoke::revoke_all(
            time::now(),
            &outstanding,
            reason,
            actor.as_deref(),
            None,
        ))
    })
}
