//! What one connection is doing, and the timeouts that follow from it.
//!
//! The accept loop, the connection's I/O wrapper ([`super::tracked_io`]) and
//! the request service update a [`Tracker`]; its watchdog
//! ([`Tracker::watch`]) closes the connection when a state lasts too long:
//!
//! | state | limit |
//! |---|---|
//! | waiting for the first request head (from accept) | `header_timeout` |
//! | keep-alive, no byte of the next request yet | `idle_timeout` |
//! | part of a later request head received | `header_timeout` |
//! | in the handler (body, spool append) | `body_timeout`, in the handler |
//! | a write the client does not drain (any state) | `send_timeout` |
//!
//! Hyper's own `header_read_timeout` is off: it would also run while a
//! keep-alive connection is idle. The registry ([`super::registry`]) reads
//! the same state to pick connections to close at `max_connections`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A write that has not blocked.
const NOT_BLOCKED: u64 = u64::MAX;

/// The connection timeouts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Request line and headers (and, for the first request, from accept).
    pub header: Duration,
    /// A keep-alive connection with no request.
    pub idle: Duration,
    /// A response write the client does not drain.
    pub send: Duration,
}

/// The phase of the request cycle a connection is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Accepted, waiting for the first request head.
    FirstHead = 0,
    /// Between requests on a keep-alive connection, nothing received.
    Idle = 1,
    /// A later request head is arriving.
    Head = 2,
    /// A request is in the handler.
    Busy = 3,
    /// Answered early; discarding what the client still sends.
    Lingering = 4,
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// No complete request head within `header_timeout`.
    Header,
    /// Keep-alive idle beyond `idle_timeout`.
    Idle,
    /// A response not drained within `send_timeout`.
    Send,
}

/// How willing the registry is to close a connection to make room: lower
/// first, then the longest in that state. Busy connections are never chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Eviction {
    /// Keep-alive idle.
    Idle = 0,
    /// A response the client does not read.
    Stalled = 1,
    /// Lingering after an early answer.
    Lingering = 2,
    /// A request head arriving slowly (past a grace period).
    SlowHead = 3,
}

/// A request head younger than this is not evicted: a legitimate client
/// sends its head at once, and a new connection must not push out the one
/// accepted just before it.
const HEAD_GRACE: Duration = Duration::from_secs(1);

/// One connection's shared state.
#[derive(Debug)]
pub(super) struct Tracker {
    start: Instant,
    phase: AtomicU8,
    /// Milliseconds after `start` at which `phase` began.
    since: AtomicU64,
    /// Milliseconds after `start` at which the pending write blocked.
    write_blocked: AtomicU64,
    linger: AtomicBool,
    changed: Notify,
    /// Cancelled to close the connection (eviction).
    pub kill: CancellationToken,
}

impl Tracker {
    pub(super) fn new() -> Tracker {
        Tracker {
            start: Instant::now(),
            phase: AtomicU8::new(Phase::FirstHead as u8),
            since: AtomicU64::new(0),
            write_blocked: AtomicU64::new(NOT_BLOCKED),
            linger: AtomicBool::new(false),
            changed: Notify::new(),
            kill: CancellationToken::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    pub(super) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::FirstHead,
            1 => Phase::Idle,
            2 => Phase::Head,
            3 => Phase::Busy,
            _ => Phase::Lingering,
        }
    }

