//! HTTP: routes, handlers (one file per area), body and query parsing, the extractors (all
//! over `tokens::Authenticator`), and the mapping of errors to the wire contract (`error.rs`;
//! the console's HTML pages in `console/error.rs`). Handlers call the domain (`tokens`,
//! `users`) and never touch the database themselves; `src/house_rules.rs` checks that.

pub mod admin;
pub mod audit;
pub mod bearer;
pub mod body;
pub mod client;
pub mod console;
pub mod discovery;
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
pub mod schemas;
pub mod sessions;
pub mod state;
pub mod tokens;

use actix_web::dev::{HttpServiceFactory, Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, Handler, HttpMessage, HttpRequest, HttpResponse, Responder, web};

pub use error::ApiError;
pub use state::AppState;

use bearer::Authenticated;

const TOKEN_ENDPOINT_METHODS: &str = "POST, OPTIONS";
const ME_METHODS: &str = "GET, HEAD, OPTIONS";

/// Every route of the service (Swagger UI is mounted by `startup`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // A path segment that does not parse (`/api/admin/users/abc/…`) matches no URL, as with
    // Django's `<int:id>`: a JSON 404 like any unknown path, not actix's plain-text one.
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
    // The admin console's HTML pages (not in the OpenAPI document).
    cfg.service(console::scope());
    cfg.service(token_endpoint(
        "/api/token/",
        tokens::obtain_pair,
        metadata::obtain_pair,
    ))
    .service(token_endpoint(
        "/api/token/refresh/",
        tokens::refresh,
        metadata::refresh,
    ))
    .service(token_endpoint(
        "/api/token/verify/",
        tokens::verify,
        metadata::verify,
    ))
    .service(token_endpoint(
        "/api/token/blacklist/",
        tokens::blacklist,
        metadata::blacklist,
    ))
    .service(token_endpoint(
        "/api/token/sliding/",
        tokens::obtain_sliding,
        metadata::obtain_sliding,
    ))
    .service(token_endpoint(
        "/api/token/sliding/refresh/",
        tokens::refresh_sliding,
        metadata::refresh_sliding,
    ))
    .service(
        web::resource("/api/me/")
            .wrap(DefaultHeaders::new().add((header::ALLOW, ME_METHODS)))
            .route(web::get().to(me::me))
            .route(web::head().to(me::me))
            // As in the reference, authentication comes before the method check.
            .route(
                web::method(Method::OPTIONS)
                    .to(|_: Authenticated| async { metadata_response(metadata::me()) }),
            )
            .default_service(web::to(|_: Authenticated, req: HttpRequest| async move {
                method_not_allowed(req)
            })),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(operations::healthz))
            .route(web::head().to(operations::healthz)),
    )
    .service(web::resource("/readyz").route(web::get().to(operations::readyz)))
    .service(forward_auth::resource())
    .service(
        web::resource("/.well-known/oauth-authorization-server")
            .route(web::get().to(discovery::metadata))
            .route(web::head().to(discovery::metadata)),
    )
    .service(
        web::resource("/.well-known/jwks.json")
            .route(web::get().to(jwks::jwks))
            .route(web::head().to(jwks::jwks)),
    )
    .service(web::resource("/metrics").route(web::get().to(operations::metrics)))
    .service(protected(
        "/api/me/sessions/",
        "GET, HEAD",
        vec![
            web::get().to(sessions::list),
            web::head().to(sessions::list),
        ],
    ))
    .service(protected(
        "/api/me/sessions/{sid}/",
        "DELETE",
        vec![web::delete().to(sessions::revoke)],
    ))
    .service(protected(
        "/api/logout/all/",
        "POST",
        vec![web::post().to(sessions::logout_all)],
    ))
    .service(protected(
        "/api/me/password/",
        "POST",
        vec![web::post().to(sessions::change_password)],
    ))
    .service(protected(
        "/api/admin/users/",
        "POST",
        vec![web::post().to(admin::create_user)],
    ))
    .service(protected(
        "/api/admin/users/{id}/deactivate/",
        "POST",
        vec![web::post().to(admin::deactivate)],
    ))
    .service(protected(
        "/api/admin/users/{id}/activate/",
        "POST",
        vec![web::post().to(admin::activate)],
    ))
    .service(protected(
        "/api/admin/users/{id}/revoke/",
        "POST",
        vec![web::post().to(admin::revoke)],
    ))
    .service(protected(
        "/api/admin/ledger/",
        "GET, HEAD",
        vec![
            web::get().to(audit::ledger_events),
            web::head().to(audit::ledger_events),
        ],
    ))
    .service(protected(
        "/api/admin/tokens/",
        "GET, HEAD",
        vec![web::get().to(audit::tokens), web::head().to(audit::tokens)],
    ))
    .service(protected(
        "/api/admin/tokens/{jti}/blacklist/",
        "POST",
        vec![web::post().to(admin::blacklist_token)],
    ))
    .service(protected(
        "/api/admin/tokens/{jti}/history/",
        "GET, HEAD",
        vec![
            web::get().to(audit::token_history),
            web::head().to(audit::token_history),
        ],
    ))
    .service(protected(
        "/api/admin/users/{id}/tokens/",
        "GET, HEAD",
        vec![
            web::get().to(audit::tokens_at),
            web::head().to(audit::tokens_at),
        ],
    ))
    .service(protected(
        "/api/admin/maintenance/flush-expired/",
        "POST",
        vec![web::post().to(admin::flush_expired)],
    ))
    .service(protected(
        "/api/revocations/",
        "GET",
        vec![web::get().to(feed::revocations)],
    ))
    .service(protected(
        "/api/revocations/stream",
        "GET",
        vec![web::get().to(feed::stream)],
    ))
    .service(protected(
        "/oauth/introspect",
        "POST",
        vec![web::post().to(oauth::introspect)],
    ))
    .service(
        web::resource("/oauth/revoke")
            .wrap(DefaultHeaders::new().add((header::ALLOW, "POST")))
            .route(web::post().to(oauth::revoke))
            .default_service(web::to(|req: HttpRequest| async move {
                method_not_allowed(req)
            })),
    );
}

/// A resource that needs a bearer token: as in the reference, authentication comes before
/// the method check, so an anonymous caller learns nothing from a 405.
fn protected(
    path: &'static str,
    allow: &'static str,
    routes: Vec<actix_web::Route>,
) -> impl HttpServiceFactory {
    let mut resource = web::resource(path);
    for route in routes {
        resource = resource.route(route);
    }
    resource
        .wrap(DefaultHeaders::new().add((header::ALLOW, allow)))
        .default_service(web::to(|_: Authenticated, req: HttpRequest| async move {
            method_not_allowed(req)
        }))
}

fn token_endpoint<F, Args>(
    path: &'static str,
    handler: F,
    metadata: fn() -> String,
) -> impl HttpServiceFactory
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .wrap(DefaultHeaders::new().add((header::ALLOW, TOKEN_ENDPOINT_METHODS)))
        .route(web::post().to(handler))
        .route(
            web::method(Method::OPTIONS).to(move || async move { metadata_response(metadata()) }),
        )
        .default_service(web::to(|req: HttpRequest| async move {
            method_not_allowed(req)
        }))
}

fn metadata_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(
        req.method().as_str().to_ascii_uppercase(),
    ))
}

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
pub fn name_request<S, B>(
    req: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<
            actix_web::dev::ServiceRequest,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
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

pub fn add_challenge<S, B>(
    req: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<
            actix_web::dev::ServiceRequest,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
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
