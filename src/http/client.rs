//! Who is calling: the address the login throttle counts by.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The peer's address; when the peer is one of `trusted` proxies, the nearest address in
/// `X-Forwarded-For` that is not (a client cannot forge its way past the proxies it came
/// through, only add entries before them). An address that cannot be told is "unknown".
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|address| address.ip()) else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let req = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().expect("socket"))
            .insert_header(("X-Forwarded-For", "198.51.100.1"))
            .to_http_request();
        assert_eq!(client_address(&req, &[ip("10.0.0.1")]), "203.0.113.9");
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_forwarded_address_is_the_client() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().expect("socket"))
            // The client forged the first entry; the proxies appended the rest.
            .insert_header(("X-Forwarded-For", "1.2.3.4, 198.51.100.7, 10.0.0.2"))
            .to_http_request();
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(client_address(&req, &trusted), "198.51.100.7");
    }

    #[test]
    fn a_trusted_peer_without_forwarding_is_itself() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().expect("socket"))
            .to_http_request();
        assert_eq!(client_address(&req, &[ip("10.0.0.1")]), "10.0.0.1");
    }
}
