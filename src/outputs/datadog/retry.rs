//! Takes one intake request to a final outcome for each of its items,
//! with the Elasticsearch output's backoff schedule (capped, jittered,
//! `Retry-After` as a floor, no retry limit).
//!
//! | answer | action |
//! |---|---|
//! | `2xx` (`202`) | every item delivered |
//! | `408`, `429`, `5xx`, connection error, timeout, any other status | retry the whole request |
//! | `401`, `403` (bad key) | retry every `unauthorized_pause` (default 60 s), one error log a minute |
//! | `413` | split in halves; an item too large alone is dead-lettered |
//! | `400` | split to isolate the bad item, which is dead-lettered with the reason |
//!
//! A `400` to a request of one item dead-letters it only if the intake
//! accepted some other request meanwhile (it works, so the item is at
//! fault); when nothing is accepted anywhere, a proxy or a wrong `url` is
//! at fault, and the items are retried together with an error log instead
//! ([`crate::outputs::suspects`], shared with the Elasticsearch output).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::client::Client;
use super::{body, Entry};
use crate::outputs::batch::Outcomes;
use crate::outputs::elasticsearch::retry::{error_chain, input_name, Backoff};
use crate::outputs::suspects::{Suspects, Verdict};
use crate::spool::dead_letter::{self, DeadLetters, Stage};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::Throttle;

/// At most one "key refused" error log per this period, whatever the
/// number of requests refused.
pub const KEY_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What a request task needs.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) backoff: Backoff,
    pub(crate) unauthorized_pause: Duration,
    pub(crate) dead_letters: Arc<DeadLetters>,
    pub(crate) metrics: Arc<Metrics>,
    /// Requests answered `2xx`, by any task.
    pub(crate) accepted: AtomicU64,
    /// When the last "key refused" error was logged.
    pub(crate) key_error_log: Mutex<Throttle>,
}

enum Attempt {
    Delivered,
    TooLarge(String),
    BadRequest(String),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
        unauthorized: bool,
    },
}

/// Takes every item of `entries` to a final outcome, writes the dead
/// letters, then settles each entry. Cancel-safe: dropped midway, it
/// settles nothing.
pub(crate) async fn send(context: Arc<Context>, entries: Vec<Entry>) {
    let mut outcomes = Outcomes::with_capacity(entries.len());
    let mut groups = vec![entries];
    let mut suspects = Suspects::new(&context.accepted);
    loop {
        while let Some(mut group) = groups.pop() {
            let mut attempt = 0u32;
            loop {
                let started = std::time::Instant::now();
                let answered = post(&context, &group).await;
                report(&context.metrics, &answered, started);
                let pause = match answered {
                    Attempt::Delivered => {
                        Metrics::add(
                            &context.metrics.documents_written_datadog,
                            group.len() as u64,
                        );
                        outcomes.delivered_all(&mut group);
                        break;
                    }
                    Attempt::TooLarge(reason) => {
                        if group.len() == 1 {
                            outcomes.reject(group.remove(0), &reason, dead_letter);
                        } else {
                            split(&mut groups, group);
                        }
                        break;
                    }
                    Attempt::BadRequest(reason) => {
                        if suspects.split(group.len()) {
                            split(&mut groups, group);
                        } else {
                            suspects.add(&mut group, reason);
                        }
                        break;
                    }
                    Attempt::Retry {
                        reason,
                        retry_after,
                        unauthorized,
                    } => {
                        Metrics::add(&context.metrics.datadog_request_retries, 1);
                        if unauthorized {
                            Metrics::add(&context.metrics.datadog_key_refusals, 1);
                            log_key_refused(&context, &reason);
                            context
                                .backoff
                                .delay(attempt, retry_after)
                                .max(context.unauthorized_pause)
                        } else {
                            let pause = context.backoff.delay(attempt, retry_after);
                            if attempt.is_multiple_of(10) {
                                tracing::warn!(error = %reason, attempt, pause = ?pause, items = group.len(), "datadog intake request failed; retrying");
                            } else {
                                tracing::debug!(error = %reason, attempt, "datadog intake request failed; retrying");
                            }
                            pause
                        }
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
                &context.metrics.datadog_request_retries,
                |items, attempt, error, pause| {
                    tracing::error!(
                        items,
                        attempt,
                        error,
                        pause = ?pause,
                        "datadog answers 400 to every request, however small; check `output.datadog.url` and proxies; retrying meanwhile"
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

fn split(groups: &mut Vec<Vec<Entry>>, mut group: Vec<Entry>) {
    let second = group.split_off(group.len() / 2);
    groups.push(second);
    groups.push(group);
}

async fn post(context: &Context, group: &[Entry]) -> Attempt {
    let capacity = group.iter().map(|entry| entry.item().len() + 1).sum();
    let body = body(group.iter().map(Entry::item), capacity);
    let answer = match context.client.post(body).await {
        Ok(answer) => answer,
        Err(error) => {
            return Attempt::Retry {
                reason: error_chain(&error),
                retry_after: None,
                unauthorized: false,
            }
        }
    };
    let status = answer.status;
    match status {
        200..=299 => {
            context.accepted.fetch_add(1, Ordering::AcqRel);
            Attempt::Delivered
        }
        400 => Attempt::BadRequest(format!("{status} {}", answer.excerpt)),
        413 => Attempt::TooLarge(format!("{status} {}", answer.excerpt)),
        _ => Attempt::Retry {
            reason: format!("{status} {}", answer.excerpt),
            retry_after: answer.retry_after,
            unauthorized: matches!(status, 401 | 403),
        },
    }
}

/// Tells the health state (`/status`, `auth0_ingest_output_up`) and the
/// request-duration histogram how an intake request went: answered (even
/// with a 400 or 413 about an item) is a success; no answer, a refused key,
/// 408, 429 or 5xx is a failure.
fn report(metrics: &Metrics, answered: &Attempt, started: std::time::Instant) {
    if let Some(histogram) = metrics.exporter.output_request_duration(OUTPUT) {
        histogram.record(started.elapsed().as_secs_f64());
    }
    match answered {
        Attempt::Delivered | Attempt::TooLarge(_) | Attempt::BadRequest(_) => {
            metrics.health.output_succeeded(OUTPUT);
        }
        Attempt::Retry { reason, .. } => metrics.health.output_failed(OUTPUT, reason),
    }
}

/// The output's name in metrics and `/status`.
const OUTPUT: &str = "datadog";

fn log_key_refused(context: &Context, reason: &str) {
    let due = context
        .key_error_log
        .lock()
        .map_or(true, |mut throttle| throttle.ready().is_some());
    if due {
        tracing::error!(
            error = %reason,
            "datadog refuses the API key; logs wait in the spool (nothing is lost) until `output.datadog.api_key_file` is fixed; retrying every minute"
        );
    }
}

fn dead_letter(out: &mut Vec<u8>, entry: &Entry, reason: &str) {
    dead_letter::encode_named(
        out,
        OffsetDateTime::now_utc(),
        &input_name(&entry.document().json),
        Stage::Output,
        &format!("datadog refused the log: {reason}"),
        entry.original(),
    );
}
