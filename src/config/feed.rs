//! The settings of the revocation feed and the webhooks (contract section 8): parsed and
//! checked here, so a bad value is a start-up error, never a surprise at the first delivery.

use base64::Engine;

use super::{ConfigError, Secret, Settings};
use crate::ledger::EventKind;

/// A feed key shorter than this is refused at start: it is a bearer secret.
pub const MIN_FEED_KEY: usize = 32;

/// The Standard Webhooks secret, `whsec_<base64>`, checked to decode.
#[derive(Clone)]
pub struct WebhookSecret(pub Secret);

/// Which ledger events go to the webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSelection {
    All,
    Only(Vec<EventKind>),
}

impl WebhookSelection {
    pub fn includes(&self, kind: EventKind) -> bool {
        match self {
            WebhookSelection::All => true,
            WebhookSelection::Only(kinds) => kinds.contains(&kind),
        }
    }
}

fn split(list: &Option<Secret>) -> Vec<String> {
    list.as_ref()
        .map(|list| {
            list.expose()
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Settings {
    /// The configured feed keys (each checked to be long enough by `validate`).
    pub fn feed_keys(&self) -> Vec<Secret> {
        split(&self.feed_keys)
            .into_iter()
            .map(Secret::new)
            .collect()
    }

    /// The webhook URLs. They may carry credentials: never log them.
    pub fn webhook_urls(&self) -> Vec<String> {
        split(&self.webhook_urls)
    }

    pub fn webhook_secret(&self) -> Option<WebhookSecret> {
        self.webhook_secret.clone().map(WebhookSecret)
    }

    pub fn webhook_selection(&self) -> Result<WebhookSelection, ConfigError> {
        if self.webhook_events.iter().any(|name| name == "*") {
            return Ok(WebhookSelection::All);
        }
        let kinds = self
            .webhook_events
            .iter()
            .map(|name| {
                name.parse::<EventKind>().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "webhook_events: {name:?} is not one of issued, rotated, blacklisted, \
                         expired, reuse_detected (or *)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if kinds.is_empty() {
            return Err(ConfigError::Invalid(
                "webhook_events must name an event (or *)".into(),
            ));
        }
        Ok(WebhookSelection::Only(kinds))
    }
}

/// An `http`/`https` URL with a host (where a webhook can be POSTed).
fn is_webhook_url(url: &str) -> bool {
    url.parse::<actix_web::http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    })
}

pub(super) fn validate(settings: &Settings) -> Result<(), ConfigError> {
    if settings
        .feed_keys()
        .iter()
        .any(|key| key.expose().chars().count() < MIN_FEED_KEY)
    {
        return Err(ConfigError::Invalid(format!(
            "feed_keys: every key must be at least {MIN_FEED_KEY} characters"
        )));
    }
    if settings.feed_max_streams == 0 {
        return Err(ConfigError::Invalid(
            "feed_max_streams must be at least 1".into(),
        ));
    }
    if settings.feed_keepalive.is_zero() || settings.feed_keepalive.as_secs() > 15 {
        return Err(ConfigError::Invalid(
            "feed_keepalive must be between 1ms and 15s".into(),
        ));
    }
    settings.webhook_selection()?;
    let urls = settings.webhook_urls();
    // The position says which URL's it is by index in the message, never the URL itself.
    if let Some(index) = urls.iter().position(|url| !is_webhook_url(url)) {
        return Err(ConfigError::Invalid(format!(
            "webhook_urls: entry {} is not an http:// or https:// URL",
            index + 1
        )));
    }
    if urls.is_empty() {
        return Ok(());
    }
    let Some(secret) = &settings.webhook_secret else {
        return Err(ConfigError::Invalid(
            "webhook_secret is required with webhook_urls (whsec_<base64>)".into(),
        ));
    };
    let decodes = secret.expose().strip_prefix("whsec_").is_some_and(|key| {
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|key| !key.is_empty())
    });
    if !decodes {
        return Err(ConfigError::Invalid(
            "webhook_secret must be whsec_ followed by base64".into(),
        ));
    }
    if settings.webhook_lease.as_millis() < 200 {
        return Err(ConfigError::Invalid(
            "webhook_lease must be at least 200ms".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(configure: impl FnOnce(&mut Settings)) -> Result<(), ConfigError> {
        let mut settings = Settings::default();
        configure(&mut settings);
        validate(&settings)
    }

    #[test]
    fn short_feed_keys_and_bad_webhook_settings_are_start_up_errors() {
        assert!(with(|s| s.feed_keys = Some(Secret::new("short"))).is_err());
        assert!(with(|s| s.feed_keys = Some(Secret::new("k".repeat(32)))).is_ok());
        let url = Some(Secret::new("http://127.0.0.1:9/hook"));
        assert!(with(|s| s.webhook_urls = url.clone()).is_err(), "no secret");
        assert!(
            with(|s| {
                s.webhook_urls = url.clone();
                s.webhook_secret = Some(Secret::new("not-whsec"));
            })
            .is_err()
        );
        assert!(
            with(|s| {
                s.webhook_urls = url.clone();
                s.webhook_secret = Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
            })
            .is_ok()
        );
        assert!(
            with(|s| {
                s.webhook_urls = Some(Secret::new("ftp://x/"));
                s.webhook_secret = Some(Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
            })
            .is_err()
        );
        assert!(with(|s| s.webhook_events = vec!["nope".into()]).is_err());
        assert_eq!(
            {
                let s = Settings {
                    webhook_events: vec!["*".into()],
                    ..Settings::default()
                };
                s.webhook_selection().ok()
            },
            Some(WebhookSelection::All)
        );
    }
}
