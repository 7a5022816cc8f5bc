//! The Auth0 Management API poller: the input for hosts that Auth0 cannot
//! reach with a log stream, and a way to backfill.
//!
//! One task loops: take a token ([`oauth`]), fetch a page of logs in
//! checkpoint mode ([`logs_api`]), wrap each log as the log stream's envelope
//! `{"log_id":…,"data":<log verbatim>}` so the pipeline treats both inputs
//! alike, append the page to the spool, and only once the spool says it is
//! durable save the new cursor ([`checkpoint`]). Full pages are fetched
//! back to back; after an empty or partial page it waits `poller.interval`.
//!
//! Where it starts: the saved cursor when there is one, else
//! `poller.start_from` (a time, turned into the cursor
//! `900<YYYYMMDDhhmmss>` + 39 zeros that sorts just before that time's
//! `log_id`s, or a `log_id`), by default 24 hours ago. One poller per
//! tenant: run it on exactly one agent, whose state directory holds the
//! cursor.
//!
//! # Failures
//!
//! Nothing makes the task give up; each failure picks a wait:
//! - 429: until `X-RateLimit-Reset` (at most 5 minutes), plus up to a
//!   second of jitter; and before a 429, [`logs_api::pace`] slows down when
//!   `X-RateLimit-Remaining` runs low.
//! - 401 from the logs endpoint: a new token, at once, once; a second 401
//!   in a row counts as a failure.
//! - 5xx, network errors, timeouts, unreadable bodies, spool i/o errors:
//!   the shared backoff ([`crate::backoff`]) from [`BACKOFF_BASE`] to
//!   [`BACKOFF_CAP`] ([`wait_after`]).
//! - 401/403/4xx from the token endpoint, 403 or another 4xx from the logs
//!   endpoint: an operator must act; logged at `error` naming the likely
//!   cause, retried slowly ([`SLOW_BASE`] to [`SLOW_CAP`]), never a crash
//!   loop.
//! - Spool full: retried every [`SPOOL_FULL_PAUSE`] until the outputs catch
//!   up (backpressure: the cursor does not move meanwhile).
//!
//! **Invariant:** the cursor file is written only after the spool has
//! fsynced the page that moved it.

pub mod checkpoint;
mod error;
pub mod logs_api;
pub mod oauth;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::backoff::{self, Backoff};
use crate::error_chain::error_chain;
use crate::event::{Input, LogId};
use crate::secret::Secret;
use crate::spool::{Append, AppendError, Writer};

use crate::telemetry::metrics::Metrics;
pub use error::Error;
use error::Retry;

/// First delay after a transient failure.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest delay after transient failures.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// First delay after a failure an operator must fix.
pub const SLOW_BASE: Duration = Duration::from_secs(30);
/// Longest delay after failures an operator must fix.
pub const SLOW_CAP: Duration = Duration::from_secs(600);
/// The schedule after transient failures.
const TRANSIENT: Backoff = Backoff {
    initial: BACKOFF_BASE,
    max: BACKOFF_CAP,
};
/// The schedule after failures an operator must fix.
const SLOW: Backoff = Backoff {
    initial: SLOW_BASE,
    max: SLOW_CAP,
};
/// The schedule after a 429 without a usable `X-RateLimit-Reset`.
const RATE_LIMITED: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: BACKOFF_CAP,
};
/// Pause between attempts to append to a full spool.
pub const SPOOL_FULL_PAUSE: Duration = Duration::from_secs(1);

/// `[poller]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The tenant's base URL (path `/`): `https://tenant.eu.auth0.com/` or
    /// a custom domain.
    pub url: Url,
    /// The Management API audience the token is asked for.
    pub audience: String,
    /// The Machine to Machine application's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret<String>,
    /// Logs per request, 1 to 100.
    pub batch_size: u32,
    /// The wait after an empty or partial page.
    pub interval: Duration,
    /// Where to start when there is no cursor file.
    pub start_from: StartFrom,
    /// Limit for each HTTP request, response body included.
    pub request_timeout: Duration,
    /// The directory of the cursor file.
    pub state_dir: PathBuf,
}

