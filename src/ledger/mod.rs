//! The ledger: events (`event`), the pure fold (`fold`), the append that folds into the view
//! in the same transaction (`append`), the view's rows (`view`), replay for rebuild/check
//! (`replay`), and the in-memory revocation state with its follower.

pub mod append;
pub mod chain;
pub mod event;
pub mod flush;
pub mod fold;
pub mod follower;
pub mod query;
pub mod replay;
pub mod retention;
pub mod revocations;
pub(crate) mod text_enum;
pub mod view;

use std::sync::Arc;

pub use event::{EventKind, LedgerEvent, NewEvent, Reason, TokenRef, TokenType};
pub use revocations::Revocations;
pub use view::{TokenRow, TokenState};

use prometheus::{IntCounterVec, Opts};

use crate::db::{DbConn, DbPool, QueryCounter, StoreError, write_transaction};

/// What a command decided inside a write transaction: events to append, and its answer.
pub struct Decision<T> {
    pub events: Vec<NewEvent>,
    pub outcome: T,
}

impl<T> Decision<T> {
    pub fn new(events: Vec<NewEvent>, outcome: T) -> Self {
        Self { events, outcome }
    }

    pub fn nothing(outcome: T) -> Self {
        Self {
            events: Vec::new(),
            outcome,
        }
    }
}

/// The write side of the ledger, and the revocation state its appends keep current.
#[derive(Clone)]
pub struct Ledger {
    pool: DbPool,
    revocations: Arc<Revocations>,
    queries: QueryCounter,
    appended: IntCounterVec,
}

/// `/metrics`' count of the events this process committed: tokens issued, rotated,
/// blacklisted, expired.
fn appended_counter() -> IntCounterVec {
    IntCounterVec::new(
        Opts::new(
            "tokenledger_ledger_events_total",
            "Ledger events this instance committed, by event and token type.",
        ),
        &["event", "token_type"],
    )
    .expect("valid metric options")
}

enum TxError<E> {
    Decide(E),
    Store(StoreError),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(err: diesel::result::Error) -> Self {
        TxError::Store(StoreError::from(err))
    }
}

impl<E> From<StoreError> for TxError<E> {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

impl Ledger {
    pub fn open(pool: DbPool) -> Result<Self, StoreError> {
        let sealed = chain::backfill(&mut *pool.get()?)?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "hashed the ledger events written before the hash chain"
            );
        }
        let revocations = Revocations::load(&mut *pool.get()?)?;
        Ok(Self {
            pool,
            revocations: Arc::new(revocations),
            queries: QueryCounter::default(),
            appended: appended_counter(),
        })
    }

    /// Keeps the pool's query counter at hand for `/metrics`.
    pub fn counting_queries(mut self, queries: QueryCounter) -> Self {
        self.queries = queries;
        self
    }

    /// Queries run for requests through this ledger's pool.
    pub fn queries(&self) -> u64 {
        self.queries.get()
    }

    /// Events committed through this ledger, by event and token type.
    pub fn appended(&self) -> &IntCounterVec {
        &self.appended
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Runs `decide` in one write transaction, appends the events it returns and folds them
    /// into the view in that same transaction, commits, then shows them to the revocation
    /// state. A failure anywhere rolls back the events and the view together.
    pub fn write<T, E>(
        &self,
        decide: impl FnOnce(&mut DbConn) -> Result<Decision<T>, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        let committed = write_transaction(&mut conn, |conn| {
            let decision = decide(conn).map_err(TxError::Decide)?;
            let stored = append::append(conn, decision.events)?;
            Ok::<_, TxError<E>>((stored, decision.outcome))
        });
        match committed {
            Ok((stored, outcome)) => {
                self.revocations.observe_committed(&stored);
                for event in &stored {
                    self.appended
                        .with_label_values(&[event.event.as_str(), event.token_type.as_str()])
                        .inc();
                }
                Ok(outcome)
            }
            Err(TxError::Decide(err)) => Err(err),
            Err(TxError::Store(err)) => Err(E::from(err)),
        }
    }
}
