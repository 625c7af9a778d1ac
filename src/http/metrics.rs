//! Per-route request counts and latencies for `/metrics`, recorded by one middleware
//! (`request_metrics`). Routes
//! are labelled by their pattern (`/api/admin/users/{id}/`), never by the path a client sent,
//! so a scan of random URLs adds one `unmatched` series, not thousands.

use std::time::Instant;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Seconds; fine below a millisecond, where the hot path lives.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The registry `/metrics` renders: this module's series, and those of the layers below that
/// `including` adds.
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "tokenledger_http_requests_total",
                "HTTP requests answered, by method, route pattern and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric options");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tokenledger_http_request_duration_seconds",
                "Time from request to response head, by method and route pattern.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric options");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
        ] {
            registry
                .register(collector)
                .expect("each metric is registered once");
        }
        Self {
            registry,
            requests,
            latency,
        }
    }
}

impl HttpMetrics {
    /// Also renders `collector` (a counter kept by a layer below HTTP).
    pub fn including(self, collector: impl prometheus::core::Collector + 'static) -> Self {
        self.registry
            .register(Box::new(collector))
            .expect("each metric is registered once");
        self
    }

    pub(super) fn observe(&self, method: &str, route: &str, status: &str, started: Instant) {
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(started.elapsed().as_secs_f64());
    }

    /// The series in Prometheus' text format.
    pub fn render(&self, out: &mut Vec<u8>) {
        // Encoding into memory fails only on a malformed family, which `default` rules out.
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), out);
    }
}

/// A method as a label: the standard methods by name, any other `other`. A client picks the
/// method freely (`FOO`, `X1`, ...): as a label it would add series without end.
pub(super) fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for made_up in ["FOO", "X1", "get", "PROPFIND"] {
            let method = Method::from_bytes(made_up.as_bytes()).expect("a method token");
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }
}
