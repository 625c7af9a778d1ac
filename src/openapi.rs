//! The OpenAPI document, derived from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{admin, audit, health, jwks, me, oauth, schemas, sessions, tokens};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tokenledger",
        description = "A SimpleJWT-compatible JWT service: obtain, refresh with rotation, verify and \
            blacklist tokens, every change recorded in an append-only ledger.",
        license(name = "MIT"),
    ),
    paths(
        tokens::obtain_pair,
        tokens::refresh,
        tokens::verify,
        tokens::blacklist,
        tokens::obtain_sliding,
        tokens::refresh_sliding,
        me::me,
        sessions::list,
        sessions::revoke,
        sessions::logout_all,
        sessions::change_password,
        admin::create_user,
        admin::deactivate,
        admin::activate,
        admin::revoke,
        audit::ledger_events,
        audit::tokens,
        audit::blacklist_token,
        audit::token_history,
        audit::tokens_at,
        audit::flush_expired,
        oauth::revoke,
        oauth::introspect,
        jwks::jwks,
        health::healthz,
        health::readyz,
        health::metrics,
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
        crate::ledger::view::TokenState,
        crate::ledger::event::LedgerEvent,
        crate::ledger::EventKind,
        crate::ledger::TokenType,
        crate::ledger::Reason,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "tokens", description = "SimpleJWT-compatible token endpoints"),
        (name = "me", description = "The authenticated user"),
        (name = "sessions", description = "The user's sessions: list, revoke, log out everywhere, password"),
        (name = "admin", description = "Staff-only administration"),
        (name = "standards", description = "OAuth revocation (RFC 7009), introspection (RFC 7662), JWKS (RFC 7517)"),
        (name = "operations", description = "Health and readiness"),
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

/// The document as `tokenledger openapi` prints it and `openapi/openapi.json` holds it.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}