/// Where to start when there is no cursor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFrom {
    /// The logs indexed from this time on.
    Date(OffsetDateTime),
    /// The logs after this one.
    LogId(LogId),
    /// The logs of this long before the agent's start.
    Lookback(Duration),
}

impl StartFrom {
    /// The cursor this start point stands for, at `now`.
    pub fn cursor(&self, now: OffsetDateTime) -> LogId {
        match self {
            StartFrom::LogId(log_id) => log_id.clone(),
            StartFrom::Date(date) => date_cursor(*date),
            StartFrom::Lookback(lookback) => date_cursor(now - *lookback),
        }
    }
}

/// The cursor just before the logs indexed at `date`: `900`, the UTC time
/// as `YYYYMMDDhhmmss`, and 39 zeros (Auth0's `log_id` layout; the trick
/// Elastic's poller uses).
pub fn date_cursor(date: OffsetDateTime) -> LogId {
    let utc = date.checked_to_offset(time::UtcOffset::UTC).unwrap_or(date);
    LogId(format!(
        "900{:04}{:02}{:02}{:02}{:02}{:02}{}",
        utc.year().clamp(0, 9999),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        "0".repeat(39)
    ))
}

/// The HTTP client, honouring `request_timeout`.
pub fn http_client(config: &Config) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout)
        .user_agent(concat!("auth0-ingest/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::Client)
}

/// Where the poller starts: the saved cursor, else `start_from`. Blocking
/// (reads the cursor file).
pub fn start_cursor(config: &Config) -> Result<LogId, Error> {
    if let Some(saved) = checkpoint::load(&config.state_dir)? {
        tracing::info!(
            from = %saved.0,
            file = %checkpoint::path(&config.state_dir).display(),
            "poller resumes from its saved cursor"
        );
        return Ok(saved);
    }
    let cursor = config.start_from.cursor(OffsetDateTime::now_utc());
    tracing::info!(from = %cursor.0, "poller starts from `poller.start_from`");
    Ok(cursor)
}

/// Polls until `shutdown`, appending every log to the spool.
pub async fn run(
    config: Config,
    http: reqwest::Client,
    start: LogId,
    writer: Writer,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut tokens = oauth::Tokens::new(
        &config.url,
        config.client_id.clone(),
        config.client_secret.clone(),
        config.audience.clone(),
    );
    let mut cursor = start;
    let mut next: Option<Url> = None;
    let mut failures: u32 = 0;
    let mut wait = Duration::ZERO;
    loop {
        if !pause(wait, &shutdown).await {
            return;
        }
        let url = next
            .take()
            .unwrap_or_else(|| logs_api::logs_url(&config.url, &cursor, config.batch_size));
        let fetched = tokio::select! {
            () = shutdown.cancelled() => return,
            fetched = fetch(&http, &mut tokens, &url, &metrics) => fetched,
        };
        let outcome = match fetched {
            Ok(page) => {
                let full = page.items.len() >= config.batch_size as usize;
                let pace = logs_api::pace(&page.rate_limit, SystemTime::now());
                match store(&config, page, &mut cursor, &writer, &metrics, &shutdown).await {
                    Ok(Stored::Next(link)) => {
                        next = link;
                        Ok((full, pace))
                    }
                    Ok(Stored::Stuck) => Err(Error::InvalidBody {
                        url,
                        message: "no log has a usable `log_id` and there is no next link"
                            .to_owned(),
                    }),
                    Err(Stop) => return,
                }
            }
            Err(error) => {
                // Ask the same again after the wait.
                next = Some(url);
                Err(error)
            }
        };
        match outcome {
            Ok((full, pace)) => {
                if failures > 0 {
                    tracing::info!(failures, "poller recovered");
                }
                failures = 0;
                if pace > Duration::ZERO && (full || pace > config.interval) {
                    Metrics::add(&metrics.poller_rate_limit_waits, 1);
                    tracing::debug!(
                        pause_ms = pace.as_millis(),
                        "slowing down for the rate limit"
                    );
                }
                wait = if full {
                    pace
                } else {
                    pace.max(config.interval)
                };
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                wait = failure_wait(&error, failures, &metrics);
                metrics.health.poller_failed(&error_chain(&error));
                report(&error, failures, wait);
            }
        }
    }
}

/// The shutdown was requested.
struct Stop;

/// What became of a page.
enum Stored {
    /// Spooled, cursor saved; the `next` link to follow, if any.
    Next(Option<Url>),
    /// Nothing in it could move the cursor.
    Stuck,
}

/// Gets a token (cached) and one page; on a 401, once, a new token.
async fn fetch(
    http: &reqwest::Client,
    tokens: &mut oauth::Tokens,
    url: &Url,
    metrics: &Metrics,
) -> Result<logs_api::Page, Error> {
    let mut retried = false;
    loop {
        let (token, fresh) = match tokens.bearer(http).await {
            Ok(token) => token,
            Err(error) => {
                Metrics::add(&metrics.poller_token_requests_failed, 1);
                return Err(error);
            }
        };
        if fresh {
            Metrics::add(&metrics.poller_token_requests_ok, 1);
            tracing::debug!("obtained a management api token");
        }
        let result = logs_api::logs(http, url, &token).await;
        let counter = match &result {
            Ok(_) => &metrics.poller_requests_ok,
            Err(Error::RateLimited { .. }) => &metrics.poller_requests_rate_limited,
            Err(_) => &metrics.poller_requests_failed,
        };
        Metrics::add(counter, 1);
        match result {
            Err(Error::Unauthorized { url }) => {
                tokens.invalidate();
                if fresh || retried {
                    return Err(Error::Unauthorized { url });
                }
                tracing::debug!("the api refused the cached token; getting a new one");
                retried = true;
            }
            other => return other,
        }
    }
}

/// Spools a page, then saves the cursor it leads to. Retries until done
/// or shut down.
async fn store(
    config: &Config,
    page: logs_api::Page,
    cursor: &mut LogId,
    writer: &Writer,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<Stored, Stop> {
    // Where the page leads: the `from` of Auth0's next link (what the next
    // request asks for), else the last usable `log_id`. Links to another
    // origin would receive the token, so they are not followed.
    let next = page.next.filter(|link| {
        let same = same_origin(link, &config.url);
        if !same {
            tracing::debug!(%link, "not following a next link to another origin");
        }
        same
    });
    let ids: Vec<Option<LogId>> = page
        .items
        .iter()
        .map(|item| logs_api::log_id(item))
        .collect();
    let last = ids.iter().rev().flatten().next().cloned();
    let moved = next.as_ref().and_then(logs_api::from_parameter).or(last);
    if moved.is_none() && !page.items.is_empty() {
        // Logs without a usable `log_id` and no link: the cursor cannot
        // move, and the same page comes back on the next request. Checked
        // before spooling, or every retry would spool (and dead-letter)
        // the page again.
        return Ok(Stored::Stuck);
    }
    let newest = page.items.iter().filter_map(|item| item_date(item)).max();
    spool_page(&page.items, &ids, writer, metrics, shutdown).await?;

    // The page is durable: move the cursor. An empty page without a link
    // keeps it (Elastic's poller loses it there).
    if let Some(moved) = moved.filter(|moved| moved != cursor) {
        save_cursor(&config.state_dir, &moved, shutdown).await?;
        *cursor = moved;
    }
    metrics.health.poller_page(Some(&cursor.0), newest);
    // Follow the link, with our own `take` (as Elastic does).
    Ok(Stored::Next(
        next.map(|link| with_take(link, config.batch_size)),
    ))
}

/// Appends a page to the spool: each log with a usable `log_id` (`ids`,
/// in step with `items`) in its envelope, the others as rejects. Retries
/// until the spool has it durable, or shut down.
async fn spool_page(
    items: &[Box<RawValue>],
    ids: &[Option<LogId>],
    writer: &Writer,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    let received_at = OffsetDateTime::now_utc();
    let mut envelopes = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (item, log_id) in items.iter().zip(ids) {
        match log_id {
            Some(log_id) => envelopes.push(envelope(log_id, item)),
            None => rejected.push(item.get().as_bytes()),
        }
    }
    if envelopes.is_empty() && rejected.is_empty() {
        return Ok(());
    }
    let mut failures = 0u32;
    loop {
        let mut append = Append::new();
        for envelope in &envelopes {
            append.push(Input::Api, received_at, envelope);
        }
        for raw in &rejected {
            append.reject(
                Input::Api,
                received_at,
                "api log has no usable `log_id`",
                raw,
            );
        }
        let result = tokio::select! {
            () = shutdown.cancelled() => return Err(Stop),
            result = writer.append(append) => result,
        };
        let wait = match result {
            Ok(()) => break,
            Err(AppendError::Closed) => return Err(Stop),
            Err(AppendError::Full | AppendError::DiskFull) => {
                failures += 1;
                if failures == 1 {
                    tracing::debug!("spool full; the poller waits for the outputs");
                }
                SPOOL_FULL_PAUSE
            }
            Err(error) => {
                failures += 1;
                let wait = wait_after(TRANSIENT, failures);
                report(&Error::Spool(error), failures, wait);
                wait
            }
        };
        if !pause(wait, shutdown).await {
            return Err(Stop);
        }
    }
    Metrics::add(&metrics.events_received_api, envelopes.len() as u64);
    Metrics::add(&metrics.events_rejected_input, rejected.len() as u64);
    Ok(())
}

/// Saves `moved` as the cursor in `state_dir` (on the blocking pool).
/// Retries until saved, or shut down.
async fn save_cursor(
    state_dir: &std::path::Path,
    moved: &LogId,
    shutdown: &CancellationToken,
) -> Result<(), Stop> {
    let mut failures = 0u32;
    loop {
        let state_dir = state_dir.to_owned();
        let saving = moved.clone();
        let result =
            tokio::task::spawn_blocking(move || checkpoint::store(&state_dir, &saving)).await;
        match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => {
                failures += 1;
                let wait = wait_after(TRANSIENT, failures);
                report(&Error::Checkpoint(error), failures, wait);
                if !pause(wait, shutdown).await {
                    return Err(Stop);
                }
            }
            // The blocking pool is shutting down.
            Err(_) => return Err(Stop),
        }
    }
}

/// `link` with its `take` replaced by `batch_size`.
fn with_take(mut link: Url, batch_size: u32) -> Url {
    let pairs: Vec<(String, String)> = link
        .query_pairs()
        .filter(|(name, _)| name != "take")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    link.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("take", &batch_size.to_string());
    link
}

/// The log stream's envelope around one API log, kept verbatim.
fn envelope(log_id: &LogId, item: &RawValue) -> Vec<u8> {
    let data = item.get().as_bytes();
    let mut bytes = Vec::with_capacity(data.len() + log_id.0.len() + 24);
    bytes.extend_from_slice(b"{\"log_id\":\"");
    // `is_log_id` admits only ASCII letters and digits: nothing to escape.
    bytes.extend_from_slice(log_id.0.as_bytes());
    bytes.extend_from_slice(b"\",\"data\":");
    bytes.extend_from_slice(data);
    bytes.push(b'}');
    bytes
}

fn same_origin(link: &Url, base: &Url) -> bool {
    link.origin() == base.origin()
}

/// The wait after the `failures`-th failure in a row.
fn failure_wait(error: &Error, failures: u32, metrics: &Metrics) -> Duration {
    match error.retry() {
        Retry::Backoff => wait_after(TRANSIENT, failures),
        Retry::Slow => wait_after(SLOW, failures),
        Retry::Until(reset) => {
            Metrics::add(&metrics.poller_rate_limit_waits, 1);
            match reset.and_then(|reset| reset.duration_since(SystemTime::now()).ok()) {
                Some(until_reset) => {
                    // Jitter after the reset, never before it.
                    until_reset.min(logs_api::MAX_RATE_LIMIT_WAIT)
                        + backoff::jitter(until_reset.min(Duration::from_secs(10)) / 10)
                        + Duration::from_millis(1)
                }
                None => wait_after(RATE_LIMITED, failures),
            }
        }
    }
}

/// Logs a failure at the level its kind deserves, rate-limited: transient
/// failures at the first and every tenth attempt.
fn report(error: &Error, failures: u32, wait: Duration) {
    let retry_in_ms = wait.as_millis();
    match error.retry() {
        Retry::Slow => {
            tracing::error!(error = %error_chain(error), failures, retry_in_ms, "poller cannot fetch logs; an operator must act");
        }
        Retry::Until(_) => {
            tracing::warn!(error = %error_chain(error), failures, retry_in_ms, "poller rate limited by auth0");
        }
        Retry::Backoff if failures == 1 || failures.is_multiple_of(10) => {
            tracing::warn!(error = %error_chain(error), failures, retry_in_ms, "poller request failed; retrying");
        }
        Retry::Backoff => {
            tracing::debug!(error = %error_chain(error), failures, retry_in_ms, "poller request failed; retrying");
        }
    }
}

/// The `date` of an Auth0 log (for `/status` and the lag gauge).
fn item_date(item: &serde_json::value::RawValue) -> Option<OffsetDateTime> {
    #[derive(serde::Deserialize)]
    struct DateOnly<'a> {
        #[serde(borrow)]
        date: Option<std::borrow::Cow<'a, str>>,
    }
    let date = serde_json::from_str::<DateOnly<'_>>(item.get())
        .ok()?
        .date?;
    OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc3339).ok()
}

