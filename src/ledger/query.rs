//! Audit reads of the ledger: events by token, session, user, kind, reason and time, paged by
//! `seq` so a walk visits every event exactly once, oldest first, even while events arrive.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::{EventKind, LedgerEvent, Reason, TokenType};
use super::replay::replay;
use super::view::{TokenRow, TokenState};
use crate::db::schema::{token_ledger, token_view};
use crate::db::{DbConn, StoreError};

/// What to select; every field narrows the result, `None` leaves it open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub user_id: Option<i64>,
    pub jti: Option<String>,
    pub sid: Option<String>,
    pub event: Option<EventKind>,
    pub reason: Option<Reason>,
    /// `at >= since`.
    pub since: Option<NaiveDateTime>,
    /// `at < until`.
    pub until: Option<NaiveDateTime>,
    /// Only events with `seq > after`: the previous page's last seq.
    pub after: Option<i64>,
}

/// One page of events in `seq` order, at most `limit` long.
pub fn events(
    conn: &mut DbConn,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<LedgerEvent>, StoreError> {
    let mut query = token_ledger::table
        .select(LedgerEvent::as_select())
        .into_boxed();
    if let Some(user_id) = filter.user_id {
        query = query.filter(token_ledger::user_id.eq(user_id));
    }
    if let Some(jti) = &filter.jti {
        query = query.filter(token_ledger::jti.eq(jti.clone()));
    }
    if let Some(sid) = &filter.sid {
        query = query.filter(token_ledger::sid.eq(sid.clone()));
    }
    if let Some(event) = filter.event {
        query = query.filter(token_ledger::event.eq(event));
    }
    if let Some(reason) = filter.reason {
        query = query.filter(token_ledger::reason.eq(reason));
    }
    if let Some(since) = filter.since {
        query = query.filter(token_ledger::at.ge(crate::db::bindable_instant(conn, since)));
    }
    if let Some(until) = filter.until {
        query = query.filter(token_ledger::at.lt(crate::db::bindable_instant(conn, until)));
    }
    if let Some(after) = filter.after {
        query = query.filter(token_ledger::seq.gt(after));
    }
    Ok(query.order(token_ledger::seq).limit(limit).load(conn)?)
}

/// Which rows of the view to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub state: Option<TokenState>,
    pub user_id: Option<i64>,
    pub token_type: Option<TokenType>,
    /// Blacklisted for this reason.
    pub reason: Option<Reason>,
    /// Issued at or after this instant.
    pub issued_since: Option<NaiveDateTime>,
    /// Issued before this instant.
    pub issued_until: Option<NaiveDateTime>,
    /// Only rows with a greater jti: the previous page's cursor.
    pub after_jti: Option<String>,
}

/// One page of the view in jti order (keyset paging on the primary key).
pub fn tokens(
    conn: &mut DbConn,
    filter: &TokenFilter,
    limit: i64,
) -> Result<Vec<TokenRow>, StoreError> {
    let mut query = token_view::table.select(TokenRow::as_select()).into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(token_view::state.eq(state));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(token_view::user_id.eq(user_id));
    }
    if let Some(token_type) = filter.token_type {
        query = query.filter(token_view::token_type.eq(token_type));
    }
    if let Some(reason) = filter.reason {
        query = query.filter(token_view::reason.eq(reason));
    }
    if let Some(since) = filter.issued_since {
        query = query.filter(token_view::issued_at.ge(crate::db::bindable_instant(conn, since)));
    }
    if let Some(until) = filter.issued_until {
        query = query.filter(token_view::issued_at.lt(crate::db::bindable_instant(conn, until)));
    }
    if let Some(after) = &filter.after_jti {
        query = query.filter(token_view::jti.gt(after.clone()));
    }
    Ok(query.order(token_view::jti).limit(limit).load(conn)?)
}

/// A token's own events and its rotation lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub events: Vec<LedgerEvent>,
    pub lineage: Vec<TokenRow>,
}

/// `None` if the ledger has never heard of `jti`. The lineage is folded from the session's
/// events, leaving out `expired`, so tokens already flushed from the view still appear, in
/// the state they had when they ended.
pub fn history(conn: &mut DbConn, jti: &str) -> Result<Option<History>, StoreError> {
    let events: Vec<LedgerEvent> = token_ledger::table
        .filter(token_ledger::jti.eq(jti))
        .order(token_ledger::seq)
        .select(LedgerEvent::as_select())
        .load(conn)?;
    let Some(first) = events.first() else {
        return Ok(None);
    };
    let session: Vec<LedgerEvent> = token_ledger::table
        .filter(token_ledger::sid.eq(&first.sid))
        .filter(token_ledger::event.ne(EventKind::Expired))
        .order(token_ledger::seq)
        .select(LedgerEvent::as_select())
        .load(conn)?;
    let lineage = lineage_of(&replay(session), jti);
    Ok(Some(History { events, lineage }))
}

