//! All configuration in one place: `TOKENLEDGER_*` environment variables over an optional
//! TOML file (`--config FILE` or `TOKENLEDGER_CONFIG`), with the contract's defaults.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ledger::TokenType;

pub const ENV_PREFIX: &str = "TOKENLEDGER_";

mod feed;
pub use feed::{WebhookSecret, WebhookSelection};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("could not read the key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        // figment names the key ("for key `default.access_token_lifetime`"); enough to act on.
        ConfigError::Invalid(err.to_string())
    }
}

/// A value that must never reach a log: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        lenient::string(deserializer).map(Secret)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsernameField {
    Username,
    Email,
}

impl UsernameField {
    pub fn as_str(self) -> &'static str {
        match self {
            UsernameField::Username => "username",
            UsernameField::Email => "email",
        }
    }
}

/// How log lines are written: for a person (`text`) or for a log collector (`json`, one object
/// per line with the request's span fields, `request_id` among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The signing algorithms of contract section 2, by their JOSE names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl SigningAlgorithm {
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    pub signing_key: Option<Secret>,
    pub signing_key_file: Option<PathBuf>,
    pub algorithm: SigningAlgorithm,
    /// PEM public keys of retired signing keys that still verify (key rotation).
    #[serde(with = "lenient::comma_list")]
    pub verifying_key_files: Vec<String>,
    #[serde(with = "lenient::duration")]
    pub access_token_lifetime: Duration,
    #[serde(with = "lenient::duration")]
    pub refresh_token_lifetime: Duration,
    #[serde(with = "lenient::duration")]
    pub sliding_token_lifetime: Duration,
    #[serde(with = "lenient::duration")]
    pub sliding_token_refresh_lifetime: Duration,
    #[serde(deserialize_with = "lenient::boolean")]
    pub rotate_refresh_tokens: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub blacklist_after_rotation: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub reuse_detection: bool,
    #[serde(with = "lenient::duration")]
    pub reuse_grace: Duration,
    #[serde(deserialize_with = "lenient::boolean")]
    pub revoke_access_on_logout: bool,
    #[serde(with = "lenient::duration")]
    pub leeway: Duration,
    #[serde(deserialize_with = "lenient::optional_string")]
    pub issuer: Option<String>,
    #[serde(deserialize_with = "lenient::optional_string")]
    pub audience: Option<String>,
    #[serde(with = "lenient::comma_list")]
    pub auth_header_types: Vec<String>,
    #[serde(with = "lenient::comma_list")]
    pub auth_token_types: Vec<String>,
    /// How often `serve` runs flush-expired; zero turns it off.
    #[serde(with = "lenient::duration")]
    pub flush_interval: Duration,
    #[serde(with = "lenient::byte_size")]
    pub max_body: usize,
    #[serde(deserialize_with = "lenient::boolean")]
    pub update_last_login: bool,
    pub username_field: UsernameField,
    pub bootstrap_admin: Option<Secret>,
    pub log: String,
    pub log_format: LogFormat,
    /// Failed logins allowed per username (from one client address) per window.
    pub login_throttle: LoginRate,
    /// Failed logins allowed per client address per window, whatever the usernames.
    pub login_throttle_ip: LoginRate,
    /// A lockout (the failure that reaches `login_throttle`) also revokes the user's tokens.
    #[serde(deserialize_with = "lenient::boolean")]
    pub lockout_revokes_sessions: bool,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the real client.
    #[serde(with = "lenient::comma_list")]
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to call the API from a browser (`*`: any); empty: no CORS headers.
    #[serde(with = "lenient::comma_list")]
    pub cors_origins: Vec<String>,
    /// Passwords hashed at once (argon2id, 19 MiB each); more logins wait. 0: one per core.
    pub password_hashers: usize,
    /// Comma-separated secrets (32+ characters) accepted on the revocation feed (see `feed`).
    pub feed_keys: Option<Secret>,
    /// Revocation streams open at once on this instance; beyond it 503.
    pub feed_max_streams: usize,
    /// How often an idle revocation stream sends a comment line (the contract: 15 s at most).
    #[serde(with = "lenient::duration")]
    pub feed_keepalive: Duration,
    /// Comma-separated URLs that receive ledger events (kept as a secret: URLs may carry
    /// credentials, and `Settings` may be logged).
    pub webhook_urls: Option<Secret>,
    /// `whsec_<base64>`: the Standard Webhooks signing secret.
    pub webhook_secret: Option<Secret>,
    /// Ledger events sent to the webhooks (`*`: all).
    #[serde(with = "lenient::comma_list")]
    pub webhook_events: Vec<String>,
    /// How long an instance holds a webhook URL's delivery lease without renewing it.
    #[serde(with = "lenient::duration")]
    pub webhook_lease: Duration,
    /// The first retry's wait after a failed delivery; doubled per failure, capped at 1 hour.
    #[serde(with = "lenient::duration")]
    pub webhook_retry: Duration,
    /// User fields copied into access and sliding tokens (`username`, `email`, `is_staff`).
    #[serde(with = "lenient::comma_list")]
    pub token_claims: Vec<String>,
    /// The refresh token's HttpOnly cookie (and `<name>_csrf`); unset: no cookies.
    #[serde(deserialize_with = "lenient::optional_string")]
    pub refresh_cookie: Option<String>,
    /// With the cookie on, `refresh` is left out of JSON bodies.
    #[serde(deserialize_with = "lenient::boolean")]
    pub refresh_cookie_only: bool,
    /// `Secure` on the refresh cookies; `false` only for local http development.
    #[serde(deserialize_with = "lenient::boolean")]
    pub cookie_secure: bool,
    /// Password checks allowed to wait for (or run on) a hasher at once; more get 429.
    /// 0: no cap.
    pub password_hash_queue: usize,
}

