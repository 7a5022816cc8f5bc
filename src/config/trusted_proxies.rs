//! `webhook.trusted_proxies`: the reverse proxies whose `X-Forwarded-For`
//! the webhook believes when it names a client (see
//! [`crate::inputs::webhook::peer`]).

use super::problems::Errors;
use crate::inputs::webhook::peer::TrustedProxies;

/// Parses each entry as an address (`127.0.0.1`, `::1`) or a network in CIDR
/// form (`10.0.0.0/8`); none means no proxy is trusted.
pub(super) fn build(raw: Option<Vec<String>>, errors: &mut Errors) -> TrustedProxies {
    let mut networks = Vec::new();
    for (index, text) in raw.unwrap_or_default().iter().enumerate() {
        let text = text.trim();
        let parsed = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(network) => networks.push(network.trunc()),
            Err(_) => errors.push(
                &format!("webhook.trusted_proxies[{index}]"),
                format!("`{text}` is not an IP address or CIDR network such as `127.0.0.1` or `10.0.0.0/8`"),
            ),
        }
    }
    TrustedProxies::new(networks)
}