    /// Enters `phase` now.
    pub(super) fn set_phase(&self, phase: Phase) {
        self.since.store(self.now_ms(), Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
        self.changed.notify_one();
    }

    /// Bytes arrived: on an idle connection, a request head begins.
    pub(super) fn on_read(&self) {
        if self.phase() == Phase::Idle {
            self.since.store(self.now_ms(), Ordering::Release);
            if self
                .phase
                .compare_exchange(
                    Phase::Idle as u8,
                    Phase::Head as u8,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                self.changed.notify_one();
            }
        }
    }

    /// A write (or flush) could not complete now.
    pub(super) fn on_write_blocked(&self) {
        if self.write_blocked.load(Ordering::Acquire) == NOT_BLOCKED {
            self.write_blocked.store(self.now_ms(), Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// A write (or flush) completed.
    pub(super) fn on_write_done(&self) {
        if self.write_blocked.load(Ordering::Relaxed) != NOT_BLOCKED {
            self.write_blocked.store(NOT_BLOCKED, Ordering::Release);
        }
    }

    /// The answer left request bytes unread: close with a lingering read.
    pub(super) fn request_linger(&self) {
        self.linger.store(true, Ordering::Release);
    }

    pub(super) fn linger_requested(&self) -> bool {
        self.linger.load(Ordering::Acquire)
    }

    /// The earliest time a limit expires in the current state.
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, Expiry)> {
        let since = self.at(self.since.load(Ordering::Acquire));
        let phase = match self.phase() {
            Phase::FirstHead | Phase::Head => Some((since + timeouts.header, Expiry::Header)),
            Phase::Idle => Some((since + timeouts.idle, Expiry::Idle)),
            Phase::Busy | Phase::Lingering => None,
        };
        let blocked = self.write_blocked.load(Ordering::Acquire);
        let write =
            (blocked != NOT_BLOCKED).then(|| (self.at(blocked) + timeouts.send, Expiry::Send));
        match (phase, write) {
            (Some(phase), Some(write)) => Some(if write.0 < phase.0 { write } else { phase }),
            (phase, write) => phase.or(write),
        }
    }

    /// Resolves when a limit of the current state expires.
    pub(super) async fn watch(&self, timeouts: Timeouts) -> Expiry {
        loop {
            let changed = self.changed.notified();
            match self.deadline(&timeouts) {
                Some((deadline, expiry)) if deadline <= Instant::now() => return expiry,
                Some((deadline, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Whether (and how willingly) this connection may be closed to make
    /// room, with the time it entered that state.
    pub(super) fn eviction(&self, now: Instant) -> Option<(Eviction, Instant)> {
        let blocked = self.write_blocked.load(Ordering::Acquire);
        let since = self.at(self.since.load(Ordering::Acquire));
        match self.phase() {
            Phase::Idle => Some((Eviction::Idle, since)),
            _ if blocked != NOT_BLOCKED => Some((Eviction::Stalled, self.at(blocked))),
            Phase::Lingering => Some((Eviction::Lingering, since)),
            Phase::FirstHead | Phase::Head if now.duration_since(since) >= HEAD_GRACE => {
                Some((Eviction::SlowHead, since))
            }
            Phase::FirstHead | Phase::Head | Phase::Busy => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header: Duration::from_millis(100),
        idle: Duration::from_millis(300),
        send: Duration::from_millis(200),
    };

    /// Watches `tracker` and checks the expiry came after `at_least`, and
    /// not long after it (a loaded machine gets seconds of slack).
    async fn expires(tracker: &Tracker, expected: Expiry, at_least: Duration) {
        let started = Instant::now();
        assert_eq!(tracker.watch(TIMEOUTS).await, expected);
        let waited = started.elapsed();
        assert!(
            waited >= at_least && waited < at_least + Duration::from_secs(5),
            "{expected:?} after {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_state_has_its_limit() {
        let tracker = Tracker::new();
        expires(&tracker, Expiry::Header, TIMEOUTS.header).await;
        tracker.set_phase(Phase::Idle);
        expires(&tracker, Expiry::Idle, TIMEOUTS.idle).await;
        // The first byte of the next head switches to the header limit.
        tracker.set_phase(Phase::Idle);
        tracker.on_read();
        assert_eq!(tracker.phase(), Phase::Head);
        expires(&tracker, Expiry::Header, TIMEOUTS.header).await;
        // Busy has no limit here, but a blocked write has.
        tracker.set_phase(Phase::Busy);
        tracker.on_write_blocked();
        expires(&tracker, Expiry::Send, TIMEOUTS.send).await;
        tracker.on_write_done();
        let watched = tokio::time::timeout(TIMEOUTS.idle * 2, tracker.watch(TIMEOUTS));
        assert!(
            watched.await.is_err(),
            "a busy connection has no watchdog limit"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_state_change_moves_the_deadline() {
        // Idle would expire at 30 s; the blocked write at ~220 ms: only a
        // watcher woken by the change sees the new deadline in time.
        let timeouts = Timeouts {
            idle: Duration::from_secs(30),
            ..TIMEOUTS
        };
        let tracker = std::sync::Arc::new(Tracker::new());
        tracker.set_phase(Phase::Idle);
        let started = Instant::now();
        let watcher = tokio::spawn({
            let tracker = std::sync::Arc::clone(&tracker);
            async move { tracker.watch(timeouts).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tracker.on_write_blocked();
        assert_eq!(watcher.await.unwrap(), Expiry::Send);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_prefers_idle_then_stalled_and_spares_busy_and_fresh_heads() {
        let tracker = Tracker::new();
        let rank = |tracker: &Tracker| tracker.eviction(Instant::now()).map(|(rank, _)| rank);
        assert_eq!(rank(&tracker), None);
        // A head still arriving after its grace period.
        let later = Instant::now() + HEAD_GRACE;
        assert_eq!(
            tracker.eviction(later).map(|(rank, _)| rank),
            Some(Eviction::SlowHead)
        );
        tracker.set_phase(Phase::Busy);
        assert_eq!(rank(&tracker), None);
        tracker.set_phase(Phase::Lingering);
        assert_eq!(rank(&tracker), Some(Eviction::Lingering));
        tracker.on_write_blocked();
        assert_eq!(rank(&tracker), Some(Eviction::Stalled));
        tracker.set_phase(Phase::Idle);
        assert_eq!(rank(&tracker), Some(Eviction::Idle));
        assert!(Eviction::Idle < Eviction::Stalled && Eviction::Stalled < Eviction::SlowHead);
    }
}
