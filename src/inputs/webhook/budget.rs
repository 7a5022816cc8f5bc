//! The memory budget for request bodies (`webhook.max_inflight_bytes`).
//!
//! Every byte of body a request holds in memory (as received, decompressed,
//! and its encoded spool copy) is reserved here first. A reservation that
//! does not fit is refused at once, and the handler answers `503` +
//! `Retry-After` instead of buffering: many concurrent large bodies cost at
//! most the budget, whatever the clients send. Reservations are released
//! when the request's [`Reservation`] is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Body bytes that may be held in memory by all requests together.
#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    used: AtomicUsize,
}

/// The budget has no room for the bytes asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("body memory budget exhausted")]
pub(super) struct Exhausted;

/// Bytes one request holds; returned to the budget on drop.
#[derive(Debug)]
pub(super) struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Budget {
    pub(super) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// An empty reservation, grown as the body arrives.
    pub(super) fn reservation(self: &Arc<Budget>) -> Reservation {
        Reservation {
            budget: Arc::clone(self),
            bytes: 0,
        }
    }

    /// Bytes reserved now, by all requests.
    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> Result<(), Exhausted> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .map(drop)
            .map_err(|_| Exhausted)
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Reservation {
    /// Reserves `bytes` more, or nothing when they do not fit.
    pub(super) fn grow(&mut self, bytes: usize) -> Result<(), Exhausted> {
        self.budget.take(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Gives back `bytes` (at most what is held), for a buffer freed early.
    pub(super) fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.budget.give_back(bytes);
        self.bytes -= bytes;
    }

    /// Bytes held.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_limit_and_return_on_drop() {
        let budget = Budget::new(100);
        let mut first = budget.reservation();
        first.grow(60).unwrap();
        let mut second = budget.reservation();
        assert_eq!(second.grow(41), Err(Exhausted));
        second.grow(40).unwrap();
        assert_eq!(budget.used(), 100);
        assert_eq!(second.grow(1), Err(Exhausted));
        first.shrink(10);
        assert_eq!(first.bytes(), 50);
        second.grow(10).unwrap();
        drop(first);
        assert_eq!(budget.used(), 50);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_huge_request_never_wraps_the_counter() {
        let budget = Budget::new(100);
        let mut reservation = budget.reservation();
        reservation.grow(50).unwrap();
        assert_eq!(reservation.grow(usize::MAX), Err(Exhausted));
        reservation.shrink(usize::MAX);
        assert_eq!(budget.used(), 0);
    }
}
