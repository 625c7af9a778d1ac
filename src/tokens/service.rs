//! The token service: obtain, refresh (rotate), verify, blacklist and sliding tokens.
//! Each operation checks the presented token, decides the ledger events inside one write
//! transaction, and signs the tokens those events record. Blocking: call it off the async
//! workers.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDateTime;

use super::claims::{self, Claims, Rules, UserClaims, Verified, new_id};
use super::error::{AuthError, TokenError};
use super::keys::TokenKeys;
use super::policy::TokenPolicy;
use crate::config::UserClaim;
use crate::db::{DbConn, StoreError};
use crate::ledger::{Decision, Ledger, NewEvent, Reason, TokenRef, TokenRow, TokenType, view};
use crate::time;
use crate::users::hash_queue::HashQueue;
use crate::users::throttle::Attempt;
use crate::users::{self, User};

/// The `actor` of the blacklistings a lockout makes.
const LOCKOUT_ACTOR: &str = "login_throttle";

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

/// A token we just signed, and the ledger's record of it.
struct Minted {
    encoded: String,
    token: TokenRef,
}

#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    keys: TokenKeys,
    policy: TokenPolicy,
    ledger: Ledger,
    /// The password checks waiting for a hasher, capped.
    hash_queue: HashQueue,
    /// One throttle write of this process at a time: the rest wait here, holding no pooled
    /// connection, instead of each holding one while it waits for the database's write lock
    /// (which the throttle's writes take), which would leave none to other requests.
    throttle_turn: std::sync::Mutex<()>,
}

impl TokenService {
    pub fn new(keys: TokenKeys, policy: TokenPolicy, ledger: Ledger) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys,
                hash_queue: HashQueue::new(policy.password_hash_queue),
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

    /// Logs in from `client` (the caller's address, which the login throttle counts by).
    pub fn obtain_pair(
        &self,
        login: &str,
        password: &str,
        client: &str,
    ) -> Result<Pair, AuthError> {
        let user = self.authenticate(login, password, client)?;
        let now = time::now();
        let sid = new_id();
        let refresh = self.mint(TokenType::Refresh, &user, &sid, now)?;
        let access = self.mint(TokenType::Access, &user, &sid, now)?;
        let events = vec![
            NewEvent::issued(refresh.token.clone(), None, now),
            NewEvent::issued(access.token.clone(), Some(refresh.token.jti.clone()), now),
        ];
        self.ledger()
            .write(|_| Ok::<_, AuthError>(Decision::new(events, ())))?;
        Ok(Pair {
            refresh: refresh.encoded,
            access: access.encoded,
        })
    }

    pub fn obtain_sliding(
        &self,
        login: &str,
        password: &str,
        client: &str,
    ) -> Result<String, AuthError> {
        let user = self.authenticate(login, password, client)?;
        let now = time::now();
        let sliding = self.mint(TokenType::Sliding, &user, &new_id(), now)?;
        let event = NewEvent::issued(sliding.token, None, now);
        self.ledger()
            .write(|_| Ok::<_, AuthError>(Decision::new(vec![event], ())))?;
        Ok(sliding.encoded)
    }

