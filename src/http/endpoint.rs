//! One documented endpoint. Its resource is mounted at the path its handler's
//! `#[utoipa::path]` names and answers the methods that annotation names, and the annotation's
//! operation goes into the OpenAPI document as the endpoint is mounted
//! (`utoipa_actix_web`'s `OpenApiFactory`). `routes.rs` mounts the API only this way, so a
//! route cannot be served undocumented, nor documented at a path it is not served at.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::{Method, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, Route, web};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa_actix_web::OpenApiFactory;

use super::bearer::Authenticated;
use super::error::ApiError;

/// What a method the endpoint does not serve gets.
#[derive(Clone, Copy)]
enum Others {
    /// actix's own bare 405 (the operational endpoints, which SimpleJWT does not have).
    Bare,
    /// The contract's JSON 405, with `Allow` on every answer, as Django REST framework does.
    Refused,
    /// The same, but only after the bearer token is checked, as the reference does: an
    /// anonymous caller learns nothing from a 405.
    RefusedAfterAuth,
}

/// `OPTIONS` answered with Django REST framework's description of the view.
enum Options {
    None,
    Metadata(fn() -> String),
    MetadataAfterAuth(fn() -> String),
}

pub struct Endpoint {
    path: String,
    routes: Vec<Route>,
    allow: Vec<&'static str>,
    others: Others,
    options: Options,
    documented: Operations,
}

/// An annotation's operations and the schemas they name, taken when its route is built and
/// handed to the document when it is mounted.
struct Operations {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Operations {
    fn of<P: OpenApiFactory>(operation: &P) -> Self {
        let mut schemas = Vec::new();
        operation.schemas(&mut schemas);
        Self {
            paths: operation.paths(),
            schemas,
        }
    }

    fn paths(&self) -> Paths {
        self.paths.clone()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(self.schemas.iter().cloned());
    }
}

impl Endpoint {
    /// `handler` at `operation`'s path, answering each method `operation` documents.
    pub fn new<P, F, Args>(operation: P, handler: F) -> Self
    where
        P: utoipa::Path + OpenApiFactory,
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let mut endpoint = Self {
            path: P::path(),
            routes: Vec::new(),
            allow: Vec::new(),
            others: Others::Bare,
            options: Options::None,
            documented: Operations::of(&operation),
        };
        for method in P::methods() {
            endpoint = endpoint.route(&method_of(&method), handler.clone());
        }
        endpoint
    }

    /// `handler` at `operation`'s path, for its documented methods and `HEAD` (Django answers
    /// `HEAD` wherever it answers `GET`; the document leaves it implied).
    pub fn with_head<P, F, Args>(operation: P, handler: F) -> Self
    where
        P: utoipa::Path + OpenApiFactory,
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        Self::new(operation, handler.clone()).route(&HEAD, handler)
    }

    /// Other methods get the contract's JSON 405, and every answer carries `Allow`.
    pub fn refusing_others(mut self) -> Self {
        self.others = Others::Refused;
        self
    }

    /// As `refusing_others`, after the bearer token is checked.
    pub fn refusing_others_after_auth(mut self) -> Self {
        self.others = Others::RefusedAfterAuth;
        self
    }

    /// `OPTIONS` answers the view's metadata, as Django REST framework does.
    pub fn describing(mut self, metadata: fn() -> String) -> Self {
        self.options = Options::Metadata(metadata);
        self.allow.push("OPTIONS");
        self
    }

    /// As `describing`, after the bearer token is checked (as `/api/me/` does in the reference).
    pub fn describing_after_auth(mut self, metadata: fn() -> String) -> Self {
        self.options = Options::MetadataAfterAuth(metadata);
        self.allow.push("OPTIONS");
        self
    }

    fn route<F, Args>(mut self, method: &(Method, &'static str), handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.routes.push(web::method(method.0.clone()).to(handler));
        self.allow.push(method.1);
        self
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        let mut resource = web::resource(self.path);
        for route in self.routes {
            resource = resource.route(route);
        }
        resource = match self.options {
            Options::None => resource,
            Options::Metadata(metadata) => resource.route(
                web::method(Method::OPTIONS)
                    .to(move || async move { metadata_response(metadata()) }),
            ),
            Options::MetadataAfterAuth(metadata) => resource.route(
                web::method(Method::OPTIONS)
                    .to(move |_: Authenticated| async move { metadata_response(metadata()) }),
            ),
        };
        let allow = DefaultHeaders::new().add((header::ALLOW, self.allow.join(", ")));
        match self.others {
            Others::Bare => resource.register(config),
            Others::Refused => resource
                .wrap(allow)
                .default_service(web::to(|req: HttpRequest| async move {
                    method_not_allowed(req)
                }))
                .register(config),
            Others::RefusedAfterAuth => resource
                .wrap(allow)
                .default_service(web::to(|_: Authenticated, req: HttpRequest| async move {
                    method_not_allowed(req)
                }))
                .register(config),
        }
    }
}

impl OpenApiFactory for Endpoint {
    fn paths(&self) -> Paths {
        self.documented.paths()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        self.documented.schemas(schemas);
    }
}

/// A service mounted as it is (forward auth answers every method below its path), carrying the
/// operations it serves into the document.
pub struct Documented<S> {
    service: S,
    documented: Operations,
}

impl<S> Documented<S> {
    pub fn new<P: OpenApiFactory>(operation: P, service: S) -> Self {
        Self {
            service,
            documented: Operations::of(&operation),
        }
    }
}

impl<S: HttpServiceFactory> HttpServiceFactory for Documented<S> {
    fn register(self, config: &mut AppService) {
        self.service.register(config)
    }
}

impl<S> OpenApiFactory for Documented<S> {
    fn paths(&self) -> Paths {
        self.documented.paths()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        self.documented.schemas(schemas);
    }
}

const HEAD: (Method, &str) = (Method::HEAD, "HEAD");

fn method_of(method: &HttpMethod) -> (Method, &'static str) {
    match method {
        HttpMethod::Get => (Method::GET, "GET"),
        HttpMethod::Post => (Method::POST, "POST"),
        HttpMethod::Put => (Method::PUT, "PUT"),
        HttpMethod::Delete => (Method::DELETE, "DELETE"),
        HttpMethod::Options => (Method::OPTIONS, "OPTIONS"),
        HttpMethod::Head => HEAD,
        HttpMethod::Patch => (Method::PATCH, "PATCH"),
        HttpMethod::Trace => (Method::TRACE, "TRACE"),
    }
}

fn metadata_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(body)
}

pub(super) fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(
        req.method().as_str().to_ascii_uppercase(),
    ))
}
