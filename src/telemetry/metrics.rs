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

/// The rows of [`COUNTERS`], family by family: the family's name (after
/// `auth0_ingest_`) and help once, then each series' labels and the field
/// (or array element) it reads.
macro_rules! counters {
    ($($name:literal, $help:expr => [$($labels:tt => $field:ident $([$index:literal])?,)*];)*) => {
        &[$($(CounterRow {
            name: concat!("auth0_ingest_", $name),
            help: $help,
            labels: &$labels,
            value: |metrics| &metrics.$field $([$index])?,
        },)*)*]
    };
}

/// Every counter series (today's names, kept from the hand-written text).
pub const COUNTERS: &[CounterRow] = counters! {
    "webhook_requests_total", "Webhook POST requests by result." => [
        [("result", "ok")] => webhook_requests_ok,
        [("result", "unauthorized")] => webhook_requests_unauthorized,
        [("result", "invalid")] => webhook_requests_invalid,
        [("result", "unavailable")] => webhook_requests_unavailable,
    ];
    "events_received_total", "Events accepted into the spool." => [
        [("input", "webhook")] => events_received_webhook,
        [("input", "api")] => events_received_api,
        [("input", "replay")] => events_replayed,
    ];
    "poller_requests_total", "Poller requests to the Management API logs endpoint by result." => [
        [("result", "ok")] => poller_requests_ok,
        [("result", "rate_limited")] => poller_requests_rate_limited,
        [("result", "failed")] => poller_requests_failed,
    ];
    "poller_token_requests_total", "Poller client-credentials token requests by result." => [
        [("result", "ok")] => poller_token_requests_ok,
        [("result", "failed")] => poller_token_requests_failed,
    ];
    "poller_rate_limit_waits_total", "Pauses the poller made for Auth0's rate limit." => [
        [] => poller_rate_limit_waits,
    ];
    "events_dead_lettered_total", "Items written to the dead-letter file." => [
        [("stage", "input")] => events_rejected_input,
        [("stage", "pipeline")] => events_rejected_pipeline,
        [("stage", "output")] => events_rejected_output,
    ];
    "documents_written_total", "Documents durably written by an output." => [
        [("output", "file")] => documents_written_file,
        [("output", "elasticsearch")] => documents_written_es,
        [("output", "datadog")] => documents_written_datadog,
    ];
    "documents_duplicate_total", "Documents an output already had, counted as delivered: a log_id in the file output's recent window, or a 409 on create from Elasticsearch." => [
        [("output", "file")] => documents_duplicate_file,
        [("output", "elasticsearch")] => documents_duplicate_es,
    ];
    "output_retries_total", "Retries by an output: single bulk items or whole requests." => [
        [("output", "elasticsearch"), ("scope", "item")] => es_item_retries,
        [("output", "elasticsearch"), ("scope", "request")] => es_request_retries,
        [("output", "datadog"), ("scope", "request")] => datadog_request_retries,
    ];
    "spool_acked_total", "Spool records acknowledged." => [
        [] => spool_acked,
    ];
    "reloads_total", "SIGHUP reloads of TLS material, tokens and GeoIP databases by result." => [
        [("result", "success")] => reloads_ok,
        [("result", "failure")] => reloads_failed,
    ];
    "datadog_stale_events_total", "Events sent to Datadog although older than the 18 hours its intake accepts (they may not appear there)." => [
        [] => datadog_stale_events,
    ];
    "datadog_truncated_total", "Logs cut to Datadog's 1 MB limit, with a note field saying so." => [
        [] => datadog_truncated,
    ];
    "datadog_key_refusals_total", "Datadog intake requests refused for the API key (401/403); retried." => [
        [] => datadog_key_refusals,
    ];
    "webhook_requests_over_budget_total", "Webhook requests answered 503 because the body memory budget (webhook.max_inflight_bytes) was used up." => [
        [] => webhook_requests_over_budget,
    ];
    "webhook_connections_closed_total", "Webhook connections the server closed, by reason: a timeout, or to make room at max_connections." => [
        [("reason", "header_timeout")] => webhook_connections_closed_header_timeout,
        [("reason", "idle_timeout")] => webhook_connections_closed_idle_timeout,
        [("reason", "send_timeout")] => webhook_connections_closed_send_timeout,
        [("reason", "evicted")] => webhook_connections_closed_evicted,
    ];
    "webhook_connections_lingering_total", "Webhook connections closed with a lingering read after an answer that left the request body unread." => [
        [] => webhook_connections_lingering,
    ];
    "events_filtered_total", "Events [filter] left out (acknowledged, not written), by Auth0 filter category." => [
        [("category", "auth.login.fail")] => events_filtered[0],
        [("category", "auth.login.notification")] => events_filtered[1],
        [("category", "auth.login.success")] => events_filtered[2],
        [("category", "auth.logout.fail")] => events_filtered[3],
        [("category", "auth.logout.success")] => events_filtered[4],
        [("category", "auth.signup.fail")] => events_filtered[5],
        [("category", "auth.signup.success")] => events_filtered[6],
        [("category", "auth.silent_auth.fail")] => events_filtered[7],
        [("category", "auth.silent_auth.success")] => events_filtered[8],
        [("category", "auth.token_exchange.fail")] => events_filtered[9],
        [("category", "auth.token_exchange.success")] => events_filtered[10],
        [("category", "management.fail")] => events_filtered[11],
        [("category", "management.success")] => events_filtered[12],
        [("category", "scim.event")] => events_filtered[13],
        [("category", "system.notification")] => events_filtered[14],
        [("category", "user.fail")] => events_filtered[15],
        [("category", "user.notification")] => events_filtered[16],
        [("category", "user.success")] => events_filtered[17],
        [("category", "actions")] => events_filtered[18],
        [("category", "other")] => events_filtered[19],
    ];
};

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
