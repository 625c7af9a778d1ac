//! Operations: liveness, readiness and the Prometheus metrics (the registry is `metrics.rs`).

use actix_web::{HttpResponse, web};

use super::error::ApiError;
use super::schemas::{Detail, Health, Ready};
use super::state::AppState;

#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    summary = "Liveness: 200 while the process runs",
    responses((status = 200, description = "The process runs", body = Health))
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
        (status = 200, description = "The database answers", body = Ready),
        (status = 503, description = "The database does not answer", body = Detail),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = state.reader.clone();
    let ready = crate::http::block(move || reader.readiness())
        .await?
        .map_err(|err| ApiError::Unavailable(err.to_string()))?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ok".into(),
        applied_seq: ready.applied_seq,
        ledger_seq: ready.ledger_seq,
        lag: ready.lag,
    }))
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    summary = "Prometheus metrics (text format)",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
/// Prometheus text format: requests per route, ledger events committed here, the view's size,
/// and the revocation state the hot path answers from.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let reader = state.reader.clone();
    // Without the database the other series still tell what happened; the view's size is left
    // out rather than the whole answer failing.
    let view_size = crate::http::block(move || reader.view_size())
        .await
        .ok()
        .and_then(Result::ok);
    let mut body = Vec::new();
    state.metrics.render(view_size.as_deref(), &mut body);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
