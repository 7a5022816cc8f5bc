//! The Datadog output: documents go to Datadog's logs intake v2
//! (`POST <url>/api/v2/logs`, `DD-API-KEY`, a JSON array body, gzip), as
//! Auth0's envelope (`format = "auth0"`, what Auth0's own Datadog stream
//! sends) or as our ECS documents (`format = "ecs"`).
//!
//! Layout: [`item`] builds one log item per document (attributes, the 1 MB
//! cut), [`intake`] speaks HTTP, [`request`] sends one request and says
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
pub mod config;
pub(crate) mod entry;
pub mod health;
pub mod intake;
pub mod item;
pub mod request;

pub use config::{Config, Format, DEFAULT_UNAUTHORIZED_PAUSE, MAX_BATCH_BYTES, MAX_BATCH_EVENTS};
pub use intake::Client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::outputs::probe;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::delivery::Delivery;
use crate::outputs::batch::{Batcher, Tracker};
use crate::outputs::retry;
use crate::outputs::Parts;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::Throttle;
use entry::Entry;

/// At most one stale-event warning per this period (with the count since
/// the last one).
pub const STALE_WARNING_INTERVAL: Duration = Duration::from_secs(60);

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
pub async fn run(config: Config, client: Client, mut parts: Parts) {
    let _probe = probe::spawn("datadog", &parts, {
        let client = client.clone();
        move |start_up| {
            let client = client.clone();
            async move { health::probe(&client, start_up).await }
        }
    });
    let tuning = &config.tuning;
    let endpoint = Arc::new(request::Intake {
        client,
        unauthorized_pause: config.unauthorized_pause,
        shared: tuning.shared(&parts),
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
    tuning
        .drive(
            &mut parts,
            (MAX_BATCH_EVENTS, MAX_BATCH_BYTES, 2),
            |delivery, batcher: &mut Batcher<Entry>| {
                let now = OffsetDateTime::now_utc();
                let built: Vec<Vec<u8>> = (0..delivery.documents.len())
                    .map(|index| items.build(&delivery, index, now))
                    .collect();
                items.warn_stale();
                let tracker = Tracker::new(delivery, built.len());
                for (index, item) in built.into_iter().enumerate() {
                    let size = item.len() + 1;
                    batcher.push(Entry::new(tracker.slot(index), item), size);
                }
            },
            |entries| retry::deliver(Arc::clone(&endpoint), entries),
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Backoff;
    use crate::outputs::compression::Compression;
    use crate::outputs::tuning::Tuning;
    use crate::secret::Secret;

    #[test]
    fn debug_output_never_shows_the_key() {
        let config = Config {
            url: "https://http-intake.logs.datadoghq.eu".to_owned(),
            api_url: "https://api.datadoghq.eu".to_owned(),
            api_key: Secret::new("0123456789abcdef0123456789abcdef".to_owned()),
            format: Format::Auth0,
            attributes: item::Attributes::new("auth0", "auth0", &[], None),
            compression: Compression::Gzip,
            tuning: Tuning {
                batch_max_events: MAX_BATCH_EVENTS,
                batch_max_bytes: MAX_BATCH_BYTES,
                flush_interval: Duration::from_secs(1),
                max_in_flight: 4,
                request_timeout: Duration::from_secs(30),
                backoff: Backoff {
                    initial: Duration::from_millis(250),
                    max: Duration::from_secs(30),
                },
            },
            unauthorized_pause: DEFAULT_UNAUTHORIZED_PAUSE,
        };
        let client = Client::from_config(&config).unwrap();
        let text = format!("{config:?} {client:?}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("/api/v2/logs"), "{text}");
    }
}
