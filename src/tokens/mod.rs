//! Tokens: claims and their checks, keys, the pure rules that decide what a command records
//! (`decide`), and the service that loads their facts, appends and signs.

pub mod accounts;
pub mod acting;
pub mod authenticate;
pub mod claims;
pub mod decide;
pub mod error;
pub mod keys;
mod login;
pub mod policy;
pub mod reader;
mod refresh;
mod revoke;
pub mod service;
pub mod sessions;
pub mod shared_key;

pub use authenticate::{Authenticated, Authenticator, Credential};
pub use error::{AuthError, TokenError};
pub use keys::TokenKeys;
pub use policy::TokenPolicy;
pub use reader::LedgerReader;
pub use service::{BearerFailure, Pair, Refreshed, TokenService};
