//! The count of queries run for requests, for `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Threads whose names start with this do background work (the ledger follower); their
/// queries are not counted as request work.
pub const BACKGROUND_THREAD_PREFIX: &str = "tokenledger-bg";

/// Queries run for requests, for `/metrics`: the proof that the hot path asks no database.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(pub(super) Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
