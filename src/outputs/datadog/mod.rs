//! The Datadog output: documents go to Datadog's logs intake v2
//! (`POST <url>/api/v2/logs`, `DD-API-KEY`, a JSON array body, gzip), as
//! Auth0's envelope (`format = "auth0"`, what Auth0's own Datadog stream
//! sends) or as our ECS documents (`format = "ecs"`).
//!
//! Layout: [`item`] builds one log item per document (attributes, the 1 MB
//! cut), [`client`] speaks HTTP, [`request`] sends one request and says
//! what its answer means for the HTTP outputs' retry loop
//! ([`crate::outputs::retry`]), [`health`] is the start-up key check; this
//! file batches (≤ 1,000 items and 4,250,000 bytes before compression,
//! Datadog's limits being 1,000 and 5 MB) and keeps requests in flight
//! ([`crate::outputs::batch`]), like the Elasticsearch output.
//!
//! # Invariants
//!
//! - **A delivery is finished only when every one of its items has a final
//!   outcome**: accepted (`202`) or dead-lettered (`400` alone, `413`
//!   alone), after the dead-letter file is fsynced. Everything else is
//!   retried for as long as it takes, a refused key (`401`/`403`) slowly.
//! - **Datadog has no `_id`**: a crash between its `202` and the spool
//!   acknowledgement resends those items (duplicates in Datadog). The
//!   delivery is finished as soon as its last request is answered, which
//!   keeps that window to a few milliseconds per batch.
//! - **Bounded**: at most `max_in_flight` requests are outstanding; while
//!   they are, no delivery is taken from the channel.
//! - **Stopping abandons, never finishes** (as the Elasticsearch output).

pub mod client;
pub mod health;
pub mod item;
pub mod request;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::delivery::Delivery;
use crate::outputs::batch::{self, Batcher, Slot, Tracker};
use crate::outputs::compression::Compression;
use crate::outputs::retry::{self, Shared};
use crate::outputs::Parts;
use crate::secret::Secret;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::Throttle;

/// Datadog's most entries per array.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Below Datadog's 5 MB per payload (before compression), as Vector does:
/// room for the brackets and commas and for Datadog counting differently.
pub const MAX_BATCH_BYTES: usize = 4_250_000;
/// The pause between attempts while Datadog refuses the key: slow, since
/// only the operator can fix it, and one error log per such pause.
pub const DEFAULT_UNAUTHORIZED_PAUSE: Duration = Duration::from_secs(60);
/// At most one stale-event warning per this period (with the count since
/// the last one).
pub const STALE_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// What each item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Auth0's envelope `{"log_id", "data"}`, what Auth0's stream sends.
    Auth0,
    /// Our ECS document.
    Ecs,
}

/// `[output.datadog]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The intake base URL (`https://http-intake.logs.<site>`), no trailing `/`.
    pub url: String,
    /// The API base URL of the key check (`https://api.<site>`, or `url`
    /// when it is given), no trailing `/`.
    pub api_url: String,
    /// `DD-API-KEY`.
    pub api_key: Secret<String>,
    /// What each item holds.
    pub format: Format,
    /// `ddsource`, `service`, `ddtags`, `hostname`.
    pub attributes: item::Attributes,
    /// Request body encoding.
    pub compression: Compression,
    /// Most items per request (≤ [`MAX_BATCH_EVENTS`]).
    pub batch_max_events: usize,
    /// Most body bytes per request before compression (≤ [`MAX_BATCH_BYTES`]).
    pub batch_max_bytes: usize,
    /// Longest time an item waits for its request to fill.
    pub flush_interval: Duration,
    /// Most requests outstanding at once.
    pub max_in_flight: usize,
    /// Time one request may take before it is abandoned and retried.
    pub request_timeout: Duration,
    /// The retry schedule (shared with the Elasticsearch output).
    pub backoff: Backoff,
    /// The pause between attempts while the key is refused.
    pub unauthorized_pause: Duration,
}

/// One item of a request.
#[derive(Debug)]
pub(crate) struct Entry {
    slot: Slot,
    item: Vec<u8>,
}

impl Entry {
    /// The item's JSON.
    pub(crate) fn item(&self) -> &[u8] {
        &self.item
    }
}

impl AsRef<Slot> for Entry {
    fn as_ref(&self) -> &Slot {
        &self.slot
    }
}

/// The body of a request: a JSON array of the items.
pub(crate) fn body<'a>(items: impl Iterator<Item = &'a [u8]>, capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity + 2);
    body.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
    body
}

/// Builds items, counts stale ones and warns about them (at most once a
/// minute), and cuts oversized ones.
struct Items {
    format: Format,
    attributes: item::Attributes,
    metrics: Arc<Metrics>,
    stale_unreported: u64,
    stale_warned_at: Option<Instant>,
}

