//! `Authorization: Bearer <token>` authentication for protected endpoints. The token check,
//! its revocation and (while fresh) its user are answered from memory.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::error::{ApiError, BearerError};
use super::state::AppState;
use crate::tokens::authenticate::{Credential, Step};

pub use crate::tokens::Authenticated;

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// An authenticated staff user (admin endpoints): others get 403.
#[derive(Debug)]
pub struct Staff(pub Authenticated);

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let auth = authenticate(&req).await?;
            if auth.user.is_staff {
                Ok(Staff(auth))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let raw = raw_token(req, &state.header_types).map_err(ApiError::Bearer)?;
    let refused = |refusal| ApiError::Bearer(BearerError::from(refusal));
    match state.authenticator.start(&raw, Credential::Bearer) {
        Ok(Step::Known(auth)) => Ok(auth),
        Ok(Step::Read(lookup)) => crate::http::block(move || lookup.finish())
            .await??
            .map_err(refused),
        Err(refusal) => Err(refused(refusal)),
    }
}

/// The reference's header rules: no header, or another scheme, is "not provided"; the scheme
/// with anything but exactly one token after it is a bad header.
fn raw_token(req: &HttpRequest, header_types: &[String]) -> Result<String, BearerError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(BearerError::NotProvided);
    };
    // Visible ASCII (every well-formed header) is read as is; anything else as the reference
    // reads bytes it cannot decode.
    let value = match value.to_str() {
        Ok(ascii) => std::borrow::Cow::Borrowed(ascii),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    };
    let mut parts = value.split_whitespace();
    let Some(scheme) = parts.next() else {
        return Err(BearerError::NotProvided);
    };
    if !header_types
        .iter()
        .any(|accepted| accepted.eq_ignore_ascii_case(scheme))
    {
        return Err(BearerError::NotProvided);
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token.to_owned()),
        _ => Err(BearerError::BadHeader),
    }
}
