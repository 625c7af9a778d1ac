//! The ledger page: the events, oldest first, with the filters of `GET /api/admin/ledger/`,
//! and a point-in-time control: a user's tokens as they stood at a chosen instant
//! (`LedgerReader::tokens_at`, the same replay as `GET /api/admin/users/{id}/tokens/`).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;

use super::tokens::{TokenLine, lines, names_of};
use super::{
    ConsoleError, Filters, Layout, Select, Signed, input_time, page, query_string, short, when,
};
use crate::db::StoreError;
use crate::http::state::AppState;
use crate::ledger::{EventKind, LedgerEvent, Reason};
use crate::time;
use crate::tokens::reader::EventFilter;

const PAGE: i64 = 100;
const MAX_PAGE: i64 = 1_000;

pub struct EventLine {
    pub seq: i64,
    pub at: String,
    pub event: &'static str,
    pub token_type: &'static str,
    pub jti: String,
    pub short_jti: String,
    pub user_id: i64,
    pub username: String,
    pub sid: String,
    pub short_sid: String,
    pub parent: String,
    pub reason: &'static str,
    pub actor: String,
}

impl EventLine {
    fn of(event: &LedgerEvent, names: &HashMap<i64, String>) -> Self {
        Self {
            username: names
                .get(&event.user_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", event.user_id)),
            seq: event.seq,
            at: when(&event.at),
            event: event.event.as_str(),
            token_type: event.token_type.as_str(),
            jti: event.jti.clone(),
            short_jti: short(&event.jti),
            user_id: event.user_id,
            sid: event.sid.clone(),
            short_sid: short(&event.sid),
            parent: event.parent_jti.as_deref().map(short).unwrap_or_default(),
            reason: event.reason.map_or("", Reason::as_str),
            actor: event.actor.clone().unwrap_or_default(),
        }
    }
}

/// The point-in-time answer: whose tokens, when, and how they stood.
pub struct Instant {
    pub username: String,
    pub at: String,
    pub tokens: Vec<TokenLine>,
}

#[derive(Template)]
#[template(path = "console/ledger.html")]
struct LedgerPage {
    layout: Layout,
    problems: Vec<String>,
    texts: Vec<(&'static str, &'static str, String, &'static str)>,
    selects: Vec<Select>,
    events: Vec<EventLine>,
    next: Option<String>,
    pit_user: String,
    pit_at: String,
    instant: Option<Instant>,
}

const FILTERS: [&str; 8] = [
    "user_id", "jti", "sid", "event", "reason", "since", "until", "limit",
];

pub async fn timeline(
    mut filters: Filters,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let filter = EventFilter {
        user_id: filters.integer("user_id"),
        jti: filters.given("jti"),
        sid: filters.given("sid"),
        event: filters.choice("event"),
        reason: filters.choice("reason"),
        since: filters.instant("since"),
        until: filters.instant("until"),
        after: filters.integer("after"),
    };
    let limit = filters.limit(PAGE, MAX_PAGE);
    let pit_user = filters.text("pit_user");
    let pit_at = filters.instant("pit_at");
    let ok = filters.is_ok();
    let (reader, accounts) = (state.reader.clone(), state.accounts.clone());
    let wanted = pit_user.clone();
    let (events, instant, names) = crate::http::block(move || {
        let events = if ok {
            reader.events(&filter, limit)?
        } else {
            Vec::new()
        };
        let user = match wanted.as_str() {
            "" => None,
            name => Some(accounts.find_named(name)?),
        };
        let instant = match user {
            Some(Some(user)) => {
                let at = pit_at.unwrap_or_else(time::now);
                let rows = reader.tokens_at(user.id, at)?;
                let names = names_of(&accounts, &rows)?;
                Some(Some(Instant {
                    username: user.username,
                    at: when(&at),
                    tokens: lines(&rows, &names),
                }))
            }
            Some(None) => Some(None),
            None => None,
        };
        let mut ids: Vec<i64> = events.iter().map(|event| event.user_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let names: HashMap<i64, String> = accounts.usernames(&ids)?;
        Ok::<_, StoreError>((events, instant, names))
    })
    .await??;
    if let Some(None) = instant {
        filters.problem(format!("user: no user \"{pit_user}\"."));
    }
    let next = (events.len() as i64 == limit)
        .then(|| events.last())
        .flatten()
        .map(|last| {
            let mut pairs: Vec<(&str, String)> = FILTERS
                .iter()
                .map(|name| (*name, filters.text(name)))
                .collect();
            pairs.push(("after", last.seq.to_string()));
            query_string(&pairs)
        });
    let texts = vec![
        ("user_id", "User id", filters.text("user_id"), "text"),
        ("jti", "Token (jti)", filters.text("jti"), "text"),
        ("sid", "Session (sid)", filters.text("sid"), "text"),
        (
            "since",
            "Since (UTC)",
            filters.text("since"),
            "datetime-local",
        ),
        (
            "until",
            "Until (UTC)",
            filters.text("until"),
            "datetime-local",
        ),
        ("limit", "Per page", filters.text("limit"), "text"),
    ];
    let template = LedgerPage {
        layout: Layout::of(&signed, "ledger"),
        texts,
        selects: vec![
            Select::new("event", "Event", EventKind::names(), &filters.fields),
            Select::new("reason", "Reason", Reason::names(), &filters.fields),
        ],
        events: events
            .iter()
            .map(|event| EventLine::of(event, &names))
            .collect(),
        next,
        pit_user,
        pit_at: filters
            .given("pit_at")
            .unwrap_or_else(|| input_time(&time::now())),
        instant: instant.flatten(),
        problems: filters.problems(),
    };
    page(filters.status(), &template)
}
