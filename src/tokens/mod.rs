//! Tokens: claims and their checks, keys, and the service that issues, rotates and revokes.

pub mod acting;
pub mod authenticate;
pub mod claims;
pub mod error;
pub mod keys;
pub mod policy;
pub mod reader;
pub mod service;
pub mod sessions;
pub mod shared_key;

pub use authenticate::{Authenticated, Authenticator, Credential};
pub use error::{AuthError, TokenError};
pub use keys::TokenKeys;
pub use policy::TokenPolicy;
pub use reader::LedgerReader;
pub use service::{BearerFailure, Pair, Refreshed, TokenService};
