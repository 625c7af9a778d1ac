//! The admin console: server-rendered HTML at `/admin/` for staff, one file per page.
//!
//! Sign-in mints a sliding token through the token service (so the session is in the ledger
//! like any other) and keeps it in an httpOnly, SameSite=Strict cookie scoped to `/admin/`.
//! Every change is a POST that must carry the session's CSRF token (a keyed hash of the
//! session's jti) and, when the browser sends one, an `Origin` (or `Referer`) of this host.
//! Handlers call the same domain functions as the JSON admin API.

mod error;
pub mod ledger;
pub mod lineage;
pub mod session;
pub mod signin;
pub mod tokens;
pub mod users;
mod widgets;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use askama::Template;

pub use crate::http::params::Pairs as Fields;
pub use error::ConsoleError;
pub use session::{Console, Signed};
pub use widgets::{Filters, Select, input_time, notice, query_string, short, when};

/// Where the console lives; its cookies are scoped to it.
pub const PREFIX: &str = "/admin/";
const CSS: &str = include_str!("../../../templates/console/static/console.css");

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
        .wrap_fn(session::renew_cookie)
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
