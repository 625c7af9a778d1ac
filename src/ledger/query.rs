//! Audit reads of the ledger: events by token, session, user, kind, reason and time, paged by
//! `seq` so a walk visits every event exactly once, oldest first, even while events arrive.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::{EventKind, LedgerEvent, Reason};
use crate::db::schema::token_ledger;
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
        query = query.filter(token_ledger::at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(token_ledger::at.lt(until));
    }
    if let Some(after) = filter.after {
        query = query.filter(token_ledger::seq.gt(after));
    }
    Ok(query.order(token_ledger::seq).limit(limit).load(conn)?)
}
