//! Sign-in and sign-out: the session is a sliding token of ours, recorded in the ledger.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{self, Signed};
use super::{ConsoleError, Fields, notice, page, see_other};
use crate::http::client::client_address;
use crate::http::state::AppState;
use crate::ledger::TokenType;
use crate::tokens::{AuthError, acting};

#[derive(Template)]
#[template(path = "console/signin.html")]
struct SignIn {
    login_label: &'static str,
    login_field: &'static str,
    login: String,
    message: Option<String>,
    notice: Option<&'static str>,
}

fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    login: String,
    message: Option<String>,
    notice: Option<&'static str>,
) -> Result<HttpResponse, ConsoleError> {
    let login_field = state.tokens.policy().login.username_field.as_str();
    let login_label = if login_field == "email" {
        "Email"
    } else {
        "Username"
    };
    page(
        status,
        &SignIn {
            login_label,
            login_field,
            login,
            message,
            notice,
        },
    )
}

pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if session::signed_in(&req).await?.is_some() {
        return Ok(see_other("/admin/tokens/"));
    }
    let fields = Fields::query(&req);
    sign_in_page(&state, StatusCode::OK, String::new(), None, notice(&fields))
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    // No session yet to bind a CSRF token to: a sign-in posted from another site is refused
    // by its Origin, so nobody can sign a browser into an account of theirs.
    session::same_origin(&req)?;
    let fields = Fields::form(&body);
    let login_field = state.tokens.policy().login.username_field.as_str();
    let login = fields.text(login_field);
    let password = fields.get("password").map(str::to_owned);
    let Some(password) = password.filter(|_| !login.is_empty()) else {
        let message = "Enter both your login and your password.".to_owned();
        return sign_in_page(&state, StatusCode::BAD_REQUEST, login, Some(message), None);
    };
    let tokens = state.tokens.clone();
    let wanted = login.clone();
    // The console's sign-in is a login like the API's: throttled by the same counts.
    let client = client_address(&req, &state.trusted_proxies);
    let minted =
        crate::http::block(move || tokens.obtain_sliding(&wanted, &password, &client)).await?;
    let token = match minted {
        Ok(token) => token,
        Err(AuthError::Store(err)) => return Err(err.into()),
        Err(AuthError::Signing(cause)) => return Err(ConsoleError::Internal(cause)),
        Err(throttled @ AuthError::Throttled { retry_after }) => {
            let message = Some(throttled.to_string());
            let mut page =
                sign_in_page(&state, StatusCode::TOO_MANY_REQUESTS, login, message, None)?;
            page.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after),
            );
            return Ok(page);
        }
        Err(refused) => {
            let message = Some(refused.to_string());
            return sign_in_page(&state, StatusCode::UNAUTHORIZED, login, message, None);
        }
    };
    let verified = state
        .tokens
        .decode(&token, Some(TokenType::Sliding))
        .map_err(|err| ConsoleError::Internal(err.to_string()))?;
    let secure = session::is_https(&req);
    let ends = verified.numeric("refresh_exp").unwrap_or(verified.exp);
    let max_age = ends - crate::time::to_unix(crate::time::now());
    // Only staff get in: check the session as every later request will.
    if session::session_of(&req, token.clone()).await?.is_none() {
        // Not staff: the token just minted is revoked at once, and nothing is shown.
        if let (Some(user_id), Some(sid)) = (verified.user_id(), verified.sid()) {
            let (tokens, sid) = (state.tokens.clone(), sid.to_owned());
            crate::http::block(move || tokens.revoke_session(user_id, &sid, "console")).await??;
        }
        let message = Some("Only staff accounts can use the admin console.".to_owned());
        return sign_in_page(&state, StatusCode::FORBIDDEN, login, message, None);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/admin/tokens/"))
        .cookie(session::cookie(token, max_age, secure))
        .finish())
}

/// Sign-out revokes the session's token through the ledger (reason `logout`, as the API's
/// session revocation) and drops the cookie.
pub async fn signout(
    req: HttpRequest,
    body: web::Bytes,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let fields = Fields::form(&body);
    signed.check_change(&req, fields.get("csrf"))?;
    if let Some(sid) = signed.token.sid().map(str::to_owned) {
        let (tokens, user) = (state.tokens.clone(), signed.user.clone());
        crate::http::block(move || acting::revoke_own_session(&tokens, &user, &sid)).await??;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            "/admin/signin/?notice=signed_out",
        ))
        .cookie(session::removal(session::is_https(&req)))
        .finish())
}
