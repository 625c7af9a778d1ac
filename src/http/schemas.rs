//! Request and response bodies, as the OpenAPI document describes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, IntoResponses, ToSchema};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery staple"}))]
pub struct TokenObtainRequest {
    /// The login field (`TOKENLEDGER_USERNAME_FIELD`: `username` or `email`).
    #[schema(min_length = 1, pattern = r"\S")]
    pub username: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub refresh: String,
    pub access: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTc5NTQ0NjY1MCwiaWF0IjoxNzk1MzYwMjUwLCJqdGkiOiJiOWVmYTE0MDc3NDA0ZjU3ODJmOTZkNzEyMzIxYjA3MSIsInVzZXJfaWQiOiIyIiwic2lkIjoiZDdmZTBlNzdlMzM4NDFjZjhkODk3OGJhOWZmOGNkMDIifQ.3kq6hYlB0kQm9u0rXWgq2p0iL5ZbqzQmNw9yV8sWm4E"}))]
pub struct RefreshRequest {
    /// A refresh token from `/api/token/` or a previous refresh.
    #[schema(min_length = 1, pattern = r"\S")]
    pub refresh: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefreshResponse {
    pub access: String,
    /// Present when `TOKENLEDGER_ROTATE_REFRESH_TOKENS` is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzk1MzYwNTUwLCJpYXQiOjE3OTUzNjAyNTAsImp0aSI6ImVhZmRhOWEwMDA0MzQzZTJhODg0MDUwMzgxODAyODNmIiwidXNlcl9pZCI6IjIiLCJzaWQiOiJlOTUwNmJhODI1NWM0M2QzYTk4OGYyM2IyY2E2Y2FhYyJ9.Yq1l0m7m9dC3b8r0Rk2o4QpV6sN1xJ5wT8zE0aG7uHc"}))]
pub struct TokenRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlidingToken {
    pub token: String,
}

/// `{}`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Detail {
    pub detail: String,
}

/// A refused token: `code` is `token_not_valid`. A valid token of an inactive or deleted user
/// has no `code`: `{"detail": "No active account found for the given token."}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"detail": "Token is blacklisted", "code": "token_not_valid"}))]
pub struct TokenErrorBody {
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenMessage {
    pub token_class: String,
    pub token_type: String,
    pub message: String,
}

/// A refused bearer authentication (contract section 5).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "detail": "Given token not valid for any token type", "code": "token_not_valid",
    "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is expired"}]
}))]
pub struct BearerErrorBody {
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub messages: Option<Vec<TokenMessage>>,
}

/// A refused request body: its fields' errors, or a body that could not be parsed
/// (`{"detail": "JSON parse error - …"}`, `Multipart form parse error - …`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BadRequest {
    Fields(ValidationErrors),
    Parse(Detail),
}

/// The answers of every endpoint that reads a request body, beyond its own.
#[derive(IntoResponses)]
pub enum BodyRefused {
    /// Larger than `TOKENLEDGER_MAX_BODY`: `{"detail": "Request body too large."}`
    #[response(status = 413)]
    TooLarge(Detail),
    /// Neither JSON, form-encoded nor multipart: `{"detail": "Unsupported media type \"…\" in request."}`
    #[response(status = 415)]
    UnsupportedMediaType(Detail),
}

/// The refresh cookie's CSRF check (refresh and logout through the cookie).
#[derive(IntoResponses)]
pub enum CsrfRefused {
    /// With `TOKENLEDGER_REFRESH_COOKIE` on: no `refresh` in the body, the cookie sent, and no `X-CSRF-Token` equal to the `<name>_csrf` cookie: `{"detail": "CSRF Failed: CSRF token missing or incorrect."}`; nothing changes
    #[response(status = 403)]
    Forbidden(Detail),
}

/// The bearer check's refusal, on every endpoint behind a token (`bearer.rs`).
#[derive(IntoResponses)]
pub enum NotAuthenticated {
    /// No, bad, expired or revoked token; inactive user
    #[response(status = 401)]
    Unauthorized(BearerErrorBody),
}

/// The refusals of every staff-only endpoint.
#[derive(IntoResponses)]
pub enum StaffOnly {
    /// No, bad, expired or revoked token; inactive user
    #[response(status = 401)]
    Unauthorized(BearerErrorBody),
    /// A token, but not staff
    #[response(status = 403)]
    Forbidden(Detail),
}

/// The refusals of the revocation feed's endpoints (a feed key, or a staff token).
#[derive(IntoResponses)]
pub enum FeedRefused {
    /// No feed key, and no, bad, expired or revoked token
    #[response(status = 401)]
    Unauthorized(BearerErrorBody),
    /// A token, but not staff
    #[response(status = 403)]
    Forbidden(Detail),
}

/// A staff endpoint's refusal of a user id it does not know.
#[derive(IntoResponses)]
pub enum NoSuchUser {
    /// No such user (or `id` is not an integer)
    #[response(status = 404)]
    NotFound(Detail),
}

/// The double-submit header of a refresh or logout through the refresh cookie
/// (documentation only: `http::refresh_cookie` reads it).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct CsrfHeader {
    /// With the refresh cookie on and no `refresh` in the body: the value of the `<name>_csrf` cookie (double submit)
    #[param(rename = "X-CSRF-Token")]
    x_csrf_token: Option<String>,
}

