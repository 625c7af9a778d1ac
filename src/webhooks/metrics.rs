//! `/metrics` series of the webhooks, labelled by the URL's label (no credentials, no query):
//! the label set is the configured URLs, so it cannot grow.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

#[derive(Clone)]
pub struct WebhookMetrics {
    lag: IntGaugeVec,
    deliveries: IntCounterVec,
    latency: HistogramVec,
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        Self {
            lag: IntGaugeVec::new(
                Opts::new(
                    "tokenledger_webhook_lag_events",
                    "Ledger events applied here that delivery to the URL has not passed yet.",
                ),
                &["url"],
            )
            .expect("valid metric options"),
            deliveries: IntCounterVec::new(
                Opts::new(
                    "tokenledger_webhook_attempts_total",
                    "Webhook POSTs this instance made, by URL and outcome (delivered, failed).",
                ),
                &["url", "outcome"],
            )
            .expect("valid metric options"),
            latency: HistogramVec::new(
                HistogramOpts::new(
                    "tokenledger_webhook_request_duration_seconds",
                    "Time from POST to a 2xx answer, by URL.",
                ),
                &["url"],
            )
            .expect("valid metric options"),
        }
    }
}

impl WebhookMetrics {
    pub fn lag(&self, url: &str, events: i64) {
        self.lag.with_label_values(&[url]).set(events);
    }

    pub fn delivered(&self, url: &str, took: Duration) {
        self.deliveries.with_label_values(&[url, "delivered"]).inc();
        self.latency
            .with_label_values(&[url])
            .observe(took.as_secs_f64());
    }

    pub fn failed(&self, url: &str) {
        self.deliveries.with_label_values(&[url, "failed"]).inc();
    }

    /// The collectors, for the registry `/metrics` renders.
    pub fn collectors(&self) -> (IntGaugeVec, IntCounterVec, HistogramVec) {
        (
            self.lag.clone(),
            self.deliveries.clone(),
            self.latency.clone(),
        )
    }
}
