use crate::db::StoreError;

/// Why a presented token was refused. `Display` is the exact message of the wire contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Token is invalid")]
    Invalid,
    #[error("Token is expired")]
    Expired,
    #[error("Token is blacklisted")]
    Blacklisted,
    #[error("Token has wrong type")]
    WrongType,
    #[error("Token has no type")]
    NoType,
    #[error("Token has no id")]
    NoId,
    #[error("Token has no '{0}' claim")]
    MissingClaim(&'static str),
    #[error("Token '{0}' claim has expired")]
    ClaimExpired(&'static str),
}

/// What the token service answers instead of tokens.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Login with a wrong password, an unknown or an inactive user (indistinguishable).
    #[error("No active account found with the given credentials")]
    NoActiveAccount,
    /// Refresh for a user that is inactive or gone.
    #[error("No active account found for the given token.")]
    NoActiveAccountForToken,
    /// `verify` of a blacklisted token: a validation error, not an authentication failure.
    #[error("Token is blacklisted")]
    VerifyBlacklisted,
    /// Too many failed logins from this client: DRF's throttled answer.
    #[error("Request was throttled. Expected available in {retry_after} second{}.", if *retry_after == 1 { "" } else { "s" })]
    Throttled { retry_after: u64 },
    #[error("could not sign a token: {0}")]
    Signing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