    pub fn refresh(&self, token: &str) -> Result<Refreshed, AuthError> {
        let presented = self.decode(token, Some(TokenType::Refresh))?;
        let user_id = presented
            .user_id()
            .ok_or(AuthError::NoActiveAccountForToken)?;
        let policy = &self.inner.policy;
        self.ledger().write(|conn| {
            // Read the clock under the write lock, so a refresh that waited for a concurrent
            // rotation never sees itself as earlier than that rotation.
            let now = time::now();
            let (row, mut events) = known_or_adopted(conn, &presented, user_id, now)?;
            // Zero grace means none, even where another instance's clock is a little behind.
            let within_grace = policy.reuse_grace > chrono::Duration::zero()
                && row
                    .rotated_at
                    .is_some_and(|rotated| now - rotated <= policy.reuse_grace);
            if within_grace {
                // Another tab refreshed first: it gets the pair the first one got.
                let replayed = self.replay_rotation(conn, &row);
                return Ok(Decision::new(events, replayed));
            }
            if row.rotated_at.is_some() && policy.reuse_detection {
                events.extend(revoke_session_for_reuse(conn, &row, now)?);
                return Ok(Decision::new(events, Err(TokenError::Blacklisted.into())));
            }
            if row.is_blacklisted() {
                return Ok(Decision::new(events, Err(TokenError::Blacklisted.into())));
            }
            // Read now, under the lock: the new tokens claim the user as it is (TOKEN_CLAIMS).
            let Some(user) = users::find(conn, user_id)?.filter(|user| user.is_active) else {
                return Ok(Decision::new(
                    events,
                    Err(AuthError::NoActiveAccountForToken),
                ));
            };
            let access = self.mint(TokenType::Access, &user, &row.sid, now)?;
            let mut refresh = None;
            if policy.rotate_refresh_tokens {
                let successor = self.mint(TokenType::Refresh, &user, &row.sid, now)?;
                events.push(NewEvent::rotated(row.token_ref(), now));
                if policy.blacklist_after_rotation {
                    events.push(NewEvent::blacklisted(
                        row.token_ref(),
                        Reason::Rotation,
                        now,
                    ));
                }
                events.push(NewEvent::issued(
                    successor.token,
                    Some(row.jti.clone()),
                    now,
                ));
                refresh = Some(successor.encoded);
            }
            events.push(NewEvent::issued(access.token, Some(row.jti.clone()), now));
            Ok::<_, AuthError>(Decision::new(
                events,
                Ok(Refreshed {
                    access: access.encoded,
                    refresh,
                }),
            ))
        })?
    }

    /// The pair a rotation of `rotated` issued, signed again from the view: the same jtis and
    /// times, so the same tokens. Refused if the successor has since been revoked.
    fn replay_rotation(
        &self,
        conn: &mut DbConn,
        rotated: &TokenRow,
    ) -> Result<Refreshed, AuthError> {
        let children = view::children(conn, &rotated.jti)?;
        let latest = |token_type: TokenType| {
            children
                .iter()
                .filter(|child| {
                    child.token_type == token_type && Some(child.issued_at) == rotated.rotated_at
                })
                .max_by_key(|child| child.last_seq)
        };
        let (Some(refresh), Some(access)) = (latest(TokenType::Refresh), latest(TokenType::Access))
        else {
            return Err(TokenError::Blacklisted.into());
        };
        if refresh.is_blacklisted() || access.is_blacklisted() {
            return Err(TokenError::Blacklisted.into());
        }
        let user = if self.inner.policy.user_claims.is_empty() {
            None
        } else {
            Some(
                users::find(conn, access.user_id)?
                    .filter(|user| user.is_active)
                    .ok_or(AuthError::NoActiveAccountForToken)?,
            )
        };
        Ok(Refreshed {
            access: self
                .inner
                .keys
                .sign(&self.claims_of_row(access, user.as_ref()))?,
            refresh: Some(self.inner.keys.sign(&self.claims_of_row(refresh, None))?),
        })
    }

    fn claims_of_row(&self, row: &TokenRow, user: Option<&User>) -> Claims {
        let policy = &self.inner.policy;
        Claims {
            user: self.user_claims(row.token_type, user),
            token_type: row.token_type,
            exp: time::to_unix(row.expires_at),
            iat: time::to_unix(row.issued_at),
            jti: row.jti.clone(),
            refresh_exp: None,
            user_id: row.user_id.to_string(),
            sid: row.sid.clone(),
            aud: policy.audience.clone(),
            iss: policy.issuer.clone(),
        }
    }

    /// Logout: blacklists the refresh token and, by default, the bearer tokens of its session.
    pub fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        let presented = self.decode(token, Some(TokenType::Refresh))?;
        let user_id = presented.user_id().ok_or(TokenError::Invalid)?;
        let revoke_session = self.inner.policy.revoke_access_on_logout;
        self.ledger().write(|conn| {
            let now = time::now();
            let (row, mut events) = known_or_adopted(conn, &presented, user_id, now)?;
            if row.is_blacklisted() {
                return Ok(Decision::new(events, Err(TokenError::Blacklisted.into())));
            }
            events.push(NewEvent::blacklisted(row.token_ref(), Reason::Logout, now));
            if revoke_session {
                let bearers = view::outstanding_of_session(conn, &row.sid)?;
                events.extend(
                    bearers
                        .iter()
                        .filter(|token| token.token_type.is_bearer())
                        .map(|token| NewEvent::blacklisted(token.token_ref(), Reason::Logout, now)),
                );
            }
            Ok::<_, AuthError>(Decision::new(events, Ok(())))
        })?
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