/// One session's story: its events (but `expired`) and every token of it, flushed ones
/// included, in the state it has now or had when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHistory {
    pub events: Vec<LedgerEvent>,
    pub tokens: Vec<TokenRow>,
}

pub fn session(conn: &mut DbConn, sid: &str) -> Result<SessionHistory, StoreError> {
    let events: Vec<LedgerEvent> = token_ledger::table
        .filter(token_ledger::sid.eq(sid))
        .filter(token_ledger::event.ne(EventKind::Expired))
        .order(token_ledger::seq)
        .select(LedgerEvent::as_select())
        .load(conn)?;
    let mut tokens: Vec<TokenRow> = replay(events.clone()).into_values().collect();
    tokens.sort_by(|a, b| (a.issued_at, &a.jti).cmp(&(b.issued_at, &b.jti)));
    Ok(SessionHistory { events, tokens })
}

/// The token's ancestors (by `parent_jti`), itself, and every token descending from it, in
/// the order they were issued.
pub fn lineage_of(rows: &BTreeMap<String, TokenRow>, jti: &str) -> Vec<TokenRow> {
    let mut members = BTreeSet::new();
    let mut cursor = rows.get(jti);
    while let Some(row) = cursor {
        if !members.insert(row.jti.as_str()) {
            break;
        }
        cursor = row
            .parent_jti
            .as_deref()
            .and_then(|parent| rows.get(parent));
    }
    let mut frontier = vec![jti];
    while let Some(parent) = frontier.pop() {
        for child in rows.values() {
            if child.parent_jti.as_deref() == Some(parent) && members.insert(child.jti.as_str()) {
                frontier.push(child.jti.as_str());
            }
        }
    }
    let mut lineage: Vec<TokenRow> = members
        .into_iter()
        .filter_map(|member| rows.get(member).cloned())
        .collect();
    lineage.sort_by(|a, b| (a.issued_at, &a.jti).cmp(&(b.issued_at, &b.jti)));
    lineage
}

/// The user's tokens as they stood at `at`: the user's events up to then, through the same
/// fold as the view, keeping the tokens whose lifetime had not ended.
pub fn tokens_at(
    conn: &mut DbConn,
    user_id: i64,
    at: NaiveDateTime,
) -> Result<Vec<TokenRow>, StoreError> {
    let events: Vec<LedgerEvent> = token_ledger::table
        .filter(token_ledger::user_id.eq(user_id))
        .filter(token_ledger::at.le(crate::db::bindable_instant(conn, at)))
        .order(token_ledger::seq)
        .select(LedgerEvent::as_select())
        .load(conn)?;
    let mut rows: Vec<TokenRow> = replay(events)
        .into_values()
        .filter(|row| row.expires_at > at)
        .collect();
    rows.sort_by(|a, b| (a.issued_at, &a.jti).cmp(&(b.issued_at, &b.jti)));
    Ok(rows)
}

/// Which of these jtis the ledger has any event of.
pub fn known_jtis(conn: &mut DbConn, jtis: &[String]) -> Result<HashSet<String>, StoreError> {
    let mut known = HashSet::new();
    for chunk in jtis.chunks(500) {
        let found: Vec<String> = token_ledger::table
            .filter(token_ledger::jti.eq_any(chunk.to_vec()))
            .select(token_ledger::jti)
            .distinct()
            .load(conn)?;
        known.extend(found);
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::event::{NewEvent, TokenRef};

    fn issued(seq: i64, jti: &str, parent: Option<&str>) -> LedgerEvent {
        let at = chrono::DateTime::from_timestamp(1_900_000_000 + seq, 0)
            .unwrap()
            .naive_utc();
        let token = TokenRef {
            jti: jti.into(),
            token_type: TokenType::Refresh,
            user_id: 1,
            sid: "s".into(),
            expires_at: at + chrono::Duration::days(1),
        };
        NewEvent::issued(token, parent.map(Into::into), at).with_seq(seq)
    }

    #[test]
    fn lineage_is_ancestors_self_and_descendants_not_siblings() {
        let rows = replay([
            issued(1, "r1", None),
            issued(2, "a1", Some("r1")),
            issued(3, "r2", Some("r1")),
            issued(4, "a2", Some("r2")),
            issued(5, "r3", Some("r2")),
            issued(6, "a3", Some("r3")),
            issued(7, "elsewhere", None),
        ]);
        let jtis = |jti: &str| -> Vec<String> {
            lineage_of(&rows, jti)
                .into_iter()
                .map(|row| row.jti)
                .collect()
        };
        assert_eq!(jtis("r2"), ["r1", "r2", "a2", "r3", "a3"]);
        assert_eq!(jtis("a1"), ["r1", "a1"]);
        assert_eq!(jtis("r1").len(), 6);
        assert!(jtis("unknown").is_empty());
    }
}
