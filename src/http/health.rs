//! Liveness and readiness.

use actix_web::{HttpResponse, web};

use super::error::ApiError;
use super::schemas::{Detail, Health, Ready};
use super::state::AppState;
use crate::ledger::TokenState;

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
    let ledger = state.tokens.ledger();
    let mut body = format!(
        "# HELP tokenledger_db_queries_total Database queries run for requests (background work excluded).\n\
         # TYPE tokenledger_db_queries_total counter\n\
         tokenledger_db_queries_total {}\n\
         # HELP tokenledger_revoked_bearer_tokens Revoked access and sliding tokens held in memory.\n\
         # TYPE tokenledger_revoked_bearer_tokens gauge\n\
         tokenledger_revoked_bearer_tokens {}\n\
         # HELP tokenledger_revoked_refresh_tokens Revoked refresh tokens held in memory (for verify).\n\
         # TYPE tokenledger_revoked_refresh_tokens gauge\n\
         tokenledger_revoked_refresh_tokens {}\n\
         # HELP tokenledger_ledger_applied_seq The newest ledger seq applied to the in-memory state.\n\
         # TYPE tokenledger_ledger_applied_seq gauge\n\
         tokenledger_ledger_applied_seq {}\n\
         # HELP tokenledger_ledger_seq The newest ledger seq this instance knows the database holds.\n\
         # TYPE tokenledger_ledger_seq gauge\n\
         tokenledger_ledger_seq {}\n\
         # HELP tokenledger_ledger_lag Events known committed but not yet applied here.\n\
         # TYPE tokenledger_ledger_lag gauge\n\
         tokenledger_ledger_lag {}\n",
        ledger.queries(),
        ledger.revocations().len(),
        ledger.revocations().refresh_len(),
        ledger.revocations().applied_seq(),
        ledger.revocations().ledger_seq(),
        ledger.revocations().lag(),
    );
    if let Some(sizes) = view_size {
        body.push_str(
            "# HELP tokenledger_view_tokens Tokens in the view (not yet flushed), by state.\n\
             # TYPE tokenledger_view_tokens gauge\n",
        );
        for state in [TokenState::Outstanding, TokenState::Blacklisted] {
            let count = sizes
                .iter()
                .find(|(of, _)| *of == state)
                .map_or(0, |(_, count)| *count);
            body.push_str(&format!(
                "tokenledger_view_tokens{{state=\"{}\"}} {count}\n",
                state.as_str()
            ));
        }
    }
    let mut body = body.into_bytes();
    state.metrics.render(&mut body);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
