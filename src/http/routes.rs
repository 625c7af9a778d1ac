//! Every route of the service, in one list that also makes the OpenAPI document's paths: each
//! API endpoint is mounted from its handler's `#[utoipa::path]` (`endpoint.rs`), as crates.io
//! mounts its routes. The admin console is HTML and stays out of the document; Swagger UI is
//! mounted by `startup`.

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;

use super::endpoint::{Documented, Endpoint};
use super::error::ApiError;
use super::{
    admin, audit, console, discovery, feed, forward_auth, jwks, me, metadata, oauth, operations,
    sessions, tokens,
};

pub fn configure(cfg: &mut ServiceConfig) {
    // A path segment that does not parse (`/api/admin/users/abc/…`) matches no URL, as with
    // Django's `<int:id>`: a JSON 404 like any unknown path, not actix's plain-text one.
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
    cfg.map(|cfg| cfg.service(console::scope()));

    // SimpleJWT's views: POST, OPTIONS describes the view, anything else is a JSON 405.
    let token_endpoint = |endpoint: Endpoint, metadata: fn() -> String| {
        endpoint.describing(metadata).refusing_others()
    };
    cfg.service(token_endpoint(
        Endpoint::new(tokens::__path_obtain_pair, tokens::obtain_pair),
        metadata::obtain_pair,
    ))
    .service(token_endpoint(
        Endpoint::new(tokens::__path_refresh, tokens::refresh),
        metadata::refresh,
    ))
    .service(token_endpoint(
        Endpoint::new(tokens::__path_verify, tokens::verify),
        metadata::verify,
    ))
    .service(token_endpoint(
        Endpoint::new(tokens::__path_blacklist, tokens::blacklist),
        metadata::blacklist,
    ))
    .service(token_endpoint(
        Endpoint::new(tokens::__path_obtain_sliding, tokens::obtain_sliding),
        metadata::obtain_sliding,
    ))
    .service(token_endpoint(
        Endpoint::new(tokens::__path_refresh_sliding, tokens::refresh_sliding),
        metadata::refresh_sliding,
    ));

    // As in the reference, authentication comes before the method check here.
    cfg.service(
        Endpoint::with_head(me::__path_me, me::me)
            .describing_after_auth(metadata::me)
            .refusing_others_after_auth(),
    );

    // Behind a bearer token, like `/api/me/`.
    for endpoint in [
        Endpoint::with_head(sessions::__path_list, sessions::list),
        Endpoint::new(sessions::__path_revoke, sessions::revoke),
        Endpoint::new(sessions::__path_logout_all, sessions::logout_all),
        Endpoint::new(sessions::__path_change_password, sessions::change_password),
        Endpoint::new(admin::__path_create_user, admin::create_user),
        Endpoint::new(admin::__path_deactivate, admin::deactivate),
        Endpoint::new(admin::__path_activate, admin::activate),
        Endpoint::new(admin::__path_revoke, admin::revoke),
        Endpoint::with_head(audit::__path_ledger_events, audit::ledger_events),
        Endpoint::with_head(audit::__path_tokens, audit::tokens),
        Endpoint::new(admin::__path_blacklist_token, admin::blacklist_token),
        Endpoint::with_head(audit::__path_token_history, audit::token_history),
        Endpoint::with_head(audit::__path_tokens_at, audit::tokens_at),
        Endpoint::new(admin::__path_flush_expired, admin::flush_expired),
        Endpoint::new(feed::__path_revocations, feed::revocations),
        Endpoint::new(feed::__path_stream, feed::stream),
        Endpoint::new(oauth::__path_introspect, oauth::introspect),
    ] {
        cfg.service(endpoint.refusing_others_after_auth());
    }
    // RFC 7009: the token in the body is the credential.
    cfg.service(Endpoint::new(oauth::__path_revoke, oauth::revoke).refusing_others());

    // Operations, discovery and forward auth: not SimpleJWT's, so actix's own 405.
    cfg.service(Endpoint::with_head(
        operations::__path_healthz,
        operations::healthz,
    ))
    .service(Endpoint::new(operations::__path_readyz, operations::readyz))
    .service(Endpoint::new(
        operations::__path_metrics,
        operations::metrics,
    ))
    .service(Endpoint::with_head(
        discovery::__path_metadata,
        discovery::metadata,
    ))
    .service(Endpoint::with_head(jwks::__path_jwks, jwks::jwks))
    .service(Documented::new(
        forward_auth::__path_check,
        forward_auth::resource(),
    ));
}