impl Items {
    fn build(&mut self, delivery: &Delivery, index: usize, now: OffsetDateTime) -> Vec<u8> {
        let document = &delivery.documents[index];
        let mut item = Vec::with_capacity(document.json.len() + 128);
        let log_id = document.id.as_ref().map(|id| id.0.as_str());
        let original = delivery.shown(index);
        let date = match (self.format, original) {
            (Format::Auth0, Some(original)) => {
                item::auth0_item(original, log_id, &self.attributes, &mut item)
            }
            // `shown` has the event of every document; the ECS format.
            _ => item::ecs_item(document, &self.attributes, &mut item),
        };
        if date.is_some_and(|date| item::is_stale(date, now)) {
            Metrics::add(&self.metrics.datadog_stale_events, 1);
            self.stale_unreported += 1;
        }
        if item.len() > item::MAX_ITEM_BYTES {
            tracing::warn!(
                log_id,
                bytes = item.len(),
                "a log is larger than Datadog's 1 MB limit; sending it cut, with a note in `auth0_ingest`"
            );
            Metrics::add(&self.metrics.datadog_truncated, 1);
            item = item::truncate(&item, item::MAX_ITEM_BYTES);
        }
        item
    }

    fn warn_stale(&mut self) {
        if self.stale_unreported == 0 {
            return;
        }
        let due = self
            .stale_warned_at
            .is_none_or(|at| at.elapsed() >= STALE_WARNING_INTERVAL);
        if due {
            tracing::warn!(
                events = self.stale_unreported,
                "sent events older than 18 hours to datadog (a backfill or a long outage); Datadog drops logs that old, so they may not appear there (see auth0_ingest_datadog_stale_events_total)"
            );
            self.stale_unreported = 0;
            self.stale_warned_at = Some(Instant::now());
        }
    }
}

/// Runs the output until the delivery channel closes and every request has
/// a final outcome, or until `parts.stop` is cancelled.
pub async fn run(config: Config, client: client::Client, mut parts: Parts) {
    // Ends with `run` (the guard) or at `stop`.
    let probe_stop = parts.stop.child_token();
    let _probe_guard = probe_stop.clone().drop_guard();
    let probe_client = client.clone();
    tokio::spawn(
        crate::outputs::probe::watch(
            "datadog",
            Arc::clone(&parts.metrics),
            probe_stop,
            move |start_up| {
                let client = probe_client.clone();
                async move { health::probe(&client, start_up).await }
            },
        )
        .in_current_span(),
    );
    let endpoint = Arc::new(request::Intake {
        client,
        unauthorized_pause: config.unauthorized_pause,
        shared: Shared {
            backoff: config.backoff,
            dead_letters: Arc::clone(&parts.dead_letters),
            metrics: Arc::clone(&parts.metrics),
            accepted: AtomicU64::new(0),
        },
        key_error_log: Mutex::new(Throttle::new(request::KEY_ERROR_LOG_INTERVAL)),
    });
    let mut items = Items {
        format: config.format,
        attributes: config.attributes.clone(),
        metrics: Arc::clone(&parts.metrics),
        stale_unreported: 0,
        stale_warned_at: None,
    };
    // Body bytes: each item and its separator, and the brackets.
    let mut batcher: Batcher<Entry> = Batcher::new(
        config.batch_max_events.min(MAX_BATCH_EVENTS),
        config.batch_max_bytes.min(MAX_BATCH_BYTES),
        config.flush_interval,
        2,
    );
    batch::drive(
        &mut parts.deliveries,
        &parts.stop,
        config.max_in_flight,
        &mut batcher,
        |delivery, batcher| {
            let now = OffsetDateTime::now_utc();
            let built: Vec<Vec<u8>> = (0..delivery.documents.len())
                .map(|index| items.build(&delivery, index, now))
                .collect();
            items.warn_stale();
            let tracker = Tracker::new(delivery, built.len());
            for (index, item) in built.into_iter().enumerate() {
                let size = item.len() + 1;
                let entry = Entry {
                    slot: tracker.slot(index),
                    item,
                };
                batcher.push(entry, size);
            }
        },
        |entries| retry::deliver(Arc::clone(&endpoint), entries),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_arrays() {
        let items: Vec<&[u8]> = vec![b"{\"a\":1}", b"{\"b\":2}"];
        let body = body(items.into_iter(), 16);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value, serde_json::json!([{"a":1},{"b":2}]));
        assert_eq!(super::body(std::iter::empty(), 0), b"[]");
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = Config {
            url: "https://http-intake.logs.datadoghq.eu".to_owned(),
            api_url: "https://api.datadoghq.eu".to_owned(),
            api_key: Secret::new("0123456789abcdef0123456789abcdef".to_owned()),
            format: Format::Auth0,
            attributes: item::Attributes::new("auth0", "auth0", &[], None),
            compression: Compression::Gzip,
            batch_max_events: MAX_BATCH_EVENTS,
            batch_max_bytes: MAX_BATCH_BYTES,
            flush_interval: Duration::from_secs(1),
            max_in_flight: 4,
            request_timeout: Duration::from_secs(30),
            backoff: Backoff {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(30),
            },
            unauthorized_pause: DEFAULT_UNAUTHORIZED_PAUSE,
        };
        let client = client::Client::from_config(&config).unwrap();
        let text = format!("{config:?} {client:?}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("/api/v2/logs"), "{text}");
    }
}
