//! One log line per interval for a condition that repeats (a full disk, a
//! refused key, a client sending bad tokens): the next line that gets
//! through says how many were left out.

use std::time::{Duration, Instant};

/// The usual interval: one line a minute.
pub const MINUTE: Duration = Duration::from_secs(60);

/// Lets one message through per interval and counts the others.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Default for Throttle {
    /// One message a [`MINUTE`].
    fn default() -> Throttle {
        Throttle::new(MINUTE)
    }
}

impl Throttle {
    /// One message per `interval`.
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(times suppressed since the last one)` when a message may be
    /// logged now; `None` when it should be skipped.
    pub fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_through_per_interval_with_the_count_of_the_others() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.ready(), Some(0));
        assert_eq!(throttle.ready(), None);
        assert_eq!(throttle.ready(), None);
        throttle.last = Instant::now().checked_sub(MINUTE);
        assert_eq!(throttle.ready(), Some(2));
        let mut short = Throttle::new(Duration::from_millis(1));
        assert_eq!(short.ready(), Some(0));
        // Its interval passed (as setting `last` back shows, without a sleep).
        short.last = Instant::now().checked_sub(Duration::from_millis(5));
        assert_eq!(short.ready(), Some(0));
    }
}
