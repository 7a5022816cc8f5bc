//! The Elasticsearch output: documents are bulk-indexed with `create` into
//! the data stream `logs-auth0.logs-<namespace>` (or `index`), with `_id` =
//! `log_id` (or a hash of the document without one, see [`bulk`]), so a
//! redelivered event is a `409` (a duplicate, counted as success) and never
//! a second document.
//!
//! Layout: [`bulk`] encodes NDJSON bodies, [`request`] sends one and
//! reads its answer for the shared retry loop ([`crate::outputs::retry`]),
//! [`response`] reads per-item results, [`health`] is the start-up cluster
//! check, [`setup`] installs the index templates (`auth0-ingest setup`).
//!
//! # Invariants
//!
//! - **A delivery is finished only when every one of its documents has a
//!   final outcome**: indexed (`201`), duplicate (`409`), or dead-lettered
//!   (another `4xx` about the document, after the dead-letter file is
//!   fsynced). Transient failures (connection errors, timeouts, `429`,
//!   `5xx`, `es_rejected_execution_exception`) and configuration problems
//!   (a closed or missing index, no write index, a missing pipeline or
//!   template, `400` to every request) are retried in-process for as long
//!   as it takes; the spool holds the backlog meanwhile.
//! - **Bounded**: at most `max_in_flight` bulk requests are outstanding;
//!   while they are, no delivery is taken from the channel, so backpressure
//!   reaches the spool (and the webhook answers `503` when it is full).
//! - **Stopping abandons, never finishes**: when the stop token is
//!   cancelled, outstanding requests are dropped and their deliveries left
//!   unfinished, so their records are read again at the next start (and
//!   indexed documents come back as `409`s).
pub mod bulk;
pub mod client;
pub mod config;
pub mod error;
pub mod health;
pub mod request;
pub mod response;
pub mod setup;

pub use client::Client;
pub use config::{
    valid_namespace, Auth, Config, DATA_STREAM_PREFIX, MAX_NAMESPACE_BYTES, NAMESPACE_FORBIDDEN,
};
pub use error::Error;

use std::sync::Arc;

use crate::outputs::probe;

use crate::outputs::batch::{Batcher, Slot, Tracker};
use crate::outputs::retry;
use crate::outputs::Parts;

/// Runs the output until the delivery channel closes and every bulk request
/// has a final outcome, or until `parts.stop` is cancelled.
pub async fn run(config: Config, client: Client, mut parts: Parts) {
    let _probe = probe::spawn("elasticsearch", &parts, {
        let client = client.clone();
        move |start_up| {
            let client = client.clone();
            async move { health::probe(&client, start_up).await }
        }
    });
    let tuning = &config.tuning;
    let endpoint = Arc::new(request::Bulk {
        client,
        shared: tuning.shared(&parts),
    });
    tuning
        .drive(
            &mut parts,
            (usize::MAX, usize::MAX, 0),
            |delivery, batcher: &mut Batcher<Slot>| {
                let documents = Arc::clone(&delivery.documents);
                let tracker = Tracker::new(delivery, documents.len());
                for (index, document) in documents.iter().enumerate() {
                    batcher.push(tracker.slot(index), bulk::encoded_len(document));
                }
            },
            |entries| retry::deliver(Arc::clone(&endpoint), entries),
        )
        .await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use elasticsearch::http::Url;

    use super::*;
    use crate::backoff::Backoff;
    use crate::outputs::compression::Compression;
    use crate::outputs::tuning::Tuning;
    use crate::secret::Secret;

    fn config(auth: Auth) -> Config {
        Config {
            hosts: vec![Url::parse("https://es.example:9200/").unwrap()],
            auth,
            ca_cert: None,
            tls_verify: true,
            namespace: "default".to_owned(),
            index: "logs-auth0.logs-default".to_owned(),
            tuning: Tuning {
                batch_max_events: 1000,
                batch_max_bytes: 5 << 20,
                flush_interval: Duration::from_secs(1),
                max_in_flight: 4,
                request_timeout: Duration::from_secs(60),
                backoff: Backoff {
                    initial: crate::backoff::DEFAULT_INITIAL,
                    max: crate::backoff::DEFAULT_MAX,
                },
            },
            compression: Compression::Gzip,
        }
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        for auth in [
            Auth::ApiKey(Secret::new("c2VjcmV0LWtleQ==".to_owned())),
            Auth::Basic {
                username: "elastic".to_owned(),
                password: Secret::new("c2VjcmV0LWtleQ==".to_owned()),
            },
        ] {
            let config = config(auth);
            let client = Client::from_config(&config).unwrap();
            let text = format!("{config:?} {client:?}");
            assert!(!text.contains("c2VjcmV0LWtleQ=="), "{text}");
            assert!(text.contains("/logs-auth0.logs-default/_bulk"), "{text}");
        }
    }

    #[test]
    fn a_bad_ca_certificate_is_a_build_error() {
        let mut config = config(Auth::None);
        config.ca_cert =
            Some(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n".to_vec());
        assert!(matches!(Client::from_config(&config), Err(Error::Build(_))));
    }
}
