//! The token service: the one way into the token commands (login in `login`, refresh in
//! `refresh`, revocations in `revoke`, reads in `sessions`) and the hot path's checks here.
//!
//! Every command runs the same three steps. Inside one write transaction it loads the facts
//! its rule needs and asks the rule (`tokens::decide`, pure) for events and an answer; the
//! ledger appends the events and commits. Only then, outside the write lock, are the claims
//! in the answer signed. Blocking: call it off the async workers.

use std::sync::Arc;
use std::time::Instant;

use super::claims::{self, Claims, Rules, Verified};
use super::decide::Context;
use super::error::{AuthError, TokenError};
use super::keys::TokenKeys;
use super::policy::TokenPolicy;
use crate::db::{DbConn, StoreError};
use crate::ledger::{Decision, Ledger, TokenType, view};
use crate::time;
use crate::users::hash_queue::HashQueue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub refresh: String,
    pub access: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub access: String,
    /// Present when refresh tokens rotate.
    pub refresh: Option<String>,
}

/// Why a bearer token was refused, per token type tried (the reference's `messages`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerFailure {
    pub token_type: TokenType,
    pub error: TokenError,
}

#[derive(Clone)]
pub struct TokenService {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) keys: TokenKeys,
    pub(super) policy: TokenPolicy,
    pub(super) ledger: Ledger,
    /// The password checks waiting for a hasher, capped.
    pub(super) hash_queue: HashQueue,
    /// One throttle write of this process at a time: the rest wait here, holding no pooled
    /// connection, instead of each holding one while it waits for the database's write lock
    /// (which the throttle's writes take), which would leave none to other requests.
    pub(super) throttle_turn: std::sync::Mutex<()>,
}

impl TokenService {
    pub fn new(keys: TokenKeys, policy: TokenPolicy, ledger: Ledger) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                hash_queue: HashQueue::new(policy.login.password_hash_queue),
                throttle_turn: std::sync::Mutex::new(()),
                policy,
                ledger,
            }),
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    pub fn policy(&self) -> &TokenPolicy {
        &self.inner.policy
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    /// The rules' context, with the clock read now: call it under the write lock, so a
    /// writer that waited for a concurrent one never decides as if it came before it.
    pub(super) fn context(&self) -> Context<'_> {
        Context {
            policy: &self.inner.policy,
            now: time::now(),
        }
    }

    /// Runs `work` as a write on the ledger's writer thread, with the rules' context read
    /// there, under the write lock (see [`Self::context`]); blocks until the commit.
    pub(super) fn write<T, E>(
        &self,
        work: impl FnOnce(Context<'_>, &mut DbConn) -> Result<Decision<T>, E> + Send + 'static,
    ) -> Result<T, E>
    where
        E: From<StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let service = self.clone();
        self.ledger()
            .write(move |conn| work(service.context(), conn))
    }

    /// Signs claims a rule decided, once their events are committed.
    pub(super) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        self.inner.keys.sign(claims)
    }

    /// Signature, algorithm, times, issuer, audience, id and (if given) type.
    pub fn decode(&self, token: &str, expected: Option<TokenType>) -> Result<Verified, TokenError> {
        let payload = self.inner.keys.decode(token)?;
        let policy = &self.inner.policy;
        let rules = Rules {
            now: time::to_unix(time::now()),
            leeway: policy.leeway,
            issuer: policy.issuer.as_deref(),
            audience: policy.audience.as_deref(),
        };
        claims::check(payload, &rules, expected)
    }

    /// The hot path of protected endpoints: no database, only the in-memory revocations.
    pub fn verify_bearer(&self, token: &str) -> Result<Verified, Vec<BearerFailure>> {
        let mut failures = Vec::new();
        for &token_type in &self.inner.policy.bearer_types {
            let error = match self.decode(token, Some(token_type)) {
                Ok(verified) if !self.ledger().revocations().is_revoked(&verified.jti) => {
                    return Ok(verified);
                }
                Ok(_) => TokenError::Blacklisted,
                Err(error) => error,
            };
            failures.push(BearerFailure { token_type, error });
        }
        Err(failures)
    }

    /// Any token type; a blacklisted token is a validation error (400), as in the reference.
    pub fn verify(&self, token: &str) -> Result<(), AuthError> {
        match self.verify_in_memory(token, Instant::now())? {
            None => Ok(()),
            Some(presented) => self.verify_in_database(&presented),
        }
    }

    /// Verify without the database where memory is enough: `Ok(None)` valid, an error refused,
    /// `Ok(Some(token))` a valid token whose state memory cannot vouch for yet. Cheap: call it
    /// on any thread. `arrived`: when the request came in (see [`Self::vouch_from_memory`]).
    pub fn verify_in_memory(
        &self,
        token: &str,
        arrived: Instant,
    ) -> Result<Option<Verified>, AuthError> {
        let presented = self.decode(token, None)?;
        if !self.inner.policy.blacklist_after_rotation {
            return Ok(None);
        }
        match self.vouch_from_memory(&presented, arrived) {
            Some(decided) => decided.map(|()| None),
            None => Ok(Some(presented)),
        }
    }

    /// Memory's word on a decoded token, if it has one. A token held as blacklisted is refused
    /// (a blacklisting is final until the token expires). One not held is valid only once the
    /// follower has proved, by a check that began at or after `arrived`, that every committed
    /// event is applied here: so a revocation acknowledged by any instance before the request
    /// arrived is never missed, as the contract's "verify decides on the database's state"
    /// requires.
    pub fn vouch_from_memory(
        &self,
        presented: &Verified,
        arrived: Instant,
    ) -> Option<Result<(), AuthError>> {
        let revocations = self.ledger().revocations();
        if revocations.is_blacklisted(&presented.jti) {
            return Some(Err(AuthError::VerifyBlacklisted));
        }
        revocations.is_current_since(arrived).then_some(Ok(()))
    }

    /// Memory's word on `presented` once the follower has checked the database after
    /// `arrived`: asks it for a check now, and waits for one to complete, `patience` at most
    /// (`None`: no check came in time, the database must answer).
    pub async fn vouch_soon(
        &self,
        presented: &Verified,
        arrived: Instant,
        patience: std::time::Duration,
    ) -> Option<Result<(), AuthError>> {
        let checks = self.ledger().revocations().checks();
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Registered before looking, so a check completing in between still wakes us.
            let mut completed = std::pin::pin!(checks.completed().notified());
            completed.as_mut().enable();
            if let Some(decided) = self.vouch_from_memory(presented, arrived) {
                return Some(decided);
            }
            checks.want();
            if tokio::time::timeout_at(deadline, completed).await.is_err() {
                return self.vouch_from_memory(presented, arrived);
            }
        }
    }

    /// The view's word on a token `verify_in_memory` could not decide. Blocking.
    pub fn verify_in_database(&self, presented: &Verified) -> Result<(), AuthError> {
        let mut conn = self.ledger().pool().get().map_err(StoreError::from)?;
        match view::find(&mut conn, &presented.jti)? {
            Some(row) if row.is_blacklisted() => Err(AuthError::VerifyBlacklisted),
            _ => Ok(()),
        }
    }
}
