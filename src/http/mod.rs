//! HTTP: routes, handlers (one file per area), body parsing, bearer authentication, and the
//! single mapping of errors to the wire contract. Handlers call the domain (`tokens`,
//! `users`) and never touch the database themselves.

pub mod bearer;
pub mod body;
pub mod error;
pub mod health;
pub mod me;
pub mod metadata;
pub mod schemas;
pub mod state;
pub mod tokens;

use actix_web::dev::{HttpServiceFactory, Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, web};

pub use error::ApiError;
pub use state::AppState;

use bearer::Authenticated;

const TOKEN_ENDPOINT_METHODS: &str = "POST, OPTIONS";
const ME_METHODS: &str = "GET, HEAD, OPTIONS";

/// Every route of the service (Swagger UI is mounted by `startup`).
pub fn configure(cfg: &mut web::ServiceConfig) {
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
            .route(web::get().to(health::healthz))
            .route(web::head().to(health::healthz)),
    )
    .service(web::resource("/readyz").route(web::get().to(health::readyz)));
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

/// Every 401 carries `WWW-Authenticate` with the first accepted scheme, as the reference.
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
