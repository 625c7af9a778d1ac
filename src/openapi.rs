//! The OpenAPI document: what this file declares (info, schemas, tags, the bearer scheme),
//! plus the paths of every route `http::routes` mounts, each from its handler's
//! `#[utoipa::path]`, plus the answers every operation shares (`CommonResponses`) and the
//! body encodings every request body accepts (`EveryBodyEncoding`).

use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::http::forward_auth::EveryMethod;
use crate::http::{feed, routes, schemas};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tokenledger",
        description = "A SimpleJWT-compatible JWT service: obtain, refresh with rotation, verify and \
            blacklist tokens, every change recorded in an append-only ledger.",
        license(name = "MIT"),
    ),
    components(schemas(
        schemas::TokenObtainRequest,
        schemas::TokenPair,
        schemas::RefreshRequest,
        schemas::RefreshResponse,
        schemas::TokenRequest,
        schemas::SlidingToken,
        schemas::Empty,
        schemas::Detail,
        schemas::TokenErrorBody,
        schemas::TokenMessage,
        schemas::BearerErrorBody,
        schemas::ValidationErrors,
        schemas::BadRequest,
        schemas::Me,
        schemas::Health,
        schemas::Ready,
        schemas::Session,
        schemas::Revoked,
        schemas::PasswordChange,
        schemas::NewUserRequest,
        schemas::UserBody,
        schemas::OAuthTokenRequest,
        schemas::IntrospectionBody,
        schemas::OAuthError,
        schemas::JwkSetBody,
        schemas::EventPage,
        schemas::Expired,
        schemas::TokenBody,
        schemas::TokenPage,
        schemas::TokenHistory,
        schemas::TokensAt,
        schemas::ServerMetadata,
        crate::ledger::view::TokenState,
        crate::ledger::event::LedgerEvent,
        crate::ledger::EventKind,
        crate::ledger::TokenType,
        crate::ledger::Reason,
        crate::ledger::feed::Revocation,
        feed::RevocationPage,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "tokens", description = "SimpleJWT-compatible token endpoints"),
        (name = "me", description = "The authenticated user"),
        (name = "sessions", description = "The user's sessions: list, revoke, log out everywhere, password"),
        (name = "admin", description = "Staff-only administration"),
        (name = "standards", description = "OAuth revocation (RFC 7009), introspection (RFC 7662), JWKS (RFC 7517)"),
        (name = "operations", description = "Health and readiness"),
        (name = "feed", description = "The revocation feed: a staff token or a feed key (TOKENLEDGER_FEED_KEYS)"),
        (name = "gateways", description = "Forward auth for gateways, and discovery (RFC 8414)"),
    )
)]
pub struct ApiDoc;

/// The `bearerAuth` scheme Swagger UI's `Authorize` button fills in.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearerAuth", SecurityScheme::Http(scheme));
    }
}

/// Answers every operation can give besides its own, documented once: 503 when the database
/// does not answer and 500 on an internal error (all but the process-only endpoints), and the
/// `WWW-Authenticate` challenge that every 401 carries.
struct CommonResponses;

/// Endpoints that answer no 503 or 500: the process alone answers them (`/metrics` also reads
/// the view's size, and leaves that series out when the database does not answer).
const PROCESS_ONLY: [&str; 4] = [
    "/healthz",
    "/metrics",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let detail = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Detail")))
                        .build(),
                )
                .build()
        };
        components.responses.insert(
            "ServerError".into(),
            RefOr::T(detail(
                "Internal error: `{\"detail\": \"A server error occurred.\"}`",
            )),
        );
        components.responses.insert(
            "Unavailable".into(),
            RefOr::T(detail(
                "The database does not answer: \
                 `{\"detail\": \"Service temporarily unavailable, try again later.\"}`",
            )),
        );
        let mut challenge = Header::new(Object::with_type(Type::String));
        challenge.description =
            Some("The accepted scheme, as the reference: `Bearer realm=\"api\"`".into());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if let Some(RefOr::T(unauthorized)) = responses.get_mut("401") {
                    unauthorized
                        .headers
                        .insert("WWW-Authenticate".into(), RefOr::T(challenge.clone()));
                }
                if PROCESS_ONLY.contains(&path.as_str()) {
                    continue;
                }
                responses
                    .entry("500".into())
                    .or_insert_with(|| Ref::from_response_name("ServerError").into());
                responses
                    .entry("503".into())
                    .or_insert_with(|| Ref::from_response_name("Unavailable").into());
            }
        }
    }
}

/// Every request body is read by `http::body::read`, which takes the three encodings the
/// reference's parsers take: an annotation names the body's schema (and the encoding a client
/// should use first), and the other encodings are added here rather than pasted into each.
struct EveryBodyEncoding;

const BODY_ENCODINGS: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

impl Modify for EveryBodyEncoding {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bodies = openapi
            .paths
            .paths
            .values_mut()
            .flat_map(|item| [&mut item.post, &mut item.put, &mut item.patch])
            .flatten()
            .filter_map(|operation| match operation.request_body.as_mut() {
                Some(RefOr::T(body)) => Some(body),
                _ => None,
            });
        for body in bodies {
            let Some(schema) = body.content.values().next().cloned() else {
                continue;
            };
            for encoding in BODY_ENCODINGS {
                body.content
                    .entry(encoding.into())
                    .or_insert_with(|| schema.clone());
            }
        }
    }
}

/// The document Swagger UI is served: the routes are mounted on an app of their own just to
/// collect their operations (mounting serves nothing until a server runs the app).
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    CommonResponses.modify(&mut document);
    EveryBodyEncoding.modify(&mut document);
    EveryMethod.modify(&mut document);
    document
}

/// The document as `tokenledger openapi` prints it and `openapi/openapi.json` holds it.
pub fn document_json() -> String {
    document()
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}
