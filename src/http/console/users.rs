//! The users pages: search; one user with their sessions, each drawn as its rotation
//! lineage; activate, deactivate and revoke all (each behind a confirmation page), through
//! the same domain functions as the JSON admin API.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::lineage::{self, Graph};
use super::tokens::{TokenLine, lines};
use super::{
    ConsoleError, Fields, Filters, Layout, Signed, input_time, notice, page, query_string,
    see_other, short, when,
};
use crate::db::StoreError;
use crate::http::state::AppState;
use crate::time;
use crate::users::User;

const PAGE: i64 = 50;
/// Ended sessions shown below the live ones (the most recent first).
const ENDED_SHOWN: usize = 5;

pub struct UserLine {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub joined: String,
    pub last_login: String,
}

impl From<&User> for UserLine {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone().unwrap_or_default(),
            is_staff: user.is_staff,
            is_active: user.is_active,
            joined: when(&user.date_joined),
            last_login: user.last_login.as_ref().map(when).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    layout: Layout,
    problems: Vec<String>,
    q: String,
    users: Vec<UserLine>,
    next: Option<String>,
}

pub async fn list(
    signed: Signed,
    mut filters: Filters,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let after = filters.integer("after");
    let q = filters.text("q");
    let needle = q.clone();
    let accounts = state.accounts.clone();
    let found = crate::http::block(move || {
        let needle = Some(needle.as_str()).filter(|n| !n.is_empty());
        accounts.search(needle, after, PAGE)
    })
    .await??;
    let next = (found.len() as i64 == PAGE)
        .then(|| found.last())
        .flatten()
        .map(|last| query_string(&[("q", q.clone()), ("after", last.id.to_string())]));
    page(
        filters.status(),
        &UsersPage {
            layout: Layout::of(&signed, "users"),
            problems: filters.problems(),
            q,
            users: found.iter().map(UserLine::from).collect(),
            next,
        },
    )
}

/// One session on the user's page: its summary, its lineage graph and its tokens.
pub struct SessionView {
    pub sid: String,
    pub short_sid: String,
    pub live: bool,
    pub created: String,
    pub last_used: String,
    pub ends: String,
    pub graph: Option<Graph>,
    pub graph_summary: String,
    pub tokens: Vec<TokenLine>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    layout: Layout,
    notice: Option<&'static str>,
    user: UserLine,
    now: String,
    sessions: Vec<SessionView>,
}

pub async fn detail(
    req: HttpRequest,
    id: web::Path<i64>,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let id = id.into_inner();
    let (tokens, reader, accounts) = (
        state.tokens.clone(),
        state.reader.clone(),
        state.accounts.clone(),
    );
    let now = time::now();
    let (user, sessions) = crate::http::block(move || {
        let Some(user) = accounts.find(id)? else {
            return Ok::<_, StoreError>((None, Vec::new()));
        };
        let live = tokens.sessions(id)?;
        // The sessions that ended (revoked, or every token expired), newest first.
        let mut ended: BTreeMap<String, chrono::NaiveDateTime> = BTreeMap::new();
        for row in reader.tokens_of_user(id)? {
            if !live.iter().any(|session| session.sid == row.sid) {
                let last = ended.entry(row.sid.clone()).or_insert(row.issued_at);
                *last = (*last).max(row.issued_at);
            }
        }
        let mut ended: Vec<(String, chrono::NaiveDateTime)> = ended.into_iter().collect();
        ended.sort_by_key(|(_, last)| std::cmp::Reverse(*last));
        let names = HashMap::from([(user.id, user.username.clone())]);
        let mut views = Vec::new();
        let wanted = live
            .iter()
            .map(|session| (session.sid.clone(), true))
            .chain(
                ended
                    .into_iter()
                    .take(ENDED_SHOWN)
                    .map(|(sid, _)| (sid, false)),
            );
        for (sid, is_live) in wanted {
            let history = reader.session(&sid)?;
            let summary = live.iter().find(|session| session.sid == sid);
            let created = history.tokens.iter().map(|row| row.issued_at).min();
            let last_used = history.tokens.iter().map(|row| row.issued_at).max();
            let ends = summary.map(|session| session.expires_at).or_else(|| {
                history
                    .tokens
                    .iter()
                    .map(|row| {
                        row.blacklisted_at
                            .unwrap_or(row.expires_at)
                            .min(row.expires_at)
                    })
                    .max()
            });
            let graph = (history.tokens.len() <= lineage::MAX_NODES)
                .then(|| lineage::graph(&history.tokens, &history.events, now));
            let graph_summary = graph
                .as_ref()
                .map(Graph::summary)
                .unwrap_or_else(|| format!("{} tokens: too many to draw", history.tokens.len()));
            // Newest first in the table: the token to act on is usually the latest.
            let mut rows = history.tokens;
            rows.reverse();
            views.push(SessionView {
                short_sid: short(&sid),
                sid,
                live: is_live,
                created: created.as_ref().map(when).unwrap_or_default(),
                last_used: last_used.as_ref().map(when).unwrap_or_default(),
                ends: ends.as_ref().map(when).unwrap_or_default(),
                graph,
                graph_summary,
                tokens: lines(&rows, &names),
            });
        }
        Ok((Some(user), views))
    })
    .await??;
    let user = user.ok_or(ConsoleError::NotFound)?;
    page(
        StatusCode::OK,
        &UserPage {
            layout: Layout::of(&signed, "users"),
            notice: notice(&Fields::query(&req)),
            user: UserLine::from(&user),
            now: input_time(&now),
            sessions,
        },
    )
}