/// `N/DURATION`: at most N failures in any window of DURATION (`5/15m`); `off` (or `0`)
/// throttles nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRate {
    pub failures: u32,
    pub window: Duration,
}

impl LoginRate {
    pub const OFF: LoginRate = LoginRate {
        failures: 0,
        window: Duration::ZERO,
    };

    pub fn is_off(&self) -> bool {
        self.failures == 0 || self.window.is_zero()
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text == "0" {
            return Ok(Self::OFF);
        }
        let (failures, window) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a rate such as 5/15m"))?;
        let failures = failures
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a rate such as 5/15m"))?;
        let window = lenient::duration::parse(window)?;
        Ok(Self { failures, window })
    }
}

impl fmt::Display for LoginRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.write_str("off");
        }
        write!(f, "{}/{}s", self.failures, self.window.as_secs())
    }
}

impl Serialize for LoginRate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LoginRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = lenient::string(deserializer)?;
        LoginRate::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://tokenledger.db".into(),
            bind: "127.0.0.1:8000".into(),
            signing_key: None,
            signing_key_file: None,
            algorithm: SigningAlgorithm::HS256,
            verifying_key_files: Vec::new(),
            access_token_lifetime: Duration::from_secs(5 * 60),
            refresh_token_lifetime: Duration::from_secs(24 * 3600),
            sliding_token_lifetime: Duration::from_secs(5 * 60),
            sliding_token_refresh_lifetime: Duration::from_secs(24 * 3600),
            rotate_refresh_tokens: true,
            blacklist_after_rotation: true,
            reuse_detection: true,
            reuse_grace: Duration::ZERO,
            revoke_access_on_logout: true,
            leeway: Duration::ZERO,
            issuer: None,
            audience: None,
            auth_header_types: vec!["Bearer".into()],
            auth_token_types: vec!["access".into()],
            flush_interval: Duration::from_secs(3600),
            max_body: 64 * 1024,
            update_last_login: false,
            username_field: UsernameField::Username,
            bootstrap_admin: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            login_throttle: LoginRate {
                failures: 5,
                window: Duration::from_secs(15 * 60),
            },
            login_throttle_ip: LoginRate {
                failures: 50,
                window: Duration::from_secs(15 * 60),
            },
            lockout_revokes_sessions: false,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            password_hashers: 0,
            feed_keys: None,
            feed_max_streams: 10_000,
            feed_keepalive: Duration::from_secs(10),
            webhook_urls: None,
            webhook_secret: None,
            webhook_events: vec!["blacklisted".into(), "reuse_detected".into()],
            webhook_lease: Duration::from_secs(30),
            webhook_retry: Duration::from_secs(1),
            token_claims: Vec::new(),
            refresh_cookie: None,
            refresh_cookie_only: false,
            cookie_secure: true,
            password_hash_queue: 64,
        }
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

