//! Any bytes as a request body under each content type the endpoints read: parsing and the
//! DRF-style field validation must answer a 4xx error or the fields, never panic.
#![no_main]

use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use tokenledger::http::body;

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=X"),
    Some("text/plain"),
    None,
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, bytes)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(*selector) % CONTENT_TYPES.len()]
        .map(|value| actix_web::http::header::HeaderValue::from_static(value));
    // Everything is in memory: the parse completes in one poll.
    if let Some(Ok(fields)) = body::parse(content_type.as_ref(), bytes).now_or_never() {
        let _ = fields.strings(["username", "password"]);
        let _ = fields.boolean("is_staff", false);
    }
});
