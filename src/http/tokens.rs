//! The reference-compatible token endpoints (contract section 4).

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::body;
use super::client::client_address;
use super::error::ApiError;
use super::schemas::{
    BadRequest, BodyRefused, CsrfHeader, CsrfRefused, Detail, Empty, RefreshRequest,
    RefreshResponse, SlidingToken, TokenErrorBody, TokenObtainRequest, TokenPair, TokenRequest,
};
use super::state::AppState;
use crate::tokens::{AuthError, TokenService};

/// How long verify waits for the follower's check (asked for at once; a check on SQLite takes
/// microseconds, a catch-up elsewhere one query) before asking the database itself.
const VOUCH_PATIENCE: Duration = Duration::from_millis(10);

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
    let answer = run(&state, values, operation).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// A token operation on the state's service, off the async workers (the database and
/// argon2 must not hold one).
pub(super) async fn run<V, T, E>(
    state: &AppState,
    values: V,
    operation: impl FnOnce(TokenService, V) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    V: Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let tokens = state.tokens.clone();
    Ok(crate::http::block(move || operation(tokens, values)).await??)
}

/// The refresh token a refresh or logout presents: the body's `refresh`, which wins; without
/// one, the refresh cookie's (when on), once its CSRF header matches. `true`: from the cookie.
async fn presented_refresh(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(String, bool), ApiError> {
    let fields = body::read(req, payload, state.max_body).await?;
    if let Some(cookie) = &state.refresh_cookie
        && !fields.has("refresh")
        && let Some(token) = cookie.presented(req)?
    {
        return Ok((token, true));
    }
    let [token] = fields.strings(["refresh"])?;
    Ok((token, false))
}

/// A refusal of a token that came from the cookie also removes the (now useless) cookies.
fn refusal(state: &AppState, from_cookie: bool, error: ApiError) -> Result<HttpResponse, ApiError> {
    match (&state.refresh_cookie, from_cookie, &error) {
        (
            Some(cookie),
            true,
            ApiError::Auth(AuthError::Token(_) | AuthError::NoActiveAccountForToken),
        ) => {
            let mut response = actix_web::ResponseError::error_response(&error);
            for removal in cookie.removals() {
                // Only fails on a cookie that is not a header value; ours are.
                let _ = response.add_cookie(&removal);
            }
            Ok(response)
        }
        _ => Err(error),
    }
}

/// A body with a refresh token: the cookies set too when on, and `refresh` left out of the
/// JSON with `REFRESH_COOKIE_ONLY`.
fn with_refresh(state: &AppState, body: impl Serialize, refresh: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    let Some(cookie) = &state.refresh_cookie else {
        return response.json(body);
    };
    if let Some(refresh) = refresh {
        cookie.set(&mut response, refresh);
    }
    let mut body = serde_json::to_value(body).unwrap_or_default();
    if cookie.only
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("refresh");
    }
    response.json(body)
}

#[utoipa::path(
    post, path = "/api/token/", tag = "tokens",
    summary = "Log in: obtain a refresh and an access token",
    description = "With `TOKENLEDGER_REFRESH_COOKIE` on, also sets the refresh token as an \
        HttpOnly, SameSite=Strict cookie on `/api/token/` and a script-readable `<name>_csrf` \
        cookie on `/`; with `TOKENLEDGER_REFRESH_COOKIE_ONLY`, `refresh` is left out of the body.",
    request_body = TokenObtainRequest,
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
    let login = state.tokens.policy().login.username_field.as_str();
    let client = client_address(&req, &state.trusted_proxies);
    let values = body::read(&req, payload, state.max_body)
        .await?
        .strings([login, "password"])?;
    let pair = run(&state, values, move |tokens, [login, password]| {
        tokens.obtain_pair(&login, &password, &client)
    })
    .await?;
    let refresh = pair.refresh.clone();
    let body = TokenPair {
        refresh: pair.refresh,
        access: pair.access,
    };
    Ok(with_refresh(&state, body, Some(&refresh)))
}

