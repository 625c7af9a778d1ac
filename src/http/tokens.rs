//! The reference-compatible token endpoints (contract section 4).

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body;
use super::client::client_address;
use super::error::ApiError;
use super::schemas::{
    BadRequest, BodyRefused, Detail, Empty, RefreshRequest, RefreshResponse, SlidingToken,
    TokenErrorBody, TokenObtainRequest, TokenPair, TokenRequest,
};
use super::state::AppState;
use crate::tokens::{AuthError, TokenService};

/// How many 1 ms waits verify gives the follower (it checks every 2 ms) to vouch for a valid
/// token before asking the database.
const VOUCH_POLLS: u32 = 10;

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
    let answer = crate::http::block(move || operation(tokens, values)).await??;
    Ok(HttpResponse::Ok().json(answer))
}

#[utoipa::path(
    post, path = "/api/token/", tag = "tokens",
    summary = "Log in: obtain a refresh and an access token",
    request_body(content((TokenObtainRequest = "application/json"), (TokenObtainRequest = "application/x-www-form-urlencoded"), (TokenObtainRequest = "multipart/form-data"))),
    responses(
        (status = 200, description = "A new session's token pair", body = TokenPair),
        (status = 400, description = "Missing or blank fields, or a body that does not parse", body = BadRequest),
        (status = 401, description = "No active account found with the given credentials", body = Detail),
        (status = 429, description = "Too many failed logins from this client (for this username, or at all): `{\"detail\": \"Request was throttled. Expected available in N seconds.\"}`", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds until a login may be tried again"))),
        BodyRefused,
    )
)]
pub async fn obtain_pair(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let login = state.tokens.policy().username_field.as_str();
    let client = client_address(&req, &state.trusted_proxies);
    answer(
        req,
        payload,
        state,
        [login, "password"],
        move |tokens, [login, password]| {
            let pair = tokens.obtain_pair(&login, &password, &client)?;
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
        (status = 200, description = "A new access token (and refresh token, when rotating)", body = RefreshResponse),
        (status = 400, description = "Missing or blank `refresh`, or a body that does not parse", body = BadRequest),
        (status = 401, description = "Token invalid, expired, blacklisted or of the wrong type (`code`: `token_not_valid`); or no active account for it (no `code`)", body = TokenErrorBody),
        BodyRefused,
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
        (status = 200, description = "The token is valid", body = Empty),
        (status = 400, description = "Missing or blank `token`, a body that does not parse, or the token is blacklisted (`{\"non_field_errors\": [\"Token is blacklisted\"]}`)", body = BadRequest),
        (status = 401, description = "Token invalid or expired", body = TokenErrorBody),
        BodyRefused,
    )
)]
pub async fn verify(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Decided from memory on this worker when it can be (as the protected endpoints are). A
    // valid token waits for the follower's next check (every 2 ms) to prove nothing committed
    // before this request is missing; only if none comes soon does the database answer, off
    // the workers.
    let arrived = Instant::now();
    let [token] = body::read(&req, payload, state.max_body)
        .await?
        .strings(["token"])?;
    let tokens = state.tokens.clone();
    let Some(presented) = tokens.verify_in_memory(&token, arrived)? else {
        return Ok(HttpResponse::Ok().json(Empty {}));
    };
    for _ in 0..VOUCH_POLLS {
        actix_rt::time::sleep(Duration::from_millis(1)).await;
        if let Some(decided) = tokens.vouch_from_memory(&presented, arrived) {
            decided?;
            return Ok(HttpResponse::Ok().json(Empty {}));
        }
    }
    crate::http::block(move || tokens.verify_in_database(&presented)).await??;
    Ok(HttpResponse::Ok().json(Empty {}))
}

#[utoipa::path(
    post, path = "/api/token/blacklist/", tag = "tokens",
    summary = "Log out: blacklist a refresh token (and its session's access tokens)",
    request_body(content((RefreshRequest = "application/json"), (RefreshRequest = "application/x-www-form-urlencoded"), (RefreshRequest = "multipart/form-data"))),
    responses(
        (status = 200, description = "Logged out", body = Empty),
        (status = 400, description = "Missing or blank `refresh`, or a body that does not parse", body = BadRequest),
        (status = 401, description = "Token invalid, expired, already blacklisted, or not a refresh token", body = TokenErrorBody),
        BodyRefused,
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
        (status = 200, description = "A new sliding token", body = SlidingToken),
        (status = 400, description = "Missing or blank fields, or a body that does not parse", body = BadRequest),
        (status = 401, description = "No active account found with the given credentials", body = Detail),
        (status = 429, description = "Too many failed logins from this client (for this username, or at all): `{\"detail\": \"Request was throttled. Expected available in N seconds.\"}`", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds until a login may be tried again"))),
        BodyRefused,
    )
)]
pub async fn obtain_sliding(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let login = state.tokens.policy().username_field.as_str();
    let client = client_address(&req, &state.trusted_proxies);
    answer(
        req,
        payload,
        state,
        [login, "password"],
        move |tokens, [login, password]| {
            Ok(SlidingToken {
                token: tokens.obtain_sliding(&login, &password, &client)?,
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
        (status = 200, description = "The sliding token with a new `exp`", body = SlidingToken),
        (status = 400, description = "Missing or blank `token`, or a body that does not parse", body = BadRequest),
        (status = 401, description = "Token invalid, expired (`refresh_exp` too), blacklisted or not a sliding token; or no active account for it (no `code`)", body = TokenErrorBody),
        BodyRefused,
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
