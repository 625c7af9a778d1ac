//! The in-memory revocation state: what the hot path and `/api/token/verify/` ask instead of
//! the database. Loaded from the view at start, then fed every committed event, by this
//! process's own appends at once and by the follower for events other writers committed.
//!
//! It holds every blacklisted token still in the view, of every type: bearer tokens for the
//! protected endpoints, refresh tokens for verify. Each leaves the set with its `expired`
//! event, so the set holds the revocations of one token lifetime plus the flush interval.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Instant;

use super::checks::Checks;

use super::chain::head_seq;
use super::event::{EventKind, LedgerEvent};
use super::view;
use crate::db::{DbConn, StoreError};

#[derive(Debug, Default)]
pub struct Revocations {
    state: RwLock<State>,
    observers: Observers,
    checks: Checks,
}

/// Told of each event after it is applied here, whoever wrote it: lets other in-memory state
/// (the user directory) drop what the event made stale.
pub type Observer = Box<dyn Fn(&LedgerEvent) + Send + Sync>;

#[derive(Default)]
struct Observers(RwLock<Vec<Observer>>);

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observers")
    }
}

impl Observers {
    fn tell(&self, events: &[LedgerEvent]) {
        let observers = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for observer in observers.iter() {
            events.iter().for_each(observer);
        }
    }
}

/// Revoked jtis. The ones we issue are 32 lowercase hex digits: kept as the 128-bit number they
/// spell, 16 bytes inline with no allocation of their own. Any other jti (an adopted token's)
/// is kept as a string.
#[derive(Debug, Default)]
pub struct RevokedSet {
    ids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

impl RevokedSet {
    /// The number 32 lowercase hex digits spell; `None` for anything else. Byte pairs are
    /// decoded independently (no 32-step dependency chain through one `u128`).
    fn compact(jti: &str) -> Option<u128> {
        fn nibble(digit: u8) -> Option<u8> {
            match digit {
                b'0'..=b'9' => Some(digit - b'0'),
                b'a'..=b'f' => Some(digit - b'a' + 10),
                _ => None,
            }
        }
        let digits: &[u8; 32] = jti.as_bytes().try_into().ok()?;
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(u128::from_be_bytes(bytes))
    }

    pub fn insert(&mut self, jti: &str) {
        match Self::compact(jti) {
            Some(id) => self.ids.insert(id),
            None => self.others.insert(jti.into()),
        };
    }

    pub fn remove(&mut self, jti: &str) {
        match Self::compact(jti) {
            Some(id) => self.ids.remove(&id),
            None => self.others.remove(jti),
        };
    }