/// The wait after the `failures`-th failure in a row (from 1) on
/// `schedule` ([`crate::backoff`]: drawn from `[d/2, d]` where
/// `d = min(max, initial · 2^(failures-1))`). With [`TRANSIENT`]:
/// 0.25–0.5 s, 0.5–1 s, 1–2 s, 2–4 s, … 30–60 s from the 8th failure on.
/// With [`SLOW`]: 15–30 s, 30–60 s, … 5–10 min from the 6th on.
fn wait_after(schedule: Backoff, failures: u32) -> Duration {
    schedule.delay(failures.saturating_sub(1), None)
}

/// Sleeps for `wait` unless shut down first; `false` on shutdown.
async fn pause(wait: Duration, shutdown: &CancellationToken) -> bool {
    if shutdown.is_cancelled() {
        return false;
    }
    if wait.is_zero() {
        return true;
    }
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_date_becomes_the_cursor_just_before_it() {
        let cursor = date_cursor(datetime!(2026-11-01 01:02:03 +01:00));
        assert_eq!(
            cursor.0,
            "90020261101000203000000000000000000000000000000000000000"
        );
        assert_eq!(cursor.0.len(), 56, "the length of Auth0's log_ids");
        let lookback = StartFrom::Lookback(Duration::from_secs(86_400))
            .cursor(datetime!(2026-11-21 10:00:00 UTC));
        assert!(lookback.0.starts_with("90020261120100000"));
    }

    #[test]
    fn backoff_doubles_within_jittered_bounds_up_to_the_cap() {
        let expected_ceilings = [
            500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000,
        ];
        for (attempt, ceiling) in (1..).zip(expected_ceilings) {
            for _ in 0..20 {
                let delay = wait_after(TRANSIENT, attempt).as_millis();
                assert!(
                    (ceiling / 2..=ceiling).contains(&delay),
                    "attempt {attempt}: {delay} ms"
                );
            }
        }
        assert!(wait_after(SLOW, u32::MAX) <= SLOW_CAP);
        assert!(wait_after(SLOW, 0) <= SLOW_BASE);
    }

    #[test]
    fn an_api_log_is_wrapped_verbatim() {
        let item = RawValue::from_string(r#"{ "log_id":"9001", "n":1.0e3 }"#.to_owned()).unwrap();
        let bytes = envelope(&LogId("9001".to_owned()), &item);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"log_id":"9001","data":{ "log_id":"9001", "n":1.0e3 }}"#
        );
    }

    #[test]
    fn failures_are_classified() {
        let url = Url::parse("https://t/").unwrap();
        let status = |status| Error::Status {
            url: url.clone(),
            status,
        };
        assert_eq!(status(503).retry(), Retry::Backoff);
        assert_eq!(status(400).retry(), Retry::Slow);
        assert_eq!(
            Error::Forbidden {
                url: url.clone(),
                message: String::new()
            }
            .retry(),
            Retry::Slow
        );
        assert_eq!(
            Error::RateLimited { url, reset: None }.retry(),
            Retry::Until(None)
        );
    }
}
