//! The agent's metrics, exported in Prometheus' text format (version 0.0.4)
//! at the admin listener's `/metrics`.
//!
//! Counters are plain `AtomicU64` fields of [`Metrics`] (one relaxed add on
//! the hot path, `Metrics::add`); [`COUNTERS`] names each one. Gauges are
//! read from the spool and the health state at scrape time ([`Gauges`]), so
//! they are right after a restart with a backlog. Histograms and the
//! rendering are `metrics-exporter-prometheus`' (a recorder of our own, not
//! the process-global one, so several agents can run in one test process).
//!
//! Adding a counter: add an `AtomicU64` field to [`Metrics`] and a row to
//! [`COUNTERS`]. Names follow `auth0_ingest_<noun>_<unit>`; counters end in
//! `_total`.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::health::Health;
use crate::pipeline::filter::Category;

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Histogram buckets, in seconds: from a 1 ms ack to an hour-old backlog.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];
/// The outputs, as named in the `output` label.
pub const OUTPUTS: &[&str] = &["elasticsearch", "datadog", "file"];

/// The agent's counters; one instance, shared by reference.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook requests by outcome.
    pub webhook_requests_ok: AtomicU64,
    /// Requests refused for a bad or missing token.
    pub webhook_requests_unauthorized: AtomicU64,
    /// Requests refused as malformed, empty, too large or unsupported.
    pub webhook_requests_invalid: AtomicU64,
    /// Requests refused because the spool was full or failed.
    pub webhook_requests_unavailable: AtomicU64,
    /// Events accepted into the spool, by the webhook.
    pub events_received_webhook: AtomicU64,
    /// Events accepted into the spool, by the API poller.
    pub events_received_api: AtomicU64,
    /// Poller requests to the logs endpoint answered with a page.
    pub poller_requests_ok: AtomicU64,
    /// Poller requests to the logs endpoint refused with 429.
    pub poller_requests_rate_limited: AtomicU64,
    /// Poller requests to the logs endpoint that failed otherwise.
    pub poller_requests_failed: AtomicU64,
    /// Tokens obtained by the poller.
    pub poller_token_requests_ok: AtomicU64,
    /// Failed token requests.
    pub poller_token_requests_failed: AtomicU64,
    /// Pauses the poller made for Auth0's rate limit (after a 429, or
    /// before one when `X-RateLimit-Remaining` ran low).
    pub poller_rate_limit_waits: AtomicU64,
    /// Items rejected at the input and dead-lettered.
    pub events_rejected_input: AtomicU64,
    /// Events the pipeline could not map, dead-lettered.
    pub events_rejected_pipeline: AtomicU64,
    /// Redelivered documents the file output skipped (a `log_id` in its window).
    pub documents_duplicate_file: AtomicU64,
    /// Documents written by the file output.
    pub documents_written_file: AtomicU64,
    /// Spool records acknowledged.
    pub spool_acked: AtomicU64,
    /// Documents indexed by the Elasticsearch output (`201`).
    pub documents_written_es: AtomicU64,
    /// Documents Elasticsearch already had (`409` on `create`): success.
    pub documents_duplicate_es: AtomicU64,
    /// Documents Elasticsearch refused permanently, dead-lettered.
    pub events_rejected_output: AtomicU64,
    /// Bulk items sent again after a per-item `429`/`5xx`.
    pub es_item_retries: AtomicU64,
    /// Whole bulk requests sent again (connection error, `429`, `5xx`).
    pub es_request_retries: AtomicU64,
    /// SIGHUP reloads that took effect.
    pub reloads_ok: AtomicU64,
    /// SIGHUP reloads refused (the old material is kept).
    pub reloads_failed: AtomicU64,
    /// Events posted to the admin listener's `POST /replay` and spooled.
    pub events_replayed: AtomicU64,
    /// Events `[filter]` left out (acknowledged, not written), by Auth0
    /// filter category: indexed by `Category::index`.
    pub events_filtered: [AtomicU64; Category::ALL.len()],
    /// Logs Datadog's intake accepted (`202`).
    pub documents_written_datadog: AtomicU64,
    /// Datadog intake requests sent again (connection error, `408`, `429`,
    /// `5xx`, a refused key).
    pub datadog_request_retries: AtomicU64,
    /// Datadog intake requests refused for the API key (`401`/`403`).
    pub datadog_key_refusals: AtomicU64,
    /// Events sent to Datadog although older than the 18 hours it accepts.
    pub datadog_stale_events: AtomicU64,
    /// Logs cut to Datadog's 1 MB limit (with a note field).
    pub datadog_truncated: AtomicU64,
    /// Webhook requests answered 503 because `webhook.max_inflight_bytes`
    /// was used up (also counted as `unavailable`).
    pub webhook_requests_over_budget: AtomicU64,
    /// Webhook connections closed by `header_timeout`.
    pub webhook_connections_closed_header_timeout: AtomicU64,
    /// Webhook connections closed by `idle_timeout`.
    pub webhook_connections_closed_idle_timeout: AtomicU64,
    /// Webhook connections closed by `send_timeout`.
    pub webhook_connections_closed_send_timeout: AtomicU64,
    /// Webhook connections closed at `max_connections` to make room.
    pub webhook_connections_closed_evicted: AtomicU64,
    /// Webhook connections closed with a lingering read after an early answer.
    pub webhook_connections_lingering: AtomicU64,
    /// Histograms and the renderer.
    pub exporter: Exporter,
    /// Per-input and per-output state for `/status` and the output gauges.
    pub health: Health,
}

