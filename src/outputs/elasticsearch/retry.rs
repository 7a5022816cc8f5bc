//! Retries: the backoff schedule and the loop that takes one bulk request
//! to a final outcome for each of its documents.
//!
//! # Schedule
//!
//! The pause before retry `n` (0-based) is drawn uniformly from
//! `[d/2, d]` with `d = min(max, initial × 2ⁿ)`: with the defaults
//! 250 ms, 500 ms, 1 s, 2 s, … capped at 30 s ("equal jitter", so a fleet of
//! agents does not retry in lockstep). A `Retry-After` header (seconds or
//! an HTTP date, capped at 5 minutes) is a floor on the pause. There is no
//! retry limit: transient failures are retried for as long as they last.
//!
//! # Whole-request answers
//!
//! | answer | action |
//! |---|---|
//! | `2xx` | read each item (see [`super::response`]); retry only the items that ask for it |
//! | `413` | split the request in halves; a single document too large is dead-lettered |
//! | `400` | split likewise, to isolate a document that breaks the whole request (see below) |
//! | connection error, timeout, `429`, `5xx`, any other status | retry the whole request |
//! | a body larger than [`response_limit`] | retry the whole request (without reading it) |
//!
//! # Whole-request `400`s
//!
//! A `400` to a whole bulk request is rarely about a document (they are
//! JSON built by this agent): a proxy, a bad `index` or a security plugin
//! answers `400` to every request. Such documents are judged as
//! [`crate::outputs::suspects`] says: dead-lettered if the cluster accepted
//! other requests meanwhile, else retried as a configuration problem.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use elasticsearch::http::headers::{HeaderMap, RETRY_AFTER};
use elasticsearch::http::Method;
use time::OffsetDateTime;

use super::response::{self, Outcome};
use super::{bulk, Client, Entry};
use crate::outputs::batch::Outcomes;
use crate::outputs::suspects::{Suspects, Verdict};
use crate::spool::dead_letter::{self, DeadLetters, Stage};
use crate::telemetry::metrics::Metrics;

/// The default first pause.
pub const DEFAULT_INITIAL: Duration = Duration::from_millis(250);
/// The default longest pause: long enough to spare a struggling cluster,
/// short enough to resume soon after it recovers.
pub const DEFAULT_MAX: Duration = Duration::from_secs(30);
/// `Retry-After` beyond this is taken as this (a misconfigured proxy must
/// not park the output for hours).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);
/// The largest bulk response read, whatever the request: `filter_path`
/// keeps real answers to tens of bytes per document.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The response size always allowed, however small the request.
pub const MIN_RESPONSE_BYTES: usize = 1 << 20;

/// A capped, jittered exponential backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
}

/// What a bulk task needs.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) backoff: Backoff,
    pub(crate) dead_letters: Arc<DeadLetters>,
    pub(crate) metrics: Arc<Metrics>,
    /// Bulk requests answered `2xx`, by any task: the evidence that the
    /// cluster accepts requests (see "Whole-request `400`s").
    pub(crate) accepted: AtomicU64,
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

impl Backoff {
    /// The pause before retry `attempt` (0-based), at least `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max);
        let half = ceiling / 2;
        let jittered = half + half.mul_f64(unit_random());
        match retry_after {
            Some(floor) => jittered.max(floor.min(RETRY_AFTER_CAP)),
            None => jittered,
        }
    }
}

/// Reads `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = date - OffsetDateTime::now_utc();
    Some(wait.try_into().unwrap_or(Duration::ZERO))
}

