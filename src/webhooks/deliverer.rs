//! One URL's deliverer: a thread that, while it holds the URL's lease, POSTs the selected
//! ledger events after the URL's stored position, one at a time in seq order, and moves the
//! position only once the URL answered 2xx. A failure is retried (same `webhook-id`) after an
//! exponentially growing wait, capped at an hour, while later events wait: at least once, in
//! order. A crash between the answer and the stored position repeats one event, never skips.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::message;
use super::metrics::WebhookMetrics;
use crate::config::WebhookSelection;
use crate::db::{StoreError, webhook_cursors};
use crate::ledger::Ledger;
use crate::ledger::log::events_after;

/// How long a URL may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts at one event.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Events read from the ledger at once.
const BATCH: i64 = 100;
/// The longest an idle deliverer sleeps without a wake-up before it looks again.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// A configured URL.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    /// The URL without credentials, query or fragment: the only form logs and metrics show.
    pub label: String,
    /// SHA-256 of the URL (hex): its key in `webhook_cursors`.
    pub endpoint: String,
}

pub struct Deliverer {
    pub ledger: Ledger,
    pub target: Target,
    pub signer: Arc<standardwebhooks::Webhook>,
    pub selection: WebhookSelection,
    /// This instance's name in the lease.
    pub holder: String,
    pub lease: Duration,
    pub retry: Duration,
    pub agent: ureq::Agent,
    pub metrics: WebhookMetrics,
    pub stop: Arc<AtomicBool>,
    pub wakeup: Arc<super::Wakeup>,
}

/// Why an attempt failed (for the log: a status or a transport error, never the URL).
enum Failure {
    Status(u16),
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status(status) => write!(f, "answered {status}"),
            Failure::Transport(err) => write!(f, "{err}"),
        }
    }
}

