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
pub(crate) mod lenient;
mod validate;
pub use feed::{WebhookSecret, WebhookSelection};
// The domain's own types, named here because settings hold them.
pub use crate::users::login_rate::LoginRate;
pub use crate::users::username_field::UsernameField;

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

/// How log lines are written: for a person (`text`) or for a log collector (`json`, one object
/// per line with the request's span fields, `request_id` among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
