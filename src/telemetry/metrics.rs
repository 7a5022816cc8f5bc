//! Counters the agent exports in Prometheus' text format at `/metrics`.
//!
//! Names follow `auth0_ingest_<noun>_<unit>`; counters end in `_total`.
//! Queue depth is `spool_pushed` minus `spool_acked`, not a lone gauge.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pipeline::filter::Category;

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
    /// Events `[filter]` left out (acknowledged, not written), by Auth0
    /// filter category: indexed by `Category::index`.
    pub events_filtered: [AtomicU64; Category::ALL.len()],
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
}

impl Metrics {
    /// Adds `count` to a counter.
    pub fn add(counter: &AtomicU64, count: u64) {
        counter.fetch_add(count, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, series: &[(&str, &AtomicU64)]| {
            let _ = writeln!(out, "# HELP auth0_ingest_{name} {help}");
            let _ = writeln!(out, "# TYPE auth0_ingest_{name} counter");
            for (labels, value) in series {
                let _ = writeln!(
                    out,
                    "auth0_ingest_{name}{labels} {}",
                    value.load(Ordering::Relaxed)
                );
            }
        };
        counter(
            &mut out,
            "webhook_requests_total",
            "Webhook POST requests by result.",
            &[
                ("{result=\"ok\"}", &self.webhook_requests_ok),
                (
                    "{result=\"unauthorized\"}",
                    &self.webhook_requests_unauthorized,
                ),
                ("{result=\"invalid\"}", &self.webhook_requests_invalid),
                (
                    "{result=\"unavailable\"}",
                    &self.webhook_requests_unavailable,
                ),
            ],
        );
        counter(
            &mut out,
            "events_received_total",
            "Events accepted into the spool.",
            &[
                ("{input=\"webhook\"}", &self.events_received_webhook),
                ("{input=\"api\"}", &self.events_received_api),
            ],
        );
        counter(
            &mut out,
            "poller_requests_total",
            "Poller requests to the Management API logs endpoint by result.",
            &[
                ("{result=\"ok\"}", &self.poller_requests_ok),
                (
                    "{result=\"rate_limited\"}",
                    &self.poller_requests_rate_limited,
                ),
                ("{result=\"failed\"}", &self.poller_requests_failed),
            ],
        );
        counter(
            &mut out,
            "poller_token_requests_total",
            "Poller client-credentials token requests by result.",
            &[
                ("{result=\"ok\"}", &self.poller_token_requests_ok),
                ("{result=\"failed\"}", &self.poller_token_requests_failed),
            ],
        );
        counter(
            &mut out,
            "poller_rate_limit_waits_total",
            "Pauses the poller made for Auth0's rate limit.",
            &[("", &self.poller_rate_limit_waits)],
        );
        counter(
            &mut out,
            "events_dead_lettered_total",
            "Items written to the dead-letter file.",
            &[
                ("{stage=\"input\"}", &self.events_rejected_input),
                ("{stage=\"pipeline\"}", &self.events_rejected_pipeline),
                ("{stage=\"output\"}", &self.events_rejected_output),
            ],
        );
        let filtered: Vec<(String, &AtomicU64)> = Category::ALL
            .iter()
            .map(|category| {
                (
                    format!("{{category=\"{}\"}}", category.as_str()),
                    &self.events_filtered[category.index()],
                )
            })
            .collect();
        let filtered: Vec<(&str, &AtomicU64)> = filtered
            .iter()
            .map(|(labels, value)| (labels.as_str(), *value))
            .collect();
        counter(
            &mut out,
            "events_filtered_total",
            "Events left out by [filter] (acknowledged, never written), by Auth0 filter category.",
            &filtered,
        );
        counter(
            &mut out,
            "documents_written_total",
            "Documents durably written by an output.",
            &[
                ("{output=\"file\"}", &self.documents_written_file),
                ("{output=\"elasticsearch\"}", &self.documents_written_es),
                ("{output=\"datadog\"}", &self.documents_written_datadog),
            ],
        );
        counter(
            &mut out,
            "documents_duplicate_total",
            "Documents an output already had, counted as delivered: a log_id in the file output's recent window, or a 409 on create from Elasticsearch.",
            &[
                ("{output=\"file\"}", &self.documents_duplicate_file),
                ("{output=\"elasticsearch\"}", &self.documents_duplicate_es),
            ],
        );
        counter(
            &mut out,
            "output_retries_total",
            "Retries by an output: single bulk items or whole requests.",
            &[
                (
                    "{output=\"elasticsearch\",scope=\"item\"}",
                    &self.es_item_retries,
                ),
                (
                    "{output=\"elasticsearch\",scope=\"request\"}",
                    &self.es_request_retries,
                ),
                (
                    "{output=\"datadog\",scope=\"request\"}",
                    &self.datadog_request_retries,
                ),
            ],
        );
        counter(
            &mut out,
            "datadog_stale_events_total",
            "Events sent to Datadog although older than the 18 hours its intake accepts (they may not appear there).",
            &[("", &self.datadog_stale_events)],
        );
        counter(
            &mut out,
            "datadog_truncated_total",
            "Logs cut to Datadog's 1 MB limit, with a note field saying so.",
            &[("", &self.datadog_truncated)],
        );
        counter(
            &mut out,
            "datadog_key_refusals_total",
            "Datadog intake requests refused for the API key (401/403), retried.",
            &[("", &self.datadog_key_refusals)],
        );
        counter(
            &mut out,
            "spool_acked_total",
            "Spool records acknowledged.",
            &[("", &self.spool_acked)],
        );
        counter(
            &mut out,
            "webhook_requests_over_budget_total",
            "Webhook requests answered 503 because the body memory budget (webhook.max_inflight_bytes) was used up.",
            &[("", &self.webhook_requests_over_budget)],
        );
        counter(
            &mut out,
            "webhook_connections_closed_total",
            "Webhook connections the server closed, by reason: a timeout, or to make room at max_connections.",
            &[
                (
                    "{reason=\"header_timeout\"}",
                    &self.webhook_connections_closed_header_timeout,
                ),
                (
                    "{reason=\"idle_timeout\"}",
                    &self.webhook_connections_closed_idle_timeout,
                ),
                (
                    "{reason=\"send_timeout\"}",
                    &self.webhook_connections_closed_send_timeout,
                ),
                (
                    "{reason=\"evicted\"}",
                    &self.webhook_connections_closed_evicted,
                ),
            ],
        );
        counter(
            &mut out,
            "webhook_connections_lingering_total",
            "Webhook connections closed with a lingering read after an answer that left the request body unread.",
            &[("", &self.webhook_connections_lingering)],
        );
        out
    }
}
