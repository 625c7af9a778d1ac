//! Tokens: claims and their checks, keys, and the service that issues, rotates and revokes.

pub mod claims;
pub mod error;
pub mod keys;
pub mod policy;
pub mod service;
pub mod sessions;

pub use error::{AuthError, TokenError};
pub use keys::TokenKeys;
pub use policy::TokenPolicy;
pub use service::{BearerFailure, Pair, Refreshed, TokenService};
