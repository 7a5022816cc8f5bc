//! The bulk request: sends one group of documents as a `_bulk` body (see
//! [`super::bulk`]) and says what the answer means for each (see
//! [`super::response`]). The retry loop itself is the HTTP outputs' one,
//! [`crate::outputs::retry`]; this is the Elasticsearch side of it.
//!
//! | answer | meaning |
//! |---|---|
//! | `2xx` | read each item; retry only the items that ask for it |
//! | `413`, `400`, connection error, timeout, `429`, `5xx`, any other status | as [`crate::outputs::retry`] says |
//! | a body larger than [`response_limit`] | retry the whole request (without reading it) |
//!
//! A `400` to a whole bulk request is rarely about a document (they are
//! JSON built by this agent): a proxy, a bad `index` or a security plugin
//! answers `400` to every request, so it marks the output failing in
//! `/status` while its documents are judged as suspects.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use elasticsearch::http::Method;

use super::bulk;
use super::client::Client;
use super::response::{self, Outcome};
use crate::error_chain::error_chain;
use crate::outputs::batch::{Outcomes, Slot};
use crate::outputs::retry::{self, Answer, Endpoint, Shared};
use crate::telemetry::metrics::Metrics;

/// The largest bulk response read, whatever the request: `filter_path`
/// keeps real answers to tens of bytes per document.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The response size always allowed, however small the request.
pub const MIN_RESPONSE_BYTES: usize = 1 << 20;

/// Where bulk requests go, and what every bulk task shares.
#[derive(Debug)]
pub(crate) struct Bulk {
    pub(crate) client: Client,
    pub(crate) shared: Shared,
}

/// The largest response read for a request body of `request_bytes`: 16
/// times the request, at least [`MIN_RESPONSE_BYTES`], at most
/// [`MAX_RESPONSE_BYTES`]. A larger answer is not a bulk response (a
/// misbehaving proxy, say) and is treated as a transient failure.
pub fn response_limit(request_bytes: usize) -> usize {
    request_bytes
        .saturating_mul(16)
        .clamp(MIN_RESPONSE_BYTES, MAX_RESPONSE_BYTES)
}

impl Endpoint for Bulk {
    type Entry = Slot;

    const OUTPUT: &'static str = "elasticsearch";
    const REFUSED: &'static str = "elasticsearch refused the document";
    const BAD_REQUEST_IS_FAILURE: bool = true;

    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn request_retries(metrics: &Metrics) -> &AtomicU64 {
        &metrics.es_request_retries
    }

    async fn send(&self, group: &mut Vec<Slot>, outcomes: &mut Outcomes<Slot>) -> Answer {
        let body = bulk::body(group.iter().map(Slot::document));
        let limit = response_limit(body.len());
        let client = &self.client;
        let body = client.compression.encode_off_runtime(body).await;
        let sent = client
            .send_encoded(
                Method::Post,
                &client.bulk_path,
                Some(&[("filter_path", response::FILTER_PATH)]),
                "application/x-ndjson",
                client.compression.content_encoding(),
                Some(Bytes::from(body)),
            )
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Answer::unanswered(&error),
        };
        let status = response.status_code().as_u16();
        let retry_after = crate::backoff::retry_after(response.headers());
        let too_large = |length: u64| Answer::Failed {
            reason: format!("{status} response of {length} bytes, more than the {limit} read"),
            retry_after,
            unauthorized: false,
        };
        // The `elasticsearch` crate reads bodies whole: a declared length is
        // checked before reading; a chunked body is bounded in time by the
        // request timeout, and checked after.
        if let Some(length) = response
            .content_length()
            .filter(|&length| length > limit as u64)
        {
            return too_large(length);
        }
        let bytes = match response.bytes().await {
            Ok(bytes) if bytes.len() > limit => return too_large(bytes.len() as u64),
            Ok(bytes) => bytes,
            Err(error) => {
                return Answer::Failed {
                    reason: error_chain(&error),
                    retry_after,
                    unauthorized: false,
                }
            }
        };
        if let Some(answer) = Answer::from_status(status, &retry::excerpt(&bytes), retry_after) {
            return answer;
        }
        let answers = match response::parse(&bytes, group.len()) {
            Ok(answers) => answers,
            Err(error) => {
                return Answer::Failed {
                    reason: error.to_string(),
                    retry_after,
                    unauthorized: false,
                }
            }
        };
        let mut indexed = 0u64;
        let mut duplicates = 0u64;
        let mut retry = Vec::new();
        let mut first_reason = None;
        let mut misconfigured = false;
        for (entry, outcome) in std::mem::take(group).into_iter().zip(answers) {
            match outcome {
                Outcome::Indexed => {
                    indexed += 1;
                    outcomes.delivered(entry);
                }
                Outcome::Duplicate => {
                    duplicates += 1;
                    outcomes.delivered(entry);
                }
                Outcome::Reject(reason) => outcomes.reject(entry, &reason),
                Outcome::Retry(reason) => {
                    first_reason.get_or_insert(reason);
                    retry.push(entry);
                }
                Outcome::Misconfigured(reason) => {
                    if !misconfigured {
                        // The reason the operator must see comes first.
                        first_reason = Some(reason);
                        misconfigured = true;
                    }
                    retry.push(entry);
                }
            }
        }
        *group = retry;
        let metrics = &self.shared.metrics;
        Metrics::add(&metrics.documents_written_es, indexed);
        Metrics::add(&metrics.documents_duplicate_es, duplicates);
        Answer::Answered {
            retry_after,
            reason: first_reason,
            misconfigured,
        }
    }

    fn entries_left(&self, documents: usize, attempt: u32, error: &str, misconfigured: bool) {
        Metrics::add(&self.shared.metrics.es_item_retries, documents as u64);
        if misconfigured && attempt.is_multiple_of(10) {
            tracing::error!(
                documents,
                attempt,
                error,
                "elasticsearch refuses documents because of its configuration (index, alias, pipeline or template); fix it, retrying meanwhile"
            );
        } else if attempt.is_multiple_of(10) {
            tracing::warn!(
                documents,
                attempt,
                error,
                "elasticsearch refused some documents for now; retrying them"
            );
        }
    }

    fn request_failed(
        &self,
        _documents: usize,
        attempt: u32,
        reason: &str,
        unauthorized: bool,
        pause: Duration,
    ) -> Duration {
        if unauthorized && attempt.is_multiple_of(10) {
            tracing::error!(error = %reason, attempt, "elasticsearch refused the credentials; fix them, retrying meanwhile");
        } else if attempt.is_multiple_of(10) {
            // The health state WARNs once a minute with the backlog.
            tracing::info!(error = %reason, attempt, pause = ?pause, "bulk request failed; retrying");
        } else {
            tracing::debug!(error = %reason, attempt, "bulk request failed; retrying");
        }
        pause
    }

    fn refused_everywhere(&self, documents: usize, attempt: u32, error: &str, pause: Duration) {
        tracing::error!(
            documents,
            attempt,
            error,
            pause = ?pause,
            "elasticsearch answers 400 to every bulk request, however small; check `output.elasticsearch.index`, proxies and security plugins; retrying meanwhile"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_limit_grows_with_the_request_within_bounds() {
        assert_eq!(response_limit(0), MIN_RESPONSE_BYTES);
        assert_eq!(response_limit(1 << 20), 16 << 20);
        assert_eq!(response_limit(usize::MAX), MAX_RESPONSE_BYTES);
    }
}
