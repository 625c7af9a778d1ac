//! Moving from SimpleJWT without logging anyone out (`tokenledger import simplejwt`).
//!
//! Reads a Django project's users and SimpleJWT's outstanding and blacklisted tokens
//! ([`django`]), and writes the users with their ids, and every token still usable as ledger
//! events (actor `imported`) through the ordinary append path, so the view holds each of them
//! as outstanding or blacklisted. The events are appended with the import's time (the
//! ledger's `at` only grows, which retention and the audit queries rely on). A token's
//! session is `imported-<jti>`: SimpleJWT has no sessions, and its tokens no `sid`.
//!
//! Re-running imports nothing twice: users already present (same id and username) are left
//! as they are, tokens the ledger already knows get no second `issued`; a token outstanding
//! at the first import and blacklisted in Django since gets its `blacklisted` event.

pub mod django;
mod imported_users;
mod plan;

use imported_users::import_users;
pub use plan::{Known, Outcome, Planned, events_for, imported_sid, plan_token};

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::NaiveDateTime;

use crate::db::{DbConn, StoreError};
use crate::ledger::{Decision, Ledger, TokenRef, TokenRow, query, view};
use crate::time;

/// The `actor` of every imported event.
pub const ACTOR: &str = "imported";
/// Outstanding tokens read, decided and appended per write transaction.
pub const PAGE: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the Django database: {0}")]
    Source(diesel::result::Error),
    #[error("{0:?} is not a table name (letters, digits and _ only)")]
    TableName(String),
    #[error(
        "Django user {django_id} {django_name:?} collides with tokenledger user {ours_id} {ours_name:?} (ids and usernames must both match or both be free); nothing was imported"
    )]
    Collision {
        django_id: i64,
        django_name: String,
        ours_id: i64,
        ours_name: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(err: diesel::result::Error) -> Self {
        ImportError::Store(StoreError::from(err))
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Django's user table: `auth_user`, or a custom user model's with the same columns.
    pub user_table: String,
    /// Decide everything, write nothing.
    pub dry_run: bool,
}

/// What an import did, or (dry run) would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub dry_run: bool,
    pub users_created: u64,
    pub users_present: u64,
    pub tokens_read: u64,
    pub imported_outstanding: u64,
    pub imported_blacklisted: u64,
    /// Imported before as outstanding, blacklisted in Django since.
    pub newly_blacklisted: u64,
    pub already_imported: u64,
    pub skipped_expired: u64,
    /// Outstanding rows whose user was deleted (or is not in the user table).
    pub skipped_without_user: u64,
    pub events: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, prefix) = if self.dry_run {
            ("would import", "dry run, nothing written: ")
        } else {
            ("imported", "")
        };
        writeln!(
            f,
            "{prefix}users: {} created, {} already present",
            self.users_created, self.users_present
        )?;
        writeln!(
            f,
            "tokens: {} read; {verb} {} outstanding and {} blacklisted, {} newly blacklisted, {} already imported",
            self.tokens_read,
            self.imported_outstanding,
            self.imported_blacklisted,
            self.newly_blacklisted,
            self.already_imported
        )?;
        write!(
            f,
            "skipped: {} expired, {} without a user; {} ledger events",
            self.skipped_expired, self.skipped_without_user, self.events
        )
    }
}

/// Progress of the token phase, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Total(u64),
    Done(u64),
}