    pub fn contains(&self, jti: &str) -> bool {
        match Self::compact(jti) {
            Some(id) => self.ids.contains(&id),
            None => self.others.contains(jti),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<S: AsRef<str>> FromIterator<S> for RevokedSet {
    fn from_iter<I: IntoIterator<Item = S>>(jtis: I) -> Self {
        let mut set = Self::default();
        jtis.into_iter().for_each(|jti| set.insert(jti.as_ref()));
        set
    }
}

#[derive(Debug, Default)]
struct State {
    /// Blacklisted access and sliding tokens: what the protected endpoints refuse.
    revoked: RevokedSet,
    /// Blacklisted refresh tokens (rotated ones included): what verify also refuses.
    revoked_refresh: RevokedSet,
    /// Every event up to this seq is reflected in `revoked`.
    applied_seq: i64,
    /// The newest seq this process knows the database holds (its own appends, the follower's
    /// reads and notifications): `ledger_seq - applied_seq` is how far it lags behind.
    ledger_seq: i64,
    /// The follower's last proof that nothing was committed beyond `applied_seq`: the
    /// instant of its check (a notification check, SQLite's change counter, a catch-up).
    current_as_of: Option<Instant>,
}

impl State {
    fn apply(&mut self, event: &LedgerEvent) {
        match event.event {
            EventKind::Blacklisted if event.token_type.is_bearer() => {
                self.revoked.insert(&event.jti);
            }
            EventKind::Blacklisted => self.revoked_refresh.insert(&event.jti),
            EventKind::Expired if event.token_type.is_bearer() => {
                self.revoked.remove(&event.jti);
            }
            EventKind::Expired => self.revoked_refresh.remove(&event.jti),
            _ => {}
        }
    }
}

impl Revocations {
    /// Reads the blacklisted tokens and the ledger head in one snapshot.
    pub fn load(conn: &mut DbConn) -> Result<Self, StoreError> {
        let (revoked, applied_seq) = crate::db::read_snapshot(conn, |conn| {
            let head = head_seq(conn)?;
            let jtis = view::blacklisted_jtis(conn)?;
            Ok::<_, StoreError>((jtis, head))
        })?;
        let (mut bearer, mut refresh) = (RevokedSet::default(), RevokedSet::default());
        for (jti, token_type) in revoked {
            match token_type.is_bearer() {
                true => bearer.insert(&jti),
                false => refresh.insert(&jti),
            }
        }
        Ok(Self {
            state: RwLock::new(State {
                revoked: bearer,
                revoked_refresh: refresh,
                applied_seq,
                ledger_seq: applied_seq,
                current_as_of: None,
            }),
            observers: Observers::default(),
            checks: Checks::default(),
        })
    }

    /// `observer` is told of every event applied from now on.
    pub fn observe(&self, observer: Observer) {
        self.observers
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(observer);
    }

    /// Whether a bearer (access or sliding) token is blacklisted.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.read(|state| state.revoked.contains(jti))
    }

    /// Whether a token of any type is blacklisted (what verify refuses).
    pub fn is_blacklisted(&self, jti: &str) -> bool {
        self.read(|state| state.revoked.contains(jti) || state.revoked_refresh.contains(jti))
    }

    pub fn applied_seq(&self) -> i64 {
        self.read(|state| state.applied_seq)
    }

    /// The newest seq known to exist in the database.
    pub fn ledger_seq(&self) -> i64 {
        self.read(|state| state.ledger_seq.max(state.applied_seq))
    }

    /// Events known to exist but not yet applied here: revocations this instance may not
    /// enforce yet.
    pub fn lag(&self) -> i64 {
        self.ledger_seq() - self.applied_seq()
    }

    /// The follower found, by a check made at `checked_at`, that every event committed before
    /// then is applied here (if nothing it knows of is still missing).
    pub fn confirm_current(&self, checked_at: Instant) {
        self.write(|state| {
            if state.ledger_seq <= state.applied_seq {
                state.current_as_of = Some(
                    state
                        .current_as_of
                        .map_or(checked_at, |t| t.max(checked_at)),
                );
            }
        });
        self.checks.complete();
    }

    /// Where a verify asks the follower for a check and waits for it.
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// Whether this state is known to hold every event committed before `since`: nothing
    /// known to be missing, and a check by the follower that began at or after `since`. What
    /// lets verify answer "not blacklisted" without asking the database, and still agree at
    /// once with every instance (a revocation acknowledged before the request arrived is
    /// applied here by then).
    pub fn is_current_since(&self, since: Instant) -> bool {
        self.read(|state| {
            state.ledger_seq <= state.applied_seq
                && state.current_as_of.is_some_and(|checked| checked >= since)
        })
    }

    /// The follower learnt (from a notification or a read of the head) that `seq` exists.
    pub fn observe_head(&self, seq: i64) {
        self.write(|state| state.ledger_seq = state.ledger_seq.max(seq));
    }

    /// Revoked bearer tokens held.
    pub fn len(&self) -> usize {
        self.read(|state| state.revoked.len())
    }

    /// Revoked refresh tokens held.
    pub fn refresh_len(&self) -> usize {
        self.read(|state| state.revoked_refresh.len())
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
            state.ledger_seq = state.ledger_seq.max(last.seq);
        });
        self.observers.tell(events);
    }

    /// Events read from the database in seq order, starting after `applied_seq`.
    pub fn catch_up(&self, events: &[LedgerEvent]) {
        let Some(last) = events.last() else { return };
        self.write(|state| {
            events.iter().for_each(|event| state.apply(event));
            state.applied_seq = state.applied_seq.max(last.seq);
            state.ledger_seq = state.ledger_seq.max(last.seq);
        });
        self.observers.tell(events);
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

#[cfg(test)]
mod tests {
    use super::RevokedSet;

    #[test]
    fn our_jtis_and_any_other_are_told_apart_exactly() {
        let ours = "0123456789abcdef0123456789abcdef";
        let upper = "0123456789ABCDEF0123456789ABCDEF";
        let mut set: RevokedSet = [ours, "adopted-token-id"].into_iter().collect();
        assert!(set.contains(ours));
        assert!(set.contains("adopted-token-id"));
        // The same digits in upper case are another jti, not the same number.
        assert!(!set.contains(upper));
        assert!(!set.contains("0123456789abcdef0123456789abcde"));
        set.insert(upper);
        assert_eq!(set.len(), 3);
        set.remove(ours);
        set.remove("adopted-token-id");
        assert!(!set.contains(ours) && !set.contains("adopted-token-id"));
        assert!(set.contains(upper));
        assert_eq!(set.len(), 1);
    }
}
