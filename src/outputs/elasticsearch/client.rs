//! The connection to the cluster: the `elasticsearch` crate's transport
//! plus what every request needs (the bulk path, the timeout, the body
//! encoding), and the raw requests the bulk path, the start-up check and
//! `setup` send.

use std::time::Duration;

use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use elasticsearch::http::transport::{
    MultiNodeConnectionPool, SingleNodeConnectionPool, Transport, TransportBuilder,
};
use elasticsearch::http::Method;

use super::config::{Auth, Config};
use super::error::Error;
use crate::outputs::compression::Compression;
use crate::secret::Secret;

/// A connection to the cluster. The transport is kept as a [`Secret`]:
/// the crate's own `Debug` prints the credentials.
#[derive(Debug, Clone)]
pub struct Client {
    transport: Secret<Transport>,
    pub(super) bulk_path: String,
    request_timeout: Duration,
    pub(super) compression: Compression,
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
        let mut builder = builder.timeout(config.tuning.request_timeout);
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
            transport: Secret::new(transport),
            bulk_path: format!("/{}/_bulk", config.index),
            request_timeout: config.tuning.request_timeout,
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
            .expose()
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