    /// The view's word on a token `verify_in_memory` could not decide. Blocking.
    pub fn verify_in_database(&self, presented: &Verified) -> Result<(), AuthError> {
        let mut conn = self.ledger().pool().get().map_err(StoreError::from)?;
        match view::find(&mut conn, &presented.jti)? {
            Some(row) if row.is_blacklisted() => Err(AuthError::VerifyBlacklisted),
            _ => Ok(()),
        }
    }

    /// A new sliding token with the same jti and `refresh_exp`, and a fresh `exp`/`iat`.
    pub fn refresh_sliding(&self, token: &str) -> Result<String, AuthError> {
        let presented = self.decode(token, Some(TokenType::Sliding))?;
        let user_id = presented.user_id().ok_or(TokenError::Invalid)?;
        let now = time::now();
        let row = self.ledger().write(|conn| {
            let (row, events) = known_or_adopted(conn, &presented, user_id, now)?;
            Ok::<_, AuthError>(Decision::new(events, row))
        })?;
        if row.is_blacklisted() {
            return Err(TokenError::Blacklisted.into());
        }
        let refresh_exp = match presented.payload.get("refresh_exp") {
            None => return Err(TokenError::MissingClaim("refresh_exp").into()),
            Some(_) => presented
                .numeric("refresh_exp")
                .ok_or(TokenError::Invalid)?,
        };
        if refresh_exp <= time::to_unix(now) {
            return Err(TokenError::ClaimExpired("refresh_exp").into());
        }
        let mut renewed = self.claims(
            TokenType::Sliding,
            user_id,
            &row.sid,
            Some(refresh_exp),
            now,
            row.jti,
        );
        renewed.user = self.fresh_user_claims(user_id)?;
        // Never past the view's end of the token: beyond it a flush forgets the token, and
        // with it any revocation (only bites when the lifetimes were changed since issue).
        renewed.exp = renewed.exp.min(time::to_unix(row.expires_at));
        self.inner.keys.sign(&renewed)
    }

