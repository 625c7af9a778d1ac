//! The console's session: a sliding token of ours in an httpOnly cookie (renewed by the
//! `renew_cookie` middleware), the CSRF key and checks.
//!
//! The cookie holds a sliding token minted at sign-in (`TokenService::obtain_sliding`). It is
//! accepted while it verifies, is not revoked and its user is active staff. Once half of its
//! lifetime (`SLIDING_TOKEN_LIFETIME`) has passed it is renewed on the next request
//! (`refresh_sliding`: same jti, so the same CSRF token), up to its `refresh_exp`
//! (`SLIDING_TOKEN_REFRESH_LIFETIME` after sign-in). So the session ends after that long
//! idle, at `refresh_exp` at the latest, or when it is revoked (sign-out, revoke all,
//! deactivation, an admin blacklisting it): revocations are checked in memory on every request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use sha2::{Digest, Sha256};

use super::ConsoleError;
use crate::db::StoreError;
use crate::http::state::AppState;
use crate::http::{Wrapped, Wrapping};
use crate::ledger::TokenType;
use crate::time;
use crate::tokens::TokenService;
use crate::tokens::authenticate::{Authenticated, Credential, Step};
use crate::tokens::claims::Verified;
use crate::tokens::shared_key::shared_key;
use crate::users::Principal;

pub const COOKIE: &str = "tokenledger_console";
const COOKIE_PATH: &str = "/admin/";

/// A signed-in, active staff user.
#[derive(Debug)]
pub struct Signed {
    pub user: Arc<Principal>,
    pub token: Verified,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Signed {
    /// A change may go ahead: its form carries this session's CSRF token and, when the
    /// browser names one, it comes from this host.
    pub fn check_change(
        &self,
        req: &HttpRequest,
        form_csrf: Option<&str>,
    ) -> Result<(), ConsoleError> {
        same_origin(req)?;
        match form_csrf {
            Some(token) if constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(ConsoleError::Csrf),
        }
    }
}

/// The renewed token the response must set as the cookie.
#[derive(Debug, Clone)]
pub struct Renewed {
    pub token: String,
    pub max_age: i64,
}

impl FromRequest for Signed {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed_out = if matches!(*req.method(), Method::GET | Method::HEAD) {
                ConsoleError::SignedOut
            } else {
                ConsoleError::SessionEnded
            };
            match signed_in(&req).await? {
                Some(signed) => Ok(signed),
                None => Err(signed_out),
            }
        })
    }
}

fn app(req: &HttpRequest) -> Result<(web::Data<AppState>, web::Data<Console>), ConsoleError> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let console = req.app_data::<web::Data<Console>>().cloned();
    match (state, console) {
        (Some(state), Some(console)) => Ok((state, console)),
        _ => Err(ConsoleError::Internal("application state missing".into())),
    }
}

/// The session the request's cookie holds, if it is one of active staff.
pub async fn signed_in(req: &HttpRequest) -> Result<Option<Signed>, ConsoleError> {
    match req.cookie(COOKIE) {
        Some(cookie) => session_of(req, cookie.value().to_owned()).await,
        None => Ok(None),
    }
}

/// The session this token is, if it is one of active staff (renewed when due).
pub async fn session_of(req: &HttpRequest, raw: String) -> Result<Option<Signed>, ConsoleError> {
    let (state, console) = app(req)?;
    let authenticated = match state.authenticator.start(&raw, Credential::ConsoleSession) {
        Ok(Step::Known(auth)) => Ok(auth),
        Ok(Step::Read(lookup)) => crate::http::block(move || lookup.finish()).await??,
        Err(refused) => Err(refused),
    };
    let Ok(Authenticated { user, token }) = authenticated else {
        return Ok(None);
    };
    if !user.is_staff {
        return Ok(None);
    }
    let now = time::to_unix(time::now());
    let lifetime = state.tokens.policy().lifetime(TokenType::Sliding);
    if token.exp - now < lifetime / 2 {
        let tokens = state.tokens.clone();
        let presented = raw.clone();
        // A renewal that fails (the token was revoked a moment ago) leaves the session as it
        // is; the next request decides.
        if let Ok(Ok(renewed)) =
            crate::http::block(move || tokens.refresh_sliding(&presented)).await
        {
            let ends = token.numeric("refresh_exp").unwrap_or(token.exp);
            req.extensions_mut().insert(Renewed {
                token: renewed,
                max_age: ends - now,
            });
        }
    }
    let csrf = console.csrf_token(&token.jti);
    Ok(Some(Signed { user, token, csrf }))
}

