//! The HTTP side of the Datadog output: `POST <intake>/api/v2/logs` with
//! `DD-API-KEY` and `GET <api>/api/v1/validate` (the API host of the site,
//! or `url` when given), over reqwest (rustls).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};

use super::config::Config;
use crate::outputs::compression::Compression;
use crate::outputs::retry;
use crate::secret::Secret;

/// The intake path.
pub const INTAKE_PATH: &str = "/api/v2/logs";
/// The key check path.
pub const VALIDATE_PATH: &str = "/api/v1/validate";
/// The most of an intake answer read (they are `{}` or a short error).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Building the HTTP client failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the datadog HTTP client")]
pub struct BuildError(#[source] reqwest::Error);

/// A client for one intake. The reqwest client is kept as a [`Secret`]:
/// its default headers hold the key.
#[derive(Debug, Clone)]
pub struct Client {
    http: Secret<reqwest::Client>,
    intake: String,
    validate: String,
    compression: Compression,
}

/// An intake answer.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, when given.
    pub retry_after: Option<Duration>,
    /// The start of the body, for logs and dead letters.
    pub excerpt: String,
}

impl Client {
    /// Builds the client. Makes no request.
    pub fn from_config(config: &Config) -> Result<Client, BuildError> {
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_str(config.api_key.expose())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid-key"));
        key.set_sensitive(true);
        headers.insert("dd-api-key", key);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("auth0-ingest/", env!("CARGO_PKG_VERSION")))
            .timeout(config.tuning.request_timeout)
            .connect_timeout(config.tuning.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(BuildError)?;
        Ok(Client {
            http: Secret::new(http),
            intake: format!("{}{INTAKE_PATH}", config.url.trim_end_matches('/')),
            validate: format!("{}{VALIDATE_PATH}", config.api_url.trim_end_matches('/')),
            compression: config.compression,
        })
    }

    /// Posts one JSON array body (compressed here as configured) and reads
    /// the answer; `Err` is a connection error or timeout.
    pub async fn post(&self, body: Vec<u8>) -> Result<Answer, reqwest::Error> {
        let body = self.compression.encode_off_runtime(body).await;
        let mut request = self
            .http
            .expose()
            .post(&self.intake)
            .header(CONTENT_TYPE, "application/json");
        if let Some(encoding) = self.compression.content_encoding() {
            request = request.header(CONTENT_ENCODING, encoding);
        }
        let mut response = request.body(Bytes::from(body)).send().await?;
        let status = response.status().as_u16();
        let retry_after = crate::backoff::retry_after(response.headers());
        let mut excerpt = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = MAX_RESPONSE_BYTES.saturating_sub(excerpt.len());
            excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Answer {
            status,
            retry_after,
            excerpt: retry::excerpt(&excerpt),
        })
    }

    /// `GET /api/v1/validate`: the status, or the transport error.
    pub async fn validate(&self) -> Result<u16, reqwest::Error> {
        let response = self.http.expose().get(&self.validate).send().await?;
        Ok(response.status().as_u16())
    }

    /// The intake URL (for logs; holds no secret).
    pub fn intake(&self) -> &str {
        &self.intake
    }
}
