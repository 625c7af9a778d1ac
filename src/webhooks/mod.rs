//! Webhooks (contract section 8): the selected ledger events POSTed to every configured URL,
//! signed as Standard Webhooks, at least once and in seq order per URL. Each URL has a thread
//! of its own (`deliverer`) and a row in `webhook_cursors` holding its position and a lease,
//! so with several instances on one database exactly one delivers to a URL at a time, and
//! another takes over when the holder stops renewing (it died).
//!
//! Layering: webhooks -> ledger -> db. The deliverers read what this instance has applied
//! (the follower keeps that current for events other instances wrote), so nothing is sent
//! before it is committed.

pub mod deliverer;
pub mod message;
pub mod metrics;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Settings};
use crate::db::{StoreError, webhook_cursors};
use crate::ledger::Ledger;
use crate::ledger::chain::head_seq;
use deliverer::{Deliverer, TIMEOUT, Target};
pub use metrics::WebhookMetrics;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Wakes idle deliverers as soon as this instance applies events (its own commits, or the
/// follower's catch-up), instead of each polling: a generation counter and a condvar.
#[derive(Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wakeup {
    pub fn poke(&self) {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the generation moves past `seen`, at most `timeout`.
    pub fn wait_past(&self, seen: u64, timeout: Duration) {
        let guard = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .changed
            .wait_timeout_while(guard, timeout, |generation| *generation == seen);
    }
}

/// `scheme://host[:port]/path` of `url`: no user, password, query or fragment.
pub fn label(url: &str) -> String {
    match url.parse::<actix_web::http::Uri>() {
        Ok(uri) => {
            format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or("http"),
                uri.host().unwrap_or("?"),
                uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default(),
            ) + uri.path()
        }
        Err(_) => "invalid".into(),
    }
}

fn endpoint(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// Starts one deliverer per configured URL (none without URLs); they stop with `stop`.
pub fn spawn(
    settings: &Settings,
    ledger: &Ledger,
    metrics: &WebhookMetrics,
    stop: &Arc<AtomicBool>,
) -> Result<(), WebhookError> {
    let urls = settings.webhook_urls();
    if urls.is_empty() {
        return Ok(());
    }
    let secret = settings.webhook_secret().ok_or_else(|| {
        ConfigError::Invalid("webhook_secret is required with webhook_urls".into())
    })?;
    let signer = Arc::new(
        standardwebhooks::Webhook::new(secret.0.expose())
            .map_err(|_| ConfigError::Invalid("webhook_secret must be whsec_<base64>".into()))?,
    );
    let selection = settings.webhook_selection()?;
    let holder = uuid::Uuid::new_v4().simple().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        // A redirect would send the signed event somewhere nobody configured.
        .max_redirects(0)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                // The system's root certificates, through OpenSSL (no bundled list).
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .user_agent("tokenledger-webhooks")
        .build()
        .into();
    let wakeup = Arc::new(Wakeup::default());
    let poked = wakeup.clone();
    ledger
        .revocations()
        .observe(Box::new(move |_| poked.poke()));
    let head = head_seq(&mut *ledger.pool().get().map_err(StoreError::from)?)?;
    for url in urls {
        let target = Target {
            label: label(&url),
            endpoint: endpoint(&url),
            url,
        };
        let position = webhook_cursors::ensure(
            &mut *ledger.pool().get().map_err(StoreError::from)?,
            &target.endpoint,
            head,
        )?;
        metrics.lag(
            &target.label,
            (ledger.revocations().applied_seq() - position).max(0),
        );
        let deliverer = Deliverer {
            ledger: ledger.clone(),
            target,
            signer: signer.clone(),
            selection: selection.clone(),
            holder: holder.clone(),
            lease: settings.webhook_lease,
            retry: settings.webhook_retry,
            agent: agent.clone(),
            metrics: metrics.clone(),
            stop: stop.clone(),
            wakeup: wakeup.clone(),
        };
        std::thread::Builder::new()
            .name(format!("{}-webhook", crate::db::BACKGROUND_THREAD_PREFIX))
            .spawn(move || deliverer.run())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn a_label_keeps_no_credentials_and_no_query() {
        assert_eq!(
            label("https://user:pa55@hooks.example.com:8443/in/tl?token=s3cret#x"),
            "https://hooks.example.com:8443/in/tl"
        );
        assert_eq!(label("http://127.0.0.1:9000/"), "http://127.0.0.1:9000/");
    }
}
