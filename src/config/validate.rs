//! The checks a loaded configuration must pass before anything starts: what serde accepted
//! but the service cannot use.

use super::{ConfigError, Settings, feed};

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.auth_header_types.is_empty() {
            return Err(ConfigError::Invalid(
                "auth_header_types must name at least one scheme".into(),
            ));
        }
        self.bearer_token_types()?;
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|proxy| proxy.parse::<std::net::IpAddr>().is_err())
        {
            return Err(ConfigError::Invalid(format!(
                "trusted_proxies: {bad:?} is not an IP address"
            )));
        }
        if let Some(bad) = self
            .cors_origins
            .iter()
            .find(|origin| *origin != "*" && !is_origin(origin))
        {
            return Err(ConfigError::Invalid(format!(
                "cors_origins: {bad:?} is not an origin (scheme://host[:port], or *)"
            )));
        }
        feed::validate(self)?;
        self.user_claims()?;
        if let Some(name) = &self.refresh_cookie
            && !is_cookie_name(name)
        {
            return Err(ConfigError::Invalid(format!(
                "refresh_cookie: {name:?} is not a cookie name (letters, digits, - and _)"
            )));
        }
        if self.signing_key.is_some() && self.signing_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "set signing_key or signing_key_file, not both".into(),
            ));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` and nothing more, as browsers send in `Origin`.
fn is_origin(origin: &str) -> bool {
    origin.parse::<actix_web::http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
            && uri
                .path_and_query()
                .is_none_or(|path| path.as_str().is_empty() || path.as_str() == "/")
            && !origin.ends_with('/')
    })
}

/// A cookie name that needs no quoting anywhere: what `tl_refresh` looks like.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