    /// Throttle first: an attempt is taken (counted, in flight) before the password is
    /// looked at, so a burst cannot outrun the count; a throttled client's password is not
    /// even looked at. Then a place in the hashing queue (none free: 429 too), then the
    /// password. A failure stays counted; the one that reaches the per-username limit may
    /// also revoke the user's tokens (`lockout_revokes_sessions`), once per window.
    fn authenticate(&self, login: &str, password: &str, client: &str) -> Result<User, AuthError> {
        let policy = &self.inner.policy;
        let throttle = &policy.login_throttle;
        let pool = self.ledger().pool();
        let attempt = self.take_attempt(login, client)?;
        let Some(place) = self.inner.hash_queue.enter() else {
            let _turn = self.throttle_turn();
            throttle.release(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
            tracing::warn!(client, "login refused: every password hasher is busy");
            return Err(AuthError::Throttled { retry_after: 1 });
        };
        let checked = users::authenticate(
            pool,
            policy.username_field,
            login,
            password,
            policy.update_last_login,
        );
        drop(place);
        let refused = match checked? {
            Ok(user) => {
                let _turn = self.throttle_turn();
                throttle.succeeded(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
                return Ok(user);
            }
            Err(refused) => refused,
        };
        let locked_out = {
            let _turn = self.throttle_turn();
            throttle.failed(
                &mut *pool.get().map_err(StoreError::from)?,
                attempt,
                refused.user_id,
            )?
        };
        tracing::info!(
            client,
            user_id = refused.user_id,
            locked_out,
            "login failed"
        );
        if let (true, true, Some(user_id)) =
            (locked_out, policy.lockout_revokes_sessions, refused.user_id)
        {
            let revoked = self.ledger().write(|conn| {
                if !throttle.claim_lockout_revocation(conn, user_id, time::now())? {
                    return Ok::<_, AuthError>(Decision::new(Vec::new(), None));
                }
                let events = users::revoke_all_events(
                    conn,
                    user_id,
                    Reason::Lockout,
                    Some(LOCKOUT_ACTOR),
                    None,
                )?;
                let revoked = events.len();
                Ok(Decision::new(events, Some(revoked)))
            })?;
            match revoked {
                Some(revoked) => {
                    tracing::warn!(user_id, revoked, "lockout revoked the user's tokens");
                }
                None => tracing::info!(
                    user_id,
                    "lockout: the user's tokens were already revoked by a lockout this window"
                ),
            }
        }
        Err(AuthError::NoActiveAccount)
    }

    fn throttle_turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .throttle_turn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An attempt of the login throttle, or `Throttled`.
    fn take_attempt(&self, login: &str, client: &str) -> Result<Attempt, AuthError> {
        let throttle = &self.inner.policy.login_throttle;
        let _turn = self.throttle_turn();
        let mut conn = self.ledger().pool().get().map_err(StoreError::from)?;
        match throttle.take(&mut conn, login, client, time::now())? {
            Ok(attempt) => Ok(attempt),
            Err(retry_after) => {
                tracing::warn!(client, retry_after, "login throttled");
                Err(AuthError::Throttled { retry_after })
            }
        }
    }

    /// Whether `password` is the current one of `user_id` (the password change's check of
    /// the old password). Counted by the login throttle like a login of that user from
    /// `client`, so a stolen access token cannot guess the password here without limit; the
    /// hash is checked on the hashing pool with no connection held.
    pub fn check_password(
        &self,
        user_id: i64,
        password: &str,
        client: &str,
    ) -> Result<bool, AuthError> {
        let throttle = &self.inner.policy.login_throttle;
        let pool = self.ledger().pool();
        let Some(user) = users::find(&mut *pool.get().map_err(StoreError::from)?, user_id)? else {
            return Ok(false);
        };
        let attempt = self.take_attempt(&user.username, client)?;
        let Some(place) = self.inner.hash_queue.enter() else {
            let _turn = self.throttle_turn();
            throttle.release(&mut *pool.get().map_err(StoreError::from)?, attempt)?;
            return Err(AuthError::Throttled { retry_after: 1 });
        };
        let right = users::password::verify(&user.password_hash, password);
        drop(place);
        let _turn = self.throttle_turn();
        let mut conn = pool.get().map_err(StoreError::from)?;
        if right {
            throttle.succeeded(&mut conn, attempt)?;
        } else {
            let _ = throttle.failed(&mut conn, attempt, Some(user_id))?;
            tracing::info!(client, user_id, "password change: wrong old password");
        }
        Ok(right)
    }

    /// Deletes the login throttle's rows that no window counts any more.
    pub fn purge_login_failures(&self) -> Result<usize, StoreError> {
        let mut conn = self.ledger().pool().get()?;
        self.inner
            .policy
            .login_throttle
            .purge(&mut conn, time::now())
    }

    fn claims(
        &self,
        token_type: TokenType,
        user_id: i64,
        sid: &str,
        refresh_exp: Option<i64>,
        now: NaiveDateTime,
        jti: String,
    ) -> Claims {
        let policy = &self.inner.policy;
        let iat = time::to_unix(now);
        Claims {
            token_type,
            exp: iat + policy.lifetime(token_type),
            iat,
            jti,
            user_id: user_id.to_string(),
            sid: sid.to_owned(),
            user: UserClaims::default(),
            refresh_exp,
            iss: policy.issuer.clone(),
            aud: policy.audience.clone(),
        }
    }

    /// With `TOKEN_CLAIMS`, the user's fields as the database has them now (a renewal must not
    /// repeat a stale name); an inactive or deleted user gets no renewal. Without, nothing.
    fn fresh_user_claims(&self, user_id: i64) -> Result<UserClaims, AuthError> {
        if self.inner.policy.user_claims.is_empty() {
            return Ok(UserClaims::default());
        }
        let mut conn = self.ledger().pool().get().map_err(StoreError::from)?;
        let user = users::find(&mut conn, user_id)?
            .filter(|user| user.is_active)
            .ok_or(AuthError::NoActiveAccountForToken)?;
        Ok(self.user_claims(TokenType::Sliding, Some(&user)))
    }

    /// The `TOKEN_CLAIMS` fields of `user`, for an access or sliding token; none otherwise.
    fn user_claims(&self, token_type: TokenType, user: Option<&User>) -> UserClaims {
        let (Some(user), true) = (user, token_type.is_bearer()) else {
            return UserClaims::default();
        };
        let mut claims = UserClaims::default();
        for claim in &self.inner.policy.user_claims {
            match claim {
                UserClaim::Username => claims.username = Some(user.username.clone()),
                UserClaim::Email => claims.email = Some(user.email.clone().unwrap_or_default()),
                UserClaim::IsStaff => claims.is_staff = Some(user.is_staff),
            }
        }
        claims
    }

    fn mint(
        &self,
        token_type: TokenType,
        user: &User,
        sid: &str,
        now: NaiveDateTime,
    ) -> Result<Minted, AuthError> {
        let user_id = user.id;
        let refresh_exp = (token_type == TokenType::Sliding)
            .then(|| time::to_unix(now) + self.inner.policy.sliding_refresh_lifetime);
        let mut claims = self.claims(token_type, user_id, sid, refresh_exp, now, new_id());
        claims.user = self.user_claims(token_type, Some(user));
        let encoded = self.inner.keys.sign(&claims)?;
        // A sliding token is usable until its last renewal expires: a renewal just before
        // `refresh_exp` signs `exp = refresh_exp + lifetime`. The view keeps the token (and a
        // revocation of it) until then, so a flush can never forget a revoked token that
        // still verifies; `refresh_sliding` never signs past this end.
        let ends = match claims.refresh_exp {
            Some(refresh_exp) => claims
                .exp
                .max(refresh_exp + self.inner.policy.sliding_lifetime),
            None => claims.exp,
        };
        let token = TokenRef {
            jti: claims.jti,
            token_type,
            user_id,
            sid: claims.sid,
            expires_at: time::from_unix(ends).unwrap_or(now),
        };
        Ok(Minted { encoded, token })
    }
}

/// The view row of a token we signed. A valid token the view does not know (the database
/// was restored from a backup, or it came from an imported deployment) is adopted: an
/// `issued` event records it, as the reference's blacklist app records unknown tokens.
pub(super) fn known_or_adopted(
    conn: &mut DbConn,
    presented: &Verified,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<(TokenRow, Vec<NewEvent>), StoreError> {
    if let Some(row) = view::find(conn, &presented.jti)? {
        return Ok((row, Vec::new()));
    }
    // A sliding token may be renewed until `refresh_exp`, each renewal as long as this one.
    let lifetime = presented
        .numeric("iat")
        .map_or(0, |iat| (presented.exp - iat).max(0));
    let ends = match presented.numeric("refresh_exp") {
        Some(refresh_exp) => presented.exp.max(refresh_exp.saturating_add(lifetime)),
        None => presented.exp,
    };
    let token = TokenRef {
        jti: presented.jti.clone(),
        token_type: presented.token_type,
        user_id,
        sid: presented.sid().map_or_else(new_id, str::to_owned),
        expires_at: time::from_unix(ends).unwrap_or(now),
    };
    let adopted = NewEvent::issued(token, None, now).by(Some("adopted".into()));
    let row = adopted.clone().with_seq(0);
    let row = crate::ledger::fold::fold(None, &row).ok_or(StoreError::Conflict)?;
    Ok((row, vec![adopted]))
}

/// A rotated refresh token came back: someone holds a copy. Revoke its whole session.
fn revoke_session_for_reuse(
    conn: &mut DbConn,
    presented: &TokenRow,
    now: NaiveDateTime,
) -> Result<Vec<NewEvent>, StoreError> {
    let mut events = vec![NewEvent::reuse_detected(presented.token_ref(), now)];
    events.extend(
        view::outstanding_of_session(conn, &presented.sid)?
            .iter()
            .map(|token| NewEvent::blacklisted(token.token_ref(), Reason::ReuseDetected, now)),
    );
    Ok(events)
}
