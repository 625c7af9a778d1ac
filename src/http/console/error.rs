//! The console's errors, each shown as a page (or, signed out, a redirect to sign in): the
//! same domain errors the API maps in `http/error.rs`, as HTML.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::see_other;
use crate::db::StoreError;
use crate::users::UserError;

/// Why a console request failed, as a page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A GET without a valid staff session: to the sign-in page.
    #[error("signed out")]
    SignedOut,
    /// A change without a valid staff session.
    #[error("Your session has ended. Sign in again.")]
    SessionEnded,
    #[error("The form was refused: it did not come from this console's page (CSRF check).")]
    Csrf,
    #[error("Not found.")]
    NotFound,
    #[error("The service is unavailable; try again later.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ConsoleError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) | StoreError::Conflict => ConsoleError::Unavailable,
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<UserError> for ConsoleError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::NotFound(_) => ConsoleError::NotFound,
            UserError::Store(err) => err.into(),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ConsoleError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ConsoleError::Internal(err.to_string())
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::SessionEnded | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignedOut = self {
            return see_other("/admin/signin/");
        }
        if let ConsoleError::Internal(cause) = self {
            tracing::error!(%cause, "admin console");
        }
        let (title, message) = match self {
            ConsoleError::Internal(_) => ("Server error", "A server error occurred.".to_owned()),
            ConsoleError::NotFound => ("Not found", self.to_string()),
            other => ("Refused", other.to_string()),
        };
        let html = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| "A server error occurred.".to_owned());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}