/// The session cookie: httpOnly (no page script reads it), SameSite=Strict (no other site's
/// page sends it), scoped to the console, Secure when the request came over HTTPS.
pub fn cookie(token: String, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, token)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age.max(0)))
        .finish()
}

/// The cookie that removes the session cookie.
pub fn removal(secure: bool) -> Cookie<'static> {
    cookie(String::new(), 0, secure)
}

pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A browser names the page a form was sent from: `Origin` (every POST in current
/// browsers), else `Referer`. When either is present its host must be ours; `Origin: null`
/// (sandboxed or privacy-redirected) is refused.
pub fn same_origin(req: &HttpRequest) -> Result<(), ConsoleError> {
    let ours = req.connection_info().host().to_ascii_lowercase();
    for name in [header::ORIGIN, header::REFERER] {
        let Some(value) = req.headers().get(&name) else {
            continue;
        };
        let value = value.to_str().map_err(|_| ConsoleError::Csrf)?;
        let host = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
            .ok_or(ConsoleError::Csrf)?;
        return if host.eq_ignore_ascii_case(&ours) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        };
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The console's own secret: the key of its CSRF tokens, kept in the database so that every
/// instance (and every restart) accepts the forms the others rendered.
pub struct Console {
    csrf_key: String,
}

impl Console {
    pub fn load(tokens: &TokenService) -> Result<Self, StoreError> {
        Ok(Self {
            csrf_key: shared_key(tokens.ledger(), "console_csrf_key")?,
        })
    }

    /// The CSRF token of the session whose token has this jti: the same for the session's
    /// whole life (a sliding token keeps its jti when renewed), useless for any other.
    pub fn csrf_token(&self, jti: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(b"tokenledger console csrf\0");
        hash.update(self.csrf_key.as_bytes());
        hash.update(b"\0");
        hash.update(jti.as_bytes());
        hex::encode(hash.finalize())
    }
}

/// A renewed session token, left in the request by [`Signed`], goes out as a new cookie.
pub fn renew_cookie<S: Wrapped<BoxBody>>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Wrapping<BoxBody>> + use<S> {
    let response = service.call(req);
    async move {
        let mut response = response.await?;
        let renewed = response.request().extensions().get::<Renewed>().cloned();
        if let Some(renewed) = renewed {
            let secure = is_https(response.request());
            let cookie = cookie(renewed.token, renewed.max_age, secure);
            response.response_mut().add_cookie(&cookie)?;
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_form_from_another_site_is_refused() {
        let ours = TestRequest::post()
            .insert_header((header::HOST, "console.example:8000"))
            .insert_header((header::ORIGIN, "http://console.example:8000"))
            .to_http_request();
        assert!(same_origin(&ours).is_ok());
        for origin in [
            "https://evil.example",
            "null",
            "http://console.example:8001",
        ] {
            let theirs = TestRequest::post()
                .insert_header((header::HOST, "console.example:8000"))
                .insert_header((header::ORIGIN, origin))
                .to_http_request();
            assert!(same_origin(&theirs).is_err(), "{origin}");
        }
        let referred = TestRequest::post()
            .insert_header((header::HOST, "console.example:8000"))
            .insert_header((
                header::REFERER,
                "https://evil.example/console.example:8000/",
            ))
            .to_http_request();
        assert!(same_origin(&referred).is_err());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
