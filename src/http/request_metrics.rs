//! The middleware that records every request's route, status and latency in the
//! `HttpMetrics` the state holds. Apart from `metrics` so that the registry does not need the
//! state that holds it.

use std::future::Future;
use std::time::Instant;

use actix_web::dev::ServiceRequest;
use actix_web::web;

use super::metrics::method_label;
use super::state::AppState;
use super::{Wrapped, Wrapping};

/// The middleware (`App::wrap_fn`).
pub fn record<S: Wrapped<B>, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Wrapping<B>> + use<S, B> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = service.call(req);
    async move {
        let response = response.await?;
        if let Some(state) = state {
            let request = response.request();
            let route = request.match_pattern();
            state.metrics.observe(
                method_label(request.method()),
                route.as_deref().unwrap_or("unmatched"),
                response.status().as_str(),
                started,
            );
        }
        Ok(response)
    }
}
