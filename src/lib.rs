//! tokenledger: a SimpleJWT-compatible JWT service whose token state is folded from an
//! append-only ledger. Data flows one way:
//! `http`/`cli` -> `tokens`/`users`/`import` -> `ledger` -> `db`.

pub mod cli;
pub mod config;
pub mod db;
#[cfg(test)]
mod house_rules;
pub mod http;
pub mod import;
pub mod ledger;
pub mod openapi;
pub mod startup;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod users;
pub mod webhooks;
