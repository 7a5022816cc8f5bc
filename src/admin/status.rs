//! `/status`: the Health view as JSON, and the rules that make it `ok`,
//! `degraded` or `failing`.
//!
//! - `failing`: an output has failed without a success for
//!   `admin.failing_after` (5 minutes) while the spool holds events for it,
//!   or the spool is at 90 % of `max_bytes` or more, or the spool's last
//!   write failed.
//! - `degraded`: an output is retrying (its last request failed), or the
//!   probe of an idle output (at start-up, then every 30 s while it sends
//!   nothing) did not reach it, or the poller's last request failed.
//! - `ok` otherwise.
//!
//! `reasons` says which rule applied, one sentence each.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

pub use super::dead_letters::DeadLetters;
use super::state::State;
use crate::spool::Backlog;
use crate::telemetry::errors::ErrorEntry;
use crate::telemetry::health::{OutputState, Snapshot};
use crate::telemetry::metrics::Gauges;

/// Spool fill (of `max_bytes`) from which `/readyz` fails and `/status` is
/// `failing`.
pub const FULL_FRACTION: f64 = 0.9;
/// What `/status` says for `config` when the agent runs from the embedded
/// default.
pub const EMBEDDED: &str = "embedded default";

/// The overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Everything works.
    Ok,
    /// Retries are going on.
    Degraded,
    /// Events are not getting through (or soon will not be accepted).
    Failing,
}

impl Health {
    /// `ok`, `degraded` or `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Failing => "failing",
        }
    }

    /// The `status` command's exit code: 0, 1, 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Ok => 0,
            Health::Degraded => 1,
            Health::Failing => 2,
        }
    }
}

/// The `/status` document (a wire format: serde).
#[derive(Debug, Serialize)]
pub struct Status {
    /// The agent's version.
    pub version: &'static str,
    /// The config file the agent runs from, or `embedded default`.
    pub config: String,
    /// The agent's process id.
    pub pid: u32,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// `ok`, `degraded` or `failing`.
    pub status: Health,
    /// Why, when not `ok`.
    pub reasons: Vec<String>,
    /// The inputs.
    pub inputs: Inputs,
    /// The spool.
    pub spool: Spool,
    /// The outputs, by name.
    pub outputs: std::collections::BTreeMap<&'static str, Output>,
    /// The dead-letter file.
    pub dead_letters: DeadLetters,
    /// The last 10 errors of the last 5 days, oldest first.
    pub errors: Vec<ErrorEntry>,
}

/// The inputs of `/status`.
#[derive(Debug, Serialize)]
pub struct Inputs {
    /// The webhook, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// The poller, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poller: Option<Poller>,
}

/// The webhook of `/status`.
#[derive(Debug, Serialize)]
pub struct Webhook {
    /// Last request to the POST path.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_request_at: Option<OffsetDateTime>,
    /// Last request with events accepted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_accepted_at: Option<OffsetDateTime>,
    /// Requests by outcome since the start.
    pub requests: WebhookRequests,
}

/// Webhook requests by outcome.
#[derive(Debug, Serialize)]
pub struct WebhookRequests {
    /// `200`.
    pub ok: u64,
    /// `401`.
    pub unauthorized: u64,
    /// `400`, `408`, `413`, `415`.
    pub invalid: u64,
    /// `503`, `500`.
    pub unavailable: u64,
}

/// The poller of `/status`.
#[derive(Debug, Serialize)]
pub struct Poller {
    /// The saved cursor (`log_id`).
    pub cursor: Option<String>,
    /// Date of the newest event seen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub newest_event_at: Option<OffsetDateTime>,
    /// Now minus `newest_event_at`, in seconds.
    pub lag_seconds: Option<f64>,
    /// Last page spooled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// Last failure.
    pub last_error: Option<LastError>,
}

/// A failure: when and what.
#[derive(Debug, Serialize)]
pub struct LastError {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What.
    pub message: String,
}

/// The spool of `/status`.
#[derive(Debug, Serialize)]
pub struct Spool {
    /// Events not yet acknowledged by every output.
    pub backlog_events: u64,
    /// Their bytes.
    pub backlog_bytes: u64,
    /// `spool.max_bytes`.
    pub max_bytes: u64,
    /// Receive time of the oldest of them.
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest_unacked_at: Option<OffsetDateTime>,
    /// The last spool write succeeded.
    pub writable: bool,
}

/// An output of `/status`.
#[derive(Debug, Serialize)]
pub struct Output {
    /// Last request that succeeded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// Last failure.
    pub last_error: Option<LastError>,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// The last request succeeded (or none failed yet).
    pub reachable: bool,
}

