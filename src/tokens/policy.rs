use crate::config::UserClaim;
use crate::config::{ConfigError, Settings, UsernameField};
use crate::ledger::TokenType;
use crate::users::throttle::LoginThrottle;

/// The token rules the service applies, and the login's (`login`), read once from [`Settings`].
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub access_lifetime: i64,
    pub refresh_lifetime: i64,
    pub sliding_lifetime: i64,
    pub sliding_refresh_lifetime: i64,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    pub reuse_detection: bool,
    /// After a rotation, how long the old token is answered with the same new pair.
    pub reuse_grace: chrono::Duration,
    pub revoke_access_on_logout: bool,
    pub leeway: i64,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub bearer_types: Vec<TokenType>,
    /// User fields copied into access and sliding tokens (`TOKEN_CLAIMS`).
    pub user_claims: Vec<UserClaim>,
    pub login: LoginPolicy,
}

/// How a login is checked before any token is issued: the field it names, the throttle and
/// what a lockout does, and the bound on passwords waiting to be hashed.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    pub username_field: UsernameField,
    pub update_last_login: bool,
    pub throttle: LoginThrottle,
    pub lockout_revokes_sessions: bool,
    pub password_hash_queue: usize,
}

impl TokenPolicy {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let secs = |d: std::time::Duration| d.as_secs() as i64;
        Ok(Self {
            access_lifetime: secs(settings.access_token_lifetime),
            refresh_lifetime: secs(settings.refresh_token_lifetime),
            sliding_lifetime: secs(settings.sliding_token_lifetime),
            sliding_refresh_lifetime: secs(settings.sliding_token_refresh_lifetime),
            rotate_refresh_tokens: settings.rotate_refresh_tokens,
            blacklist_after_rotation: settings.blacklist_after_rotation,
            reuse_detection: settings.reuse_detection,
            reuse_grace: chrono::Duration::from_std(settings.reuse_grace)
                .map_err(|_| ConfigError::Invalid("reuse_grace is too long".into()))?,
            revoke_access_on_logout: settings.revoke_access_on_logout,
            leeway: secs(settings.leeway),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            bearer_types: settings.bearer_token_types()?,
            user_claims: settings.user_claims()?,
            login: LoginPolicy {
                username_field: settings.username_field,
                update_last_login: settings.update_last_login,
                throttle: LoginThrottle {
                    per_username: settings.login_throttle,
                    per_client: settings.login_throttle_ip,
                },
                lockout_revokes_sessions: settings.lockout_revokes_sessions,
                password_hash_queue: settings.password_hash_queue,
            },
        })
    }

    /// Seconds a token can stay acceptable after it was signed: the longest lifetime, plus the
    /// leeway. A retired signing key verifies this long after its retirement.
    pub fn longest_token_life(&self) -> i64 {
        [
            self.access_lifetime,
            self.refresh_lifetime,
            self.sliding_lifetime,
            self.sliding_refresh_lifetime,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + self.leeway
    }

    pub fn lifetime(&self, token_type: TokenType) -> i64 {
        match token_type {
            TokenType::Access => self.access_lifetime,
            TokenType::Refresh => self.refresh_lifetime,
            TokenType::Sliding => self.sliding_lifetime,
        }
    }
}