/// A user field `token_claims` may copy into access and sliding tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserClaim {
    Username,
    Email,
    IsStaff,
}

impl UserClaim {
    pub const ALL: [UserClaim; 3] = [UserClaim::Username, UserClaim::Email, UserClaim::IsStaff];

    pub fn as_str(self) -> &'static str {
        match self {
            UserClaim::Username => "username",
            UserClaim::Email => "email",
            UserClaim::IsStaff => "is_staff",
        }
    }
}

/// A cookie name that needs no quoting anywhere: what `tl_refresh` looks like.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Settings {
    /// Defaults, then the TOML file (if any), then the environment: the environment wins.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let from_env = std::env::var_os(format!("{ENV_PREFIX}CONFIG")).map(PathBuf::from);
        if let Some(file) = config_file.map(Path::to_path_buf).or(from_env) {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment
            .merge(Env::prefixed(ENV_PREFIX).ignore(&["config"]))
            .extract()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
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

    /// The user fields `token_claims` names, each once; an unknown name is an error.
    pub fn user_claims(&self) -> Result<Vec<UserClaim>, ConfigError> {
        let mut claims = Vec::new();
        for name in &self.token_claims {
            let claim = UserClaim::ALL
                .into_iter()
                .find(|claim| claim.as_str() == name.trim())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "token_claims: {name:?} is not one of username, email, is_staff"
                    ))
                })?;
            if !claims.contains(&claim) {
                claims.push(claim);
            }
        }
        Ok(claims)
    }

    /// Token types accepted on protected endpoints (`auth_token_types`).
    pub fn bearer_token_types(&self) -> Result<Vec<TokenType>, ConfigError> {
        let types = self
            .auth_token_types
            .iter()
            .map(|name| match name.parse::<TokenType>() {
                Ok(kind) if kind.is_bearer() => Ok(kind),
                _ => Err(ConfigError::Invalid(format!(
                    "auth_token_types: {name:?} is not one of access, sliding"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if types.is_empty() {
            return Err(ConfigError::Invalid(
                "auth_token_types must name a token type".into(),
            ));
        }
        Ok(types)
    }

    /// The configured signing key, from the variable or the file; `None` means "generate".
    pub fn configured_signing_key(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(key) = &self.signing_key {
            return Ok(Some(key.clone()));
        }
        match &self.signing_key_file {
            Some(path) => std::fs::read_to_string(path)
                .map(|key| Some(Secret::new(key)))
                .map_err(|source| ConfigError::KeyFile {
                    path: path.clone(),
                    source,
                }),
            None => Ok(None),
        }
    }

    /// The PEM text of each `verifying_key_files` entry, with its path.
    pub fn verifying_keys(&self) -> Result<Vec<(PathBuf, String)>, ConfigError> {
        self.verifying_key_files
            .iter()
            .map(PathBuf::from)
            .map(|path| match std::fs::read_to_string(&path) {
                Ok(pem) => Ok((path, pem)),
                Err(source) => Err(ConfigError::KeyFile { path, source }),
            })
            .collect()
    }
}

/// Deserializers that accept what people type into environment variables and TOML alike.
mod lenient {
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::{Deserialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Bool(bool),
        Int(i64),
        Float(f64),
        Text(String),
    }

    impl Scalar {
        fn into_text(self) -> String {
            match self {
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Text(s) => s,
            }
        }
    }

    /// Any scalar as text: a numeric-looking secret is still a string.
    pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Scalar::deserialize(deserializer).map(Scalar::into_text)
    }

    pub fn optional_string<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(Option::<Scalar>::deserialize(deserializer)?
            .map(Scalar::into_text)
            .filter(|text| !text.is_empty()))
    }

    pub fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        match Scalar::deserialize(deserializer)? {
            Scalar::Bool(b) => Ok(b),
            Scalar::Int(0) => Ok(false),
            Scalar::Int(1) => Ok(true),
            Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                other => Err(de::Error::custom(format!(
                    "expected a boolean, got {other:?}"
                ))),
            },
            _ => Err(de::Error::custom("expected a boolean")),
        }
    }

    pub mod duration {
        use super::*;

        /// Plain seconds or a humantime string (`90s`, `5m`, `1d`).
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Duration, D::Error> {
            match Scalar::deserialize(deserializer)? {
                Scalar::Int(secs) if secs >= 0 => Ok(Duration::from_secs(secs as u64)),
                Scalar::Float(secs) if secs >= 0.0 && secs.is_finite() => {
                    Ok(Duration::from_secs_f64(secs))
                }
                Scalar::Text(text) => parse(&text).map_err(de::Error::custom),
                _ => Err(de::Error::custom(
                    "expected a duration such as 90s, 5m or 1d",
                )),
            }
        }

        pub fn parse(text: &str) -> Result<Duration, String> {
            let text = text.trim();
            if let Ok(secs) = text.parse::<u64>() {
                return Ok(Duration::from_secs(secs));
            }
            humantime::parse_duration(text)
                .map_err(|err| format!("{text:?} is not a duration such as 90s, 5m or 1d: {err}"))
        }

        pub fn serialize<S: Serializer>(
            value: &Duration,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_u64(value.as_secs())
        }
    }

    pub mod comma_list {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<String>, D::Error> {
            struct ListVisitor;
            impl<'de> Visitor<'de> for ListVisitor {
                type Value = Vec<String>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a comma-separated string or a list of strings")
                }
                fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                    Ok(text
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect())
                }
                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Self::Value, A::Error> {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element::<String>()? {
                        items.push(item);
                    }
                    Ok(items)
                }
            }
            deserializer.deserialize_any(ListVisitor)
        }

        pub fn serialize<S: Serializer>(
            value: &[String],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&value.join(","))
        }
    }

    pub mod byte_size {
        use super::*;

        /// Plain bytes or a size with a unit: `64KiB`, `1MiB`, `64KB`, `512B`.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
            match Scalar::deserialize(deserializer)? {
                Scalar::Int(bytes) if bytes > 0 => Ok(bytes as usize),
                Scalar::Text(text) => parse(&text).map_err(de::Error::custom),
                _ => Err(de::Error::custom("expected a size such as 64KiB")),
            }
        }

        pub fn parse(text: &str) -> Result<usize, String> {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: usize = number
                .parse()
                .map_err(|_| format!("{text:?} is not a size"))?;
            let scale = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "kib" | "k" => 1024,
                "kb" => 1000,
                "mib" | "m" => 1024 * 1024,
                "mb" => 1_000_000,
                _ => return Err(format!("{text:?}: unknown unit (use B, KiB, MiB)")),
            };
            Ok(number * scale)
        }

        pub fn serialize<S: Serializer>(value: &usize, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_u64(*value as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lenient::{byte_size, duration};
    use std::time::Duration;

    #[test]
    fn durations_accept_humantime_and_plain_seconds() {
        assert_eq!(duration::parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration::parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration::parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration::parse("42"), Ok(Duration::from_secs(42)));
        assert!(duration::parse("soon").is_err());
    }

    #[test]
    fn sizes_accept_units() {
        assert_eq!(byte_size::parse("64KiB"), Ok(65_536));
        assert_eq!(byte_size::parse("1MiB"), Ok(1_048_576));
        assert_eq!(byte_size::parse("100"), Ok(100));
        assert!(byte_size::parse("lots").is_err());
    }
}
