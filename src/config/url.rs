//! The shop's public address.

use std::net::SocketAddr;

use super::DEFAULT_BIND_ADDR;

pub(super) fn parse_public_url(
    raw: Option<String>,
    bind_addr: Option<SocketAddr>,
) -> Result<String, String> {
    let url = match raw {
        Some(url) => url.trim().trim_end_matches('/').to_owned(),
        None => format!(
            "http://{}",
            bind_addr.map_or_else(|| DEFAULT_BIND_ADDR.into(), |a| a.to_string())
        ),
    };
    match origin_of(&url) {
        Some(_) => Ok(url),
        None => Err(format!(
            "PUBLIC_URL must start with http:// or https:// and name a host, not {url:?}"
        )),
    }
}

/// `scheme://host[:port]` of an http(s) URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}