#[utoipa::path(
    post, path = "/api/token/refresh/", tag = "tokens",
    summary = "Refresh: a new access token, and a rotated refresh token",
    description = "With rotation on, the presented refresh token is blacklisted and a new one \
        returned. Presenting an already rotated token is reuse: the whole session is revoked. \
        With `TOKENLEDGER_REFRESH_COOKIE` on, a body without `refresh` takes the cookie's token \
        (with `X-CSRF-Token`), and a rotation sets both cookies again.",
    request_body = RefreshRequest,
    params(CsrfHeader),
    responses(
        (status = 200, description = "A new access token (and refresh token, when rotating)", body = RefreshResponse),
        (status = 400, description = "Missing or blank `refresh`, or a body that does not parse", body = BadRequest),
        (status = 401, description = "Token invalid, expired, blacklisted or of the wrong type (`code`: `token_not_valid`); or no active account for it (no `code`)", body = TokenErrorBody),
        CsrfRefused,
        BodyRefused,
    )
)]
pub async fn refresh(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (token, from_cookie) = presented_refresh(&req, payload, &state).await?;
    let refreshed = match run(&state, token, |tokens, token| tokens.refresh(&token)).await {
        Ok(refreshed) => refreshed,
        Err(error) => return refusal(&state, from_cookie, error),
    };
    let refresh = refreshed.refresh.clone();
    let body = RefreshResponse {
        access: refreshed.access,
        refresh: refreshed.refresh,
    };
    Ok(with_refresh(&state, body, refresh.as_deref()))
}

#[utoipa::path(
    post, path = "/api/token/verify/", tag = "tokens",
    summary = "Verify a token of any type",
    request_body = TokenRequest,
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
    // valid token waits for a check by the follower, asked for now, to prove nothing committed
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
    if let Some(decided) = tokens.vouch_soon(&presented, arrived, VOUCH_PATIENCE).await {
        decided?;
        return Ok(HttpResponse::Ok().json(Empty {}));
    }
    crate::http::block(move || tokens.verify_in_database(&presented)).await??;
    Ok(HttpResponse::Ok().json(Empty {}))
}

#[utoipa::path(
    post, path = "/api/token/blacklist/", tag = "tokens",
    summary = "Log out: blacklist a refresh token (and its session's access tokens)",
    description = "With `TOKENLEDGER_REFRESH_COOKIE` on, a body without `refresh` takes the \
        cookie's token (with `X-CSRF-Token`); a logout through the cookie clears both cookies \
        (`Max-Age=0`).",
    request_body = RefreshRequest,
    params(CsrfHeader),
    responses(
        (status = 200, description = "Logged out", body = Empty),
        (status = 400, description = "Missing or blank `refresh`, or a body that does not parse", body = BadRequest),
        (status = 401, description = "Token invalid, expired, already blacklisted, or not a refresh token", body = TokenErrorBody),
        CsrfRefused,
        BodyRefused,
    )
)]
pub async fn blacklist(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (token, from_cookie) = presented_refresh(&req, payload, &state).await?;
    // A body's token that is the cookie's own is a browser's logout too.
    let cookie = state
        .refresh_cookie
        .as_ref()
        .filter(|cookie| from_cookie || cookie.token_in(&req).as_deref() == Some(token.as_str()));
    if let Err(error) = run(&state, token, |tokens, token| tokens.blacklist(&token)).await {
        return refusal(&state, cookie.is_some(), error);
    }
    let mut response = HttpResponse::Ok();
    if let Some(cookie) = cookie {
        cookie.clear(&mut response);
    }
    Ok(response.json(Empty {}))
}

#[utoipa::path(
    post, path = "/api/token/sliding/", tag = "tokens",
    summary = "Log in: obtain a sliding token",
    request_body = TokenObtainRequest,
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
    let login = state.tokens.policy().login.username_field.as_str();
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
    request_body = TokenRequest,
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
