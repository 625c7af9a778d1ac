use std::net::IpAddr;

use actix_web::http::header::HeaderValue;

use super::metrics::{HttpMetrics, LedgerState};
use super::refresh_cookie::RefreshCookie;
use crate::tokens::accounts::Accounts;
use crate::tokens::{Authenticator, LedgerReader, TokenService};
use crate::users::UserDirectory;

/// What every handler shares.
pub struct AppState {
    pub tokens: TokenService,
    /// Account reads and changes; its directory holds the active users bearer tokens name, so
    /// protected requests need no database read.
    pub accounts: Accounts,
    /// The one way in, for every extractor.
    pub authenticator: Authenticator,
    /// The ledger and view reads handlers serve.
    pub reader: LedgerReader,
    pub metrics: HttpMetrics,
    pub max_body: usize,
    /// Schemes accepted in `Authorization`, lower-cased (matched case-insensitively).
    pub header_types: Vec<String>,
    /// `WWW-Authenticate` on every 401: `<first scheme> realm="api"`, as the reference.
    pub www_authenticate: HeaderValue,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see `client::client_address`).
    pub trusted_proxies: Vec<IpAddr>,
    /// The browser flow's refresh cookie (`REFRESH_COOKIE`); `None`: off.
    pub refresh_cookie: Option<RefreshCookie>,
}

impl AppState {
    pub fn new(
        tokens: TokenService,
        max_body: usize,
        header_types: &[String],
        trusted_proxies: &[String],
    ) -> Self {
        let first = header_types.first().map_or("Bearer", String::as_str);
        let www_authenticate = HeaderValue::from_str(&format!("{first} realm=\"api\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"api\""));
        let accounts = Accounts::new(
            tokens.ledger().clone(),
            UserDirectory::following(tokens.ledger().revocations()),
        );
        Self {
            authenticator: Authenticator::new(tokens.clone(), accounts.clone()),
            reader: LedgerReader::new(tokens.ledger().clone()),
            accounts,
            metrics: HttpMetrics::default()
                .including(tokens.ledger().appended().clone())
                .including(tokens.ledger().commits().clone())
                .including(LedgerState::new(tokens.ledger().clone())),
            tokens,
            max_body,
            header_types: header_types
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            www_authenticate,
            // Settings::validate refused anything that is not an address.
            trusted_proxies: trusted_proxies
                .iter()
                .filter_map(|proxy| proxy.parse().ok())
                .collect(),
            refresh_cookie: None,
        }
    }

    /// Turns the refresh cookie on (or leaves it off: `None`).
    pub fn with_refresh_cookie(mut self, cookie: Option<RefreshCookie>) -> Self {
        self.refresh_cookie = cookie;
        self
    }
}
