//! RFC 7517: the public keys that verify our tokens, for resource servers that check tokens
//! themselves.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};

use super::schemas::JwkSetBody;
use super::state::AppState;

#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "standards",
    summary = "JWK Set (RFC 7517): every public key still verifying live tokens; empty for HMAC",
    responses((status = 200, description = "The JWK Set", body = JwkSetBody))
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    // Short caching: a verifier that caches longer misses a newly rotated key for that long.
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(300),
        ]))
        .json(state.tokens.keys().jwks())
}
