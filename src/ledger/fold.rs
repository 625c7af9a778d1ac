//! The fold: the one place where a token's state changes. What happens is decided before,
//! in `tokens::decide`; the fold only applies an event to the view row it touches.
//!
//! `fold(row, event)` is pure. The live append path and `view rebuild`/`view check` both
//! run every event through it, so the view and a replay of the ledger cannot disagree.

use super::event::{EventKind, LedgerEvent};
use super::view::{TokenRow, TokenState};

/// The view row of `event.jti` after `event`; `None` means the token is not in the view.
pub fn fold(row: Option<TokenRow>, event: &LedgerEvent) -> Option<TokenRow> {
    match (row, event.event) {
        (None, EventKind::Issued) => Some(issued_row(event)),
        // Every other event needs a token to act on; the ledger may still hold it for audit.
        (None, _) => None,
        (Some(_), EventKind::Expired) => None,
        (Some(row), EventKind::Blacklisted) if row.state == TokenState::Outstanding => {
            Some(TokenRow {
                state: TokenState::Blacklisted,
                blacklisted_at: Some(event.at),
                reason: event.reason,
                last_seq: event.seq,
                ..row
            })
        }
        (Some(row), EventKind::Rotated) => Some(TokenRow {
            rotated_at: row.rotated_at.or(Some(event.at)),
            last_seq: event.seq,
            ..row
        }),
        // A second `issued`, a second `blacklisted` (the first reason stands) and
        // `reuse_detected` leave the state as it is.
        (Some(row), _) => Some(TokenRow {
            last_seq: event.seq,
            ..row
        }),
    }
}

fn issued_row(event: &LedgerEvent) -> TokenRow {
    TokenRow {
        jti: event.jti.clone(),
        token_type: event.token_type,
        user_id: event.user_id,
        sid: event.sid.clone(),
        parent_jti: event.parent_jti.clone(),
        issued_at: event.at,
        expires_at: event.expires_at,
        state: TokenState::Outstanding,
        rotated_at: None,
        blacklisted_at: None,
        reason: None,
        last_seq: event.seq,
    }
}

#[cfg(test)]
mod tests {
    use crate::time::at;

    use super::*;
    use crate::ledger::event::{NewEvent, Reason, TokenRef};

    fn token() -> TokenRef {
        TokenRef::for_tests()
    }

    fn replay(events: Vec<NewEvent>) -> Option<TokenRow> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.with_seq(i as i64 + 1))
            .fold(None, |row, event| fold(row, &event))
    }

    #[test]
    fn given_nothing_when_issued_then_outstanding_with_the_event_fields() {
        let row = replay(vec![NewEvent::issued(token(), Some("p".into()), at(0))]).unwrap();
        assert_eq!(row.state, TokenState::Outstanding);
        assert_eq!(row.issued_at, at(0));
        assert_eq!(row.expires_at, at(86_400));
        assert_eq!(row.parent_jti.as_deref(), Some("p"));
        assert_eq!(row.last_seq, 1);
        assert_eq!(row.blacklisted_at, None);
    }

    #[test]
    fn given_outstanding_when_blacklisted_then_blacklisted_with_reason_and_time() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::blacklisted(token(), Reason::Logout, at(5)),
        ])
        .unwrap();
        assert_eq!(row.state, TokenState::Blacklisted);
        assert_eq!(row.reason, Some(Reason::Logout));
        assert_eq!(row.blacklisted_at, Some(at(5)));
        assert_eq!(row.last_seq, 2);
    }

    #[test]
    fn given_blacklisted_when_blacklisted_again_then_the_first_reason_and_time_stand() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::blacklisted(token(), Reason::Rotation, at(5)),
            NewEvent::blacklisted(token(), Reason::Admin, at(9)),
        ])
        .unwrap();
        assert_eq!(row.reason, Some(Reason::Rotation));
        assert_eq!(row.blacklisted_at, Some(at(5)));
        assert_eq!(row.last_seq, 3);
    }

    #[test]
    fn given_outstanding_when_rotated_then_still_outstanding_but_marked_rotated_once() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::rotated(token(), at(3)),
            NewEvent::rotated(token(), at(4)),
        ])
        .unwrap();
        assert_eq!(row.state, TokenState::Outstanding);
        assert_eq!(row.rotated_at, Some(at(3)));
    }

    #[test]
    fn given_blacklisted_when_expired_then_gone_from_the_view() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::blacklisted(token(), Reason::Logout, at(1)),
            NewEvent::expired(token(), at(90_000)),
        ]);
        assert_eq!(row, None);
    }

    #[test]
    fn given_nothing_when_blacklisted_then_nothing_is_created() {
        assert_eq!(
            replay(vec![NewEvent::blacklisted(token(), Reason::Admin, at(0))]),
            None
        );
    }

    #[test]
    fn given_issued_twice_then_the_first_issue_stands() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::issued(token(), Some("other".into()), at(7)),
        ])
        .unwrap();
        assert_eq!(row.issued_at, at(0));
        assert_eq!(row.parent_jti, None);
        assert_eq!(row.last_seq, 2);
    }

    #[test]
    fn reuse_detected_changes_nothing_but_the_marker() {
        let row = replay(vec![
            NewEvent::issued(token(), None, at(0)),
            NewEvent::reuse_detected(token(), at(2)),
        ])
        .unwrap();
        assert_eq!(row.state, TokenState::Outstanding);
        assert_eq!(row.last_seq, 2);
    }
}
