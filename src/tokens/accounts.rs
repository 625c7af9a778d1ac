//! Account changes that revoke tokens: a password change, a deactivation, logout
//! everywhere. The user's row changes and the revocations are appended in one write
//! transaction; `decide::revoke::revoke_all` picks the events.

use super::decide::revoke;
use crate::ledger::{Ledger, Reason, view};
use crate::time;
use crate::users::{self, User, UserError, UserKey, password};

/// Changes the password and, in the same transaction, revokes every token of the user but
/// those of `keep_sid` (the session that asked for the change). Returns how many. The new
/// password is hashed before the transaction: nothing slow runs under the write lock.
pub fn set_password(
    ledger: &Ledger,
    key: UserKey<'_>,
    password: &str,
    keep_sid: Option<&str>,
    actor: Option<&str>,
) -> Result<usize, UserError> {
    let password_hash = password::hash(password)?;
    ledger.write(|conn| {
        let user = users::existing(conn, key)?;
        users::update_password_hash(conn, user.id, &password_hash)?;
        let outstanding = view::outstanding_of_user(conn, user.id)?;
        Ok(revoke::revoke_all(
            time::now(),
            &outstanding,
            Reason::PasswordChanged,
            actor,
            keep_sid,
        ))
    })
}

/// Activates or deactivates; deactivation revokes every token of the user in the same
/// transaction. Returns the user as it now is, and how many tokens were revoked.
pub fn set_active(
    ledger: &Ledger,
    key: UserKey<'_>,
    active: bool,
    actor: Option<&str>,
) -> Result<(User, usize), UserError> {
    ledger.write(|conn| {
        let user = users::existing(conn, key)?;
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
            actor,
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
    key: UserKey<'_>,
    reason: Reason,
    actor: Option<&str>,
) -> Result<usize, UserError> {
    ledger.write(|conn| {
        let user = users::existing(conn, key)?;
        let outstanding = view::outstanding_of_user(conn, user.id)?;
        Ok(revoke::revoke_all(
            time::now(),
            &outstanding,
            reason,
            actor,
            None,
        ))
    })
}