/// Runs the import from `source` (the Django database) into `ledger`'s database.
pub fn run(
    ledger: &Ledger,
    source: &mut DbConn,
    options: &Options,
    mut progress: impl FnMut(Progress),
) -> Result<Summary, ImportError> {
    if !django::valid_table_name(&options.user_table) {
        return Err(ImportError::TableName(options.user_table.clone()));
    }
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    let django_users = django::users(source, &options.user_table).map_err(ImportError::Source)?;
    let total = django::count_outstanding(source).map_err(ImportError::Source)?;
    let user_ids: HashSet<i64> = django_users.iter().map(|user| user.id).collect();
    {
        let mut conn = ledger.pool().get().map_err(StoreError::from)?;
        let (created, present) = import_users(&mut conn, &django_users, options.dry_run)?;
        summary.users_created = created;
        summary.users_present = present;
    }
    progress(Progress::Total(total.max(0) as u64));
    let mut after = i64::MIN;
    loop {
        let page = django::outstanding_page(source, after, PAGE).map_err(ImportError::Source)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        summary.tokens_read += page.len() as u64;
        let now = time::now();
        let mut planned = Vec::with_capacity(page.len());
        for row in &page {
            match plan_token(row, &user_ids, now) {
                Planned::Expired => summary.skipped_expired += 1,
                Planned::WithoutUser => summary.skipped_without_user += 1,
                Planned::Token { token, blacklisted } => planned.push((token, blacklisted)),
            }
        }
        let outcomes = if options.dry_run {
            let mut conn = ledger.pool().get().map_err(StoreError::from)?;
            decide_page(&mut conn, planned, now)?.outcome
        } else {
            ledger.write(move |conn| decide_page(conn, planned, now))?
        };
        for (outcome, events) in outcomes {
            summary.events += events as u64;
            match outcome {
                Outcome::Outstanding => summary.imported_outstanding += 1,
                Outcome::Blacklisted => summary.imported_blacklisted += 1,
                Outcome::NewlyBlacklisted => summary.newly_blacklisted += 1,
                Outcome::AlreadyImported => summary.already_imported += 1,
            }
        }
        progress(Progress::Done(summary.tokens_read));
    }
    Ok(summary)
}

/// Inside the write transaction: what the ledger knows of each token decides its events.
fn decide_page(
    conn: &mut DbConn,
    planned: Vec<(TokenRef, bool)>,
    at: NaiveDateTime,
) -> Result<Decision<Vec<(Outcome, usize)>>, StoreError> {
    let jtis: Vec<String> = planned.iter().map(|(token, _)| token.jti.clone()).collect();
    let borrowed: Vec<&str> = jtis.iter().map(String::as_str).collect();
    let mut in_view: HashMap<String, TokenRow> = view::find_many(conn, &borrowed)?
        .into_iter()
        .map(|row| (row.jti.clone(), row))
        .collect();
    let in_ledger = query::known_jtis(conn, &jtis)?;
    let mut events = Vec::with_capacity(planned.len() * 2);
    let mut outcomes = Vec::with_capacity(planned.len());
    for (token, blacklisted) in planned {
        let known = match in_view.remove(&token.jti) {
            Some(row) => Known::InView(row),
            None if in_ledger.contains(&token.jti) => Known::Gone,
            None => Known::Unknown,
        };
        let (decided, outcome) = events_for(token, blacklisted, known, at);
        outcomes.push((outcome, decided.len()));
        events.extend(decided);
    }
    Ok(Decision::new(events, outcomes))
}

#[cfg(test)]
mod tests {
    use crate::time::at;

    use base64::Engine;
    use serde_json::Value;

    use super::django::OutstandingRow;
    use super::*;
    use crate::ledger::{EventKind, NewEvent, TokenState, TokenType};

