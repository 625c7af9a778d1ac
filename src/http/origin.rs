//! The origin (`scheme://host[:port]`) clients reach this service at, for absolute URLs in
//! documents such as the discovery metadata. Behind a trusted proxy, its `Forwarded` (RFC 7239)
//! or `X-Forwarded-Proto`/`X-Forwarded-Host` say what the client used; from anyone else those
//! headers are ignored, since a client could otherwise make us publish its URLs.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

/// The origin of `req` as its client sees it.
pub fn request_origin(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let from_proxy = req
        .peer_addr()
        .is_some_and(|peer| trusted.contains(&peer.ip()));
    let (mut scheme, mut host) = (None, None);
    if from_proxy {
        (scheme, host) = forwarded(req);
        if scheme.is_none() {
            scheme = first_value(req, "x-forwarded-proto");
        }
        if host.is_none() {
            host = first_value(req, "x-forwarded-host");
        }
    }
    let scheme = scheme
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "http".to_owned());
    let host = host
        .filter(|host| is_host(host))
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .filter(|host| is_host(host))
        // A Host that is not one (or none at all): the address the request arrived at.
        .unwrap_or_else(|| req.app_config().local_addr().to_string());
    format!("{scheme}://{host}")
}

/// `proto` and `host` of the first (the client-facing) element of `Forwarded`.
fn forwarded(req: &HttpRequest) -> (Option<String>, Option<String>) {
    let Some(value) = req
        .headers()
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
    else {
        return (None, None);
    };
    let first = value.split(',').next().unwrap_or("");
    let (mut proto, mut host) = (None, None);
    for pair in first.split(';') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" => proto = Some(value),
            "host" => host = Some(value),
            _ => {}
        }
    }
    (proto, host)
}

fn first_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A host name or address with an optional port: nothing that could break out of a URL.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const PROXY: &str = "10.0.0.1:4000";

    fn trusted() -> Vec<IpAddr> {
        vec!["10.0.0.1".parse().unwrap()]
    }

    #[test]
    fn a_direct_client_gets_the_host_it_asked_for_and_its_forwarding_is_ignored() {
        let req = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().unwrap())
            .insert_header(("Host", "auth.example:8000"))
            .insert_header(("X-Forwarded-Host", "evil.example"))
            .insert_header(("X-Forwarded-Proto", "https"))
            .to_http_request();
        assert_eq!(request_origin(&req, &trusted()), "http://auth.example:8000");
    }

    #[test]
    fn a_trusted_proxy_names_scheme_and_host() {
        let req = TestRequest::default()
            .peer_addr(PROXY.parse().unwrap())
            .insert_header(("Host", "127.0.0.1:8000"))
            .insert_header(("X-Forwarded-Host", "auth.example, inner"))
            .insert_header(("X-Forwarded-Proto", "https"))
            .to_http_request();
        assert_eq!(request_origin(&req, &trusted()), "https://auth.example");
        let req = TestRequest::default()
            .peer_addr(PROXY.parse().unwrap())
            .insert_header((
                "Forwarded",
                r#"for=1.2.3.4;proto=https;host="id.example:8443", for=10.0.0.2"#,
            ))
            .insert_header(("X-Forwarded-Host", "ignored.example"))
            .to_http_request();
        assert_eq!(request_origin(&req, &trusted()), "https://id.example:8443");
    }

    #[test]
    fn a_host_that_is_not_one_is_not_published() {
        let req = TestRequest::default()
            .peer_addr(PROXY.parse().unwrap())
            .insert_header(("X-Forwarded-Host", "a.example/evil?x=\"y"))
            .insert_header(("X-Forwarded-Proto", "javascript"))
            .insert_header(("Host", "ok.example"))
            .to_http_request();
        assert_eq!(request_origin(&req, &trusted()), "http://ok.example");
    }
}