/// A counter series: family name, help, labels, and the field it reads.
#[derive(Debug)]
pub struct CounterRow {
    /// Full name, ending in `_total`.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label pairs.
    pub labels: &'static [(&'static str, &'static str)],
    /// The field.
    pub value: fn(&Metrics) -> &AtomicU64,
}

macro_rules! row {
    ($name:literal, $help:expr, [$(($key:literal, $label:literal)),*], $field:ident) => {
        CounterRow {
            name: concat!("auth0_ingest_", $name),
            help: $help,
            labels: &[$(($key, $label)),*],
            value: |metrics| &metrics.$field,
        }
    };
}

const WEBHOOK_REQUESTS: &str = "Webhook POST requests by result.";
const RECEIVED: &str = "Events accepted into the spool.";
const POLLER_REQUESTS: &str = "Poller requests to the Management API logs endpoint by result.";
const TOKEN_REQUESTS: &str = "Poller client-credentials token requests by result.";
const DEAD_LETTERED: &str = "Items written to the dead-letter file.";
const WRITTEN: &str = "Documents durably written by an output.";
const DUPLICATE: &str = "Documents an output already had, counted as delivered: a log_id in the file output's recent window, or a 409 on create from Elasticsearch.";
const RETRIES: &str = "Retries by an output: single bulk items or whole requests.";
const CONNECTIONS_CLOSED: &str =
    "Webhook connections the server closed, by reason: a timeout, or to make room at max_connections.";
const FILTERED: &str =
    "Events [filter] left out (acknowledged, not written), by Auth0 filter category.";
const RELOADS: &str = "SIGHUP reloads of TLS material, tokens and GeoIP databases by result.";

