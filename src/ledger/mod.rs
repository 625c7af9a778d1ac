//! The ledger: the events (`event`), the pure fold (`fold`), the append that chains and folds
//! a batch into the view in the same transaction (`append`), group commit (`group`: concurrent
//! writers share one transaction, on one writer thread and its `writer_connection`), the view
//! rows a batch has folded and not yet written (`pending`), the view: what a row is
//! (`token_row`), its reads (`view`) and its writes (`view_write`), reads in seq order (`log`),
//! the hash chain (`chain`), replay for rebuild/check (`replay`), audit reads (`query`), the
//! revocation feed (`feed`), expiry (`flush`), export and compaction (`retention`), the
//! in-memory revocations (`revocations`) with the follower that brings in other instances'
//! events (`follower`), and enums stored as TEXT (`text_enum`).

pub mod append;
pub mod chain;
pub mod checks;
pub mod event;
pub mod feed;
pub mod flush;
pub mod fold;
pub mod follower;
pub mod group;
pub mod log;
mod pending;
pub mod query;
pub mod replay;
pub mod retention;
pub mod revocations;
pub(crate) mod text_enum;
mod token_row;
pub mod view;
mod view_write;
mod writer_connection;

use std::sync::Arc;

pub use append::Decision;
pub use event::{EventKind, LedgerEvent, NewEvent, Reason, TokenRef, TokenType};
pub use revocations::Revocations;
pub use view::{TokenRow, TokenState};

use prometheus::{IntCounter, IntCounterVec, Opts};

use crate::db::{DbConn, DbPool, QueryCounter, StoreError};
use group::{Changes, GroupCommit, WorkError};

/// The write side of the ledger, and the revocation state its appends keep current.
#[derive(Clone)]
pub struct Ledger {
    pool: DbPool,
    revocations: Arc<Revocations>,
    queries: QueryCounter,
    appended: IntCounterVec,
    commits: IntCounter,
    group: Arc<GroupCommit>,
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

impl Ledger {
    pub fn open(pool: DbPool) -> Result<Self, StoreError> {
        match chain::seal_once(&mut *pool.get()?)? {
            chain::Seal::SealedNow { hashed: 0 } | chain::Seal::Sealed { unhashed: 0 } => {}
            chain::Seal::SealedNow { hashed } => tracing::info!(
                hashed,
                "hashed the ledger events written before the hash chain (once)"
            ),
            chain::Seal::Sealed { unhashed } => tracing::error!(
                unhashed,
                "ledger events without a hash: written behind the service's back; \
                 `tokenledger ledger verify` names the first"
            ),
        }
        let revocations = Arc::new(Revocations::load(&mut *pool.get()?)?);
        let appended = appended_counter();
        let commits = IntCounter::new(
            "tokenledger_ledger_commits_total",
            "Write transactions this instance committed; concurrent writers share one.",
        )
        .expect("valid metric options");
        let on_commit = {
            let (revocations, appended, commits) =
                (revocations.clone(), appended.clone(), commits.clone());
            Box::new(move |stored: &[LedgerEvent]| {
                commits.inc();
                revocations.observe_committed(stored);
                for event in stored {
                    appended
                        .with_label_values(&[event.event.as_str(), event.token_type.as_str()])
                        .inc();
                }
            })
        };
        let group = GroupCommit::spawn(pool.clone(), on_commit).map_err(|err| {
            StoreError::Unavailable(format!("cannot start the ledger's writer: {err}"))
        })?;
        Ok(Self {
            pool,
            revocations,
            queries: QueryCounter::default(),
            appended,
            commits,
            group: Arc::new(group),
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

    /// Transactions committed through this ledger (fewer than writes when they share one).
    pub fn commits(&self) -> &IntCounter {
        &self.commits
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Runs `decide` in a write transaction, appends the events it returns and folds them into
    /// the view in that same transaction, commits, then shows them to the revocation state. A
    /// failure anywhere rolls back the events and the view together. `decide` runs on the
    /// ledger's writer thread (`group`), which shares the transaction and its commit among
    /// concurrent writers; this call blocks until the commit. `decide` only reads: its events
    /// are its writes (a refusal leaves nothing to undo). Work that changes rows before it
    /// decides goes through [`Ledger::write_changing`].
    pub fn write<T, E>(
        &self,
        decide: impl FnOnce(&mut DbConn) -> Result<Decision<T>, E> + Send + 'static,
    ) -> Result<T, E>
    where
        E: From<StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Changes::OnlyItsEvents, decide)
    }

    /// As [`Ledger::write`], for `change` that writes rows of its own (a user's) before it
    /// decides: it runs in a savepoint of its own, so its refusal undoes those writes and no
    /// other writer's.
    pub fn write_changing<T, E>(
        &self,
        change: impl FnOnce(&mut DbConn) -> Result<Decision<T>, E> + Send + 'static,
    ) -> Result<T, E>
    where
        E: From<StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(Changes::BeforeDeciding, change)
    }

    fn run<T, E>(
        &self,
        changes: Changes,
        work: impl FnOnce(&mut DbConn) -> Result<Decision<T>, E> + Send + 'static,
    ) -> Result<T, E>
    where
        E: From<StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let committed = self
            .group
            .run(changes, move |conn| work(conn).map_err(WorkError::Decide));
        match committed {
            Ok(outcome) => Ok(outcome),
            Err(WorkError::Decide(err)) => Err(err),
            Err(WorkError::Store(err)) => Err(E::from(err)),
        }
    }
}
