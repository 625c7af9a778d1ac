//! Endpoints of the authenticated user (contract section 5).

use actix_web::HttpResponse;

use super::bearer::Authenticated;
use super::error::ApiError;
use super::schemas::{Me, NotAuthenticated};

#[utoipa::path(
    get, path = "/api/me/", tag = "me",
    summary = "The user the access token belongs to",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The token's user", body = Me),
        NotAuthenticated,
    )
)]
pub async fn me(auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let user = auth.user;
    Ok(HttpResponse::Ok().json(Me {
        id: user.id,
        username: user.username.clone(),
        is_staff: user.is_staff,
    }))
}
