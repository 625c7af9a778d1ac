//! One integration-test binary (one link, many modules): every test starts the real server
//! on port 0 against its own SQLite database and talks HTTP to it.

mod helpers;

mod admin;
mod attacks;
mod audit;
mod browser;
mod claims;
mod cli;
mod console;
mod cors;
mod crash;
mod discovery;
mod docs;
mod feed;
mod gateway;
mod hardening;
mod import;
mod instances;
mod keys;
mod ledger;
mod logs;
mod me;
mod metrics;
mod oauth;
mod openapi;
mod process;
mod requests;
mod rotation;
mod sessions;
mod sliding;
mod tamper;
mod throttle;
mod tokens;
mod verify;
mod webhooks;
