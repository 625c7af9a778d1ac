//! Staff-only changes (contract section 6): accounts, blacklisting a token, the expiry flush.

use actix_web::{HttpRequest, HttpResponse, web};

use super::bearer::Staff;
use super::body;
use super::error::ApiError;
use super::schemas::{
    BadRequest, BodyRefused, Detail, Expired, NewUserRequest, NoSuchUser, Revoked, StaffOnly,
    TokenBody, UserBody,
};
use super::state::AppState;
use crate::ledger::flush;
use crate::time;
use crate::tokens::acting;
use crate::users::{NewUser, User};

fn user_body(user: User) -> UserBody {
    UserBody {
        id: user.id,
        username: user.username,
        is_active: user.is_active,
        is_staff: user.is_staff,
    }
}

#[utoipa::path(
    post, path = "/api/admin/users/", tag = "admin",
    summary = "Create a user",
    request_body = NewUserRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The new user", body = UserBody),
        (status = 400, description = "Missing or blank fields, `is_staff` not a boolean, or a body that does not parse", body = BadRequest),
        StaffOnly,
        (status = 409, description = "The username is taken", body = Detail),
        BodyRefused,
    )
)]
pub async fn create_user(
    _staff: Staff,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let fields = body::read(&req, payload, state.max_body).await?;
    let [username, password] = fields.strings(["username", "password"])?;
    let is_staff = fields.boolean("is_staff", false)?;
    let accounts = state.accounts.clone();
    let user = crate::http::block(move || {
        accounts.create(NewUser {
            username: &username,
            email: None,
            password: &password,
            is_staff,
        })
    })
    .await??;
    Ok(HttpResponse::Created().json(user_body(user)))
}

async fn set_active(
    staff: Staff,
    id: i64,
    active: bool,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let accounts = state.accounts.clone();
    let (user, _) =
        crate::http::block(move || accounts.set_active(&staff.0.user, id, active)).await??;
    Ok(HttpResponse::Ok().json(user_body(user)))
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/deactivate/", tag = "admin",
    summary = "Deactivate a user and revoke every token of it",
    params(("id" = i64, Path, description = "The user's id", example = 2)),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user", body = UserBody),
        StaffOnly,
        NoSuchUser,
    )
)]
pub async fn deactivate(
    staff: Staff,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_active(staff, id.into_inner(), false, state).await
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/activate/", tag = "admin",
    summary = "Activate a user",
    params(("id" = i64, Path, description = "The user's id", example = 2)),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The user", body = UserBody),
        StaffOnly,
        NoSuchUser,
    )
)]
pub async fn activate(
    staff: Staff,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_active(staff, id.into_inner(), true, state).await
}

#[utoipa::path(
    post, path = "/api/admin/users/{id}/revoke/", tag = "admin", operation_id = "revoke_user_tokens",
    summary = "Revoke every token of a user",
    params(("id" = i64, Path, description = "The user's id", example = 2)),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "How many tokens were newly revoked", body = Revoked),
        StaffOnly,
        NoSuchUser,
    )
)]
pub async fn revoke(
    staff: Staff,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let accounts = state.accounts.clone();
    let id = id.into_inner();
    let revoked = crate::http::block(move || accounts.revoke_all(&staff.0.user, id)).await??;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}

#[utoipa::path(
    post, path = "/api/admin/tokens/{jti}/blacklist/", tag = "admin",
    summary = "Blacklist one token (reason admin); idempotent",
    params(("jti" = String, Path, description = "The token's `jti` claim", example = "b9efa14077404f5782f96d712321b071")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The token, blacklisted", body = TokenBody),
        StaffOnly,
        (status = 404, description = "The view holds no such token", body = Detail),
    )
)]
pub async fn blacklist_token(
    staff: Staff,
    jti: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (tokens, by) = (state.tokens.clone(), staff.0.user.clone());
    let row = crate::http::block(move || acting::admin_blacklist(&tokens, &by, &jti))
        .await??
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(TokenBody::from(row)))
}

#[utoipa::path(
    post, path = "/api/admin/maintenance/flush-expired/", tag = "admin",
    summary = "Record `expired` for every ended token and drop it from the view (as the CLI)",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "How many tokens were recorded as expired", body = Expired),
        StaffOnly,
    )
)]
pub async fn flush_expired(
    _staff: Staff,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ledger = state.tokens.ledger().clone();
    let leeway = std::time::Duration::from_secs(state.tokens.policy().leeway.max(0) as u64);
    let expired = crate::http::block(move || {
        let cutoff = flush::cutoff(time::now(), leeway);
        flush::flush_expired(&ledger, cutoff, flush::DEFAULT_BATCH, |_| {})
    })
    .await??;
    Ok(HttpResponse::Ok().json(Expired { expired }))
}
