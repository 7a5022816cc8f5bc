//! The retry loop of the HTTP outputs: takes one batch of entries to a
//! final outcome for each, whatever the output. An output says how to send
//! one request and what its answer means ([`Endpoint`]); this loop decides
//! what happens next, on the schedule of [`crate::backoff`], with no retry
//! limit (transient failures are retried for as long as they last).
//!
//! | answer ([`Answer`]) | action |
//! |---|---|
//! | answered (`2xx`) | entries with a final outcome are settled; those left are retried together |
//! | `413` | split the request in halves; an entry too large alone is dead-lettered |
//! | `400` | split likewise, to isolate an entry that breaks the whole request, then judge the suspects ([`crate::outputs::suspects`]) |
//! | connection error, timeout, `429`, `5xx`, any other status | retry the whole request |
//!
//! Dead letters are written (and fsynced) before any entry of the batch is
//! settled ([`Outcomes::finish`]); dropped midway, the loop settles nothing.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::error_chain::error_chain;
use crate::outputs::batch::{Outcomes, Slot};
use crate::outputs::suspects::{Suspects, Verdict};
use crate::spool::dead_letter::DeadLetters;
use crate::telemetry::metrics::Metrics;

/// What every output's request tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The retry schedule.
    pub(crate) backoff: Backoff,
    /// Where permanently refused entries go.
    pub(crate) dead_letters: Arc<DeadLetters>,
    /// Counters, the health state and the request-duration histogram.
    pub(crate) metrics: Arc<Metrics>,
    /// Requests answered `2xx`, by any task: the evidence that the server
    /// accepts requests (see [`crate::outputs::suspects`]).
    pub(crate) accepted: AtomicU64,
}

/// What one request gave, as an output classifies it.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Answered: entries with a final outcome have moved to the outcomes;
    /// those left in the group are retried (`reason` says why the first
    /// of them was refused, `misconfigured` that the server's
    /// configuration refused some).
    Answered {
        retry_after: Option<Duration>,
        reason: Option<String>,
        misconfigured: bool,
    },
    /// `413`: split the group and try each half; alone, dead-letter it.
    TooLarge(String),
    /// A whole-request `400` (see [`crate::outputs::suspects`]).
    BadRequest(String),
    /// Try the whole group again.
    Failed {
        reason: String,
        retry_after: Option<Duration>,
        /// `401` or `403`: the credentials were refused.
        unauthorized: bool,
    },
}

/// One output's side of the loop: how to send a request, what its answer
/// means, and how the output logs and paces its retries.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// One entry of a request.
    type Entry: AsRef<Slot> + Send + 'static;

    /// The output's name in metrics, logs and `/status`.
    const OUTPUT: &'static str;
    /// Who refused what, the start of a dead letter's reason.
    const REFUSED: &'static str;
    /// Whether a whole-request `400` marks the output failing in
    /// `/status` (the server refuses every request) rather than answering.
    const BAD_REQUEST_IS_FAILURE: bool;

    /// What the request tasks share.
    fn shared(&self) -> &Shared;

    /// Counts whole-request retries.
    fn request_retries(metrics: &Metrics) -> &AtomicU64;

    /// Sends one request for `group`. Entries with a final outcome move
    /// from `group` to `outcomes`.
    fn send(
        &self,
        group: &mut Vec<Self::Entry>,
        outcomes: &mut Outcomes<Self::Entry>,
    ) -> impl Future<Output = Answer> + Send;

    /// After an answer that left `entries` entries to retry (the
    /// `attempt`-th in a row): counts and logs them. Outputs whose answers
    /// settle every entry at once never see it.
    fn entries_left(&self, entries: usize, attempt: u32, reason: &str, misconfigured: bool);

    /// After a whole-request failure (the `attempt`-th in a row, `entries`
    /// entries): logs it and gives the pause, at least `pause`.
    fn request_failed(
        &self,
        entries: usize,
        attempt: u32,
        reason: &str,
        unauthorized: bool,
        pause: Duration,
    ) -> Duration;

    /// Every tenth round of suspects refused with `400` while nothing is
    /// accepted anywhere: the error log naming what to check.
    fn refused_everywhere(&self, entries: usize, attempt: u32, error: &str, pause: Duration);
}

impl Answer {
    /// The answer of a status other than `2xx`, with the start of its body
    /// and its `Retry-After`; `None` for a `2xx`.
    pub(crate) fn from_status(
        status: u16,
        excerpt: &str,
        retry_after: Option<Duration>,
    ) -> Option<Answer> {
        let reason = format!("{status} {excerpt}");
        match status {
            200..=299 => None,
            400 => Some(Answer::BadRequest(reason)),
            413 => Some(Answer::TooLarge(reason)),
            _ => Some(Answer::Failed {
                reason,
                retry_after,
                unauthorized: matches!(status, 401 | 403),
            }),
        }
    }

    /// No answer: a connection error or a timeout.
    pub(crate) fn unanswered(error: &dyn std::error::Error) -> Answer {
        Answer::Failed {
            reason: error_chain(error),
            retry_after: None,
            unauthorized: false,
        }
    }
}

