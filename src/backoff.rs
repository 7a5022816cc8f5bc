//! Capped, jittered exponential backoff and `Retry-After`: the one retry
//! schedule every client of a remote service uses (the Elasticsearch and
//! Datadog outputs, the poller). A leaf, so that inputs and outputs share
//! it without importing each other.
//!
//! # Schedule
//!
//! The pause before retry `n` (0-based) is drawn uniformly from
//! `[d/2, d]` with `d = min(max, initial × 2ⁿ)`: with the outputs'
//! defaults 250 ms, 500 ms, 1 s, 2 s, … capped at 30 s ("equal jitter", so
//! a fleet of agents does not retry in lockstep). A `Retry-After` header
//! (seconds or an HTTP date, capped at [`RETRY_AFTER_CAP`]) is a floor on
//! the pause. The schedule has no retry limit: callers decide that.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::OffsetDateTime;

/// The outputs' default first pause.
pub const DEFAULT_INITIAL: Duration = Duration::from_millis(250);
/// The outputs' default longest pause: long enough to spare a struggling
/// server, short enough to resume soon after it recovers.
pub const DEFAULT_MAX: Duration = Duration::from_secs(30);
/// `Retry-After` beyond this is taken as this (a misconfigured proxy must
/// not park a client for hours).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// A capped, jittered exponential backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// The pause before retry `attempt` (0-based), at least `retry_after`
    /// (itself at most [`RETRY_AFTER_CAP`]).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max);
        let half = ceiling / 2;
        let jittered = half + jitter(half);
        match retry_after {
            Some(floor) => jittered.max(floor.min(RETRY_AFTER_CAP)),
            None => jittered,
        }
    }
}

/// A uniformly random duration in `[0, max]`. The jitter needs no strong
/// randomness, but the system source is cheap at retry rates and needs no
/// shared state; without it the pause is simply not jittered.
pub fn jitter(max: Duration) -> Duration {
    let random = getrandom::u64().unwrap_or(0);
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random.checked_rem(nanos.saturating_add(1)).unwrap_or(0))
}

/// Reads `Retry-After`: delay-seconds or an HTTP date (a date in the past
/// is no wait).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = date - OffsetDateTime::now_utc();
    Some(wait.try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..100 {
            let first = backoff.delay(0, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let fourth = backoff.delay(3, None);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800));
            let late = backoff.delay(40, None);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2));
        }
        assert!(backoff.delay(u32::MAX, None) <= backoff.max);
    }

    #[test]
    fn retry_after_is_a_capped_floor() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(
            backoff.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff.delay(0, Some(Duration::from_secs(100_000))),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(3)) <= Duration::from_millis(3));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "12".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
