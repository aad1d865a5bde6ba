//! Who the client is behind a reverse proxy (`TRUSTED_PROXIES`).

/// `TRUSTED_PROXIES`: addresses or networks (`10.0.0.0/8`), comma-separated.
pub(super) fn parse_trusted_proxies(raw: Option<String>) -> Result<Vec<ipnet::IpNet>, String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("TRUSTED_PROXIES: {p:?} is not an address or a network like 10.0.0.0/8")
                })
        })
        .collect()
}

/// The client behind a request: the peer, unless the peer is a trusted
/// proxy, then the right-most `X-Forwarded-For` address that is not one
/// (a client can prepend anything; only what our proxies appended counts).
pub fn client_address<'a>(
    peer: Option<std::net::IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<std::net::IpAddr> = forwarded_for
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trusted_proxies_say_who_the_client_is() {
        let trusted = parse_trusted_proxies(Some("10.0.0.0/8, 192.0.2.1".into())).unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // A direct client cannot claim another address.
        assert_eq!(
            client_address(
                Some(ip("203.0.113.9")),
                ["198.51.100.1"].into_iter(),
                &trusted
            ),
            Some(ip("203.0.113.9"))
        );
        // Behind our proxies: the right-most address they did not add.
        assert_eq!(
            client_address(
                Some(ip("10.1.2.3")),
                ["6.6.6.6, 198.51.100.7", "192.0.2.1"].into_iter(),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_address(Some(ip("10.1.2.3")), std::iter::empty(), &trusted),
            Some(ip("10.1.2.3"))
        );
        assert!(parse_trusted_proxies(Some("proxy.local".into())).is_err());
        assert!(
            super::super::tests::settings(&[])
                .unwrap()
                .trusted_proxies
                .is_empty()
        );
    }
}
