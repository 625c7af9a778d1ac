//! The account operations HTTP serves, each with what it implies decided here: the actor the
//! ledger names, and forgetting a changed user in the directory so the hot path re-reads it.
//! Handlers call these, never the table functions of `users` with a pooled connection.

use std::collections::HashMap;

use super::{NewUser, Principal, User, UserDirectory, UserError, UserKey};
use crate::db::StoreError;
use crate::ledger::{Ledger, Reason};

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
        super::find(&mut *self.ledger.pool().get()?, id)
    }

    /// The user a person typed: an id if it is a number, else a username.
    pub fn find_named(&self, name_or_id: &str) -> Result<Option<User>, StoreError> {
        let mut conn = self.ledger.pool().get()?;
        match name_or_id.parse::<i64>() {
            Ok(id) => super::find(&mut conn, id),
            Err(_) => super::find_by_username(&mut conn, name_or_id),
        }
    }

    /// The usernames of these ids (unknown ids are left out).
    pub fn usernames(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(super::find_many(&mut *self.ledger.pool().get()?, ids)?
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
        super::search(&mut *self.ledger.pool().get()?, needle, after_id, limit)
    }

    pub fn create(&self, new: NewUser<'_>) -> Result<User, UserError> {
        let mut conn = self.ledger.pool().get().map_err(StoreError::from)?;
        super::create(&mut conn, new)
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
        let changed =
            super::set_active(&self.ledger, UserKey::Id(id), active, Some(actor.as_str()));
        self.directory.forget(id);
        changed
    }

    /// Staff revokes every token of user `id`; returns how many.
    pub fn revoke_all(&self, staff: &Principal, id: i64) -> Result<usize, UserError> {
        let actor = Actor::admin(staff);
        super::revoke_all(
            &self.ledger,
            UserKey::Id(id),
            Reason::Admin,
            Some(actor.as_str()),
        )
    }

    /// The user logs out everywhere; returns how many tokens were revoked.
    pub fn logout_all(&self, user: &Principal) -> Result<usize, UserError> {
        let actor = Actor::own(user);
        super::revoke_all(
            &self.ledger,
            UserKey::Id(user.id),
            Reason::LogoutAll,
            Some(actor.as_str()),
        )
    }
}
