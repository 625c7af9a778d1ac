//! Forward auth (contract section 8): `/api/auth/check` and every path below it, any method,
//! for gateways that ask before they proxy (nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth`, Envoy `ext_authz`). The bearer check is `/api/me/`'s own extractor, so the
//! answers, the revocation check and the no-database hot path are the same by construction.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};

use super::bearer::Authenticated;
use super::schemas::{Empty, NotAuthenticated};

pub const USER_ID: HeaderName = HeaderName::from_static("x-auth-user-id");
pub const USERNAME: HeaderName = HeaderName::from_static("x-auth-username");
pub const IS_STAFF: HeaderName = HeaderName::from_static("x-auth-is-staff");
pub const SID: HeaderName = HeaderName::from_static("x-auth-sid");
pub const JTI: HeaderName = HeaderName::from_static("x-auth-jti");
pub const TOKEN_TYPE: HeaderName = HeaderName::from_static("x-auth-token-type");

/// The resource: every method, `/api/auth/check` and anything below it (Envoy appends the
/// original path to the check's prefix). `no-store` on every answer, 401s too: a cache
/// between gateway and service must never answer for a token that has since been revoked.
pub fn resource() -> impl HttpServiceFactory {
    let path = <__path_check as utoipa::Path>::path();
    let below = format!("{path}/{{tail:.*}}");
    web::resource([path, below])
        .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
        .default_service(web::to(check))
}

#[utoipa::path(
    get, path = "/api/auth/check", tag = "gateways", operation_id = "forward_auth_check",
    summary = "Forward auth: is this bearer token good right now?",
    description = "For nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth` and \
        Envoy `ext_authz` (HTTP). Any method, and any path below it \
        (`/api/auth/check/orders/42`) answers the same. Authenticates `Authorization` exactly as \
        `/api/me/`: a revoked token is refused at once, from memory. On 200, the gateway copies \
        the `X-Auth-*` headers onto the request it forwards. Non-ASCII bytes of a username are \
        percent-encoded in `X-Auth-Username`.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The token is good", body = Empty, headers(
            ("X-Auth-User-Id" = String, description = "The user's id"),
            ("X-Auth-Username" = String, description = "The username (non-ASCII bytes percent-encoded)"),
            ("X-Auth-Is-Staff" = String, description = "`true` or `false`"),
            ("X-Auth-Sid" = String, description = "The session"),
            ("X-Auth-Jti" = String, description = "The token's id"),
            ("X-Auth-Token-Type" = String, description = "`access` or `sliding`"),
            ("Cache-Control" = String, description = "`no-store`"),
        )),
        NotAuthenticated,
    )
)]
pub async fn check(auth: Authenticated) -> HttpResponse {
    let user = &auth.user;
    let token = &auth.token;
    let value = |text: &str| {
        HeaderValue::from_str(&header_safe(text)).unwrap_or(HeaderValue::from_static(""))
    };
    HttpResponse::Ok()
        .insert_header((USER_ID, HeaderValue::from(user.id)))
        .insert_header((USERNAME, value(&user.username)))
        .insert_header((
            IS_STAFF,
            HeaderValue::from_static(if user.is_staff { "true" } else { "false" }),
        ))
        .insert_header((SID, value(token.sid().unwrap_or(""))))
        .insert_header((JTI, value(&token.jti)))
        .insert_header((
            TOKEN_TYPE,
            HeaderValue::from_static(token.token_type.as_str()),
        ))
        .json(Empty {})
}

/// Visible ASCII stays as it is; every other byte (space and `%` too) is percent-encoded, so any
/// username fits a header and decodes back to its UTF-8 bytes.
fn header_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The check answers every method, and the document says so: the GET operation is copied to
/// the other methods (each with its own `operationId`), so a client generated from the
/// document, or a fuzzer expecting 405 elsewhere, knows they are served.
pub struct EveryMethod;

impl utoipa::Modify for EveryMethod {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(item) = openapi.paths.paths.get_mut("/api/auth/check") else {
            return;
        };
        let Some(get) = item.get.clone() else {
            return;
        };
        let copy = |method: &str| {
            let mut operation = get.clone();
            operation.operation_id = Some(format!("forward_auth_check_{method}"));
            Some(operation)
        };
        item.post = copy("post");
        item.put = copy("put");
        item.patch = copy("patch");
        item.delete = copy("delete");
        item.head = copy("head");
        item.options = copy("options");
        item.trace = copy("trace");
    }
}

#[cfg(test)]
mod tests {
    use super::header_safe;

    #[test]
    fn ascii_names_are_unchanged() {
        assert_eq!(
            header_safe("alice.smith@example.com"),
            "alice.smith@example.com"
        );
    }

    #[test]
    fn other_bytes_and_percent_are_encoded() {
        assert_eq!(header_safe("zoë"), "zo%C3%AB");
        assert_eq!(header_safe("50%"), "50%25");
        assert_eq!(header_safe("a\nb"), "a%0Ab");
    }
}
