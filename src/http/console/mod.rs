//! The admin console: server-rendered HTML at `/admin/` for staff, one file per page.
//!
//! Sign-in mints a sliding token through the token service (so the session is in the ledger
//! like any other) and keeps it in an httpOnly, SameSite=Strict cookie scoped to `/admin/`.
//! Every change is a POST that must carry the session's CSRF token (a keyed hash of the
//! session's jti) and, when the browser sends one, an `Origin` (or `Referer`) of this host.
//! Handlers call the same domain functions as the JSON admin API.

pub mod ledger;
pub mod lineage;
pub mod session;
pub mod signin;
pub mod tokens;
pub mod users;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use chrono::{DateTime, NaiveDateTime};
use sha2::{Digest, Sha256};

use crate::db::StoreError;
use crate::tokens::TokenService;
use crate::tokens::shared_key::shared_key;
use crate::users::UserError;

pub use session::Signed;

/// Where the console lives; its cookies are scoped to it.
pub const PREFIX: &str = "/admin/";
const CSS: &str = include_str!("../../../templates/console/static/console.css");

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

/// Every console route, under `/admin/`.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/admin")
        .app_data(web::PathConfig::default().error_handler(|_, _| ConsoleError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|_, _| ConsoleError::NotFound.into()))
        .wrap_fn(renew_cookie)
        .wrap(
            DefaultHeaders::new()
                .add((
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                     frame-ancestors 'none'; base-uri 'none'",
                ))
                .add((header::X_FRAME_OPTIONS, "DENY"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::REFERRER_POLICY, "same-origin"))
                .add((header::CACHE_CONTROL, "no-store")),
        )
        .route("", web::get().to(home))
        .route("/", web::get().to(home))
        .route("/static/console.css", web::get().to(css))
        .route("/signin/", web::get().to(signin::form))
        .route("/signin/", web::post().to(signin::submit))
        .route("/signout/", web::post().to(signin::signout))
        .route("/tokens/", web::get().to(tokens::list))
        .route("/tokens/{jti}/blacklist/", web::get().to(tokens::confirm))
        .route(
            "/tokens/{jti}/blacklist/",
            web::post().to(tokens::blacklist),
        )
        .route("/users/", web::get().to(users::list))
        .route("/users/{id}/", web::get().to(users::detail))
        .route("/users/{id}/{action}/", web::get().to(users::confirm))
        .route("/users/{id}/{action}/", web::post().to(users::act))
        .route("/ledger/", web::get().to(ledger::timeline))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ConsoleError::NotFound)
        }))
}

async fn home() -> HttpResponse {
    see_other("/admin/tokens/")
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(CSS)
}

