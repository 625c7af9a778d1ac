//! `GET /.well-known/oauth-authorization-server` (RFC 8414, contract section 8): where the
//! JWKS and the revocation and introspection endpoints are, for gateways and JWT libraries
//! that configure themselves from it. Only what is true: there is no OAuth authorization or
//! token endpoint (the login is SimpleJWT's, not a grant), so neither is claimed.

use actix_web::{HttpRequest, HttpResponse, web};

use super::origin::request_origin;
use super::schemas::ServerMetadata;
use super::state::AppState;

#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "gateways",
    operation_id = "authorization_server_metadata",
    summary = "Authorization server metadata (RFC 8414): the JWKS, revocation and introspection",
    description = "Absolute URLs on the origin the client used (through `Forwarded` or \
        `X-Forwarded-Proto`/`X-Forwarded-Host` of `TOKENLEDGER_TRUSTED_PROXIES` only). `issuer` \
        is `TOKENLEDGER_ISSUER`, else that origin.",
    responses((status = 200, description = "What this server offers (RFC 8414)", body = ServerMetadata))
)]
pub async fn metadata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let origin = request_origin(&req, &state.trusted_proxies);
    let issuer = state
        .tokens
        .policy()
        .issuer
        .clone()
        .unwrap_or_else(|| origin.clone());
    HttpResponse::Ok().json(ServerMetadata {
        issuer,
        jwks_uri: format!("{origin}/.well-known/jwks.json"),
        revocation_endpoint: format!("{origin}/oauth/revoke"),
        // RFC 7009 revocation here needs no client authentication.
        revocation_endpoint_auth_methods_supported: vec!["none".into()],
        introspection_endpoint: format!("{origin}/oauth/introspect"),
        // No client authenticates anywhere (logins are users'): `none`, not RFC 8414's
        // default `client_secret_basic`, which would be untrue.
        token_endpoint_auth_methods_supported: vec!["none".into()],
        service_documentation: format!("{origin}/swagger-ui/"),
    })
}
