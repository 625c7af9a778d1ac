//! Tokens: claims and their checks, keys, the pure rules that decide what a command records
//! (`decide`), and the service that loads their facts, appends and signs.

pub mod accounts;
pub mod claims;
pub mod decide;
pub mod error;
pub mod keys;
mod login;
pub mod policy;
mod refresh;
mod revoke;
pub mod service;
pub mod sessions;

pub use error::{AuthError, TokenError};
pub use keys::TokenKeys;
pub use policy::TokenPolicy;
pub use service::{BearerFailure, Pair, Refreshed, TokenService};