/// A number in `[0, 1)`; the jitter needs no strong randomness, but the
/// system source is cheap at retry rates and needs no shared state.
fn unit_random() -> f64 {
    match getrandom::u32() {
        Ok(value) => f64::from(value) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// What one attempt at a group of documents gave.
enum Attempt {
    /// Every document has a final outcome, or those left are in `group`
    /// (and `reason` says why the first of them was refused).
    Items {
        retry_after: Option<Duration>,
        reason: Option<String>,
        /// Some item was refused because of the cluster's configuration.
        misconfigured: bool,
    },
    /// `413`: split the group and try each half; alone, dead-letter it.
    TooLarge(String),
    /// A whole-request `400` (see "Whole-request `400`s").
    BadRequest(String),
    /// Try the whole group again.
    Whole {
        reason: String,
        retry_after: Option<Duration>,
        unauthorized: bool,
    },
}

/// Takes every document of `entries` to a final outcome (retrying
/// transient failures forever), writes the dead letters, then settles each
/// entry. Cancel-safe: dropped midway, it settles nothing.
pub(crate) async fn index(context: Arc<Context>, entries: Vec<Entry>) {
    let mut outcomes = Outcomes::with_capacity(entries.len());
    let mut groups = vec![entries];
    let mut suspects = Suspects::new(&context.accepted);
    loop {
        while let Some(mut group) = groups.pop() {
            let mut attempt = 0u32;
            loop {
                let started = std::time::Instant::now();
                let result = send(&context, &mut group, &mut outcomes).await;
                report(&context.metrics, &result, started);
                let pause = match result {
                    Attempt::Items {
                        retry_after,
                        reason,
                        misconfigured,
                    } => {
                        if group.is_empty() {
                            break;
                        }
                        Metrics::add(&context.metrics.es_item_retries, group.len() as u64);
                        let error = reason.as_deref().unwrap_or("");
                        if misconfigured && attempt.is_multiple_of(10) {
                            tracing::error!(
                                documents = group.len(),
                                attempt,
                                error,
                                "elasticsearch refuses documents because of its configuration (index, alias, pipeline or template); fix it, retrying meanwhile"
                            );
                        } else if attempt.is_multiple_of(10) {
                            tracing::warn!(
                                documents = group.len(),
                                attempt,
                                error,
                                "elasticsearch refused some documents for now; retrying them"
                            );
                        }
                        context.backoff.delay(attempt, retry_after)
                    }
                    Attempt::TooLarge(reason) => {
                        if group.len() == 1 {
                            outcomes.reject(group.remove(0), &reason, dead_letter);
                        } else {
                            split(&mut groups, group, &reason);
                        }
                        break;
                    }
                    Attempt::BadRequest(reason) => {
                        if suspects.split(group.len()) {
                            split(&mut groups, group, &reason);
                        } else {
                            suspects.add(&mut group, reason);
                        }
                        break;
                    }
                    Attempt::Whole {
                        reason,
                        retry_after,
                        unauthorized,
                    } => {
                        Metrics::add(&context.metrics.es_request_retries, 1);
                        let pause = context.backoff.delay(attempt, retry_after);
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
                };
                tokio::time::sleep(pause).await;
                attempt = attempt.saturating_add(1);
            }
        }
        let verdict = suspects
            .judge(
                &context.accepted,
                &context.backoff,
                &context.metrics.es_request_retries,
                |documents, attempt, error, pause| {
                    tracing::error!(
                        documents,
                        attempt,
                        error,
                        pause = ?pause,
                        "elasticsearch answers 400 to every bulk request, however small; check `output.elasticsearch.index`, proxies and security plugins; retrying meanwhile"
                    );
                },
            )
            .await;
        match verdict {
            Verdict::Clear => break,
            Verdict::Guilty(entries, reason) => {
                for entry in entries {
                    outcomes.reject(entry, &reason, dead_letter);
                }
                break;
            }
            Verdict::Retry(entries) => groups.push(entries),
        }
    }
    outcomes
        .finish(
            &context.dead_letters,
            &context.backoff,
            &context.metrics,
            Entry::settle,
        )
        .await;
}

/// Tells the health state and the request-duration histogram how a bulk
/// request went: answered (even with item failures) is a success, no
/// answer or a whole-request failure is a failure.
fn report(metrics: &Metrics, result: &Attempt, started: std::time::Instant) {
    if let Some(histogram) = metrics.exporter.output_request_duration(OUTPUT) {
        histogram.record(started.elapsed().as_secs_f64());
    }
    match result {
        Attempt::Items { .. } | Attempt::TooLarge(_) => metrics.health.output_succeeded(OUTPUT),
        Attempt::BadRequest(reason) | Attempt::Whole { reason, .. } => {
            metrics.health.output_failed(OUTPUT, reason);
        }
    }
}

/// The output's name in metrics and `/status`.
const OUTPUT: &str = "elasticsearch";

/// Splits `group` in halves onto `groups`, the first half on top.
fn split(groups: &mut Vec<Vec<Entry>>, mut group: Vec<Entry>, reason: &str) {
    tracing::debug!(documents = group.len(), %reason, "splitting a bulk request");
    let second = group.split_off(group.len() / 2);
    groups.push(second);
    groups.push(group);
}

/// One bulk request for `group`. Documents with a final outcome move from
/// `group` to `outcomes`.
async fn send(
    context: &Context,
    group: &mut Vec<Entry>,
    outcomes: &mut Outcomes<Entry>,
) -> Attempt {
    let body = bulk::body(group.iter().map(Entry::document));
    let limit = response_limit(body.len());
    let client = &context.client;
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
        Err(error) => {
            return Attempt::Whole {
                reason: error_chain(&error),
                retry_after: None,
                unauthorized: false,
            }
        }
    };
    let status = response.status_code().as_u16();
    let retry_after = retry_after(response.headers());
    let too_large = |length: u64| Attempt::Whole {
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
            return Attempt::Whole {
                reason: error_chain(&error),
                retry_after,
                unauthorized: false,
            }
        }
    };
    match status {
        200..=299 => {}
        400 => return Attempt::BadRequest(format!("{status} {}", excerpt(&bytes))),
        413 => return Attempt::TooLarge(format!("{status} {}", excerpt(&bytes))),
        _ => {
            return Attempt::Whole {
                reason: format!("{status} {}", excerpt(&bytes)),
                retry_after,
                unauthorized: matches!(status, 401 | 403),
            }
        }
    }
    let answers = match response::parse(&bytes, group.len()) {
        Ok(answers) => answers,
        Err(error) => {
            return Attempt::Whole {
                reason: error.to_string(),
                retry_after,
                unauthorized: false,
            }
        }
    };
    context.accepted.fetch_add(1, Ordering::AcqRel);
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
            Outcome::Reject(reason) => outcomes.reject(entry, &reason, dead_letter),
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
    Metrics::add(&context.metrics.documents_written_es, indexed);
    Metrics::add(&context.metrics.documents_duplicate_es, duplicates);
    Attempt::Items {
        retry_after,
        reason: first_reason,
        misconfigured,
    }
}

fn dead_letter(out: &mut Vec<u8>, entry: &Entry, reason: &str) {
    // The event as received, not the document: `auth0-ingest replay`
    // re-drives it through the pipeline once the cause is fixed.
    let document = entry.document();
    dead_letter::encode_named(
        out,
        OffsetDateTime::now_utc(),
        &input_name(&document.json),
        Stage::Output,
        &format!("elasticsearch refused the document: {reason}"),
        entry.original(),
    );
}

/// The document's `input.type` when it has one (rare path: dead letters).
pub(crate) fn input_name(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|value| value.pointer("/input/type")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Appends and fsyncs the dead letters; retried until it works, since the
/// documents cannot be acknowledged before they are safe. Both HTTP
/// outputs call it through [`crate::outputs::batch::Outcomes::finish`].
pub(crate) async fn write_dead_letters(
    dead_letters: &Arc<DeadLetters>,
    backoff: &Backoff,
    dead: Vec<u8>,
) {
    let dead = Arc::new(dead);
    let mut attempt = 0u32;
    loop {
        let file = Arc::clone(dead_letters);
        let lines = Arc::clone(&dead);
        let written = tokio::task::spawn_blocking(move || file.append(&lines)).await;
        match written {
            Ok(Ok(())) => return,
            Ok(Err(error)) => {
                tracing::error!(%error, path = %dead_letters.path().display(), "cannot write the dead-letter file; retrying");
            }
            Err(error) => {
                tracing::error!(%error, "dead-letter write task failed; retrying");
            }
        }
        tokio::time::sleep(backoff.delay(attempt, None)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// `error: cause: cause` for a log field.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of a response body, for a log line.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..100 {
            let first = backoff.delay(0, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let fourth = backoff.delay(3, None);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800));
            let late = backoff.delay(40, None);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
    }

    #[test]
    fn retry_after_is_a_capped_floor() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(
            backoff.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff.delay(0, Some(Duration::from_secs(100_000))),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "12".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn response_limit_grows_with_the_request_within_bounds() {
        assert_eq!(response_limit(0), MIN_RESPONSE_BYTES);
        assert_eq!(response_limit(1 << 20), 16 << 20);
        assert_eq!(response_limit(usize::MAX), MAX_RESPONSE_BYTES);
    }

    #[test]
    fn input_name_comes_from_the_document() {
        assert_eq!(input_name(r#"{"input":{"type":"webhook"}}"#), "webhook");
        assert_eq!(input_name("{}"), "unknown");
    }
}
