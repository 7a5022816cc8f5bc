//! The intake request: posts one group of items as a JSON array (see
//! [`super::entry::body`]) and says what the answer means. The retry loop itself
//! is the HTTP outputs' one, [`crate::outputs::retry`] (no retry limit,
//! the shared backoff schedule); this is the Datadog side of it.
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
//! ([`crate::outputs::suspects`]). An answered `400` or `413` leaves the
//! output up in `/status`.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use super::entry::{body, Entry};
use super::intake::Client;
use crate::outputs::batch::Outcomes;
use crate::outputs::retry::{Answer, Endpoint, Shared};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::Throttle;

/// At most one "key refused" error log per this period, whatever the
/// number of requests refused.
pub const KEY_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Where intake requests go, and what every request task shares.
#[derive(Debug)]
pub(crate) struct Intake {
    pub(crate) client: Client,
    pub(crate) unauthorized_pause: Duration,
    pub(crate) shared: Shared,
    /// When the last "key refused" error was logged.
    pub(crate) key_error_log: Mutex<Throttle>,
}

impl Endpoint for Intake {
    type Entry = Entry;

    const OUTPUT: &'static str = "datadog";
    const REFUSED: &'static str = "datadog refused the log";
    const BAD_REQUEST_IS_FAILURE: bool = false;

    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn request_retries(metrics: &Metrics) -> &AtomicU64 {
        &metrics.datadog_request_retries
    }

    async fn send(&self, group: &mut Vec<Entry>, outcomes: &mut Outcomes<Entry>) -> Answer {
        let capacity = group.iter().map(|entry| entry.item().len() + 1).sum();
        let body = body(group.iter().map(Entry::item), capacity);
        let answer = match self.client.post(body).await {
            Ok(answer) => answer,
            Err(error) => return Answer::unanswered(&error),
        };
        if let Some(refused) =
            Answer::from_status(answer.status, &answer.excerpt, answer.retry_after)
        {
            return refused;
        }
        Metrics::add(
            &self.shared.metrics.documents_written_datadog,
            group.len() as u64,
        );
        outcomes.delivered_all(group);
        Answer::Answered {
            retry_after: None,
            reason: None,
            misconfigured: false,
        }
    }

    fn entries_left(&self, _items: usize, _attempt: u32, _reason: &str, _misconfigured: bool) {
        // A `2xx` delivers every item of the request.
    }

    fn request_failed(
        &self,
        items: usize,
        attempt: u32,
        reason: &str,
        unauthorized: bool,
        pause: Duration,
    ) -> Duration {
        if unauthorized {
            Metrics::add(&self.shared.metrics.datadog_key_refusals, 1);
            self.log_key_refused(reason);
            return pause.max(self.unauthorized_pause);
        }
        if attempt.is_multiple_of(10) {
            tracing::warn!(error = %reason, attempt, pause = ?pause, items, "datadog intake request failed; retrying");
        } else {
            tracing::debug!(error = %reason, attempt, "datadog intake request failed; retrying");
        }
        pause
    }

    fn refused_everywhere(&self, items: usize, attempt: u32, error: &str, pause: Duration) {
        tracing::error!(
            items,
            attempt,
            error,
            pause = ?pause,
            "datadog answers 400 to every request, however small; check `output.datadog.url` and proxies; retrying meanwhile"
        );
    }
}

impl Intake {
    fn log_key_refused(&self, reason: &str) {
        let due = self
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
}
