//! HTTP: the one list of routes (`routes.rs`), which also makes the OpenAPI document's paths;
//! handlers (one file per area); body and query parsing; the extractors (all over
//! `tokens::Authenticator`); and the mapping of errors to the wire contract (`error.rs`; the
//! console's HTML pages in `console/error.rs`). Handlers call the domain (`tokens`,
//! `users`) and never touch the database themselves; `src/house_rules.rs` checks that.

pub mod admin;
pub mod audit;
pub mod bearer;
pub mod body;
pub mod client;
pub mod console;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod feed;
pub mod forward_auth;
pub mod jwks;
pub mod me;
pub mod metadata;
pub mod metrics;
pub mod oauth;
pub mod operations;
pub mod origin;
pub mod params;
pub mod refresh_cookie;
pub mod request_metrics;
pub mod request_span;
pub mod routes;
pub mod schemas;
pub mod sessions;
pub mod state;
pub mod tokens;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpResponse, web};

pub use error::ApiError;
pub use state::AppState;

/// What a `wrap_fn` middleware wraps: the rest of the app.
pub trait Wrapped<B>:
    Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B> Wrapped<B> for S where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

/// What a `wrap_fn` middleware answers.
pub type Wrapping<B> = Result<ServiceResponse<B>, actix_web::Error>;

/// Unknown paths answer JSON like every other error.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Browsers on `origins` (`*`: any) may call the API: preflights are answered, and answers
/// carry `Access-Control-Allow-Origin`. Tokens travel in `Authorization`; only with the refresh
/// cookie on (`credentials`) are listed origins (never `*`) allowed to send cookies.
pub fn cors(origins: &[String], credentials: bool) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            refresh_cookie::CSRF_HEADER,
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600)
        // As django-cors-headers: another origin is served without CORS headers (its browser
        // then withholds the answer), not refused with a body outside the contract.
        .block_on_origin_mismatch(false);
    // actix-cors refuses credentials with a wildcard: with `*` in the list, none at all.
    if credentials && !origins.iter().any(|origin| origin == "*") {
        cors = cors.supports_credentials();
    }
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin().send_wildcard()
        } else {
            // Settings::validate refused anything that is not an origin.
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// `web::block` keeping the request's span: what the domain logs on the blocking thread carries
/// the request's id like the rest of its lines.
pub async fn block<F, R>(work: F) -> Result<R, actix_web::error::BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work)).await
}

/// `X-Request-Id` on every response: the id the request's log lines carry, for a client to quote.
pub fn name_request<S: Wrapped<B>, B>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Wrapping<B>> + use<S, B> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .and_then(|id| header::HeaderValue::from_str(&id.to_string()).ok());
    let response = service.call(req);
    async move {
        let mut response = response.await?;
        if let Some(id) = id {
            response
                .headers_mut()
                .insert(header::HeaderName::from_static("x-request-id"), id);
        }
        Ok(response)
    }
}

pub fn add_challenge<S: Wrapped<B>, B>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Wrapping<B>> + use<S, B> {
    let challenge = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.www_authenticate.clone());
    let response = service.call(req);
    async move {
        let mut response = response.await?;
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(challenge) = challenge
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        Ok(response)
    }
}
