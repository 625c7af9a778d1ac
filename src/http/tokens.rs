//! The reference-compatible token endpoints (contract section 4).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body;
use super::error::ApiError;
use super::schemas::{
    Detail, Empty, RefreshRequest, RefreshResponse, SlidingToken, TokenErrorBody,
    TokenObtainRequest, TokenPair, TokenRequest, ValidationErrors,
};
use super::state::AppState;
use crate::tokens::{AuthError, TokenService};

/// Every token endpoint: read the body, validate its string fields, run the token operation
/// off the async workers, answer 200 with its JSON.
async fn answer<const N: usize, T>(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    fields: [&str; N],
    operation: impl FnOnce(TokenService, [String; N]) -> Result<T, AuthError> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize + Send + 'static,
{
    let values = body::read(&req, payload, state.max_body)
        .await?
        .strings(fields)?;
    let tokens = state.tokens.clone();
    let answer = web::block(move || operation(tokens, values)).await??;
    Ok(HttpResponse::Ok().json(answer))
}

#[utoipa::path(
    post, path = "/api/token/", tag = "tokens",
    summary = "Log in: obtain a refresh and an access token",
    request_body(content((TokenObtainRequest = "application/json"), (TokenObtainRequest = "application/x-www-form-urlencoded"), (TokenObtainRequest = "multipart/form-data"))),
    responses(
        (status = 200, description = "A new session's token pair", body = TokenPair),
        (status = 400, description = "Missing or blank fields, or malformed JSON", body = ValidationErrors),
        (status = 401, description = "No active account found with the given credentials", body = Detail),
        (status = 413, description = "Request body too large", body = Detail),
        (status = 415, description = "Unsupported media type", body = Detail),
    )
)]
pub async fn obtain_pair(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let login = state.tokens.policy().username_field.as_str();
    answer(
        req,
        payload,
        state,
        [login, "password"],
        |tokens, [login, password]| {
            let pair = tokens.obtain_pair(&login, &password)?;
            Ok(TokenPair {
                refresh: pair.refresh,
                access: pair.access,
            })
        },
    )
    .await
}

#[utoipa::path(
    post, path = "/api/token/refresh/", tag = "tokens",
    summary = "Refresh: a new access token, and a rotated refresh token",
    description = "With rotation on, the presented refresh token is blacklisted and a new one \
        returned. Presenting an already rotated token is reuse: the whole session is revoked.",
    request_body(content((RefreshRequest = "application/json"), (RefreshRequest = "application/x-www-form-urlencoded"), (RefreshRequest = "multipart/form-data"))),
    responses(
        (status = 200, body = RefreshResponse),
        (status = 400, body = ValidationErrors),
        (status = 401, description = "Token invalid, expired, blacklisted or of the wrong type; or no active account for it", body = TokenErrorBody),
    )
)]
pub async fn refresh(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(req, payload, state, ["refresh"], |tokens, [token]| {
        let refreshed = tokens.refresh(&token)?;
        Ok(RefreshResponse {
            access: refreshed.access,
            refresh: refreshed.refresh,
        })
    })
    .await
}

#[utoipa::path(
    post, path = "/api/token/verify/", tag = "tokens",
    summary = "Verify a token of any type",
    request_body(content((TokenRequest = "application/json"), (TokenRequest = "application/x-www-form-urlencoded"), (TokenRequest = "multipart/form-data"))),
    responses(
        (status = 200, body = Empty),
        (status = 400, description = "Missing field, or the token is blacklisted (`non_field_errors`)", body = ValidationErrors),
        (status = 401, body = TokenErrorBody),
    )
)]
pub async fn verify(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(req, payload, state, ["token"], |tokens, [token]| {
        tokens.verify(&token)?;
        Ok(Empty {})
    })
    .await
}

#[utoipa::path(
    post, path = "/api/token/blacklist/", tag = "tokens",
    summary = "Log out: blacklist a refresh token (and its session's access tokens)",
    request_body(content((RefreshRequest = "application/json"), (RefreshRequest = "application/x-www-form-urlencoded"), (RefreshRequest = "multipart/form-data"))),
    responses(
        (status = 200, body = Empty),
        (status = 400, body = ValidationErrors),
        (status = 401, body = TokenErrorBody),
    )
)]
pub async fn blacklist(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(req, payload, state, ["refresh"], |tokens, [token]| {
        tokens.blacklist(&token)?;
        Ok(Empty {})
    })
    .await
}

#[utoipa::path(
    post, path = "/api/token/sliding/", tag = "tokens",
    summary = "Log in: obtain a sliding token",
    request_body(content((TokenObtainRequest = "application/json"), (TokenObtainRequest = "application/x-www-form-urlencoded"), (TokenObtainRequest = "multipart/form-data"))),
    responses(
        (status = 200, body = SlidingToken),
        (status = 400, body = ValidationErrors),
        (status = 401, body = Detail),
    )
)]
pub async fn obtain_sliding(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let login = state.tokens.policy().username_field.as_str();
    answer(
        req,
        payload,
        state,
        [login, "password"],
        |tokens, [login, password]| {
            Ok(SlidingToken {
                token: tokens.obtain_sliding(&login, &password)?,
            })
        },
    )
    .await
}

#[utoipa::path(
    post, path = "/api/token/sliding/refresh/", tag = "tokens",
    summary = "Refresh a sliding token: same jti and refresh_exp, new exp",
    request_body(content((TokenRequest = "application/json"), (TokenRequest = "application/x-www-form-urlencoded"), (TokenRequest = "multipart/form-data"))),
    responses(
        (status = 200, body = SlidingToken),
        (status = 400, body = ValidationErrors),
        (status = 401, body = TokenErrorBody),
    )
)]
pub async fn refresh_sliding(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    answer(req, payload, state, ["token"], |tokens, [token]| {
        Ok(SlidingToken {
            token: tokens.refresh_sliding(&token)?,
        })
    })
    .await
}
