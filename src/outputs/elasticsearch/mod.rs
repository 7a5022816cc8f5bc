//! The Elasticsearch output: documents are bulk-indexed with `create` into
//! the data stream `logs-auth0.logs-<namespace>` (or `index`), with `_id` =
//! `log_id` (or a hash of the document without one, see [`bulk`]), so a
//! redelivered event is a `409` (a duplicate, counted as success) and never
//! a second document.
//!
//! Layout: [`bulk`] encodes NDJSON bodies, [`request`] sends one and
//! reads its answer for the shared retry loop ([`crate::outputs::retry`]),
//! [`response`] reads per-item results, [`health`] is the start-up cluster
//! check, [`setup`] installs the index templates (`auth0-ingest setup`).
//!
//! # Invariants
//!
//! - **A delivery is finished only when every one of its documents has a
//!   final outcome**: indexed (`201`), duplicate (`409`), or dead-lettered
//!   (another `4xx` about the document, after the dead-letter file is
//!   fsynced). Transient failures (connection errors, timeouts, `429`,
//!   `5xx`, `es_rejected_execution_exception`) and configuration problems
//!   (a closed or missing index, no write index, a missing pipeline or
//!   template, `400` to every request) are retried in-process for as long
//!   as it takes; the spool holds the backlog meanwhile.
//! - **Bounded**: at most `max_in_flight` bulk requests are outstanding;
//!   while they are, no delivery is taken from the channel, so backpressure
//!   reaches the spool (and the webhook answers `503` when it is full).
//! - **Stopping abandons, never finishes**: when the stop token is
//!   cancelled, outstanding requests are dropped and their deliveries left
//!   unfinished, so their records are read again at the next start (and
//!   indexed documents come back as `409`s).

pub mod bulk;
pub mod health;
pub mod request;
pub mod response;
pub mod setup;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use elasticsearch::http::transport::{
    MultiNodeConnectionPool, SingleNodeConnectionPool, Transport, TransportBuilder,
};
use elasticsearch::http::{Method, Url};
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::outputs::batch::{self, Batcher, Slot, Tracker};
use crate::outputs::compression::Compression;
use crate::outputs::retry::{self, Shared};
use crate::outputs::Parts;
use crate::secret::Secret;

/// The data stream prefix: Elastic's data stream naming scheme
/// `<type>-<dataset>-<namespace>` with the Auth0 integration's dataset.
pub const DATA_STREAM_PREFIX: &str = "logs-auth0.logs-";

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
    /// Most documents per bulk request.
    pub batch_max_events: usize,
    /// Most body bytes per bulk request (a single larger document goes alone).
    pub batch_max_bytes: usize,
    /// Longest time a document waits for its bulk request to fill.
    pub flush_interval: Duration,
    /// Most bulk requests outstanding at once.
    pub max_in_flight: usize,
    /// Time one request may take before it is abandoned and retried.
    pub request_timeout: Duration,
    /// The retry schedule.
    pub backoff: Backoff,
    /// Bulk request body encoding (`compression`).
    pub compression: Compression,
}

/// Credentials for Elasticsearch.
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

/// A connection to the cluster: the `elasticsearch` crate's transport plus
/// what every request needs. Its `Debug` leaves the transport out: the
/// crate's own `Debug` prints the credentials.
#[derive(Clone)]
pub struct Client {
    transport: Transport,
    bulk_path: String,
    request_timeout: Duration,
    compression: Compression,
}

