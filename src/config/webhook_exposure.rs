//! Who may post to the webhook: no token is an error unless the operator
//! opts out with `webhook.allow_unauthenticated` (loopback only), and a
//! non-loopback listener without `[webhook.tls]` needs its TLS-terminating
//! proxy declared (`webhook.trusted_proxies`) or `webhook.allow_plaintext`
//! (issue 17, item 1). Messages name the key and the fix, never a token.

use std::net::SocketAddr;

use super::problems::Errors;
use super::raw::RawWebhook;

/// What the check needs from `[webhook]`.
pub(super) struct Exposure {
    /// Whether `tokens_file` was written: a file without a token, or one
    /// that cannot be read, is already reported by [`super::tokens::read`].
    pub tokens_file: bool,
    /// `webhook.allow_unauthenticated`
    pub allow_unauthenticated: bool,
    /// `webhook.allow_plaintext`
    pub allow_plaintext: bool,
    /// Whether `[webhook.tls]` is present.
    pub tls: bool,
    /// Whether `webhook.trusted_proxies` names at least one proxy.
    pub trusted_proxies: bool,
}

impl Exposure {
    /// What `raw` says.
    pub fn of(raw: &RawWebhook) -> Exposure {
        Exposure {
            tokens_file: raw.tokens_file.is_some(),
            allow_unauthenticated: raw.allow_unauthenticated.unwrap_or(false),
            allow_plaintext: raw.allow_plaintext.unwrap_or(false),
            tls: raw.tls.is_some(),
            trusted_proxies: raw
                .trusted_proxies
                .as_ref()
                .is_some_and(|list| !list.is_empty()),
        }
    }
}

/// Pushes every problem of `exposure` on `listen` (`None` when it did not
/// parse, reported elsewhere) with `tokens` tokens read.
pub(super) fn check(
    exposure: &Exposure,
    listen: Option<SocketAddr>,
    tokens: usize,
    errors: &mut Errors,
) {
    let loopback = listen.map(|listen| listen.ip().is_loopback());
    if exposure.allow_unauthenticated {
        if let (Some(false), Some(listen)) = (loopback, listen) {
            errors.push(
                "webhook.allow_unauthenticated",
                format!(
                    "is refused on the non-loopback listener `{listen}`: set `webhook.tokens` or \
                     `webhook.tokens_file` (generate a token with `openssl rand -hex 32`), or \
                     listen on `127.0.0.1`"
                ),
            );
        }
    } else if tokens == 0 && !exposure.tokens_file {
        errors.push(
            "webhook.tokens",
            "no token: anyone who reaches the listener could post events; set `webhook.tokens` \
             or `webhook.tokens_file` (generate a token with `openssl rand -hex 32`), or, on a \
             loopback listener only, `webhook.allow_unauthenticated = true`"
                .to_owned(),
        );
    }
    if let (Some(false), Some(listen)) = (loopback, listen) {
        if !exposure.tls && !exposure.trusted_proxies && !exposure.allow_plaintext {
            errors.push(
                "webhook.listen",
                format!(
                    "`{listen}` is not loopback and serves plain HTTP: add `[webhook.tls]` \
                     (`cert`, `key`), declare the TLS-terminating proxy in \
                     `webhook.trusted_proxies`, or set `webhook.allow_plaintext = true`"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::errors_of;

    const REST: &str = "[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";

    fn keys(webhook: &str) -> Vec<String> {
        errors_of(&format!("[webhook]\n{webhook}\n{REST}"))
    }

    #[test]
    fn no_token_needs_the_loopback_opt_out() {
        assert_eq!(keys(""), ["webhook.tokens"]);
        assert_eq!(keys("tokens = []"), ["webhook.tokens"]);
        assert!(keys("allow_unauthenticated = true").is_empty());
        assert!(keys("tokens = [\"0123456789abcdef\"]").is_empty());
        assert_eq!(
            keys("listen = \"0.0.0.0:8383\"\nallow_unauthenticated = true\nallow_plaintext = true"),
            ["webhook.allow_unauthenticated"]
        );
    }

    #[test]
    fn a_public_plaintext_listener_needs_a_proxy_or_the_key() {
        let token = "tokens = [\"0123456789abcdef\"]\nlisten = \"0.0.0.0:8383\"";
        assert_eq!(keys(token), ["webhook.listen"]);
        assert!(keys(&format!("{token}\ntrusted_proxies = [\"10.0.0.1\"]")).is_empty());
        assert!(keys(&format!("{token}\nallow_plaintext = true")).is_empty());
        assert!(keys("tokens = [\"0123456789abcdef\"]\nlisten = \"[::1]:8383\"").is_empty());
    }
}
