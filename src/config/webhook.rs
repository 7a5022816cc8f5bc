//! `[webhook]`: the listener's address and path, tokens, limits and
//! timeouts, TLS material and trusted proxies, validated into
//! [`webhook::Config`]. The network edge's own keys are in
//! [`super::webhook_edge`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::credentials::resolve_credential;
use super::problems::{ConfigError, Errors};
use super::raw;
use super::values::{at_least_one, duration, positive, resolve};
use super::{tokens, trusted_proxies, webhook_edge, webhook_exposure};
use crate::inputs::webhook;
use crate::secret::Secret;
use crate::spool;

/// Loopback by default: facing the internet is a decision the operator makes.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8383";
/// The path the README and the Auth0 set-up instructions use.
pub const DEFAULT_PATH: &str = "/auth0/logs";
/// Auth0 batches are small (hundreds of events); 16 MiB leaves room for
/// backfills posted by hand without letting one client exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `max_body_bytes` allowed: one event of the body must fit a
/// spool record (`spool::record::MAX_EVENT_BYTES`).
pub const MAX_BODY_BYTES: u64 = spool::record::MAX_EVENT_BYTES as u64;
/// Enough for a busy stream plus a few backfills; each connection costs a
/// task and a TLS session (~50 KiB).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// A legitimate client sends its headers at once; 10 s only hurts slowloris.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// 16 MiB at a slow 300 KiB/s still fits in 60 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Long enough for the output to drain some of the spool before Auth0 retries.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The webhook token the packaging once shipped as a placeholder: refused,
/// since anyone who read the package could send events.
pub const PLACEHOLDER_TOKEN: &str = "change-me-to-the-output-of-openssl-rand-hex-32";

/// Validates `[webhook]`; `None` when a problem was pushed.
pub(crate) fn build(
    raw: raw::RawWebhook,
    base: &Path,
    errors: &mut Errors,
    warnings: &mut Vec<ConfigError>,
    tokens_files: &mut Vec<tokens::TokensFile>,
) -> Option<webhook::Config> {
    let exposure = webhook_exposure::Exposure::of(&raw);
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(listen) => Some(listen),
        Err(_) => {
            errors.push(
                "webhook.listen",
                format!("`{listen_text}` is not an address:port such as `127.0.0.1:8383`"),
            );
            None
        }
    };
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.to_owned());
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        errors.push(
            "webhook.path",
            format!("`{path}` must start with `/` and hold no query, fragment or space"),
        );
    }
    let report = tokens::Report {
        errors,
        warnings: Some(warnings),
        files: tokens_files,
    };
    let tokens = tokens::read("webhook", raw.tokens, raw.tokens_file, base, report);
    check_placeholder(&tokens, errors);
    webhook_exposure::check(&exposure, listen, tokens.len(), errors);
    let trusted_proxies = trusted_proxies::build(raw.trusted_proxies, errors);
    let max_body_bytes = positive(
        errors,
        "webhook.max_body_bytes",
        raw.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES,
    );
    if max_body_bytes > MAX_BODY_BYTES {
        errors.push(
            "webhook.max_body_bytes",
            format!("must be at most {MAX_BODY_BYTES} bytes (256MiB): one event must fit a spool record"),
        );
    }
    let max_connections = at_least_one(
        errors,
        "webhook.max_connections",
        raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
    );
    let header_timeout = duration(
        errors,
        "webhook.header_timeout",
        raw.header_timeout,
        DEFAULT_HEADER_TIMEOUT,
    );
    let body_timeout = duration(
        errors,
        "webhook.body_timeout",
        raw.body_timeout,
        DEFAULT_BODY_TIMEOUT,
    );
    let retry_after = duration(
        errors,
        "webhook.retry_after",
        raw.retry_after,
        DEFAULT_RETRY_AFTER,
    );
    let edge = webhook_edge::build(
        raw.idle_timeout,
        raw.send_timeout,
        raw.max_inflight_bytes,
        max_body_bytes,
        errors,
    );
    let tls = match raw.tls {
        None => None,
        Some(tls) => {
            let cert = resolve(base, &tls.cert);
            let key = resolve_credential(base, &tls.key);
            let loaded = webhook::tls::certified_key(&cert, &key).and_then(|key| {
                let slot = Arc::new(webhook::tls::CertificateSlot::new(key));
                let config = webhook::tls::server_config_with(Arc::clone(&slot))?;
                Ok((Arc::new(config), slot))
            });
            match loaded {
                Ok(loaded) => Some(loaded),
                Err(error) => {
                    errors.push("webhook.tls", error.to_string());
                    None
                }
            }
        }
    };
    let (tls, certificate) = match tls {
        Some((config, slot)) => (Some(config), Some(slot)),
        None => (None, None),
    };
    Some(webhook::Config {
        listen: listen?,
        path,
        reloadable: Arc::new(webhook::Reloadable {
            tokens: webhook::auth::Tokens::new(tokens.clone()),
            certificate,
        }),
        tokens,
        max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        max_connections,
        header_timeout,
        body_timeout,
        retry_after,
        edge,
        tls,
        trusted_proxies,
    })
}

/// The placeholder token is an error (short ones are warned about by
/// [`tokens::read`]). Tokens are named by position, never shown.
fn check_placeholder(tokens: &[Secret<String>], errors: &mut Errors) {
    for (index, token) in tokens.iter().enumerate() {
        if token.expose().trim() == PLACEHOLDER_TOKEN {
            errors.push(
                "webhook.tokens",
                format!("token {} is the placeholder from the example: generate one with `openssl rand -hex 32`", index + 1),
            );
        }
    }
}