/// Errors building a [`Client`] or talking to the cluster outside the bulk
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

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Client")
            .field("bulk_path", &self.bulk_path)
            .field("request_timeout", &self.request_timeout)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client from `config`. Makes no request.
    pub fn from_config(config: &Config) -> Result<Client, Error> {
        let builder = match config.hosts.as_slice() {
            [single] => TransportBuilder::new(SingleNodeConnectionPool::new(single.clone())),
            hosts => {
                TransportBuilder::new(MultiNodeConnectionPool::round_robin(hosts.to_vec(), None))
            }
        };
        let mut builder = builder.timeout(config.request_timeout);
        builder = match &config.auth {
            Auth::ApiKey(key) => builder.auth(match key.expose().split_once(':') {
                Some((id, secret)) => Credentials::ApiKey(id.to_owned(), secret.to_owned()),
                None => Credentials::EncodedApiKey(key.expose().clone()),
            }),
            Auth::Basic { username, password } => builder.auth(Credentials::Basic(
                username.clone(),
                password.expose().clone(),
            )),
            Auth::None => builder,
        };
        if !config.tls_verify {
            builder = builder.cert_validation(CertificateValidation::None);
        } else if let Some(pem) = &config.ca_cert {
            let certificate =
                Certificate::from_pem(pem).map_err(|error| Error::Build(Box::new(error)))?;
            builder = builder.cert_validation(CertificateValidation::Full(certificate));
        }
        let transport = builder
            .build()
            .map_err(|error| Error::Build(Box::new(error)))?;
        Ok(Client {
            transport,
            bulk_path: format!("/{}/_bulk", config.index),
            request_timeout: config.request_timeout,
            compression: config.compression,
        })
    }

    /// Sends a request; the raw transport API gives per-request timeouts,
    /// response headers (`Retry-After`) and a zero-copy NDJSON body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: Option<&[(&str, &str)]>,
        content_type: &'static str,
        body: Option<Bytes>,
    ) -> Result<elasticsearch::http::response::Response, elasticsearch::Error> {
        self.send_encoded(method, path, query, content_type, None, body)
            .await
    }

    /// [`Client::send`] with a body already encoded as `content_encoding`
    /// says (the bulk path gzips its bodies itself, at level 1: the
    /// transport's own option uses level 6 for every request).
    pub(crate) async fn send_encoded(
        &self,
        method: Method,
        path: &str,
        query: Option<&[(&str, &str)]>,
        content_type: &'static str,
        content_encoding: Option<&'static str>,
        body: Option<Bytes>,
    ) -> Result<elasticsearch::http::response::Response, elasticsearch::Error> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(encoding) = content_encoding {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        self.transport
            .send(
                method,
                path,
                headers,
                query,
                body,
                Some(self.request_timeout),
            )
            .await
    }

    /// Sends a JSON request and reads the answer as JSON; 404 gives `None`.
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, Error> {
        let transport_error = |source| Error::Transport {
            path: path.to_owned(),
            source,
        };
        let body = body.map(|value| Bytes::from(value.to_string()));
        let response = self
            .send(method, path, None, "application/json", body)
            .await
            .map_err(transport_error)?;
        let status = response.status_code().as_u16();
        let bytes = response.bytes().await.map_err(transport_error)?;
        match status {
            200..=299 => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| Error::UnexpectedBody {
                        path: path.to_owned(),
                        source,
                    })
            }
            404 => Ok(None),
            401 | 403 => Err(Error::Unauthorized {
                path: path.to_owned(),
                status,
            }),
            _ => Err(Error::Status {
                path: path.to_owned(),
                status,
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(500)]).into_owned(),
            }),
        }
    }
}

/// Runs the output until the delivery channel closes and every bulk request
/// has a final outcome, or until `parts.stop` is cancelled.
pub async fn run(config: Config, client: Client, mut parts: Parts) {
    // Ends with `run` (the guard) or at `stop`.
    let probe_stop = parts.stop.child_token();
    let _probe_guard = probe_stop.clone().drop_guard();
    let probe_client = client.clone();
    tokio::spawn(
        crate::outputs::probe::watch(
            "elasticsearch",
            Arc::clone(&parts.metrics),
            probe_stop,
            move |start_up| {
                let client = probe_client.clone();
                async move { health::probe(&client, start_up).await }
            },
        )
        .in_current_span(),
    );
    let endpoint = Arc::new(request::Bulk {
        client,
        shared: Shared {
            backoff: config.backoff,
            dead_letters: Arc::clone(&parts.dead_letters),
            metrics: Arc::clone(&parts.metrics),
            accepted: AtomicU64::new(0),
        },
    });
    let mut batcher: Batcher<Slot> = Batcher::new(
        config.batch_max_events,
        config.batch_max_bytes,
        config.flush_interval,
        0,
    );
    batch::drive(
        &mut parts.deliveries,
        &parts.stop,
        config.max_in_flight,
        &mut batcher,
        |delivery, batcher| {
            let documents = Arc::clone(&delivery.documents);
            let tracker = Tracker::new(delivery, documents.len());
            for (index, document) in documents.iter().enumerate() {
                batcher.push(tracker.slot(index), bulk::encoded_len(document));
            }
        },
        |entries| retry::deliver(Arc::clone(&endpoint), entries),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: Auth) -> Config {
        Config {
            hosts: vec![Url::parse("https://es.example:9200/").unwrap()],
            auth,
            ca_cert: None,
            tls_verify: true,
            namespace: "default".to_owned(),
            index: "logs-auth0.logs-default".to_owned(),
            batch_max_events: 1000,
            batch_max_bytes: 5 << 20,
            flush_interval: Duration::from_secs(1),
            max_in_flight: 4,
            request_timeout: Duration::from_secs(60),
            backoff: Backoff {
                initial: crate::backoff::DEFAULT_INITIAL,
                max: crate::backoff::DEFAULT_MAX,
            },
            compression: Compression::Gzip,
        }
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        for auth in [
            Auth::ApiKey(Secret::new("c2VjcmV0LWtleQ==".to_owned())),
            Auth::Basic {
                username: "elastic".to_owned(),
                password: Secret::new("c2VjcmV0LWtleQ==".to_owned()),
            },
        ] {
            let config = config(auth);
            let client = Client::from_config(&config).unwrap();
            let text = format!("{config:?} {client:?}");
            assert!(!text.contains("c2VjcmV0LWtleQ=="), "{text}");
            assert!(text.contains("/logs-auth0.logs-default/_bulk"), "{text}");
        }
    }

    #[test]
    fn a_bad_ca_certificate_is_a_build_error() {
        let mut config = config(Auth::None);
        config.ca_cert =
            Some(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n".to_vec());
        assert!(matches!(Client::from_config(&config), Err(Error::Build(_))));
    }
}