/// A renewed session token, left in the request by [`Signed`], goes out as a new cookie.
fn renew_cookie<S>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let response = service.call(req);
    async move {
        let mut response = response.await?;
        let renewed = response
            .request()
            .extensions()
            .get::<session::Renewed>()
            .cloned();
        if let Some(renewed) = renewed {
            let secure = session::is_https(response.request());
            let cookie = session::cookie(renewed.token, renewed.max_age, secure);
            response.response_mut().add_cookie(&cookie)?;
        }
        Ok(response)
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Renders a page; a template that fails to render is a 500, never a panic.
pub fn page(status: StatusCode, template: &impl Template) -> Result<HttpResponse, ConsoleError> {
    let html = template
        .render()
        .map_err(|err| ConsoleError::Internal(err.to_string()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// What every signed-in page shows around its content.
pub struct Layout {
    pub username: String,
    pub csrf: String,
    /// The nav entry to mark as the current page.
    pub current: &'static str,
}

impl Layout {
    pub fn of(signed: &Signed, current: &'static str) -> Self {
        Self {
            username: signed.user.username.clone(),
            csrf: signed.csrf.clone(),
            current,
        }
    }
}

/// Why a console request failed, as a page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A GET without a valid staff session: to the sign-in page.
    #[error("signed out")]
    SignedOut,
    /// A change without a valid staff session.
    #[error("Your session has ended. Sign in again.")]
    SessionEnded,
    #[error("The form was refused: it did not come from this console's page (CSRF check).")]
    Csrf,
    #[error("Not found.")]
    NotFound,
    #[error("The service is unavailable; try again later.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) | StoreError::Conflict => ConsoleError::Unavailable,
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<UserError> for ConsoleError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::NotFound(_) => ConsoleError::NotFound,
            UserError::Store(err) => err.into(),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ConsoleError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ConsoleError::Internal(err.to_string())
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::SessionEnded | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignedOut = self {
            return see_other("/admin/signin/");
        }
        if let ConsoleError::Internal(cause) = self {
            tracing::error!(%cause, "admin console");
        }
        let (title, message) = match self {
            ConsoleError::Internal(_) => ("Server error", "A server error occurred.".to_owned()),
            ConsoleError::NotFound => ("Not found", self.to_string()),
            other => ("Refused", other.to_string()),
        };
        let html = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| "A server error occurred.".to_owned());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

/// Query or form pairs, as sent (a body that does not decode counts as empty).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn query(req: &HttpRequest) -> Self {
        Self(serde_urlencoded::from_str(req.query_string()).unwrap_or_default())
    }

    pub fn form(body: &[u8]) -> Self {
        Self(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The last non-blank value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }
}

/// Filters checked one by one: bad values become messages on the page, never a 500.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn choice<T: std::str::FromStr>(&mut self, fields: &Fields, name: &str) -> Option<T> {
        let raw = fields.get(name)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.0
                    .push(format!("{name}: \"{raw}\" is not a valid choice."));
                None
            }
        }
    }

    pub fn integer(&mut self, fields: &Fields, name: &str) -> Option<i64> {
        let raw = fields.get(name)?;
        match raw.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.0.push(format!("{name}: \"{raw}\" is not an integer."));
                None
            }
        }
    }

    /// RFC 3339, or what a `datetime-local` input sends (`2026-11-30T14:22[:05]`), as UTC.
    pub fn instant(&mut self, fields: &Fields, name: &str) -> Option<NaiveDateTime> {
        let raw = fields.get(name)?;
        let parsed = DateTime::parse_from_rfc3339(raw)
            .map(|at| at.naive_utc())
            .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"));
        match parsed {
            Ok(at) => Some(at),
            Err(_) => {
                self.0.push(format!(
                    "{name}: \"{raw}\" is not a time (use 2026-11-30T14:22 in UTC, or RFC 3339)."
                ));
                None
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// A time as the console shows it: UTC, to the second.
pub fn when(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The value of a `datetime-local` input for this time.
pub fn input_time(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The first characters of a jti or sid, enough to tell them apart on a page.
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A query string of the non-empty pairs, for paging links that keep the filters.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

/// Messages a redirect may ask a page to show (never text from the request itself).
pub fn notice(fields: &Fields) -> Option<&'static str> {
    Some(match fields.get("notice")? {
        "blacklisted" => "The token is blacklisted.",
        "activated" => "The user is active.",
        "deactivated" => "The user is deactivated and every token of it is revoked.",
        "revoked" => "Every token of the user is revoked.",
        "signed_out" => "You are signed out; the console's session is revoked.",
        _ => return None,
    })
}

/// A `<select>` of a filter: its options, the chosen one marked.
pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<(&'static str, bool)>,
}

impl Select {
    pub fn new(
        name: &'static str,
        label: &'static str,
        values: impl IntoIterator<Item = &'static str>,
        fields: &Fields,
    ) -> Self {
        let chosen = fields.get(name);
        Self {
            name,
            label,
            options: values
                .into_iter()
                .map(|value| (value, chosen == Some(value)))
                .collect(),
        }
    }
}