/// Every counter series (today's names, kept from the hand-written text).
pub const COUNTERS: &[CounterRow] = &[
    row!(
        "webhook_requests_total",
        WEBHOOK_REQUESTS,
        [("result", "ok")],
        webhook_requests_ok
    ),
    row!(
        "webhook_requests_total",
        WEBHOOK_REQUESTS,
        [("result", "unauthorized")],
        webhook_requests_unauthorized
    ),
    row!(
        "webhook_requests_total",
        WEBHOOK_REQUESTS,
        [("result", "invalid")],
        webhook_requests_invalid
    ),
    row!(
        "webhook_requests_total",
        WEBHOOK_REQUESTS,
        [("result", "unavailable")],
        webhook_requests_unavailable
    ),
    row!(
        "events_received_total",
        RECEIVED,
        [("input", "webhook")],
        events_received_webhook
    ),
    row!(
        "events_received_total",
        RECEIVED,
        [("input", "api")],
        events_received_api
    ),
    row!(
        "events_received_total",
        RECEIVED,
        [("input", "replay")],
        events_replayed
    ),
    row!(
        "poller_requests_total",
        POLLER_REQUESTS,
        [("result", "ok")],
        poller_requests_ok
    ),
    row!(
        "poller_requests_total",
        POLLER_REQUESTS,
        [("result", "rate_limited")],
        poller_requests_rate_limited
    ),
    row!(
        "poller_requests_total",
        POLLER_REQUESTS,
        [("result", "failed")],
        poller_requests_failed
    ),
    row!(
        "poller_token_requests_total",
        TOKEN_REQUESTS,
        [("result", "ok")],
        poller_token_requests_ok
    ),
    row!(
        "poller_token_requests_total",
        TOKEN_REQUESTS,
        [("result", "failed")],
        poller_token_requests_failed
    ),
    row!(
        "poller_rate_limit_waits_total",
        "Pauses the poller made for Auth0's rate limit.",
        [],
        poller_rate_limit_waits
    ),
    row!(
        "events_dead_lettered_total",
        DEAD_LETTERED,
        [("stage", "input")],
        events_rejected_input
    ),
    row!(
        "events_dead_lettered_total",
        DEAD_LETTERED,
        [("stage", "pipeline")],
        events_rejected_pipeline
    ),
    row!(
        "events_dead_lettered_total",
        DEAD_LETTERED,
        [("stage", "output")],
        events_rejected_output
    ),
    row!(
        "documents_written_total",
        WRITTEN,
        [("output", "file")],
        documents_written_file
    ),
    row!(
        "documents_written_total",
        WRITTEN,
        [("output", "elasticsearch")],
        documents_written_es
    ),
    row!(
        "documents_duplicate_total",
        DUPLICATE,
        [("output", "file")],
        documents_duplicate_file
    ),
    row!(
        "documents_duplicate_total",
        DUPLICATE,
        [("output", "elasticsearch")],
        documents_duplicate_es
    ),
    row!(
        "output_retries_total",
        RETRIES,
        [("output", "elasticsearch"), ("scope", "item")],
        es_item_retries
    ),
    row!(
        "output_retries_total",
        RETRIES,
        [("output", "elasticsearch"), ("scope", "request")],
        es_request_retries
    ),
    row!(
        "spool_acked_total",
        "Spool records acknowledged.",
        [],
        spool_acked
    ),
    row!(
        "reloads_total",
        RELOADS,
        [("result", "success")],
        reloads_ok
    ),
    row!(
        "reloads_total",
        RELOADS,
        [("result", "failure")],
        reloads_failed
    ),    row!(
        "documents_written_total",
        WRITTEN,
        [("output", "datadog")],
        documents_written_datadog
    ),
    row!(
        "output_retries_total",
        RETRIES,
        [("output", "datadog"), ("scope", "request")],
        datadog_request_retries
    ),
    row!(
        "datadog_stale_events_total",
        "Events sent to Datadog although older than the 18 hours its intake accepts (they may not appear there).",
        [],
        datadog_stale_events
    ),
    row!(
        "datadog_truncated_total",
        "Logs cut to Datadog's 1 MB limit, with a note field saying so.",
        [],
        datadog_truncated
    ),
    row!(
        "datadog_key_refusals_total",
        "Datadog intake requests refused for the API key (401/403); retried.",
        [],
        datadog_key_refusals
    ),
    row!(
        "webhook_requests_over_budget_total",
        "Webhook requests answered 503 because the body memory budget (webhook.max_inflight_bytes) was used up.",
        [],
        webhook_requests_over_budget
    ),
    row!(
        "webhook_connections_closed_total",
        CONNECTIONS_CLOSED,
        [("reason", "header_timeout")],
        webhook_connections_closed_header_timeout
    ),
    row!(
        "webhook_connections_closed_total",
        CONNECTIONS_CLOSED,
        [("reason", "idle_timeout")],
        webhook_connections_closed_idle_timeout
    ),
    row!(
        "webhook_connections_closed_total",
        CONNECTIONS_CLOSED,
        [("reason", "send_timeout")],
        webhook_connections_closed_send_timeout
    ),
    row!(
        "webhook_connections_closed_total",
        CONNECTIONS_CLOSED,
        [("reason", "evicted")],
        webhook_connections_closed_evicted
    ),
    row!(
        "webhook_connections_lingering_total",
        "Webhook connections closed with a lingering read after an answer that left the request body unread.",
        [],
        webhook_connections_lingering
    ),
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.login.fail")],
        value: |metrics| &metrics.events_filtered[0],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.login.notification")],
        value: |metrics| &metrics.events_filtered[1],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.login.success")],
        value: |metrics| &metrics.events_filtered[2],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.logout.fail")],
        value: |metrics| &metrics.events_filtered[3],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.logout.success")],
        value: |metrics| &metrics.events_filtered[4],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.signup.fail")],
        value: |metrics| &metrics.events_filtered[5],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.signup.success")],
        value: |metrics| &metrics.events_filtered[6],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.silent_auth.fail")],
        value: |metrics| &metrics.events_filtered[7],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.silent_auth.success")],
        value: |metrics| &metrics.events_filtered[8],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.token_exchange.fail")],
        value: |metrics| &metrics.events_filtered[9],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "auth.token_exchange.success")],
        value: |metrics| &metrics.events_filtered[10],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "management.fail")],
        value: |metrics| &metrics.events_filtered[11],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "management.success")],
        value: |metrics| &metrics.events_filtered[12],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "scim.event")],
        value: |metrics| &metrics.events_filtered[13],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "system.notification")],
        value: |metrics| &metrics.events_filtered[14],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "user.fail")],
        value: |metrics| &metrics.events_filtered[15],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "user.notification")],
        value: |metrics| &metrics.events_filtered[16],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "user.success")],
        value: |metrics| &metrics.events_filtered[17],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "actions")],
        value: |metrics| &metrics.events_filtered[18],
    },
    CounterRow {
        name: "auth0_ingest_events_filtered_total",
        help: FILTERED,
        labels: &[("category", "other")],
        value: |metrics| &metrics.events_filtered[19],
    },
];