/// Field name -> messages (`non_field_errors` for the body as a whole).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"password": ["This field is required."]}))]
pub struct ValidationErrors(pub BTreeMap<String, Vec<String>>);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub is_staff: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    pub status: String,
    /// The newest ledger seq this instance has applied to its in-memory revocations.
    pub applied_seq: i64,
    /// The newest seq in the database's ledger.
    pub ledger_seq: i64,
    /// `ledger_seq - applied_seq`: committed events (revocations among them) this instance
    /// does not enforce yet. Normally 0; alert when it stays above 0.
    pub lag: i64,
}

/// A live session: one login and every token rotated from it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub sid: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// How many tokens were newly blacklisted.
    pub revoked: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"old_password": "correct horse battery staple", "new_password": "a better one"}))]
pub struct PasswordChange {
    #[schema(min_length = 1, pattern = r"\S")]
    pub old_password: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub new_password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"username": "bob", "password": "bob's password", "is_staff": false}))]
pub struct NewUserRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub username: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub password: String,
    #[serde(default)]
    pub is_staff: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserBody {
    pub id: i64,
    pub username: String,
    pub is_active: bool,
    pub is_staff: bool,
}

/// RFC 7009 / RFC 7662 request (form-encoded).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl", "token_type_hint": "refresh_token"}))]
pub struct OAuthTokenRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub token: String,
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

/// RFC 7662: `active`, and for an active token its claims and `username`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"active": true, "token_type": "access", "exp": 1795360550, "iat": 1795360250,
    "jti": "eafda9a0004343e2a88405038180283f", "user_id": "2", "sid": "e9506ba8255c43d3a988f23b2ca6caac",
    "username": "alice"}))]
pub struct IntrospectionBody {
    pub active: bool,
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// RFC 6749 section 5.2 error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
}

/// RFC 7517 JWK Set: the public keys that verify live tokens; empty for HMAC.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
    "kid": "Pw6z2ZtbRKcFqvbVKXeeDMsPt3cqE8ttT-Mtyp8v6mQ",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}))]
pub struct JwkSetBody {
    /// JWKs (RFC 7517 section 4), each with `kid`, `alg` and `use: "sig"`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// A page of ledger events, oldest first; pass `next` as `after` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<crate::ledger::event::LedgerEvent>,
    /// The last seq of this page when more may follow; `null` at the end.
    pub next: Option<i64>,
}

/// How many tokens a flush recorded as expired.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"expired": 12}))]
pub struct Expired {
    pub expired: u64,
}

/// A token as the view holds it (contract section 6), plus its parent and rotation time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"jti": "eafda9a0004343e2a88405038180283f", "token_type": "refresh", "user_id": 2,
    "sid": "e9506ba8255c43d3a988f23b2ca6caac", "issued_at": "2026-11-22T10:00:00Z",
    "expires_at": "2026-11-23T10:00:00Z", "state": "blacklisted", "blacklisted_at": "2026-11-22T10:05:00Z",
    "reason": "rotation", "parent_jti": null, "rotated_at": "2026-11-22T10:05:00Z"}))]
pub struct TokenBody {
    pub jti: String,
    pub token_type: crate::ledger::TokenType,
    pub user_id: i64,
    pub sid: String,
    pub issued_at: String,
    pub expires_at: String,
    pub state: crate::ledger::TokenState,
    pub blacklisted_at: Option<String>,
    pub reason: Option<crate::ledger::Reason>,
    pub parent_jti: Option<String>,
    pub rotated_at: Option<String>,
}

impl From<crate::ledger::TokenRow> for TokenBody {
    fn from(row: crate::ledger::TokenRow) -> Self {
        use crate::time::rfc3339::format;
        Self {
            jti: row.jti,
            token_type: row.token_type,
            user_id: row.user_id,
            sid: row.sid,
            issued_at: format(&row.issued_at),
            expires_at: format(&row.expires_at),
            state: row.state,
            blacklisted_at: row.blacklisted_at.as_ref().map(format),
            reason: row.reason,
            parent_jti: row.parent_jti,
            rotated_at: row.rotated_at.as_ref().map(format),
        }
    }
}

/// A page of the view in jti order; pass `next` as `cursor` for the following page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPage {
    pub results: Vec<TokenBody>,
    pub next: Option<String>,
}

/// A token's events and its rotation lineage (ancestors, itself, descendants).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenHistory {
    pub jti: String,
    pub events: Vec<crate::ledger::event::LedgerEvent>,
    pub lineage: Vec<TokenBody>,
}

/// A user's tokens as they stood at `at`, replayed from the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensAt {
    pub at: String,
    pub tokens: Vec<TokenBody>,
}

/// RFC 8414 authorization server metadata: only the fields that are true of this service.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "issuer": "https://auth.example",
    "jwks_uri": "https://auth.example/.well-known/jwks.json",
    "revocation_endpoint": "https://auth.example/oauth/revoke",
    "revocation_endpoint_auth_methods_supported": ["none"],
    "introspection_endpoint": "https://auth.example/oauth/introspect",
    "token_endpoint_auth_methods_supported": ["none"],
    "service_documentation": "https://auth.example/swagger-ui/"
}))]
pub struct ServerMetadata {
    /// `TOKENLEDGER_ISSUER`, else the origin the request reached.
    pub issuer: String,
    pub jwks_uri: String,
    /// RFC 7009 revocation (`/oauth/revoke`).
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7662 introspection (`/oauth/introspect`, a staff bearer token).
    pub introspection_endpoint: String,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Swagger UI.
    pub service_documentation: String,
}
