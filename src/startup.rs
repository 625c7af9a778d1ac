//! Wiring: open the database, load the key, build the services, and serve HTTP.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, NormalizePath, TrailingSlash};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{ConfigError, Settings};
use crate::db::{self, StoreError};
use crate::http::{self, AppState};
use crate::ledger::{Ledger, flush, follower};
use crate::tokens::keys::KeyError;
use crate::tokens::{TokenPolicy, TokenService};
use crate::users::UserError;

mod bootstrap;
mod keys;

pub use bootstrap::bootstrap_admin;
use keys::token_keys;

/// How often an instance reads revocations other writers appended to the ledger.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key")]
    Key(#[from] KeyError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Webhook(#[from] crate::webhooks::WebhookError),
}

/// The database opened and migrated, and the ledger over it (what the CLI's maintenance and
/// user commands need: no signing key).
pub fn open_ledger(settings: &Settings) -> Result<Ledger, StartupError> {
    let (pool, queries) = db::connect_counted(&settings.database_url)?;
    Ok(Ledger::open(pool)?.counting_queries(queries))
}

/// The ledger, the keys, and the token service over them.
pub fn open_services(settings: &Settings) -> Result<TokenService, StartupError> {
    crate::users::password::configure_hashers(settings.password_hashers);
    let ledger = open_ledger(settings)?;
    let policy = TokenPolicy::from_settings(settings)?;
    let keys = token_keys(settings, &policy, ledger.pool())?;
    Ok(TokenService::new(keys, policy, ledger))
}

/// A running HTTP server, the follower thread that keeps its revocations current, and the
/// scheduled flush.
pub struct Application {
    server: Server,
    address: SocketAddr,
    stop_background: StopOnDrop,
}

/// Stops the background threads when the application goes, however it goes: after a graceful
/// shutdown, or when its future is dropped (a test's runtime ending) and would otherwise leave
/// them following a database nobody serves.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Application {
    /// Opens everything, binds the listener (port 0 picks a free port) and starts serving.
    /// Must be called inside an async runtime; await [`Application::run_until_stopped`].
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let tokens = open_services(&settings)?;
        bootstrap_admin(&tokens, &settings)?;
        Self::serve(settings, tokens)
    }

    pub fn serve(settings: Settings, tokens: TokenService) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            address: settings.bind.clone(),
            source,
        })?;
        let address = listener.local_addr()?;
        let stop_background = Arc::new(AtomicBool::new(false));
        follower::spawn(
            tokens.ledger().clone(),
            FOLLOW_INTERVAL,
            stop_background.clone(),
        )?;
        let purging = tokens.clone();
        flush::spawn_scheduled_with(
            tokens.ledger().clone(),
            settings.flush_interval,
            settings.leeway,
            stop_background.clone(),
            move || match purging.purge_login_failures() {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "old login failures deleted"),
                Err(err) => tracing::warn!(error = %err, "could not delete old login failures"),
            },
        )?;

        let feed_access = web::Data::new(http::feed::start(
            &settings,
            tokens.ledger(),
            &stop_background,
        )?);
        let webhook_metrics = crate::webhooks::WebhookMetrics::default();
        crate::webhooks::spawn(
            &settings,
            tokens.ledger(),
            &webhook_metrics,
            &stop_background,
        )?;

        let console = web::Data::new(http::console::Console::load(&tokens)?);
        let mut app_state = AppState::new(
            tokens,
            settings.max_body,
            &settings.auth_header_types,
            &settings.trusted_proxies,
        )
        .with_refresh_cookie(http::refresh_cookie::RefreshCookie::from_settings(
            &settings,
        ));
        let (lag, attempts, latency) = webhook_metrics.collectors();
        app_state.metrics = app_state
            .metrics
            .including(lag)
            .including(attempts)
            .including(latency);
        let state = web::Data::new(app_state);
        let openapi = crate::openapi::document();
        let cors_origins = settings.cors_origins.clone();
        let cors_credentials = settings.refresh_cookie.is_some();
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(http::add_challenge)
                // `//api/token/` reaches `/api/token/`, as in the reference; no slash is added.
                .wrap(NormalizePath::new(TrailingSlash::MergeOnly))
                .wrap(Condition::new(
                    !cors_origins.is_empty(),
                    http::cors(&cors_origins, cors_credentials),
                ))
                .wrap_fn(http::request_metrics::record)
                .wrap_fn(http::name_request)
                .wrap(TracingLogger::<http::request_span::RequestSpan>::new())
                .app_data(state.clone())
                .app_data(console.clone())
                .app_data(feed_access.clone())
                .into_utoipa_app()
                .configure(http::routes::configure)
                .into_app()
                .service(
                    SwaggerUi::new("/swagger-ui/{_:.*}")
                        .url("/api-docs/openapi.json", openapi.clone()),
                )
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        tracing::info!("listening on http://{address}");
        Ok(Self {
            server,
            address,
            stop_background: StopOnDrop(stop_background),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            stop_background,
            ..
        } = self;
        let result = server.await;
        drop(stop_background);
        result
    }
}