/// The wait after the `failures`-th failure in a row: `first`, doubled each time, at most an hour.
pub fn backoff(first: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Whether the lease is still ours: `Lost` ends the current delivery at once.
enum Lease {
    Held,
    Lost,
}

impl Deliverer {
    pub fn run(mut self) {
        let mut renewed: Option<Instant> = None;
        let mut position = 0;
        while !self.stopping() {
            let due = renewed.is_none_or(|at| at.elapsed() >= self.lease / 3);
            if due {
                match self.acquire() {
                    Ok((true, stored)) => {
                        if renewed.is_none() {
                            tracing::info!(url = %self.target.label, position = stored, "delivering webhooks");
                        }
                        renewed = Some(Instant::now());
                        position = stored;
                    }
                    Ok((false, stored)) => {
                        // Another instance delivers; watch its progress for the lag.
                        renewed = None;
                        self.show_lag(stored);
                        self.pause(self.lease / 4);
                        continue;
                    }
                    Err(err) => {
                        renewed = None;
                        tracing::warn!(url = %self.target.label, error = %err, "webhook lease: database unavailable; retrying");
                        self.pause(Duration::from_secs(1));
                        continue;
                    }
                }
            }
            self.show_lag(position);
            // The generation first: an event applied after the look below wakes the wait.
            let seen = self.wakeup.generation();
            let applied = self.ledger.revocations().applied_seq();
            if applied <= position {
                if !self.stopping() {
                    self.wakeup.wait_past(seen, IDLE_CHECK);
                }
                continue;
            }
            match self.deliver_batch(position, applied, &mut renewed) {
                Ok(Some(reached)) => position = reached,
                Ok(None) => renewed = None,
                Err(err) => {
                    tracing::warn!(url = %self.target.label, error = %err, "webhook delivery: database unavailable; retrying");
                    self.pause(Duration::from_secs(1));
                }
            }
        }
        if renewed.is_some()
            && let Ok(mut conn) = self.ledger.pool().get()
        {
            // A graceful stop hands the URL over at once instead of after the lease runs out.
            let _ = webhook_cursors::release(&mut conn, &self.target.endpoint, &self.holder);
        }
    }

    /// Delivers the events in `(position, applied]` (one batch); returns the new position,
    /// or `None` when the lease was lost midway.
    fn deliver_batch(
        &mut self,
        position: i64,
        applied: i64,
        renewed: &mut Option<Instant>,
    ) -> Result<Option<i64>, StoreError> {
        let events = events_after(&mut *self.ledger.pool().get()?, position, BATCH)?;
        let mut reached = position;
        let mut skipped = false;
        for event in events.into_iter().take_while(|event| event.seq <= applied) {
            if !self.selection.includes(event.event) {
                reached = event.seq;
                skipped = true;
                continue;
            }
            let mut failures = 0;
            loop {
                if self.stopping() {
                    return self.store(reached, skipped).map(|_| Some(reached));
                }
                if let Lease::Lost = self.renew_if_due(renewed)? {
                    return Ok(None);
                }
                let started = Instant::now();
                let timestamp = chrono::Utc::now().timestamp();
                let message = message::sign(&self.signer, &self.target.endpoint, &event, timestamp);
                match self.post(&message) {
                    Ok(()) => {
                        self.metrics
                            .delivered(&self.target.label, started.elapsed());
                        break;
                    }
                    Err(failure) => {
                        failures += 1;
                        self.metrics.failed(&self.target.label);
                        let wait = backoff(self.retry, failures);
                        tracing::warn!(
                            url = %self.target.label, seq = event.seq, webhook_id = %message.id,
                            failures, retry_in = ?wait, "webhook delivery failed: {failure}"
                        );
                        let until = Instant::now() + wait;
                        while Instant::now() < until && !self.stopping() {
                            if let Lease::Lost = self.renew_if_due(renewed)? {
                                return Ok(None);
                            }
                            self.pause((until - Instant::now()).min(Duration::from_millis(100)));
                        }
                    }
                }
            }
            reached = event.seq;
            skipped = false;
            if !webhook_cursors::advance(
                &mut *self.ledger.pool().get()?,
                &self.target.endpoint,
                &self.holder,
                reached,
            )? {
                tracing::warn!(url = %self.target.label, "another instance took the webhook lease over");
                return Ok(None);
            }
            self.show_lag(reached);
        }
        self.store(reached, skipped)?;
        Ok(Some(reached))
    }

    /// Stores a position reached by skipping unselected events (a delivery stores its own).
    fn store(&self, reached: i64, skipped: bool) -> Result<(), StoreError> {
        if skipped {
            webhook_cursors::advance(
                &mut *self.ledger.pool().get()?,
                &self.target.endpoint,
                &self.holder,
                reached,
            )?;
        }
        Ok(())
    }

    fn renew_if_due(&self, renewed: &mut Option<Instant>) -> Result<Lease, StoreError> {
        if renewed.is_some_and(|at| at.elapsed() < self.lease / 3) {
            return Ok(Lease::Held);
        }
        let (held, _) = self.acquire()?;
        if held {
            *renewed = Some(Instant::now());
            Ok(Lease::Held)
        } else {
            *renewed = None;
            Ok(Lease::Lost)
        }
    }

    fn acquire(&self) -> Result<(bool, i64), StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let until = now + i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX / 2);
        webhook_cursors::acquire(
            &mut *self.ledger.pool().get()?,
            &self.target.endpoint,
            &self.holder,
            now,
            until,
        )
    }

    fn post(&self, message: &message::Message) -> Result<(), Failure> {
        let response = self
            .agent
            .post(&self.target.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", message.timestamp.to_string())
            .header("webhook-signature", &message.signature)
            .send(message.body.as_bytes())
            .map_err(|err| Failure::Transport(redacted(&err.to_string(), &self.target)))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(Failure::Status(status))
        }
    }

    fn show_lag(&self, position: i64) {
        let applied = self.ledger.revocations().applied_seq();
        self.metrics
            .lag(&self.target.label, (applied - position).max(0));
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn pause(&self, wait: Duration) {
        if !self.stopping() {
            std::thread::sleep(wait);
        }
    }
}

/// A transport error's text with the URL (and so any credentials in it) replaced by its label.
fn redacted(text: &str, target: &Target) -> String {
    text.replace(&target.url, &target.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_and_stops_at_an_hour() {
        let first = Duration::from_secs(1);
        assert_eq!(backoff(first, 1), Duration::from_secs(1));
        assert_eq!(backoff(first, 2), Duration::from_secs(2));
        assert_eq!(backoff(first, 5), Duration::from_secs(16));
        assert_eq!(backoff(first, 13), MAX_BACKOFF);
        assert_eq!(backoff(first, u32::MAX), MAX_BACKOFF);
    }
}