/// The account changes the console offers, each behind a confirmation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Activate,
    Deactivate,
    Revoke,
}

impl Action {
    fn parse(text: &str) -> Result<Self, ConsoleError> {
        match text {
            "activate" => Ok(Action::Activate),
            "deactivate" => Ok(Action::Deactivate),
            "revoke" => Ok(Action::Revoke),
            _ => Err(ConsoleError::NotFound),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Action::Activate => "activate",
            Action::Deactivate => "deactivate",
            Action::Revoke => "revoke",
        }
    }

    fn button(self) -> &'static str {
        match self {
            Action::Activate => "Activate",
            Action::Deactivate => "Deactivate and revoke every token",
            Action::Revoke => "Revoke every token",
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            Action::Activate => "The user can sign in again; no token is issued by this.",
            Action::Deactivate => {
                "The user can no longer sign in or refresh, and every outstanding token of \
                 the user is blacklisted now (reason user_deactivated)."
            }
            Action::Revoke => {
                "Every outstanding token of the user is blacklisted now (reason admin): every \
                 session ends. The account stays active."
            }
        }
    }

    fn notice(self) -> &'static str {
        match self {
            Action::Activate => "activated",
            Action::Deactivate => "deactivated",
            Action::Revoke => "revoked",
        }
    }
}

#[derive(Template)]
#[template(path = "console/confirm_user.html")]
struct ConfirmPage {
    layout: Layout,
    user: UserLine,
    action: &'static str,
    button: &'static str,
    consequence: &'static str,
}

pub async fn confirm(
    path: web::Path<(i64, String)>,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, action) = path.into_inner();
    let action = Action::parse(&action)?;
    let accounts = state.accounts.clone();
    let user = crate::http::block(move || accounts.find(id))
        .await??
        .ok_or(ConsoleError::NotFound)?;
    page(
        StatusCode::OK,
        &ConfirmPage {
            layout: Layout::of(&signed, "users"),
            user: UserLine::from(&user),
            action: action.path(),
            button: action.button(),
            consequence: action.consequence(),
        },
    )
}

pub async fn act(
    req: HttpRequest,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, action) = path.into_inner();
    let action = Action::parse(&action)?;
    signed.check_change(&req, Fields::form(&body).get("csrf"))?;
    let (accounts, staff) = (state.accounts.clone(), signed.user.clone());
    crate::http::block(move || match action {
        Action::Activate | Action::Deactivate => accounts
            .set_active(&staff, id, action == Action::Activate)
            .map(|_| ()),
        Action::Revoke => accounts.revoke_all(&staff, id).map(|_| ()),
    })
    .await??;
    Ok(see_other(&format!(
        "/admin/users/{id}/?notice={}",
        action.notice()
    )))
}