/// The `/status` document now. Blocking (reads the spool's oldest record
/// and the dead-letter file).
pub fn status(state: &State) -> Status {
    let now = OffsetDateTime::now_utc();
    let backlog = state.spool.backlog();
    let snapshot = state.metrics.health.snapshot();
    let (health, reasons) = judge(&snapshot, &backlog, state.failing_after, now);
    let metrics = &state.metrics;
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    Status {
        version: env!("CARGO_PKG_VERSION"),
        config: state
            .config_source
            .as_ref()
            .map_or_else(|| EMBEDDED.to_owned(), |path| path.display().to_string()),
        pid: std::process::id(),
        started_at: state.started_at,
        status: health,
        reasons,
        inputs: Inputs {
            webhook: snapshot.webhook.as_ref().map(|webhook| Webhook {
                last_request_at: webhook.last_request_at,
                last_accepted_at: webhook.last_accepted_at,
                requests: WebhookRequests {
                    ok: load(&metrics.webhook_requests_ok),
                    unauthorized: load(&metrics.webhook_requests_unauthorized),
                    invalid: load(&metrics.webhook_requests_invalid),
                    unavailable: load(&metrics.webhook_requests_unavailable),
                },
            }),
            poller: snapshot.poller.as_ref().map(|poller| Poller {
                cursor: poller.cursor.clone(),
                newest_event_at: poller.newest_event_at,
                lag_seconds: poller.newest_event_at.map(|at| seconds(now - at)),
                last_success_at: poller.last_success_at,
                last_error: poller.last_error.as_ref().map(last_error),
            }),
        },
        spool: Spool {
            backlog_events: backlog.events,
            backlog_bytes: backlog.bytes,
            max_bytes: backlog.max_bytes,
            oldest_unacked_at: backlog.oldest_unacked_at,
            writable: backlog.writable,
        },
        outputs: snapshot
            .outputs
            .iter()
            .map(|(name, output)| (*name, output_status(output)))
            .collect(),
        dead_letters: state.dead_letters.count(),
        errors: snapshot.errors,
    }
}

/// The gauges of `/metrics` now. Blocking (reads the spool's oldest record).
pub fn gauges(state: &State) -> Gauges {
    let now = OffsetDateTime::now_utc();
    let backlog = state.spool.backlog();
    let snapshot = state.metrics.health.snapshot();
    Gauges {
        spool_backlog_events: backlog.events,
        spool_backlog_bytes: backlog.bytes,
        spool_max_bytes: backlog.max_bytes,
        spool_oldest_unacked_age_seconds: backlog
            .oldest_unacked_at
            .map_or(0.0, |at| seconds(now - at).max(0.0)),
        outputs: snapshot
            .outputs
            .iter()
            .map(|(name, output)| {
                (
                    *name,
                    output.up(),
                    output
                        .last_success_at
                        .map_or(0.0, |at| at.unix_timestamp_nanos() as f64 / 1e9),
                )
            })
            .collect(),
        poller_lag_seconds: snapshot
            .poller
            .as_ref()
            .and_then(|poller| poller.newest_event_at)
            .map(|at| seconds(now - at)),
    }
}

/// Whether `/readyz` answers 200, or why not: whether the agent takes
/// events durably, i.e. the spool's rules of `failing`. An unreachable or
/// retrying output makes `/status` `degraded` (or `failing` after
/// `admin.failing_after` with a backlog) but leaves `/readyz` at 200: the
/// spool is the buffer for that outage, and a load balancer that took
/// every agent out because the store is down would turn a delay into
/// Auth0's retries running out.
pub fn ready(backlog: &Backlog) -> Result<(), String> {
    if !backlog.writable {
        return Err("the spool's last write failed".to_owned());
    }
    if backlog.fill() >= FULL_FRACTION {
        return Err(format!(
            "the spool is {:.0} % full ({} of {} bytes)",
            backlog.fill() * 100.0,
            backlog.bytes,
            backlog.max_bytes
        ));
    }
    Ok(())
}

