//! Decide: every rule that turns a command, and the facts loaded for it, into the ledger
//! events to append and the answer to give.
//!
//! Pure, as an aggregate's `handle` is in esrs and cqrs-es: no database, no clock, no random
//! ids, no signing. The caller (`tokens::service`, `tokens::sessions`, `users`) loads the facts
//! inside the write transaction, calls a rule here, and appends what it returns; the claims a
//! rule returns are signed only after the commit, outside the write lock. What the events then
//! do to a token's state is the fold's business (`ledger::fold`), not this module's.
//!
//! - [`issue`]: the claims of a new token and the ledger's record of it;
//! - [`login`]: a pair or a sliding token for an authenticated user;
//! - [`refresh`]: rotation, the reuse grace, reuse detection, sliding renewal, adoption;
//! - [`revoke`]: logout, RFC 7009, admin blacklist, session revocation, revoke-all (logout
//!   everywhere, password change, deactivation, lockout).

pub mod issue;
pub mod known;
pub mod login;
pub mod refresh;
pub mod revoke;

use chrono::NaiveDateTime;

use super::policy::TokenPolicy;
pub use crate::ledger::Decision;

/// What every rule knows besides its facts: the deployment's token rules and the moment,
/// read by the caller under the write lock (so a writer that waited never decides as if it
/// came before the writer it waited for).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a TokenPolicy,
    pub now: NaiveDateTime,
}

/// Ids a rule may give new tokens, drawn by the caller so the rule stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    /// A new session's id (login; adoption of a token that names none).
    pub sid: String,
    /// The refresh or sliding token's jti.
    pub token: String,
    /// The access token's jti.
    pub access: String,
}

impl Fresh {
    pub fn random() -> Self {
        let id = super::claims::new_id;
        Self {
            sid: id(),
            token: id(),
            access: id(),
        }
    }
}

#[cfg(test)]
pub(crate) mod given;
