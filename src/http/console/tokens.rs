//! The tokens page: the view's outstanding and blacklisted tokens, filtered and paged, and
//! blacklisting one by hand (a confirmation page, then the same domain function as
//! `POST /api/admin/tokens/{jti}/blacklist/`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{
    ConsoleError, Fields, Filters, Layout, Select, Signed, notice, page, query_string, see_other,
    short, when,
};
use crate::db::StoreError;
use crate::http::state::AppState;
use crate::ledger::{Reason, TokenRow, TokenState, TokenType};
use crate::time;
use crate::tokens::accounts::Accounts;
use crate::tokens::acting;
use crate::tokens::reader::TokenFilter;

const PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

/// A token as a table row shows it.
pub struct TokenLine {
    pub jti: String,
    pub short_jti: String,
    pub token_type: &'static str,
    pub user_id: i64,
    pub username: String,
    pub sid: String,
    pub short_sid: String,
    pub issued: String,
    pub expires: String,
    pub state: &'static str,
    pub blacklisted: String,
    pub reason: &'static str,
    pub can_blacklist: bool,
}

pub fn lines(rows: &[TokenRow], names: &HashMap<i64, String>) -> Vec<TokenLine> {
    let now = time::now();
    rows.iter()
        .map(|row| TokenLine {
            jti: row.jti.clone(),
            short_jti: short(&row.jti),
            token_type: row.token_type.as_str(),
            user_id: row.user_id,
            username: names
                .get(&row.user_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", row.user_id)),
            sid: row.sid.clone(),
            short_sid: short(&row.sid),
            issued: when(&row.issued_at),
            expires: when(&row.expires_at),
            state: if row.is_blacklisted() {
                "blacklisted"
            } else if row.expires_at <= now {
                "ended"
            } else {
                "outstanding"
            },
            blacklisted: row.blacklisted_at.as_ref().map(when).unwrap_or_default(),
            reason: row.reason.map_or("", Reason::as_str),
            can_blacklist: !row.is_blacklisted(),
        })
        .collect()
}

/// The usernames of the rows' users.
pub fn names_of(
    accounts: &Accounts,
    rows: &[TokenRow],
) -> Result<HashMap<i64, String>, StoreError> {
    let mut ids: Vec<i64> = rows.iter().map(|row| row.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    accounts.usernames(&ids)
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    layout: Layout,
    notice: Option<&'static str>,
    problems: Vec<String>,
    user: String,
    since: String,
    until: String,
    limit: String,
    selects: Vec<Select>,
    tokens: Vec<TokenLine>,
    next: Option<String>,
}

pub async fn list(
    mut filters: Filters,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let mut filter = TokenFilter {
        state: filters.choice("state"),
        token_type: filters.choice("type"),
        reason: filters.choice("reason"),
        issued_since: filters.instant("since"),
        issued_until: filters.instant("until"),
        after_jti: filters.given("cursor"),
        ..TokenFilter::default()
    };
    let limit = filters.limit(PAGE, MAX_PAGE);
    let user = filters.text("user");
    let (reader, accounts) = (state.reader.clone(), state.accounts.clone());
    let wanted = user.clone();
    let ok = filters.is_ok();
    let (found_user, rows, names) = crate::http::block(move || {
        let found = match wanted.as_str() {
            "" => Some(None),
            name => match name.parse::<i64>() {
                Ok(id) => Some(Some(id)),
                Err(_) => accounts.find_named(name)?.map(|user| Some(user.id)),
            },
        };
        if let Some(user_id) = found {
            filter.user_id = user_id;
        }
        let rows = if ok && found.is_some() {
            reader.tokens(&filter, limit)?
        } else {
            Vec::new()
        };
        let names = names_of(&accounts, &rows)?;
        Ok::<_, StoreError>((found, rows, names))
    })
    .await??;
    if found_user.is_none() {
        filters.problem(format!("user: no user named \"{user}\"."));
    }
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last())
        .flatten()
        .map(|last| {
            query_string(&[
                ("user", user.clone()),
                ("type", filters.text("type")),
                ("state", filters.text("state")),
                ("reason", filters.text("reason")),
                ("since", filters.text("since")),
                ("until", filters.text("until")),
                ("limit", filters.text("limit")),
                ("cursor", last.jti.clone()),
            ])
        });
    let template = TokensPage {
        layout: Layout::of(&signed, "tokens"),
        notice: notice(&filters.fields),
        user,
        since: filters.text("since"),
        until: filters.text("until"),
        limit: filters.text("limit"),
        selects: vec![
            Select::new("type", "Type", TokenType::names(), &filters.fields),
            Select::new("state", "State", TokenState::names(), &filters.fields),
            Select::new("reason", "Reason", Reason::names(), &filters.fields),
        ],
        tokens: lines(&rows, &names),
        next,
        problems: filters.problems(),
    };
    page(filters.status(), &template)
}

#[derive(Template)]
#[template(path = "console/confirm_token.html")]
struct ConfirmPage {
    layout: Layout,
    token: TokenLine,
}

/// The confirmation step: what would be blacklisted, and the button that does it.
pub async fn confirm(
    jti: web::Path<String>,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (reader, accounts) = (state.reader.clone(), state.accounts.clone());
    let jti = jti.into_inner();
    let (row, names) = crate::http::block(move || {
        let row = reader.token(&jti)?;
        let names = names_of(&accounts, row.as_slice())?;
        Ok::<_, StoreError>((row, names))
    })
    .await??;
    let row = row.ok_or(ConsoleError::NotFound)?;
    let token = lines(std::slice::from_ref(&row), &names)
        .pop()
        .ok_or(ConsoleError::NotFound)?;
    page(
        StatusCode::OK,
        &ConfirmPage {
            layout: Layout::of(&signed, "tokens"),
            token,
        },
    )
}

/// Appends `blacklisted` (reason `admin`, actor the staff user) through the same function as
/// the JSON admin API; idempotent like it.
pub async fn blacklist(
    req: HttpRequest,
    jti: web::Path<String>,
    body: web::Bytes,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    signed.check_change(&req, Fields::form(&body).get("csrf"))?;
    let tokens = state.tokens.clone();
    let staff = signed.user.clone();
    let jti = jti.into_inner();
    let row = crate::http::block(move || acting::admin_blacklist(&tokens, &staff, &jti))
        .await??
        .ok_or(ConsoleError::NotFound)?;
    Ok(see_other(&format!(
        "/admin/users/{}/?notice=blacklisted",
        row.user_id
    )))
}
