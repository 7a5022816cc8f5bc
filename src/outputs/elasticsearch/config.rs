//! `[output.elasticsearch]` once validated: where documents go, how to
//! authenticate, and the shared HTTP output settings.

use elasticsearch::http::Url;

use crate::outputs::compression::Compression;
use crate::outputs::tuning::Tuning;
use crate::secret::Secret;

/// The data stream prefix: Elastic's data stream naming scheme
/// `<type>-<dataset>-<namespace>` with the Auth0 integration's dataset.
pub const DATA_STREAM_PREFIX: &str = "logs-auth0.logs-";

/// Most bytes of a data stream namespace (Elastic's naming scheme).
pub const MAX_NAMESPACE_BYTES: usize = 100;

/// Characters a namespace cannot hold: Elasticsearch refuses them in an
/// index name (`\/*?"<>| ,#`, `:`), and `-` separates the data stream's
/// parts (`logs-auth0.logs-<namespace>`).
pub const NAMESPACE_FORBIDDEN: &str = "-\\/*?\"<>| ,#:";

/// Whether `namespace` can end a data stream name: lowercase, 1 to
/// [`MAX_NAMESPACE_BYTES`] bytes, none of [`NAMESPACE_FORBIDDEN`], no
/// control or white space characters. The one rule for the config and for
/// the Kibana assets.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE_BYTES
        && !namespace.chars().any(|c| {
            c.is_uppercase()
                || c.is_control()
                || c.is_whitespace()
                || NAMESPACE_FORBIDDEN.contains(c)
        })
}
/// `[output.elasticsearch]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Node URLs, each ending in `/`; requests go round-robin.
    pub hosts: Vec<Url>,
    /// How to authenticate.
    pub auth: Auth,
    /// PEM CA certificate(s) to trust instead of the built-in roots.
    pub ca_cert: Option<Vec<u8>>,
    /// Verify the server's certificate (`false` only for tests and labs).
    pub tls_verify: bool,
    /// The data stream namespace.
    pub namespace: String,
    /// Where documents go: `logs-auth0.logs-<namespace>` or the override.
    pub index: String,
    /// Batch limits (documents, body bytes), requests in flight, the
    /// request timeout and the retry schedule.
    pub tuning: Tuning,
    /// Bulk request body encoding (`compression`).
    pub compression: Compression,
}

/// Credentials for the Elastic Stack: Elasticsearch, and Kibana for
/// `setup` ([`crate::setup::kibana`]). `Debug` shows no secret.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An API key: Elasticsearch's base64 `id:key` form (or `id:key` itself).
    ApiKey(Secret<String>),
    /// HTTP basic authentication.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// No credentials (a cluster without security, or a test).
    None,
}
