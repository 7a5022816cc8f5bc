//! The agent's periodic chores, every [`TICK`] (or half the systemd
//! watchdog interval, when shorter):
//!
//! - folds histogram samples into buckets (bounded memory between scrapes);
//! - a WARN per failing output, at most once a minute, with the backlog;
//! - systemd: `STATUS=` every [`STATUS_INTERVAL`] with a one-line summary
//!   (`ok, 1,234 events/min, backlog 0`), and `WATCHDOG=1` when the unit
//!   sets `WatchdogSec=`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::format::thousands;
use super::state::State;
use super::status;
use crate::systemd;

/// The chores' period.
pub const TICK: Duration = Duration::from_secs(5);
/// Period of systemd's `STATUS=` line.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// The window of the events/min figure.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Runs until `shutdown`.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let watchdog = systemd::watchdog_interval();
    let tick = watchdog.map_or(TICK, |interval| (interval / 2).min(TICK));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut received: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut last_status: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if watchdog.is_some() {
            systemd::notify("WATCHDOG=1");
        }
        state.metrics.exporter.upkeep();
        let stats = state.spool.clone();
        let Ok(backlog) = tokio::task::spawn_blocking(move || stats.backlog()).await else {
            continue;
        };
        state
            .metrics
            .health
            .warn_failing(backlog.events, backlog.bytes);
        let now = Instant::now();
        received.push_back((now, total_received(&state)));
        while received
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
        {
            received.pop_front();
        }
        if last_status.is_none_or(|at| now.duration_since(at) >= STATUS_INTERVAL) {
            last_status = Some(now);
            let snapshot = state.metrics.health.snapshot();
            let (health, _) = status::judge(
                &snapshot,
                &backlog,
                state.failing_after,
                OffsetDateTime::now_utc(),
            );
            let per_minute = rate_per_minute(&received);
            systemd::notify(&format!(
                "STATUS={}",
                line(health.as_str(), per_minute, backlog.events)
            ));
        }
    }
}

fn total_received(state: &State) -> u64 {
    let metrics = &state.metrics;
    metrics.events_received_webhook.load(Ordering::Relaxed)
        + metrics.events_received_api.load(Ordering::Relaxed)
        + metrics.events_replayed.load(Ordering::Relaxed)
}

/// Events per minute over the samples' span.
fn rate_per_minute(samples: &VecDeque<(Instant, u64)>) -> u64 {
    match (samples.front(), samples.back()) {
        (Some((first_at, first)), Some((last_at, last))) if last_at > first_at => {
            let seconds = last_at.duration_since(*first_at).as_secs_f64();
            ((last - first) as f64 * 60.0 / seconds).round() as u64
        }
        _ => 0,
    }
}

/// `ok, 1,234 events/min, backlog 0`.
pub fn line(health: &str, per_minute: u64, backlog: u64) -> String {
    format!(
        "{health}, {} events/min, backlog {}",
        thousands(per_minute),
        thousands(backlog)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_reads_like_the_issue() {
        assert_eq!(line("ok", 1234, 0), "ok, 1,234 events/min, backlog 0");
        assert_eq!(
            line("failing", 0, 1_234_567),
            "failing, 0 events/min, backlog 1,234,567"
        );
        let start = Instant::now();
        let samples = VecDeque::from([(start, 100), (start + Duration::from_secs(30), 700)]);
        assert_eq!(rate_per_minute(&samples), 1200);
    }
}
