//! The user's own sessions (contract section 5): list, revoke one, log out everywhere,
//! change the password.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::bearer::Authenticated;
use super::body;
use super::client::client_address;
use super::error::{ApiError, FieldErrors};
use super::schemas::{
    BadRequest, BodyRefused, Detail, Empty, NotAuthenticated, PasswordChange, Revoked, Session,
};
use super::state::AppState;
use crate::time::rfc3339;
use crate::tokens::acting;

#[utoipa::path(
    get, path = "/api/me/sessions/", tag = "sessions", operation_id = "list_sessions",
    summary = "The user's live sessions",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The live sessions, newest first", body = Vec<Session>),
        NotAuthenticated,
    )
)]
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state.tokens.clone();
    let user_id = auth.user.id;
    let sessions = crate::http::block(move || tokens.sessions(user_id)).await??;
    let body: Vec<Session> = sessions
        .into_iter()
        .map(|s| Session {
            sid: s.sid,
            created_at: rfc3339::format(&s.created_at),
            last_used_at: rfc3339::format(&s.last_used_at),
            expires_at: rfc3339::format(&s.expires_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    delete, path = "/api/me/sessions/{sid}/", tag = "sessions", operation_id = "revoke_session",
    summary = "Revoke one of the user's sessions (every token of it)",
    params(("sid" = String, Path, description = "The session id (the tokens' `sid` claim)", example = "d7fe0e77e33841cf8d8978ba9ff8cd02")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Revoked"),
        NotAuthenticated,
        (status = 404, description = "Not a live session of this user", body = Detail),
    )
)]
pub async fn revoke(
    auth: Authenticated,
    sid: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (tokens, user) = (state.tokens.clone(), auth.user);
    let revoked =
        crate::http::block(move || acting::revoke_own_session(&tokens, &user, &sid)).await??;
    match revoked {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(ApiError::NotFound),
    }
}

#[utoipa::path(
    post, path = "/api/logout/all/", tag = "sessions",
    summary = "Log out everywhere: revoke every token of the user",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "How many tokens were newly revoked", body = Revoked),
        NotAuthenticated,
    )
)]
pub async fn logout_all(
    auth: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let accounts = state.accounts.clone();
    let revoked = crate::http::block(move || accounts.logout_all(&auth.user)).await??;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}

#[utoipa::path(
    post, path = "/api/me/password/", tag = "sessions",
    summary = "Change the password; every other session is revoked",
    request_body = PasswordChange,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Changed; every other session is revoked", body = Empty),
        (status = 400, description = "Missing or blank fields, a body that does not parse, or `{\"old_password\": [\"Wrong password.\"]}`", body = BadRequest),
        NotAuthenticated,
        (status = 429, description = "Too many wrong passwords (counted with the failed logins of this user from this client), or every password hasher busy: `{\"detail\": \"Request was throttled. Expected available in N seconds.\"}`", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds until it may try again"))),
        BodyRefused,
    )
)]
pub async fn change_password(
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let fields = body::read(&req, payload, state.max_body).await?;
    let [old_password, new_password] = fields.strings(["old_password", "new_password"])?;
    let tokens = state.tokens.clone();
    // Wrong old passwords count against the login throttle, from this client.
    let client = client_address(&req, &state.trusted_proxies);
    let changed = crate::http::block(move || {
        acting::change_password(
            &tokens,
            &auth.user,
            auth.token.sid(),
            &old_password,
            &new_password,
            &client,
        )
    })
    .await??;
    if !changed {
        let mut errors = FieldErrors::new();
        errors.insert("old_password".into(), json!(["Wrong password."]));
        return Err(ApiError::Fields(errors));
    }
    Ok(HttpResponse::Ok().json(Empty {}))
}
