//! Who a bearer token's `user_id` is, answered from memory on the hot path.
//!
//! Only active users are remembered, each for at most [`FRESHNESS`]: a change made by another
//! process (the CLI, another instance, a hand edit) is honoured within that, which is the
//! contract's bound for revocations. Deactivations seen in the ledger and changes made by
//! this process are honoured at once: they [`forget`](UserDirectory::forget) the user.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use super::User;
use crate::ledger::{EventKind, Reason, Revocations};

/// How long an active user may be vouched for from memory without re-reading the database.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// Beyond this many users, the least recently seen ones are read from the database again.
const CAPACITY: u64 = 200_000;

/// What protected endpoints need of the active user a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub username: String,
    pub is_staff: bool,
}

#[derive(Clone)]
pub struct UserDirectory {
    inner: Arc<Inner>,
}

struct Inner {
    active: Cache<i64, Arc<Principal>>,
    /// Bumped by every `forget`: a database read that started before one may be stale, and is
    /// not remembered (see `remember`).
    forgotten: AtomicU64,
}

/// Taken before a database read of a user, handed back to [`UserDirectory::remember`].
#[derive(Debug, Clone, Copy)]
pub struct ReadTicket(u64);

impl Default for UserDirectory {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                active: Cache::builder()
                    .max_capacity(CAPACITY)
                    .time_to_live(FRESHNESS)
                    .build(),
                forgotten: AtomicU64::new(0),
            }),
        }
    }
}

impl UserDirectory {
    /// A directory that forgets a user as soon as `revocations` applies their deactivation,
    /// whichever process wrote it.
    pub fn following(revocations: &Revocations) -> Self {
        let directory = Self::default();
        let forgetful = directory.clone();
        revocations.observe(Box::new(move |event| {
            if event.event == EventKind::Blacklisted
                && event.reason == Some(Reason::UserDeactivated)
            {
                forgetful.forget(event.user_id);
            }
        }));
        directory
    }

    /// The active user `id`, if one was read within [`FRESHNESS`].
    pub fn active(&self, id: i64) -> Option<Arc<Principal>> {
        self.inner.active.get(&id)
    }

    /// Call before reading a user from the database.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket(self.inner.forgotten.load(Ordering::Acquire))
    }

    /// The principal of a user just read; remembered if active and nothing was forgotten
    /// since `ticket` was taken (else a deactivation may have raced the read).
    pub fn remember(&self, user: &User, ticket: ReadTicket) -> Arc<Principal> {
        let principal = Arc::new(Principal {
            id: user.id,
            username: user.username.clone(),
            is_staff: user.is_staff,
        });
        if user.is_active && self.inner.forgotten.load(Ordering::Acquire) == ticket.0 {
            self.inner.active.insert(user.id, principal.clone());
        }
        principal
    }

    /// The user changed: the next request reads it from the database.
    pub fn forget(&self, id: i64) {
        self.inner.forgotten.fetch_add(1, Ordering::AcqRel);
        self.inner.active.invalidate(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn user(id: i64, is_active: bool) -> User {
        User {
            id,
            username: format!("user{id}"),
            email: None,
            password_hash: String::new(),
            is_active,
            is_staff: false,
            date_joined: time::now(),
            last_login: None,
        }
    }

    #[test]
    fn an_active_user_is_remembered_until_forgotten() {
        let directory = UserDirectory::default();
        let ticket = directory.ticket();
        directory.remember(&user(7, true), ticket);
        assert_eq!(
            directory.active(7).map(|p| p.username.clone()),
            Some("user7".into())
        );
        directory.forget(7);
        assert_eq!(directory.active(7), None);
    }

    #[test]
    fn an_inactive_user_is_never_remembered() {
        let directory = UserDirectory::default();
        let ticket = directory.ticket();
        directory.remember(&user(7, false), ticket);
        assert_eq!(directory.active(7), None);
    }

    #[test]
    fn a_read_that_raced_a_forget_is_not_remembered() {
        let directory = UserDirectory::default();
        let ticket = directory.ticket();
        directory.forget(7);
        let principal = directory.remember(&user(7, true), ticket);
        assert_eq!(principal.id, 7);
        assert_eq!(directory.active(7), None);
    }

    #[test]
    fn a_remembered_user_is_read_again_after_freshness() {
        let directory = UserDirectory::default();
        directory.remember(&user(7, true), directory.ticket());
        std::thread::sleep(FRESHNESS + Duration::from_millis(50));
        assert_eq!(directory.active(7), None);
    }
}
