//! Liveness and readiness.

use actix_web::{HttpResponse, web};

use super::error::ApiError;
use super::schemas::{Detail, Health, Ready};
use super::state::AppState;
use crate::db::{self, StoreError};
use crate::ledger::append::head_seq;

#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    summary = "Liveness: 200 while the process runs",
    responses((status = 200, body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    summary = "Readiness: the database answers; the ledger seq applied here and the newest",
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "The database does not answer", body = Detail),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let ledger = state.tokens.ledger().clone();
    let ledger_seq = web::block(move || {
        let mut conn = ledger.pool().get()?;
        db::ping(&mut conn)?;
        head_seq(&mut conn)
    })
    .await?
    .map_err(|err: StoreError| ApiError::Unavailable(err.to_string()))?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ok".into(),
        applied_seq: state.tokens.ledger().revocations().applied_seq(),
        ledger_seq,
    }))
}
