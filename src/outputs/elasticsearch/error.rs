//! What can go wrong building a [`Client`](super::client::Client) or
//! talking to the cluster outside the bulk path.

/// Errors building a [`Client`](super::client::Client) or talking to the cluster outside the bulk
/// path (start-up check, `setup`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded field definitions do not build a template (a bug the
    /// unit tests catch).
    #[error(transparent)]
    Fields(#[from] crate::fields::Error),
    /// The transport could not be built (bad CA certificate, TLS set-up).
    #[error("cannot build the elasticsearch client")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The cluster answered with an unexpected status.
    #[error("elasticsearch answered `{path}` with {status}: {body}")]
    Status {
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The request could not be sent or its answer read.
    #[error("request `{path}` to elasticsearch failed")]
    Transport {
        /// The request path.
        path: String,
        /// Why.
        #[source]
        source: elasticsearch::Error,
    },
    /// The cluster's answer is not what Elasticsearch sends.
    #[error("elasticsearch answered `{path}` with unexpected JSON")]
    UnexpectedBody {
        /// The request path.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The credentials were refused (401 or 403).
    #[error("elasticsearch refused the credentials for `{path}` ({status})")]
    Unauthorized {
        /// The request path.
        path: String,
        /// 401 or 403.
        status: u16,
    },
}
