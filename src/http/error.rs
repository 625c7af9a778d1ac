//! The one mapping from every layer's errors to the wire contract's status codes and bodies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::db::StoreError;
use crate::tokens::acting::PasswordChangeError;
use crate::tokens::authenticate::Refused;
use crate::tokens::{AuthError, BearerFailure};

/// Field name -> messages, in the order the fields were declared (DRF's validation body).
pub type FieldErrors = Map<String, Value>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The database failed a request that was not an authentication (`Auth` keeps its own).
    #[error(transparent)]
    Store(StoreError),
    #[error("bearer authentication failed: {0:?}")]
    Bearer(BearerError),
    #[error("invalid fields")]
    Fields(FieldErrors),
    #[error("JSON parse error - {0}")]
    JsonParse(String),
    #[error("Multipart form parse error - {0}")]
    MultipartParse(String),
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    #[error("Request body too large.")]
    BodyTooLarge,
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    #[error("Not found.")]
    NotFound,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    /// A refresh cookie without the matching `X-CSRF-Token` (the double submit failed).
    #[error("CSRF Failed: CSRF token missing or incorrect.")]
    CsrfFailed,
    /// RFC 6749 section 5.2 error bodies of the OAuth endpoints: `{"error": code}`.
    #[error("{0}")]
    OAuth(&'static str),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why `Authorization: Bearer …` did not identify an active user (contract section 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    NotProvided,
    BadHeader,
    Invalid(Vec<BearerFailure>),
    NoUserClaim,
    UserNotFound,
    UserInactive,
}

impl From<Refused> for BearerError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Token(failures) => BearerError::Invalid(failures),
            Refused::NoUserClaim => BearerError::NoUserClaim,
            Refused::UserNotFound => BearerError::UserNotFound,
            Refused::UserInactive => BearerError::UserInactive,
        }
    }
}

impl From<PasswordChangeError> for ApiError {
    fn from(err: PasswordChangeError) -> Self {
        match err {
            PasswordChangeError::Check(err) => err.into(),
            PasswordChangeError::Change(err) => err.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::Store(err)
    }
}

impl From<crate::users::UserError> for ApiError {
    fn from(err: crate::users::UserError) -> Self {
        use crate::users::UserError;
        match err {
            UserError::NotFound(_) => ApiError::NotFound,
            UserError::Taken(_) => {
                ApiError::Conflict("A user with that username already exists.".into())
            }
            UserError::BlankUsername => {
                let mut fields = FieldErrors::new();
                fields.insert("username".into(), json!(["This field may not be blank."]));
                ApiError::Fields(fields)
            }
            UserError::Hash(err) => ApiError::Internal(err.to_string()),
            UserError::Store(err) => err.into(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

fn detail(message: impl ToString) -> Value {
    json!({"detail": message.to_string()})
}

fn detail_code(message: impl ToString, code: &str) -> Value {
    json!({"detail": message.to_string(), "code": code})
}

const UNAVAILABLE: &str = "Service temporarily unavailable, try again later.";
const INTERNAL: &str = "A server error occurred.";

impl ApiError {
    fn status_and_body(&self) -> (StatusCode, Value) {
        use StatusCode as S;
        match self {
            ApiError::Auth(err) => match err {
                AuthError::Token(token) => (S::UNAUTHORIZED, detail_code(token, "token_not_valid")),
                AuthError::NoActiveAccount | AuthError::NoActiveAccountForToken => {
                    (S::UNAUTHORIZED, detail(err))
                }
                AuthError::Throttled { .. } => (S::TOO_MANY_REQUESTS, detail(err)),
                AuthError::VerifyBlacklisted => (
                    S::BAD_REQUEST,
                    json!({"non_field_errors": [err.to_string()]}),
                ),
                AuthError::Store(err) => store_status(err),
                AuthError::Signing(_) => (S::INTERNAL_SERVER_ERROR, detail(INTERNAL)),
            },
            ApiError::Store(err) => store_status(err),
            ApiError::Bearer(err) => (S::UNAUTHORIZED, bearer_body(err)),
            ApiError::Fields(fields) => (S::BAD_REQUEST, Value::Object(fields.clone())),
            ApiError::JsonParse(_) | ApiError::MultipartParse(_) => (S::BAD_REQUEST, detail(self)),
            ApiError::UnsupportedMediaType(_) => (S::UNSUPPORTED_MEDIA_TYPE, detail(self)),
            ApiError::BodyTooLarge => (S::PAYLOAD_TOO_LARGE, detail(self)),
            ApiError::MethodNotAllowed(_) => (S::METHOD_NOT_ALLOWED, detail(self)),
            ApiError::NotFound => (S::NOT_FOUND, detail(self)),
            ApiError::Forbidden | ApiError::CsrfFailed => (S::FORBIDDEN, detail(self)),
            ApiError::Conflict(_) => (S::CONFLICT, detail(self)),
            ApiError::OAuth(code) => (S::BAD_REQUEST, json!({"error": code})),
            ApiError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, detail(UNAVAILABLE)),
            ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR, detail(INTERNAL)),
        }
    }
}

/// An outage is 503 (retry), a NUL character the client's 400, anything else a 500.
fn store_status(err: &StoreError) -> (StatusCode, Value) {
    match err {
        StoreError::Unavailable(_) | StoreError::Conflict => {
            (StatusCode::SERVICE_UNAVAILABLE, detail(UNAVAILABLE))
        }
        StoreError::NulCharacter => (
            StatusCode::BAD_REQUEST,
            detail("Null characters are not allowed."),
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, detail(INTERNAL)),
    }
}

fn bearer_body(err: &BearerError) -> Value {
    match err {
        BearerError::NotProvided => detail("Authentication credentials were not provided."),
        BearerError::BadHeader => detail_code(
            "Authorization header must contain two space-delimited values",
            "bad_authorization_header",
        ),
        BearerError::Invalid(failures) => json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": failures.iter().map(|failure| json!({
                "token_class": token_class(failure),
                "token_type": failure.token_type.as_str(),
                "message": failure.error.to_string(),
            })).collect::<Vec<_>>(),
        }),
        BearerError::NoUserClaim => detail_code(
            "Token contained no recognizable user identification",
            "token_not_valid",
        ),
        BearerError::UserNotFound => detail_code("User not found", "user_not_found"),
        BearerError::UserInactive => detail_code("User is inactive", "user_inactive"),
    }
}

fn token_class(failure: &BearerFailure) -> &'static str {
    match failure.token_type {
        crate::ledger::TokenType::Access => "AccessToken",
        crate::ledger::TokenType::Sliding => "SlidingToken",
        crate::ledger::TokenType::Refresh => "RefreshToken",
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_body().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, body) = self.status_and_body();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        if let ApiError::Auth(AuthError::Throttled { retry_after }) = self {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after.to_string(),
            ));
        }
        response.json(body)
    }
}