/// The start of a response body, for a log line or a dead letter.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned()
}

/// Takes every entry of `entries` to a final outcome (retrying transient
/// failures forever), writes the dead letters, then settles each entry.
/// Cancel-safe: dropped midway, it settles nothing.
pub(crate) async fn deliver<P: Endpoint>(endpoint: Arc<P>, entries: Vec<P::Entry>) {
    let shared = endpoint.shared();
    let mut outcomes = Outcomes::new(entries.len(), P::REFUSED);
    let mut groups = vec![entries];
    let mut suspects = Suspects::new(&shared.accepted);
    loop {
        while let Some(mut group) = groups.pop() {
            let mut attempt = 0u32;
            loop {
                let started = Instant::now();
                let answer = endpoint.send(&mut group, &mut outcomes).await;
                report::<P>(&shared.metrics, &answer, started);
                let pause = match answer {
                    Answer::Answered {
                        retry_after,
                        reason,
                        misconfigured,
                    } => {
                        shared.accepted.fetch_add(1, Ordering::AcqRel);
                        if group.is_empty() {
                            break;
                        }
                        let reason = reason.as_deref().unwrap_or("");
                        endpoint.entries_left(group.len(), attempt, reason, misconfigured);
                        shared.backoff.delay(attempt, retry_after)
                    }
                    Answer::TooLarge(reason) => {
                        if group.len() == 1 {
                            outcomes.reject(group.remove(0), &reason);
                        } else {
                            split::<P>(&mut groups, group, &reason);
                        }
                        break;
                    }
                    Answer::BadRequest(reason) => {
                        if suspects.split(group.len()) {
                            split::<P>(&mut groups, group, &reason);
                        } else {
                            suspects.add(&mut group, reason);
                        }
                        break;
                    }
                    Answer::Failed {
                        reason,
                        retry_after,
                        unauthorized,
                    } => {
                        Metrics::add(P::request_retries(&shared.metrics), 1);
                        let pause = shared.backoff.delay(attempt, retry_after);
                        endpoint.request_failed(group.len(), attempt, &reason, unauthorized, pause)
                    }
                };
                tokio::time::sleep(pause).await;
                attempt = attempt.saturating_add(1);
            }
        }
        let verdict = suspects
            .judge(
                &shared.accepted,
                &shared.backoff,
                P::request_retries(&shared.metrics),
                |entries, attempt, error, pause| {
                    endpoint.refused_everywhere(entries, attempt, error, pause);
                },
            )
            .await;
        match verdict {
            Verdict::Clear => break,
            Verdict::Guilty(entries, reason) => {
                for entry in entries {
                    outcomes.reject(entry, &reason);
                }
                break;
            }
            Verdict::Retry(entries) => groups.push(entries),
        }
    }
    outcomes
        .finish(&shared.dead_letters, &shared.backoff, &shared.metrics)
        .await;
}

/// Tells the health state and the request-duration histogram how a request
/// went: answered (even with entries refused) is a success; no answer or a
/// whole-request failure is a failure.
fn report<P: Endpoint>(metrics: &Metrics, answer: &Answer, started: Instant) {
    if let Some(histogram) = metrics.exporter.output_request_duration(P::OUTPUT) {
        histogram.record(started.elapsed().as_secs_f64());
    }
    match answer {
        Answer::BadRequest(reason) if P::BAD_REQUEST_IS_FAILURE => {
            metrics.health.output_failed(P::OUTPUT, reason);
        }
        Answer::Answered { .. } | Answer::TooLarge(_) | Answer::BadRequest(_) => {
            metrics.health.output_succeeded(P::OUTPUT);
        }
        Answer::Failed { reason, .. } => metrics.health.output_failed(P::OUTPUT, reason),
    }
}

/// Splits `group` in halves onto `groups`, the first half on top.
fn split<P: Endpoint>(groups: &mut Vec<Vec<P::Entry>>, mut group: Vec<P::Entry>, reason: &str) {
    tracing::debug!(output = P::OUTPUT, entries = group.len(), %reason, "splitting a request");
    let second = group.split_off(group.len() / 2);
    groups.push(second);
    groups.push(group);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(Answer::from_status(202, "", None).is_none());
        assert!(matches!(
            Answer::from_status(400, "bad", None),
            Some(Answer::BadRequest(reason)) if reason == "400 bad"
        ));
        assert!(matches!(
            Answer::from_status(413, "", None),
            Some(Answer::TooLarge(_))
        ));
        assert!(matches!(
            Answer::from_status(403, "", Some(Duration::from_secs(2))),
            Some(Answer::Failed {
                unauthorized: true,
                retry_after: Some(_),
                ..
            })
        ));
        assert!(matches!(
            Answer::from_status(503, "", None),
            Some(Answer::Failed {
                unauthorized: false,
                ..
            })
        ));
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt(&[b'a'; 1000]).len(), 300);
        assert_eq!(excerpt(b"{}"), "{}");
    }
}
