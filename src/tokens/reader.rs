//! Every read of the ledger and the view that HTTP serves (the audit endpoints, the console,
//! the revocation feed, `/readyz` and `/metrics`), one connection from the ledger's pool per
//! call. Handlers read through this, never through `ledger::query`, `view` or the pool, so
//! what they can read is written down in one place.
//!
//! It lives in `tokens` only because `ledger/mod.rs` is someone else's file today; it is a
//! facade over `ledger::{query, view, feed, chain}` and decides nothing.

use chrono::NaiveDateTime;

use crate::db::{self, StoreError};
use crate::ledger::feed::{self, Revocation};
use crate::ledger::query::{self, History, SessionHistory};

pub use crate::ledger::query::{EventFilter, TokenFilter};
use crate::ledger::{Ledger, LedgerEvent, TokenRow, TokenState, chain, view};

#[derive(Clone)]
pub struct LedgerReader {
    ledger: Ledger,
}

/// What `/readyz` reports: the database answered, and how far this instance has applied it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub applied_seq: i64,
    pub ledger_seq: i64,
    pub lag: i64,
}

impl LedgerReader {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }

    fn conn(&self) -> Result<db::PooledConn, StoreError> {
        Ok(self.ledger.pool().get()?)
    }

    /// One page of events in seq order.
    pub fn events(&self, filter: &EventFilter, limit: i64) -> Result<Vec<LedgerEvent>, StoreError> {
        query::events(&mut *self.conn()?, filter, limit)
    }

    /// One page of the view in jti order.
    pub fn tokens(&self, filter: &TokenFilter, limit: i64) -> Result<Vec<TokenRow>, StoreError> {
        query::tokens(&mut *self.conn()?, filter, limit)
    }

    /// A token's events and lineage; `None` if the ledger never saw it.
    pub fn history(&self, jti: &str) -> Result<Option<History>, StoreError> {
        query::history(&mut *self.conn()?, jti)
    }

    /// The user's tokens as they stood at `at`, replayed from the ledger.
    pub fn tokens_at(&self, user_id: i64, at: NaiveDateTime) -> Result<Vec<TokenRow>, StoreError> {
        query::tokens_at(&mut *self.conn()?, user_id, at)
    }

    /// A session's tokens and events.
    pub fn session(&self, sid: &str) -> Result<SessionHistory, StoreError> {
        query::session(&mut *self.conn()?, sid)
    }

    /// The view's row of one token.
    pub fn token(&self, jti: &str) -> Result<Option<TokenRow>, StoreError> {
        view::find(&mut *self.conn()?, jti)
    }

    /// Every view row of the user, ended sessions' included.
    pub fn tokens_of_user(&self, user_id: i64) -> Result<Vec<TokenRow>, StoreError> {
        view::of_user(&mut *self.conn()?, user_id)
    }

    /// How many tokens the view holds per state.
    pub fn view_size(&self) -> Result<Vec<(TokenState, i64)>, StoreError> {
        view::size_by_state(&mut *self.conn()?)
    }

    /// The revocation feed's page: revocations with `after < seq <= up_to` whose token has
    /// not expired at `now`.
    pub fn revocations(
        &self,
        after: i64,
        up_to: Option<i64>,
        now: Option<NaiveDateTime>,
        limit: i64,
    ) -> Result<Vec<Revocation>, StoreError> {
        feed::page(&mut *self.conn()?, after, up_to, now, limit)
    }

    /// The database answers, and the head it answers with is known to the follower (which
    /// is what makes `lag` true at once, not at its next poll).
    pub fn readiness(&self) -> Result<Readiness, StoreError> {
        let mut conn = self.conn()?;
        db::ping(&mut conn)?;
        let ledger_seq = chain::head_seq(&mut conn)?;
        drop(conn);
        let revocations = self.ledger.revocations();
        revocations.observe_head(ledger_seq);
        let applied_seq = revocations.applied_seq();
        Ok(Readiness {
            applied_seq,
            ledger_seq,
            lag: (ledger_seq - applied_seq).max(0),
        })
    }
}