/// The gauges, read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Records in the spool not yet acknowledged.
    pub spool_backlog_events: u64,
    /// Their bytes.
    pub spool_backlog_bytes: u64,
    /// `spool.max_bytes`.
    pub spool_max_bytes: u64,
    /// Age of the oldest unacknowledged record (0 when none).
    pub spool_oldest_unacked_age_seconds: f64,
    /// Per configured output: (name, up, last success as Unix seconds or 0).
    pub outputs: Vec<(&'static str, bool, f64)>,
    /// The poller's lag, when a poller runs and has fetched a page.
    pub poller_lag_seconds: Option<f64>,
}

/// The histograms and the Prometheus recorder that renders everything.
#[derive(Debug)]
pub struct Exporter {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Webhook POST: request received to answer sent (the ack latency).
    pub webhook_request_duration: Histogram,
    /// Event received to acknowledged by every output.
    pub delivery_latency: Histogram,
    /// One output request (a bulk request, a file write), by output.
    output_request_duration: Vec<(&'static str, Histogram)>,
}

const HISTOGRAMS: &[(&str, &str)] = &[
    ("auth0_ingest_webhook_request_duration_seconds", "Webhook POST requests: received to answered (for a 200, the time to make the events durable)."),
    ("auth0_ingest_delivery_latency_seconds", "Events: received to acknowledged by every output."),
    ("auth0_ingest_output_request_duration_seconds", "Output requests (an Elasticsearch bulk request, a file write) by output."),
];

const GAUGES: &[(&str, &str)] = &[
    (
        "auth0_ingest_spool_backlog_events",
        "Events in the spool not yet acknowledged by every output.",
    ),
    (
        "auth0_ingest_spool_backlog_bytes",
        "Record bytes in the spool not yet acknowledged.",
    ),
    (
        "auth0_ingest_spool_max_bytes",
        "spool.max_bytes: the webhook answers 503 beyond it.",
    ),
    (
        "auth0_ingest_spool_oldest_unacked_age_seconds",
        "Age of the oldest event not yet acknowledged (0 when none).",
    ),
    (
        "auth0_ingest_output_up",
        "1 when the output's last request succeeded, 0 while it fails.",
    ),
    (
        "auth0_ingest_output_last_success_timestamp_seconds",
        "Unix time of the output's last successful request (0 before the first).",
    ),
    (
        "auth0_ingest_poller_lag_seconds",
        "Now minus the date of the newest event the poller has seen.",
    ),
    ("auth0_ingest_build_info", "The running version (always 1)."),
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(key, value)| Label::from_static_parts(key, value))
            .collect::<Vec<_>>(),
    )
}

