//! OAuth standards: token revocation (RFC 7009) and introspection (RFC 7662).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::bearer::Staff;
use super::body;
use super::error::ApiError;
use super::schemas::{
    BodyRefused, Empty, IntrospectionBody, OAuthError, OAuthTokenRequest, StaffOnly,
};
use super::state::AppState;
use super::tokens;

/// The `token` parameter; without it, or with a body that does not parse, the request is
/// malformed (RFC 6749 `invalid_request`). Size and media type keep their own answers.
async fn token_parameter(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<String, ApiError> {
    let invalid_request = |err: ApiError| match err {
        ApiError::BodyTooLarge | ApiError::UnsupportedMediaType(_) => err,
        _ => ApiError::OAuth("invalid_request"),
    };
    let fields = body::read(req, payload, state.max_body)
        .await
        .map_err(invalid_request)?;
    let [token] = fields.strings(["token"]).map_err(invalid_request)?;
    Ok(token)
}

#[utoipa::path(
    post, path = "/oauth/revoke", tag = "standards", operation_id = "oauth_revoke",
    summary = "RFC 7009 token revocation",
    description = "Revokes a token this service signed (a refresh token together with its \
        session's access tokens). Unknown and invalid tokens are answered 200 too, as the RFC asks.",
    request_body(content = OAuthTokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke", body = Empty),
        (status = 400, description = "No `token`, or a body that does not parse: `{\"error\": \"invalid_request\"}`", body = OAuthError),
        BodyRefused,
    )
)]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = token_parameter(&req, payload, &state).await?;
    tokens::run(&state, token, |tokens, token| {
        tokens.revoke_presented(&token, Some("oauth_revoke"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(Empty {}))
}

#[utoipa::path(
    post, path = "/oauth/introspect", tag = "standards",
    summary = "RFC 7662 token introspection (staff only)",
    request_body(content = OAuthTokenRequest, content_type = "application/x-www-form-urlencoded"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "`active`, and for an active token its claims and `username`", body = IntrospectionBody),
        (status = 400, description = "No `token`, or a body that does not parse: `{\"error\": \"invalid_request\"}`", body = OAuthError),
        StaffOnly,
        BodyRefused,
    )
)]
pub async fn introspect(
    _staff: Staff,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = token_parameter(&req, payload, &state).await?;
    let found = tokens::run(&state, token, |tokens, token| tokens.introspect(&token)).await?;
    let body = match found {
        Some(found) => {
            let mut claims = found.token.payload;
            claims.insert("username".into(), Value::String(found.user.username));
            IntrospectionBody {
                active: true,
                claims,
            }
        }
        None => IntrospectionBody {
            active: false,
            claims: Default::default(),
        },
    };
    Ok(HttpResponse::Ok().json(body))
}
