//! The health state behind `/status`, the output gauges and the operator
//! logs: when each output last succeeded and last failed, what the inputs
//! did last, and the recent errors (kept across restarts by
//! [`errors::ErrorLog`]).
//!
//! Outputs report each request's outcome ([`Health::output_succeeded`],
//! [`Health::output_failed`]); a recovery is logged once at `info` with how
//! long the output was down, and [`Health::warn_failing`] (called every few
//! seconds) logs a `warn` per failing output at most once a minute.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::errors::{ErrorEntry, ErrorLog};

/// Time between two WARN lines about one failing output.
pub const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// One output's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputState {
    /// Last request that succeeded.
    pub last_success_at: Option<OffsetDateTime>,
    /// Last failure and its message.
    pub last_error: Option<(OffsetDateTime, String)>,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// First failure since the last success.
    pub failing_since: Option<OffsetDateTime>,
    /// Why the last probe of the idle output failed (it is unreachable);
    /// cleared by a probe or a request that succeeds.
    pub unreachable: Option<String>,
}

impl OutputState {
    /// Up: its last request did not fail and its last probe reached it
    /// (the `output_up` gauge, `reachable` in `/status`).
    pub fn up(&self) -> bool {
        self.consecutive_failures == 0 && self.unreachable.is_none()
    }

    /// When it last sent a request (succeeded or failed); probes do not count.
    pub fn last_request_at(&self) -> Option<OffsetDateTime> {
        let failed = self.last_error.as_ref().map(|(at, _)| *at);
        self.last_success_at.max(failed)
    }
}

/// The webhook's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookState {
    /// Last request of any kind to the POST path.
    pub last_request_at: Option<OffsetDateTime>,
    /// Last request with events accepted into the spool.
    pub last_accepted_at: Option<OffsetDateTime>,
}

/// The poller's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollerState {
    /// The saved cursor (the last `log_id` spooled).
    pub cursor: Option<String>,
    /// The date of the newest event seen.
    pub newest_event_at: Option<OffsetDateTime>,
    /// Last page fetched and spooled.
    pub last_success_at: Option<OffsetDateTime>,
    /// Last failure and its message.
    pub last_error: Option<(OffsetDateTime, String)>,
}

/// Everything at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Configured outputs by name, in registration order.
    pub outputs: Vec<(&'static str, OutputState)>,
    /// The webhook, when configured.
    pub webhook: Option<WebhookState>,
    /// The poller, when configured.
    pub poller: Option<PollerState>,
    /// The last errors, oldest first.
    pub errors: Vec<ErrorEntry>,
}

/// Shared health state; one per agent, inside `Metrics`.
#[derive(Debug, Default)]
pub struct Health {
    inner: Mutex<Inner>,
    /// Apart from `inner`: recording rewrites (and fsyncs) a file, which
    /// must not hold up webhook requests updating `inner`.
    errors: Mutex<ErrorLog>,
}