/// Applies the rules of the module docs.
pub fn judge(
    snapshot: &Snapshot,
    backlog: &Backlog,
    failing_after: Duration,
    now: OffsetDateTime,
) -> (Health, Vec<String>) {
    let mut health = Health::Ok;
    let mut reasons = Vec::new();
    let mut raise = |level: Health, reason: String| {
        health = health.max(level);
        reasons.push(reason);
    };
    if let Err(reason) = ready(backlog) {
        raise(Health::Failing, reason);
    }
    for (name, output) in &snapshot.outputs {
        if output.consecutive_failures == 0 {
            if let Some(reason) = &output.unreachable {
                raise(
                    Health::Degraded,
                    format!("output {name} is unreachable (idle probe): {reason}"),
                );
            }
            continue;
        }
        let since = output.failing_since.unwrap_or(now);
        let down = (now - since).unsigned_abs();
        let error = output
            .last_error
            .as_ref()
            .map_or("", |(_, message)| message.as_str());
        if backlog.events > 0 && down >= failing_after {
            raise(
                Health::Failing,
                format!(
                    "output {name} has not succeeded for {} with {} events waiting: {error}",
                    humantime::format_duration(Duration::from_secs(down.as_secs())),
                    backlog.events
                ),
            );
        } else {
            raise(
                Health::Degraded,
                format!(
                    "output {name} is retrying ({} failed {}): {error}",
                    output.consecutive_failures,
                    if output.consecutive_failures == 1 {
                        "attempt"
                    } else {
                        "attempts"
                    }
                ),
            );
        }
    }
    if let Some(poller) = &snapshot.poller {
        if let Some((at, message)) = &poller.last_error {
            if poller.last_success_at.is_none_or(|success| success < *at) {
                raise(Health::Degraded, format!("poller is retrying: {message}"));
            }
        }
    }
    (health, reasons)
}

fn output_status(output: &OutputState) -> Output {
    Output {
        last_success_at: output.last_success_at,
        last_error: output.last_error.as_ref().map(last_error),
        consecutive_failures: output.consecutive_failures,
        reachable: output.up(),
    }
}

fn last_error((at, message): &(OffsetDateTime, String)) -> LastError {
    LastError {
        at: *at,
        message: message.clone(),
    }
}

fn seconds(duration: time::Duration) -> f64 {
    duration.as_seconds_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::DeadLetterCount;

    fn backlog(events: u64, bytes: u64) -> Backlog {
        Backlog {
            events,
            bytes,
            max_bytes: 1000,
            oldest_unacked_at: None,
            writable: true,
        }
    }

    fn failing_for(seconds: i64, now: OffsetDateTime) -> Snapshot {
        Snapshot {
            outputs: vec![(
                "elasticsearch",
                OutputState {
                    last_success_at: None,
                    last_error: Some((now, "connection refused".to_owned())),
                    consecutive_failures: 3,
                    failing_since: Some(now - time::Duration::seconds(seconds)),
                    unreachable: None,
                },
            )],
            ..Snapshot::default()
        }
    }

    #[test]
    fn ok_degraded_failing() {
        let now = OffsetDateTime::now_utc();
        let five = Duration::from_secs(300);
        let (health, reasons) = judge(&Snapshot::default(), &backlog(0, 0), five, now);
        assert_eq!((health, reasons.len()), (Health::Ok, 0));
        let (health, reasons) = judge(&failing_for(10, now), &backlog(5, 10), five, now);
        assert_eq!(health, Health::Degraded);
        assert!(reasons[0].contains("connection refused"), "{reasons:?}");
        let (health, reasons) = judge(&failing_for(301, now), &backlog(5, 10), five, now);
        assert_eq!(health, Health::Failing);
        assert!(reasons[0].contains("5m 1s"), "{reasons:?}");
        // No work waiting: retrying, not failing.
        let (health, _) = judge(&failing_for(301, now), &backlog(0, 0), five, now);
        assert_eq!(health, Health::Degraded);
        // A spool at 90 % fails on its own.
        let (health, reasons) = judge(&Snapshot::default(), &backlog(5, 900), five, now);
        assert_eq!(health, Health::Failing);
        assert!(reasons[0].contains("90 % full"), "{reasons:?}");
        assert!(ready(&backlog(5, 899)).is_ok());
    }

    #[test]
    fn an_unreachable_idle_output_is_degraded_but_ready() {
        let now = OffsetDateTime::now_utc();
        let mut snapshot = failing_for(0, now);
        let output = &mut snapshot.outputs[0].1;
        output.consecutive_failures = 0;
        output.failing_since = None;
        output.unreachable = Some("connection refused".to_owned());
        let (health, reasons) = judge(&snapshot, &backlog(0, 0), Duration::from_secs(300), now);
        assert_eq!(health, Health::Degraded);
        assert_eq!(
            reasons,
            ["output elasticsearch is unreachable (idle probe): connection refused"]
        );
        assert!(ready(&backlog(0, 0)).is_ok());
    }

    #[test]
    fn dead_letters_are_counted_incrementally_and_afresh_after_a_move() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead-letter.ndjson");
        let count = DeadLetterCount::new(path.clone());
        assert_eq!(count.count().count, 0);
        std::fs::write(&path, "{}\n{}\n").unwrap();
        assert_eq!(count.count().count, 2);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut file, b"{}\n").unwrap();
        let counted = count.count();
        assert_eq!((counted.count, counted.bytes), (3, 9));
        std::fs::write(&path, "{}\n").unwrap();
        assert_eq!(count.count().count, 1);
    }
}
