//! The one registry `/metrics` renders: per-route request counts and latencies, recorded by
//! one middleware (`request_metrics`), the ledger's counters, the in-memory revocation state
//! (read when rendered, see `LedgerState`) and the view's size. Routes are labelled by their
//! pattern (`/api/admin/users/{id}/`), never by the path a client sent, so a scan of random
//! URLs adds one `unmatched` series, not thousands.

use std::time::Instant;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::ledger::{Ledger, TokenState};

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
            Box::new(requests.clone()) as Box<dyn Collector>,
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

    /// The series in Prometheus' text format, with the view's size as just read (`None`: the
    /// database did not answer, and the series is left out rather than the answer failing).
    pub fn render(&self, view_size: Option<&[(TokenState, i64)]>, out: &mut Vec<u8>) {
        let mut families = self.registry.gather();
        if let Some(sizes) = view_size {
            families.extend(view_tokens(sizes).collect());
        }
        // Encoding into memory fails only on a malformed family, which `default` rules out.
        let _ = prometheus::TextEncoder::new().encode(&families, out);
    }
}

/// Made per answer: the size is read from the database for that answer, so nothing is shared.
fn view_tokens(sizes: &[(TokenState, i64)]) -> IntGaugeVec {
    let view_tokens = IntGaugeVec::new(
        Opts::new(
            "tokenledger_view_tokens",
            "Tokens in the view (not yet flushed), by state.",
        ),
        &["state"],
    )
    .expect("valid metric options");
    for state in [TokenState::Outstanding, TokenState::Blacklisted] {
        let count = sizes
            .iter()
            .find(|(of, _)| *of == state)
            .map_or(0, |(_, count)| *count);
        view_tokens.with_label_values(&[state.as_str()]).set(count);
    }
    view_tokens
}

/// The ledger's in-memory state as series, read each time the registry is gathered (they are
/// values the ledger already keeps; copying them into gauges on every change would cost the
/// hot path).
pub struct LedgerState {
    ledger: Ledger,
    descs: Vec<Desc>,
}

const DB_QUERIES: (&str, &str) = (
    "tokenledger_db_queries_total",
    "Database queries run for requests (background work excluded).",
);
const GAUGES: [(&str, &str); 5] = [
    (
        "tokenledger_revoked_bearer_tokens",
        "Revoked access and sliding tokens held in memory.",
    ),
    (
        "tokenledger_revoked_refresh_tokens",
        "Revoked refresh tokens held in memory (for verify).",
    ),
    (
        "tokenledger_ledger_applied_seq",
        "The newest ledger seq applied to the in-memory state.",
    ),
    (
        "tokenledger_ledger_seq",
        "The newest ledger seq this instance knows the database holds.",
    ),
    (
        "tokenledger_ledger_lag",
        "Events known committed but not yet applied here.",
    ),
];

impl LedgerState {
    pub fn new(ledger: Ledger) -> Self {
        let mut descs: Vec<Desc> = counter(DB_QUERIES, 0).desc().into_iter().cloned().collect();
        for (name, help) in GAUGES {
            descs.extend(gauge((name, help), 0).desc().into_iter().cloned());
        }
        Self { ledger, descs }
    }
}

fn counter((name, help): (&str, &str), value: u64) -> IntCounter {
    let counter = IntCounter::new(name, help).expect("valid metric options");
    counter.inc_by(value);
    counter
}

fn gauge((name, help): (&str, &str), value: i64) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("valid metric options");
    gauge.set(value);
    gauge
}

impl Collector for LedgerState {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let revocations = self.ledger.revocations();
        let values = [
            i64::try_from(revocations.len()).unwrap_or(i64::MAX),
            i64::try_from(revocations.refresh_len()).unwrap_or(i64::MAX),
            revocations.applied_seq(),
            revocations.ledger_seq(),
            revocations.lag(),
        ];
        let mut families = counter(DB_QUERIES, self.ledger.queries()).collect();
        for (named, value) in GAUGES.into_iter().zip(values) {
            families.extend(gauge(named, value).collect());
        }
        families
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
