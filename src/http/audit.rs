//! Staff-only reads of the ledger and the view (contract section 6): the events, the view's
//! tokens, a token's history, a user's tokens at an instant. The changes staff make are in
//! `admin.rs`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::bearer::Staff;
use super::error::ApiError;
use super::params::Params;
use super::schemas::{
    Detail, EventPage, StaffOnly, TokenBody, TokenHistory, TokenPage, TokensAt, ValidationErrors,
};
use super::state::AppState;
use crate::time;
use crate::tokens::reader::{EventFilter, TokenFilter};

#[utoipa::path(
    get, path = "/api/admin/ledger/", tag = "admin",
    summary = "Ledger events, oldest first, filtered, paged by seq",
    params(
        ("user_id" = Option<i64>, Query, description = "events of this user's tokens", example = 2),
        ("jti" = Option<String>, Query, description = "events of one token", example = "b9efa14077404f5782f96d712321b071"),
        ("sid" = Option<String>, Query, description = "events of one session", example = "d7fe0e77e33841cf8d8978ba9ff8cd02"),
        ("event" = Option<crate::ledger::EventKind>, Query, description = "events of this kind", example = "reuse_detected"),
        ("reason" = Option<crate::ledger::Reason>, Query, description = "blacklistings for this reason", example = "logout"),
        ("since" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339; events at or after it", example = "2026-11-22T00:00:00Z"),
        ("until" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339; events before it", example = "2026-11-23T00:00:00Z"),
        ("after" = Option<i64>, Query, description = "the previous page's `next`: events with a greater seq", example = 100),
        ("limit" = Option<i64>, Query, description = "page size, 1 to 1000 (default 100)", minimum = 1, maximum = 1000, example = 100),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of events, oldest first", body = EventPage),
        (status = 400, description = "A parameter that does not parse, or `limit` out of range", body = ValidationErrors),
        StaffOnly,
    )
)]
pub async fn ledger_events(
    _staff: Staff,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::of(&req);
    let filter = EventFilter {
        user_id: params.integer("user_id"),
        jti: params.raw("jti"),
        sid: params.raw("sid"),
        event: params.choice("event"),
        reason: params.choice("reason"),
        since: params.datetime("since"),
        until: params.datetime("until"),
        after: params.integer("after"),
    };
    let limit = params.limit();
    params.finish()?;
    let reader = state.reader.clone();
    let events = crate::http::block(move || reader.events(&filter, limit)).await??;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|event| event.seq))
        .flatten();
    Ok(HttpResponse::Ok().json(EventPage { events, next }))
}

#[utoipa::path(
    get, path = "/api/admin/tokens/", tag = "admin",
    summary = "The view: tokens by state, user and type, paged by cursor",
    params(
        ("state" = Option<crate::ledger::TokenState>, Query, description = "tokens in this state", example = "blacklisted"),
        ("user_id" = Option<i64>, Query, description = "tokens of this user", example = 2),
        ("token_type" = Option<crate::ledger::TokenType>, Query, description = "tokens of this type", example = "refresh"),
        ("cursor" = Option<String>, Query, description = "the previous page's `next`: tokens with a greater jti", example = "b9efa14077404f5782f96d712321b071"),
        ("limit" = Option<i64>, Query, description = "page size, 1 to 1000 (default 100)", minimum = 1, maximum = 1000, example = 100),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of the view, in jti order", body = TokenPage),
        (status = 400, description = "A parameter that does not parse, or `limit` out of range", body = ValidationErrors),
        StaffOnly,
    )
)]
pub async fn tokens(
    _staff: Staff,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::of(&req);
    let filter = TokenFilter {
        state: params.choice("state"),
        user_id: params.integer("user_id"),
        token_type: params.choice("token_type"),
        after_jti: params.raw("cursor"),
        ..TokenFilter::default()
    };
    let limit = params.limit();
    params.finish()?;
    let reader = state.reader.clone();
    let rows = crate::http::block(move || reader.tokens(&filter, limit)).await??;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|row| row.jti.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(TokenPage {
        results: rows.into_iter().map(TokenBody::from).collect(),
        next,
    }))
}

#[utoipa::path(
    get, path = "/api/admin/tokens/{jti}/history/", tag = "admin",
    summary = "A token's events and its rotation lineage: its ancestors by parent_jti, itself, and every token descending from it",
    description = "An access token's parent is the refresh token presented to mint it. Tokens already flushed from the view appear in the state they had when they ended.",
    params(("jti" = String, Path, description = "The token's `jti` claim", example = "b9efa14077404f5782f96d712321b071")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Its events and its lineage", body = TokenHistory),
        StaffOnly,
        (status = 404, description = "The ledger never saw this jti", body = Detail),
    )
)]
pub async fn token_history(
    _staff: Staff,
    jti: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let reader = state.reader.clone();
    let jti = jti.into_inner();
    let wanted = jti.clone();
    let history = crate::http::block(move || reader.history(&wanted))
        .await??
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(TokenHistory {
        jti,
        events: history.events,
        lineage: history.lineage.into_iter().map(TokenBody::from).collect(),
    }))
}

#[utoipa::path(
    get, path = "/api/admin/users/{id}/tokens/", tag = "admin",
    summary = "The user's tokens as they stood at an instant, replayed from the ledger",
    params(
        ("id" = i64, Path, description = "The user's id", example = 2),
        ("at" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339 (default: now); tokens whose lifetime had not ended then, in their state then", example = "2026-11-22T20:33:07.7Z"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user's tokens as they stood at `at`", body = TokensAt),
        (status = 400, description = "`at` is not RFC 3339", body = ValidationErrors),
        StaffOnly,
        (status = 404, description = "`id` is not an integer", body = Detail),
    )
)]
pub async fn tokens_at(
    _staff: Staff,
    id: web::Path<i64>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut params = Params::of(&req);
    let at = params.datetime("at").unwrap_or_else(time::now);
    params.finish()?;
    let user_id = id.into_inner();
    let reader = state.reader.clone();
    let rows = crate::http::block(move || reader.tokens_at(user_id, at)).await??;
    Ok(HttpResponse::Ok().json(TokensAt {
        at: time::rfc3339::format(&at),
        tokens: rows.into_iter().map(TokenBody::from).collect(),
    }))
}