#[derive(Debug, Default)]
struct Inner {
    outputs: Vec<(&'static str, OutputState, Option<Instant>)>,
    webhook: Option<WebhookState>,
    poller: Option<PollerState>,
}

/// Locks `mutex`, going on after a panic elsewhere: the health view is
/// plain data that stays consistent between statements.
fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Health {
    fn with<T>(&self, body: impl FnOnce(&mut Inner) -> T) -> T {
        body(&mut unpoisoned(&self.inner))
    }

    fn errors<T>(&self, body: impl FnOnce(&mut ErrorLog) -> T) -> T {
        body(&mut unpoisoned(&self.errors))
    }

    /// Uses `log` (read from the spool directory) for the recent errors.
    pub fn attach_error_log(&self, log: ErrorLog) {
        self.errors(|errors| *errors = log);
    }

    /// Declares a configured output, so it is listed before its first request.
    pub fn register_output(&self, output: &'static str) {
        self.with(|inner| {
            if !inner.outputs.iter().any(|(name, ..)| *name == output) {
                inner.outputs.push((output, OutputState::default(), None));
            }
        });
    }

    /// Declares the webhook.
    pub fn register_webhook(&self) {
        self.with(|inner| inner.webhook = Some(WebhookState::default()));
    }

    /// Declares the poller.
    pub fn register_poller(&self) {
        self.with(|inner| inner.poller = Some(PollerState::default()));
    }

    /// An output request succeeded.
    pub fn output_succeeded(&self, output: &'static str) {
        let now = OffsetDateTime::now_utc();
        self.with(|inner| {
            let Some((_, state, warned)) =
                inner.outputs.iter_mut().find(|(name, ..)| *name == output)
            else {
                return;
            };
            if state.consecutive_failures > 0 {
                let down = state
                    .failing_since
                    .map_or(Duration::ZERO, |since| (now - since).unsigned_abs());
                tracing::info!(
                    output,
                    down_for = %humantime::format_duration(Duration::from_secs(down.as_secs())),
                    failures = state.consecutive_failures,
                    "output recovered"
                );
            }
            state.last_success_at = Some(now);
            state.consecutive_failures = 0;
            state.failing_since = None;
            state.unreachable = None;
            *warned = None;
        });
    }

    /// The probe of an idle output (start-up, then while idle) reached it
    /// (`Ok`) or not (`Err` with the reason). A change is logged once, and
    /// an unreachable output's reason joins the recent errors once.
    pub fn output_probed(&self, output: &'static str, result: Result<(), &str>) {
        let now = OffsetDateTime::now_utc();
        let newly_unreachable = self.with(|inner| {
            let (_, state, _) = inner
                .outputs
                .iter_mut()
                .find(|(name, ..)| *name == output)?;
            match result {
                Ok(()) => {
                    if state.unreachable.take().is_some() {
                        tracing::info!(output, "output reachable again");
                    }
                    None
                }
                Err(reason) => {
                    let reason = concise(reason);
                    let new = state.unreachable.is_none();
                    state.unreachable = Some(reason.clone());
                    new.then_some(reason)
                }
            }
        });
        if let Some(reason) = newly_unreachable {
            self.errors(|errors| errors.record(now, output, &reason));
        }
    }

    /// An output request failed (it will be retried).
    pub fn output_failed(&self, output: &'static str, message: &str) {
        let message = &concise(message);
        let now = OffsetDateTime::now_utc();
        self.with(|inner| {
            if let Some((_, state, _)) = inner.outputs.iter_mut().find(|(name, ..)| *name == output)
            {
                state.consecutive_failures += 1;
                state.failing_since.get_or_insert(now);
                state.last_error = Some((now, message.to_owned()));
            }
        });
        self.errors(|errors| errors.record(now, output, message));
    }

    /// A request reached the webhook's POST path.
    pub fn webhook_request(&self, accepted: bool) {
        let now = OffsetDateTime::now_utc();
        self.with(|inner| {
            if let Some(webhook) = &mut inner.webhook {
                webhook.last_request_at = Some(now);
                if accepted {
                    webhook.last_accepted_at = Some(now);
                }
            }
        });
    }

    /// The poller spooled a page and saved `cursor`.
    pub fn poller_page(&self, cursor: Option<&str>, newest_event_at: Option<OffsetDateTime>) {
        let now = OffsetDateTime::now_utc();
        self.with(|inner| {
            let poller = inner.poller.get_or_insert_with(PollerState::default);
            if let Some(cursor) = cursor {
                poller.cursor = Some(cursor.to_owned());
            }
            if newest_event_at > poller.newest_event_at {
                poller.newest_event_at = newest_event_at;
            }
            poller.last_success_at = Some(now);
        });
    }

    /// A poller request failed.
    pub fn poller_failed(&self, message: &str) {
        let now = OffsetDateTime::now_utc();
        self.with(|inner| {
            let poller = inner.poller.get_or_insert_with(PollerState::default);
            poller.last_error = Some((now, message.to_owned()));
        });
        self.errors(|errors| errors.record(now, "poller", message));
    }

    /// Records an error of `component` (a reload, the spool) for `/status`.
    pub fn record_error(&self, component: &str, message: &str) {
        let now = OffsetDateTime::now_utc();
        self.errors(|errors| errors.record(now, component, message));
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> Snapshot {
        let now = OffsetDateTime::now_utc();
        let errors = self.errors(|errors| errors.recent(now));
        self.with(|inner| Snapshot {
            outputs: inner
                .outputs
                .iter()
                .map(|(name, state, _)| (*name, state.clone()))
                .collect(),
            webhook: inner.webhook.clone(),
            poller: inner.poller.clone(),
            errors,
        })
    }

    /// Logs a WARN for each failing output whose last WARN is a minute old
    /// or more, with the backlog and the last error.
    pub fn warn_failing(&self, backlog_events: u64, backlog_bytes: u64) {
        let now = Instant::now();
        self.with(|inner| {
            for (output, state, warned) in &mut inner.outputs {
                if state.consecutive_failures == 0
                    || warned.is_some_and(|at| now.duration_since(at) < WARN_INTERVAL)
                {
                    continue;
                }
                *warned = Some(now);
                let since = state.failing_since.map_or(Duration::ZERO, |since| {
                    (OffsetDateTime::now_utc() - since).unsigned_abs()
                });
                let error = state.last_error.as_ref().map_or("", |(_, message)| message);
                tracing::warn!(
                    output = *output,
                    failing_for = %humantime::format_duration(Duration::from_secs(since.as_secs())),
                    failures = state.consecutive_failures,
                    backlog_events,
                    backlog_bytes,
                    error,
                    "output is failing; events wait in the spool"
                );
            }
        });
    }
}

/// An error chain as an operator reads it: URLs without their query string
/// or userinfo, and no cause repeated (HTTP clients repeat the URL at each
/// level).
pub fn concise(message: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in message.split(": ") {
        let part = strip_queries(part);
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

fn strip_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("http") {
        let (before, url) = rest.split_at(start);
        out.push_str(before);
        let end = url
            .find(|character: char| character.is_whitespace() || character == ')')
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        let url = url.split('?').next().unwrap_or(url);
        // No credentials from a URL's userinfo in a message that is kept.
        match (url.find("://"), url.find('@')) {
            (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
                out.push_str(&url[..scheme + 3]);
                out.push_str(&url[at + 1..]);
            }
            _ => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_are_made_short() {
        let long = "error sending request for url (http://127.0.0.1:9/_bulk?filter_path=errors%2Citems): error sending request for url (http://127.0.0.1:9/_bulk?filter_path=errors%2Citems): client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            concise(long),
            "error sending request for url (http://127.0.0.1:9/_bulk): client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(concise("503 overloaded"), "503 overloaded");
        assert_eq!(
            concise("error for url (https://elastic:secret@es:9200/_bulk?x=1)"),
            "error for url (https://es:9200/_bulk)"
        );
    }

    #[test]
    fn failures_count_until_a_success() {
        let health = Health::default();
        health.register_output("elasticsearch");
        health.output_failed("elasticsearch", "connection refused");
        health.output_failed("elasticsearch", "connection refused");
        let state = &health.snapshot().outputs[0].1;
        assert_eq!(state.consecutive_failures, 2);
        assert!(state.failing_since.is_some());
        assert_eq!(state.last_error.as_ref().unwrap().1, "connection refused");
        health.output_succeeded("elasticsearch");
        let state = &health.snapshot().outputs[0].1;
        assert_eq!(state.consecutive_failures, 0);
        assert!(state.last_success_at.is_some());
        assert_eq!(state.failing_since, None);
        // The error stays in the recent errors.
        assert_eq!(health.snapshot().errors.len(), 1);
    }

    #[test]
    fn probes_mark_an_idle_output_unreachable_until_one_reaches_it() {
        let health = Health::default();
        health.register_output("elasticsearch");
        health.output_probed("elasticsearch", Err("connection refused"));
        health.output_probed("elasticsearch", Err("connection refused"));
        let state = &health.snapshot().outputs[0].1;
        assert!(!state.up());
        assert_eq!(state.unreachable.as_deref(), Some("connection refused"));
        assert_eq!(state.consecutive_failures, 0);
        assert_eq!(state.last_request_at(), None);
        // Recorded once, not at every probe.
        assert_eq!(health.snapshot().errors.len(), 1);
        health.output_probed("elasticsearch", Ok(()));
        assert!(health.snapshot().outputs[0].1.up());
        health.output_probed("elasticsearch", Err("connection refused"));
        health.output_succeeded("elasticsearch");
        assert!(health.snapshot().outputs[0].1.up());
    }
}