impl Default for Exporter {
    fn default() -> Exporter {
        let builder = PrometheusBuilder::new();
        // The buckets are constant and valid; `set_buckets` only refuses an
        // empty list.
        let builder = match builder.set_buckets(BUCKETS) {
            Ok(builder) => builder,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        for row in COUNTERS {
            recorder.describe_counter(
                KeyName::from_const_str(row.name),
                None,
                SharedString::const_str(row.help),
            );
        }
        for (name, help) in GAUGES {
            recorder.describe_gauge(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
        }
        for (name, help) in HISTOGRAMS {
            recorder.describe_histogram(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
        }
        let histogram = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_histogram(&key(name, labels), &METADATA)
        };
        let webhook_request_duration = histogram(HISTOGRAMS[0].0, &[]);
        let delivery_latency = histogram(HISTOGRAMS[1].0, &[]);
        let output_request_duration = OUTPUTS
            .iter()
            .map(|output| (*output, histogram(HISTOGRAMS[2].0, &[("output", output)])))
            .collect();
        let handle = recorder.handle();
        Exporter {
            recorder,
            handle,
            webhook_request_duration,
            delivery_latency,
            output_request_duration,
        }
    }
}

impl Exporter {
    /// The request-duration histogram of `output` (one of [`OUTPUTS`]).
    pub fn output_request_duration(&self, output: &str) -> Option<&Histogram> {
        self.output_request_duration
            .iter()
            .find(|(name, _)| *name == output)
            .map(|(_, histogram)| histogram)
    }

    /// Folds recorded histogram samples into their buckets, so memory stays
    /// bounded between scrapes; call every few seconds.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Metrics {
    /// Adds `count` to a counter.
    pub fn add(counter: &AtomicU64, count: u64) {
        counter.fetch_add(count, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4), with `gauges` read
    /// by the caller at scrape time.
    pub fn render(&self, gauges: &Gauges) -> String {
        let recorder = &self.exporter.recorder;
        for row in COUNTERS {
            recorder
                .register_counter(&key(row.name, row.labels), &METADATA)
                .absolute((row.value)(self).load(Ordering::Relaxed));
        }
        let gauge = |name: &'static str, labels: &[(&'static str, &'static str)], value: f64| {
            recorder
                .register_gauge(&key(name, labels), &METADATA)
                .set(value);
        };
        gauge(GAUGES[0].0, &[], gauges.spool_backlog_events as f64);
        gauge(GAUGES[1].0, &[], gauges.spool_backlog_bytes as f64);
        gauge(GAUGES[2].0, &[], gauges.spool_max_bytes as f64);
        gauge(GAUGES[3].0, &[], gauges.spool_oldest_unacked_age_seconds);
        for (output, up, last_success) in &gauges.outputs {
            let labels = [("output", *output)];
            gauge(GAUGES[4].0, &labels, if *up { 1.0 } else { 0.0 });
            gauge(GAUGES[5].0, &labels, *last_success);
        }
        if let Some(lag) = gauges.poller_lag_seconds {
            gauge(GAUGES[6].0, &[], lag);
        }
        gauge(GAUGES[7].0, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        self.exporter.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_todays_counter_names_gauges_and_histograms() {
        let metrics = Metrics::default();
        Metrics::add(&metrics.webhook_requests_ok, 3);
        Metrics::add(&metrics.reloads_failed, 1);
        metrics.exporter.webhook_request_duration.record(0.004);
        let text = metrics.render(&Gauges {
            spool_backlog_events: 96,
            outputs: vec![("elasticsearch", false, 0.0)],
            ..Gauges::default()
        });
        for line in [
            "# TYPE auth0_ingest_webhook_requests_total counter",
            "auth0_ingest_webhook_requests_total{result=\"ok\"} 3",
            "auth0_ingest_webhook_requests_total{result=\"invalid\"} 0",
            "auth0_ingest_reloads_total{result=\"failure\"} 1",
            "auth0_ingest_spool_acked_total 0",
            "# TYPE auth0_ingest_spool_backlog_events gauge",
            "auth0_ingest_spool_backlog_events 96",
            "auth0_ingest_output_up{output=\"elasticsearch\"} 0",
            "# TYPE auth0_ingest_webhook_request_duration_seconds histogram",
            "auth0_ingest_webhook_request_duration_seconds_bucket{le=\"0.005\"} 1",
            "auth0_ingest_webhook_request_duration_seconds_count 1",
            "auth0_ingest_build_info{version=\"0.1.0\"} 1",
        ] {
            assert!(
                text.lines().any(|got| got == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert!(!text.contains("auth0_ingest_poller_lag_seconds "), "{text}");
    }

    /// A counter field without a `COUNTERS` row would never be exported:
    /// every top-level integer field of `Metrics` must be read by a row.
    #[test]
    fn every_counter_field_has_a_row() {
        let metrics = Metrics::default();
        let pretty = format!("{metrics:#?}");
        let fields: Vec<&str> = pretty
            .lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| !line.starts_with(' '))
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                value
                    .trim_end_matches(',')
                    .chars()
                    .all(|character| character.is_ascii_digit())
                    .then_some(name)
            })
            .collect();
        let rows: std::collections::HashSet<*const AtomicU64> = COUNTERS
            .iter()
            .map(|row| std::ptr::from_ref((row.value)(&metrics)))
            .collect();
        assert!(fields.len() > 20, "{fields:?}");
        // `events_filtered` is an array (one counter per category), which
        // the scan above does not see as a field.
        assert_eq!(
            rows.len(),
            fields.len() + Category::ALL.len(),
            "fields: {fields:?}"
        );
    }

    #[test]
    fn filtered_rows_name_their_category() {
        let metrics = Metrics::default();
        for category in Category::ALL {
            let counter = std::ptr::from_ref(&metrics.events_filtered[category.index()]);
            let row = COUNTERS
                .iter()
                .find(|row| std::ptr::from_ref((row.value)(&metrics)) == counter)
                .expect("a row per category");
            assert_eq!(row.name, "auth0_ingest_events_filtered_total");
            assert_eq!(row.labels, [("category", category.as_str())]);
        }
    }

    #[test]
    fn every_counter_row_has_a_distinct_series() {
        let mut seen = std::collections::HashSet::new();
        for row in COUNTERS {
            assert!(row.name.ends_with("_total"), "{}", row.name);
            assert!(seen.insert((row.name, row.labels)), "{} twice", row.name);
        }
    }
}
