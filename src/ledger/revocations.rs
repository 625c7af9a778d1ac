//! The in-memory revocation state of bearer tokens: what the hot path asks instead of the
//! database. Loaded from the view at start, then fed every committed event, by this process's
//! own appends at once and by the follower for events other writers committed.

use std::collections::HashSet;
use std::sync::RwLock;

use diesel::Connection;

use super::append::head_seq;
use super::event::{EventKind, LedgerEvent};
use super::view;
use crate::db::{DbConn, StoreError};

#[derive(Debug, Default)]
pub struct Revocations {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    revoked: HashSet<Box<str>>,
    /// Every event up to this seq is reflected in `revoked`.
    applied_seq: i64,
}

impl State {
    fn apply(&mut self, event: &LedgerEvent) {
        match event.event {
            EventKind::Blacklisted if event.token_type.is_bearer() => {
                self.revoked.insert(event.jti.as_str().into());
            }
            EventKind::Expired => {
                self.revoked.remove(event.jti.as_str());
            }
            _ => {}
        }
    }
}

impl Revocations {
    /// Reads the blacklisted bearer tokens and the ledger head in one snapshot.
    pub fn load(conn: &mut DbConn) -> Result<Self, StoreError> {
        let (revoked, applied_seq) = conn.transaction(|conn| {
            let head = head_seq(conn)?;
            let jtis = view::blacklisted_bearer_jtis(conn)?;
            Ok::<_, StoreError>((jtis, head))
        })?;
        let revoked = revoked.into_iter().map(String::into_boxed_str).collect();
        Ok(Self {
            state: RwLock::new(State {
                revoked,
                applied_seq,
            }),
        })
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.read(|state| state.revoked.contains(jti))
    }

    pub fn applied_seq(&self) -> i64 {
        self.read(|state| state.applied_seq)
    }

    pub fn len(&self) -> usize {
        self.read(|state| state.revoked.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events this process just committed. They take effect at once; `applied_seq` moves only
    /// if they follow on from it, otherwise the follower fills the gap first.
    pub fn observe_committed(&self, events: &[LedgerEvent]) {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return;
        };
        self.write(|state| {
            events.iter().for_each(|event| state.apply(event));
            if first.seq <= state.applied_seq + 1 {
                state.applied_seq = state.applied_seq.max(last.seq);
            }
        });
    }

    /// Events read from the database in seq order, starting after `applied_seq`.
    pub fn catch_up(&self, events: &[LedgerEvent]) {
        let Some(last) = events.last() else { return };
        self.write(|state| {
            events.iter().for_each(|event| state.apply(event));
            state.applied_seq = state.applied_seq.max(last.seq);
        });
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update of a plain set: still usable.
        let guard = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&guard)
    }

    fn write(&self, f: impl FnOnce(&mut State)) {
        let mut guard = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}
