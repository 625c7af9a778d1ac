//! The refresh token in a cookie (contract section 8, "Refresh token in a cookie"): browser apps
//! keep it where no page script can read it. The cookie is HttpOnly, SameSite=Strict and
//! scoped to `/api/token/`; a second cookie, `<name>_csrf`, is readable by the page, which
//! echoes it in `X-CSRF-Token` (double submit): another origin cannot read it, so a forged
//! request that carries the cookie cannot carry the header.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::HeaderName;
use actix_web::{HttpRequest, HttpResponseBuilder};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::Settings;

pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");
const PATH: &str = "/api/token/";

#[derive(Debug, Clone)]
pub struct RefreshCookie {
    name: String,
    csrf_name: String,
    secure: bool,
    max_age: i64,
    /// `REFRESH_COOKIE_ONLY`: `refresh` is left out of JSON bodies.
    pub only: bool,
}

impl RefreshCookie {
    /// `None` unless `REFRESH_COOKIE` names the cookie.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let name = settings.refresh_cookie.clone()?;
        Some(Self {
            csrf_name: format!("{name}_csrf"),
            name,
            secure: settings.cookie_secure,
            max_age: i64::try_from(settings.refresh_token_lifetime.as_secs()).unwrap_or(i64::MAX),
            only: settings.refresh_cookie_only,
        })
    }

    /// The refresh token the request's cookie holds, once its `X-CSRF-Token` matches the CSRF
    /// cookie (compared in constant time). No cookie: `None`, and the body's rules apply.
    pub fn presented(&self, req: &HttpRequest) -> Result<Option<String>, ApiError> {
        let Some(token) = self.token_in(req) else {
            return Ok(None);
        };
        let csrf = req.cookie(&self.csrf_name);
        let echoed = req.headers().get(CSRF_HEADER);
        match (csrf, echoed) {
            (Some(csrf), Some(echoed))
                if !csrf.value().is_empty()
                    && bool::from(csrf.value().as_bytes().ct_eq(echoed.as_bytes())) =>
            {
                Ok(Some(token))
            }
            _ => Err(ApiError::CsrfFailed),
        }
    }

    /// The refresh token in the request's cookie, checked or not.
    pub fn token_in(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(&self.name)
            .map(|cookie| cookie.value().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// Both cookies for a newly issued refresh token, with a fresh CSRF value.
    pub fn set(&self, response: &mut HttpResponseBuilder, refresh: &str) {
        let mut csrf = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut csrf);
        response.cookie(self.refresh_cookie(refresh.to_owned(), self.max_age));
        response.cookie(self.csrf_cookie(hex::encode(csrf), self.max_age));
    }

    /// Both cookies removed (`Max-Age=0`): the logout of a browser.
    pub fn clear(&self, response: &mut HttpResponseBuilder) {
        response.cookie(self.refresh_cookie(String::new(), 0));
        response.cookie(self.csrf_cookie(String::new(), 0));
    }

    pub fn removals(&self) -> [Cookie<'static>; 2] {
        [
            self.refresh_cookie(String::new(), 0),
            self.csrf_cookie(String::new(), 0),
        ]
    }

    fn refresh_cookie(&self, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build(self.name.clone(), value)
            .http_only(true)
            .same_site(SameSite::Strict)
            .path(PATH)
            .max_age(Duration::seconds(max_age))
            .secure(self.secure)
            .finish()
    }

    fn csrf_cookie(&self, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build(self.csrf_name.clone(), value)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(Duration::seconds(max_age))
            .secure(self.secure)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::HttpResponse;
    use actix_web::test::TestRequest;

    use super::*;

    fn cookie() -> RefreshCookie {
        let settings = Settings {
            refresh_cookie: Some("tl_refresh".into()),
            ..Settings::default()
        };
        RefreshCookie::from_settings(&settings).expect("configured")
    }

    fn set_cookies(response: &HttpResponse) -> Vec<String> {
        response
            .headers()
            .get_all(actix_web::http::header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_refresh_cookie_is_httponly_strict_and_scoped_to_the_token_paths() {
        let mut builder = HttpResponse::Ok();
        cookie().set(&mut builder, "a.b.c");
        let cookies = set_cookies(&builder.finish());
        let refresh = cookies
            .iter()
            .find(|c| c.starts_with("tl_refresh="))
            .unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/api/token/",
            "Max-Age=86400",
            "Secure",
        ] {
            assert!(refresh.contains(part), "{refresh}: {part}");
        }
        let csrf = cookies
            .iter()
            .find(|c| c.starts_with("tl_refresh_csrf="))
            .unwrap();
        assert!(!csrf.contains("HttpOnly"), "{csrf}");
        assert!(
            csrf.contains("Path=/;") || csrf.ends_with("Path=/"),
            "{csrf}"
        );
        assert!(
            csrf.contains("SameSite=Strict") && csrf.contains("Secure"),
            "{csrf}"
        );
    }

    #[test]
    fn without_the_matching_header_the_cookie_is_refused() {
        let cookie = cookie();
        let with = |header: Option<&str>, csrf: &str| {
            let mut req = TestRequest::default()
                .cookie(Cookie::new("tl_refresh", "a.b.c"))
                .cookie(Cookie::new("tl_refresh_csrf", csrf.to_owned()));
            if let Some(header) = header {
                req = req.insert_header((CSRF_HEADER, header));
            }
            cookie.presented(&req.to_http_request())
        };
        assert!(matches!(with(None, "x"), Err(ApiError::CsrfFailed)));
        assert!(matches!(with(Some("y"), "x"), Err(ApiError::CsrfFailed)));
        assert!(matches!(with(Some(""), ""), Err(ApiError::CsrfFailed)));
        assert_eq!(with(Some("x"), "x").unwrap().as_deref(), Some("a.b.c"));
        let bare = TestRequest::default().to_http_request();
        assert_eq!(cookie.presented(&bare).unwrap(), None);
    }
}
