//! Structured logs to stderr (stdout is for command output), filtered by `TOKENLEDGER_LOG`,
//! as text or JSON (`TOKENLEDGER_LOG_FORMAT`). Lines logged while a request is served carry
//! its span: method, route, client and the `request_id` the response names in `X-Request-Id`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests build many apps in one process) is not an error.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        // Colour codes only for a person at a terminal, not in files and log collectors.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
