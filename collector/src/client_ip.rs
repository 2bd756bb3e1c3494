//! The client's address: for rate limiting (full) and for logs (masked).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Request;

use crate::config::ClientAddr;

/// The peer address, or behind `proxies` proxies of ours the hop the outermost one appended to
/// `X-Forwarded-For` (earlier entries are whatever the client sent).
pub fn client_ip<B>(req: &Request<B>, source: ClientAddr) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match source {
        ClientAddr::Peer => peer,
        ClientAddr::Forwarded { proxies } => {
            let values = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .map(|v| v.to_str().unwrap_or(""));
            forwarded_client(values, proxies).or(peer)
        }
    }
}

/// The hop `proxies` places from the right of the joined `X-Forwarded-For` values, or `None`
/// when that hop is missing or is not an address: an entry our own proxy added is never
/// skipped in favour of one further left, which the client wrote.
pub fn forwarded_client<'a>(values: impl Iterator<Item = &'a str>, proxies: u8) -> Option<IpAddr> {
    let hops: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
    let at = hops.len().checked_sub(usize::from(proxies.max(1)))?;
    parse_hop(hops[at].trim())
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]` or either with a port, as proxies write them.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
}

/// A log-safe form: IPv4 keeps its /24, IPv6 its /48 — enough to spot a noisy network, not
/// enough to identify a visitor.
pub fn masked(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.x")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_host_part() {
        assert_eq!(masked("203.0.113.77".parse().unwrap()), "203.0.113.x");
        assert_eq!(
            masked("2001:db8:abcd:12::1".parse().unwrap()),
            "2001:db8:abcd::/48"
        );
    }

    fn hop(values: &[&str], proxies: u8) -> Option<String> {
        forwarded_client(values.iter().copied(), proxies).map(|ip| ip.to_string())
    }

    #[test]
    fn takes_the_hop_our_outermost_proxy_added() {
        assert_eq!(
            hop(&["6.6.6.6, 203.0.113.7"], 1).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            hop(&["6.6.6.6", "203.0.113.7, 10.0.0.2"], 2).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            hop(&["[2001:db8::1]:443"], 1).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            hop(&["203.0.113.7:5555"], 1).as_deref(),
            Some("203.0.113.7")
        );
    }

    #[test]
    fn an_unparsable_proxy_hop_is_not_skipped_for_a_client_written_one() {
        // The client forged 6.6.6.6; our proxy appended something we cannot read.
        assert_eq!(hop(&["6.6.6.6, unknown"], 1), None);
        assert_eq!(hop(&["6.6.6.6,"], 1), None);
        // Fewer hops than proxies: the header is not what our proxies write.
        assert_eq!(hop(&["203.0.113.7"], 2), None);
        assert_eq!(hop(&[], 1), None);
    }
}
