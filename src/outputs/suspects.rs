//! Whole-request `400`s, judged the same way by the HTTP outputs.
//!
//! A `400` to a whole request is rarely about one entry: a proxy, a wrong
//! URL or index, or a security plugin answers `400` to every request.
//! Splitting only helps if it makes progress, so an entry that gets a `400`
//! alone is a *suspect*, judged once every other part of its request has
//! been tried:
//!
//! - if some request (of this or another batch) was accepted meanwhile, the
//!   server works and the suspects are at fault: they are dead-lettered;
//! - if nothing was accepted, the server's configuration is: the suspects
//!   are sent again together, with backoff and an `error` log every tenth
//!   round, without splitting, until an answer other than `400` comes or
//!   another request is accepted (then they are split again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::telemetry::metrics::Metrics;

/// Entries refused by whole-request `400`s.
#[derive(Debug)]
pub(crate) struct Suspects<E> {
    entries: Vec<E>,
    reason: String,
    /// Rounds the suspects were refused with nothing accepted anywhere.
    rounds: u32,
    /// The output's accepted-request count when the round began.
    round_start: u64,
}

/// What [`Suspects::judge`] decided.
pub(crate) enum Verdict<E> {
    /// There were no suspects.
    Clear,
    /// The entries are at fault: dead-letter them with the reason.
    Guilty(Vec<E>, String),
    /// Send the entries again, as one group.
    Retry(Vec<E>),
}

impl<E> Suspects<E> {
    /// No suspects yet; `accepted` counts the output's accepted requests.
    pub(crate) fn new(accepted: &AtomicU64) -> Suspects<E> {
        Suspects {
            entries: Vec::new(),
            reason: String::new(),
            rounds: 0,
            round_start: accepted.load(Ordering::Acquire),
        }
    }

    /// Whether a group of `len` entries refused with a `400` is split
    /// (rather than held as suspects).
    pub(crate) fn split(&self, len: usize) -> bool {
        len > 1 && self.rounds == 0
    }

    /// Holds `group`'s entries as suspects.
    pub(crate) fn add(&mut self, group: &mut Vec<E>, reason: String) {
        self.reason = reason;
        self.entries.append(group);
    }

    /// Judges the suspects once every other group has an outcome. When
    /// nothing was accepted, it pauses first (counting a retry in
    /// `retries` and calling `log` every tenth round with the number of
    /// entries, the round, the reason and the pause).
    pub(crate) async fn judge(
        &mut self,
        accepted: &AtomicU64,
        backoff: &Backoff,
        retries: &AtomicU64,
        log: impl Fn(usize, u32, &str, Duration),
    ) -> Verdict<E> {
        if self.entries.is_empty() {
            return Verdict::Clear;
        }
        let now = accepted.load(Ordering::Acquire);
        let progress = now != self.round_start;
        self.round_start = now;
        if progress && self.rounds == 0 {
            // Each suspect was refused alone while requests were accepted.
            return Verdict::Guilty(
                std::mem::take(&mut self.entries),
                std::mem::take(&mut self.reason),
            );
        }
        if progress {
            // The server accepts requests again: isolate the entries.
            self.rounds = 0;
        } else {
            Metrics::add(retries, 1);
            let pause = backoff.delay(self.rounds, None);
            if self.rounds.is_multiple_of(10) {
                log(self.entries.len(), self.rounds, &self.reason, pause);
            }
            tokio::time::sleep(pause).await;
            self.rounds = self.rounds.saturating_add(1);
        }
        Verdict::Retry(std::mem::take(&mut self.entries))
    }
}
