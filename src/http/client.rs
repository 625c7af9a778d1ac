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
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    // From the nearest proxy outwards: the first address that is not a trusted proxy is the
    // client. An entry that does not parse ends the walk at the proxy that wrote it: skipping
    // it would let the client's own forged entry (further out) be taken for its address.
    let mut reporter = peer;
    for entry in entries.iter().rev() {
        match parse_forwarded(entry) {
            Some(address) if trusted.contains(&address) => reporter = address,
            Some(address) => return address.to_string(),
            None => return reporter.to_string(),
        }
    }
    reporter.to_string()
}

/// One `X-Forwarded-For` entry: an address, `IPv4:port` or `[IPv6]:port` (as some proxies
/// write them).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip())
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
    fn forwarded_entries_with_ports_name_their_address() {
        assert_eq!(
            parse_forwarded(" 198.51.100.7:5555"),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            parse_forwarded("[2001:db8::7]:443"),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(parse_forwarded("2001:db8::7"), Some(ip("2001:db8::7")));
        assert_eq!(parse_forwarded("unknown"), None);
        assert_eq!(parse_forwarded("1.2.3.4:port"), None);
    }

    #[test]
    fn an_unparsable_entry_is_the_proxy_that_wrote_it() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().expect("socket"))
            .insert_header(("X-Forwarded-For", "1.2.3.4, garbage, 10.0.0.2"))
            .to_http_request();
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(client_address(&req, &trusted), "10.0.0.2");
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().expect("socket"))
            .insert_header(("X-Forwarded-For", "1.2.3.4, 198.51.100.7:80"))
            .to_http_request();
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
