//! Token and account changes a signed-in user asks for, with the actor the ledger names
//! decided here (see `tokens::accounts::Actor`), so no handler spells it.

use super::accounts::{self, Actor};
use super::{AuthError, TokenService};
use crate::db::StoreError;
use crate::ledger::TokenRow;
use crate::users::{Principal, UserError, UserKey};

/// A password change that did not happen: the check of the old password failed to run, or
/// the change itself did.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error(transparent)]
    Check(#[from] AuthError),
    #[error(transparent)]
    Change(#[from] UserError),
}

/// Staff blacklists one token; `None` if the view does not hold it.
pub fn admin_blacklist(
    tokens: &TokenService,
    staff: &Principal,
    jti: &str,
) -> Result<Option<TokenRow>, StoreError> {
    tokens.admin_blacklist(jti, Actor::admin(staff).as_str())
}

/// The user revokes one of their own sessions; `None` if it is not one of theirs.
pub fn revoke_own_session(
    tokens: &TokenService,
    user: &Principal,
    sid: &str,
) -> Result<Option<usize>, StoreError> {
    tokens.revoke_session(user.id, sid, Actor::own(user).as_str())
}

/// The user changes their password: the old one is checked first (counted by the login
/// throttle from `client`), then every session but `keep_sid` is revoked with the change.
/// `false`: the old password is wrong.
pub fn change_password(
    tokens: &TokenService,
    user: &Principal,
    keep_sid: Option<&str>,
    old_password: &str,
    new_password: &str,
    client: &str,
) -> Result<bool, PasswordChangeError> {
    if !tokens.check_password(user.id, old_password, client)? {
        return Ok(false);
    }
    accounts::set_password(
        tokens.ledger(),
        UserKey::Id(user.id),
        new_password,
        keep_sid,
        Some(Actor::own(user).as_str()),
    )?;
    Ok(true)
}