    /// A JWT shaped as SimpleJWT 5.5.1 writes it (the signature is not looked at).
    fn jwt(payload: Value) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.signature",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(payload.to_string().as_bytes())
        )
    }

    fn row(token: String, expires: i64, blacklisted: bool) -> OutstandingRow {
        OutstandingRow {
            id: 1,
            user_id: Some(7),
            jti: "0d1fb14fc8f5481783af9f3599ac5e88".into(),
            token,
            expires_at: at(expires),
            blacklisted_at: blacklisted.then(|| at(-5)),
        }
    }

    fn users() -> HashSet<i64> {
        HashSet::from([7])
    }

    #[test]
    fn a_live_refresh_token_becomes_an_imported_refresh_token_of_its_own_session() {
        let token = jwt(
            serde_json::json!({"token_type": "refresh", "exp": 1_800_086_400,
            "jti": "0d1fb14fc8f5481783af9f3599ac5e88", "user_id": "7"}),
        );
        let planned = plan_token(&row(token, 86_400, false), &users(), at(0));
        let Planned::Token { token, blacklisted } = planned else {
            panic!("{planned:?}");
        };
        assert!(!blacklisted);
        assert_eq!(token.token_type, TokenType::Refresh);
        assert_eq!(token.user_id, 7);
        assert_eq!(token.sid, "imported-0d1fb14fc8f5481783af9f3599ac5e88");
        assert_eq!(token.expires_at, at(86_400));
    }

    #[test]
    fn a_sliding_token_lives_until_its_refresh_exp_not_the_tables_expires_at() {
        let token = jwt(
            serde_json::json!({"token_type": "sliding", "exp": 1_800_000_300,
            "refresh_exp": 1_800_086_400, "jti": "x", "user_id": "7"}),
        );
        // SimpleJWT records a sliding token's first `exp`; it may have passed already.
        let planned = plan_token(&row(token, -10, true), &users(), at(0));
        let Planned::Token { token, blacklisted } = planned else {
            panic!("{planned:?}");
        };
        assert!(blacklisted);
        assert_eq!(token.token_type, TokenType::Sliding);
        assert_eq!(token.expires_at, at(86_400));
    }

    #[test]
    fn expired_and_userless_tokens_are_skipped() {
        let token = jwt(serde_json::json!({"token_type": "refresh"}));
        assert_eq!(
            plan_token(&row(token.clone(), 0, false), &users(), at(0)),
            Planned::Expired
        );
        let mut orphan = row(token.clone(), 60, false);
        orphan.user_id = None;
        assert_eq!(plan_token(&orphan, &users(), at(0)), Planned::WithoutUser);
        let mut unknown = row(token, 60, false);
        unknown.user_id = Some(8);
        assert_eq!(plan_token(&unknown, &users(), at(0)), Planned::WithoutUser);
    }

    #[test]
    fn an_unreadable_token_column_is_a_refresh_token_until_the_tables_expires_at() {
        let planned = plan_token(&row("not a jwt".into(), 60, false), &users(), at(0));
        let Planned::Token { token, .. } = planned else {
            panic!("{planned:?}");
        };
        assert_eq!(token.token_type, TokenType::Refresh);
        assert_eq!(token.expires_at, at(60));
    }

    fn token_ref() -> TokenRef {
        TokenRef {
            jti: "j".into(),
            token_type: TokenType::Refresh,
            user_id: 7,
            sid: imported_sid("j"),
            expires_at: at(60),
        }
    }

    fn folded(events: &[NewEvent]) -> Option<TokenRow> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| e.clone().with_seq(i as i64 + 1))
            .fold(None, |row, e| crate::ledger::fold::fold(row, &e))
    }

    #[test]
    fn unknown_tokens_are_issued_and_blacklisted_by_the_importer() {
        let (events, outcome) = events_for(token_ref(), false, Known::Unknown, at(0));
        assert_eq!(outcome, Outcome::Outstanding);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].actor.as_deref(), Some(ACTOR));
        assert_eq!(folded(&events).unwrap().state, TokenState::Outstanding);

        let (events, outcome) = events_for(token_ref(), true, Known::Unknown, at(0));
        assert_eq!(outcome, Outcome::Blacklisted);
        let kinds: Vec<EventKind> = events.iter().map(|e| e.event).collect();
        assert_eq!(kinds, [EventKind::Issued, EventKind::Blacklisted]);
        assert!(events.iter().all(|e| e.actor.as_deref() == Some(ACTOR)));
        assert_eq!(folded(&events).unwrap().state, TokenState::Blacklisted);
    }

    #[test]
    fn known_tokens_get_nothing_twice_but_a_later_blacklisting() {
        let (issued, _) = events_for(token_ref(), false, Known::Unknown, at(0));
        let row = folded(&issued).unwrap();
        let (events, outcome) = events_for(token_ref(), false, Known::InView(row.clone()), at(1));
        assert_eq!((events.len(), outcome), (0, Outcome::AlreadyImported));
        let (events, outcome) = events_for(token_ref(), true, Known::InView(row), at(1));
        assert_eq!(outcome, Outcome::NewlyBlacklisted);
        assert_eq!(events[0].event, EventKind::Blacklisted);
        let (events, outcome) = events_for(token_ref(), true, Known::Gone, at(1));
        assert_eq!((events.len(), outcome), (0, Outcome::AlreadyImported));
    }

    #[test]
    fn a_long_jti_still_makes_a_sid_that_fits_the_column() {
        assert!(imported_sid(&"j".repeat(255)).len() <= 255);
        assert_eq!(imported_sid("abc"), "imported-abc");
    }
}
