//! The idle probe of an HTTP output: one check at start-up, then one every
//! [`IDLE_INTERVAL`] while the output sent no request for that long, each
//! fed to the output's health ([`Health::output_probed`]). Without it an
//! unreachable store looks healthy in `/status` and `output_up` until the
//! first event arrives (issue 17, item 4). Requests report for themselves,
//! so a busy output is not probed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

use crate::outputs::Parts;

use crate::telemetry::health::Health;
use crate::telemetry::metrics::Metrics;

/// How long an output stays without a request before it is probed again.
pub const IDLE_INTERVAL: Duration = Duration::from_secs(30);

/// Starts [`watch`] for `output` on the current span, stopped by the
/// output's `stop` token or when the returned guard is dropped (when the
/// output's `run` ends).
pub fn spawn<C, F>(output: &'static str, parts: &Parts, check: C) -> DropGuard
where
    C: FnMut(bool) -> F + Send + 'static,
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let stop = parts.stop.child_token();
    let guard = stop.clone().drop_guard();
    tokio::spawn(watch(output, Arc::clone(&parts.metrics), stop, check).in_current_span());
    guard
}

/// Runs until `stop`: calls `check(true)` at once (the start-up check, which
/// logs its one line), then `check(false)` each time the output has been
/// idle for [`IDLE_INTERVAL`]. `check` answers `Err` with the reason when
/// the output cannot be reached.
pub async fn watch<C, F>(
    output: &'static str,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    mut check: C,
) where
    C: FnMut(bool) -> F,
    F: Future<Output = Result<(), String>>,
{
    let mut start_up = true;
    loop {
        if start_up || idle(&metrics.health, output) {
            let result = tokio::select! {
                () = stop.cancelled() => return,
                result = check(start_up) => result,
            };
            if let Err(reason) = &result {
                tracing::debug!(output, reason = %reason, "output probe failed");
            }
            metrics
                .health
                .output_probed(output, result.as_ref().map(|_| ()).map_err(String::as_str));
        }
        start_up = false;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(IDLE_INTERVAL) => {}
        }
    }
}

/// Whether `output` sent no request for [`IDLE_INTERVAL`].
fn idle(health: &Health, output: &str) -> bool {
    let now = OffsetDateTime::now_utc();
    health
        .snapshot()
        .outputs
        .iter()
        .find(|(name, _)| *name == output)
        .and_then(|(_, state)| state.last_request_at())
        .is_none_or(|at| (now - at).unsigned_abs() >= IDLE_INTERVAL)
}
