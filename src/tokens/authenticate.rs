//! The one way in: every extractor (the API's bearer token, the console's cookie, forward
//! auth) authenticates here. A token is checked (signature, claims, type) and its
//! revocation looked up in memory; the user it names is vouched for by the directory while
//! fresh, else read once and remembered. So every way in answers from memory on the hot path
//! and refuses a revoked token or an inactive user the same way.

use std::sync::Arc;

use super::accounts::Accounts;
use super::claims::Verified;
use super::{BearerFailure, TokenService};
use crate::db::StoreError;
use crate::ledger::TokenType;
use crate::users::Principal;
use crate::users::directory::ReadTicket;

/// An active user and the valid, unrevoked token that names it.
#[derive(Debug)]
pub struct Authenticated {
    pub user: Arc<Principal>,
    pub token: Verified,
}

/// What is presented, and so which token types it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer`: the types `AUTH_TOKEN_CLASSES` allows.
    Bearer,
    /// The console's cookie: only the sliding token its sign-in minted.
    ConsoleSession,
}

/// Why no one is authenticated (each maps to the contract's own 401 body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Every type tried, and why each refused it.
    Token(Vec<BearerFailure>),
    NoUserClaim,
    UserNotFound,
    UserInactive,
}

/// The first step decides from memory; only an unknown user needs the database.
#[derive(Debug)]
pub enum Step {
    Known(Authenticated),
    /// Run [`Lookup::finish`] where blocking is allowed.
    Read(Lookup),
}

#[derive(Debug)]
pub struct Lookup {
    accounts: Accounts,
    token: Verified,
    user_id: i64,
    ticket: ReadTicket,
}

#[derive(Clone)]
pub struct Authenticator {
    tokens: TokenService,
    accounts: Accounts,
}

impl Authenticator {
    pub fn new(tokens: TokenService, accounts: Accounts) -> Self {
        Self { tokens, accounts }
    }

    /// Checks `raw` without the database; `Step::Read` when the user must be read.
    pub fn start(&self, raw: &str, credential: Credential) -> Result<Step, Refused> {
        let token = match credential {
            Credential::Bearer => self.tokens.verify_bearer(raw).map_err(Refused::Token)?,
            Credential::ConsoleSession => self.sliding(raw)?,
        };
        if !token.has_user_id() {
            return Err(Refused::NoUserClaim);
        }
        let user_id = token.user_id().ok_or(Refused::UserNotFound)?;
        let directory = self.accounts.directory();
        if let Some(user) = directory.active(user_id) {
            return Ok(Step::Known(Authenticated { user, token }));
        }
        Ok(Step::Read(Lookup {
            ticket: directory.ticket(),
            accounts: self.accounts.clone(),
            token,
            user_id,
        }))
    }

    fn sliding(&self, raw: &str) -> Result<Verified, Refused> {
        let refused = |error| {
            Refused::Token(vec![BearerFailure {
                token_type: TokenType::Sliding,
                error,
            }])
        };
        let token = self
            .tokens
            .decode(raw, Some(TokenType::Sliding))
            .map_err(refused)?;
        if self.tokens.ledger().revocations().is_revoked(&token.jti) {
            return Err(refused(super::TokenError::Blacklisted));
        }
        Ok(token)
    }
}

impl Lookup {
    /// Reads the user (blocking), remembers it if active.
    pub fn finish(self) -> Result<Result<Authenticated, Refused>, StoreError> {
        let Some(user) = self.accounts.find(self.user_id)? else {
            return Ok(Err(Refused::UserNotFound));
        };
        if !user.is_active {
            return Ok(Err(Refused::UserInactive));
        }
        let user = self.accounts.directory().remember(&user, self.ticket);
        Ok(Ok(Authenticated {
            user,
            token: self.token,
        }))
    }
}
